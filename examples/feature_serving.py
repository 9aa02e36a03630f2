"""Feature tables to a governed serving endpoint, end to end, as a script you can run.

1. create catalog ``main``, schema ``main.ml`` and the feature table
   ``main.ml.customer_features`` (key ``customer_id``, timeseries ``ts``) with SQL;
2. write three monthly snapshots of synthetic customer features with
   ``client.write_table``;
3. build a training set from labelled events with ``create_training_set`` and a
   point-in-time ``FeatureLookup`` (each event sees the snapshot of its own time, never a
   later one), train a classifier;
4. register it as ``main.ml.churn_live`` with the training set (its feature lookup is
   recorded in the version, and is a lineage edge), alias ``champion``;
5. serve ``main.ml.churn_live@champion`` from the endpoint ``churn-live`` with an
   inference table, and grant QUERY on it to the app ``crm-app@example.com``;
6. as the app: invoke with customer keys only (features are looked up), then with a
   request value overriding a looked-up one; a key that has no features is a 400;
7. read the inference table with SQL and print the lineage from the feature table down
   to the endpoint.

Run it against a server (a metastore admin's token)::

    make run                                    # in one terminal
    STEWARD_TOKEN=$(cat .steward/admin-token) .venv/bin/python examples/feature_serving.py

or with nothing else running (a throw-away server on SQLite in a temporary directory)::

    .venv/bin/python examples/feature_serving.py --start-server
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import example_support
import httpx
import numpy as np
import pandas as pd
from example_support import check, say, sql, sql_rows, step, table
from sklearn.ensemble import GradientBoostingClassifier

from registry import Client, FeatureLookup

CATALOG = "main"
SCHEMA = f"{CATALOG}.ml"
FEATURE_TABLE = f"{SCHEMA}.customer_features"
MODEL = f"{SCHEMA}.churn_live"
ENDPOINT = "churn-live"
APP = "crm-app@example.com"
FEATURES = ["tenure_months", "monthly_charges", "support_calls"]
SNAPSHOTS = [datetime(2026, month, 1, tzinfo=UTC) for month in (8, 9, 10)]
CUSTOMERS = 300

SCIM_USERS = "/api/2.0/preview/scim/v2/Users"
OBO_TOKENS = "/api/2.0/token-management/on-behalf-of/tokens"
ENDPOINTS = "/api/2.0/serving-endpoints"
LINEAGE_PATH = "/api/2.1/steward/lineage"


# -- 1. the feature table --------------------------------------------------------------------


def create_feature_table(http: httpx.Client) -> None:
    step(1, "Catalog, schema and feature table (SQL)")
    sql(http, f"CREATE CATALOG IF NOT EXISTS {CATALOG}")
    sql(http, f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    sql(
        http,
        f"CREATE TABLE IF NOT EXISTS {FEATURE_TABLE} (customer_id BIGINT NOT NULL, "
        "ts TIMESTAMP NOT NULL, tenure_months DOUBLE, monthly_charges DOUBLE, "
        "support_calls DOUBLE, CONSTRAINT customer_features_pk PRIMARY KEY "
        "(customer_id, ts TIMESERIES)) COMMENT 'monthly customer snapshots'",
    )


# -- 2. feature history ------------------------------------------------------------------------


def snapshots(seed: int = 11) -> pd.DataFrame:
    """Three monthly snapshots per customer: tenure grows, calls drift."""
    rs = np.random.RandomState(seed)
    tenure = rs.randint(1, 60, CUSTOMERS).astype(float)
    charges = rs.rand(CUSTOMERS) * 100
    calls = rs.poisson(2, CUSTOMERS).astype(float)
    frames = []
    for month, ts in enumerate(SNAPSHOTS):
        calls = np.maximum(0, calls + rs.randint(-1, 3, CUSTOMERS))
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": np.arange(1, CUSTOMERS + 1),
                    "ts": ts,
                    "tenure_months": tenure + month,
                    "monthly_charges": charges.round(2),
                    "support_calls": calls,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def write_features(client: Client) -> pd.DataFrame:
    step(2, f"Feature history: {len(SNAPSHOTS)} monthly snapshots (client.write_table)")
    history = snapshots()
    counts = client.write_table(FEATURE_TABLE, history)
    say(
        f"{counts['num_affected_rows']} rows written to {FEATURE_TABLE} "
        f"({counts['num_inserted_rows']} inserted, {counts['num_updated_rows']} updated)"
    )
    return history


# -- 3. training set and model -----------------------------------------------------------------


def labelled_events(history: pd.DataFrame, seed: int = 5) -> pd.DataFrame:
    """One churn label per customer, at a random time after the first snapshot; the label
    depends on the snapshot in force at that time."""
    rs = np.random.RandomState(seed)
    offsets = rs.randint(0, 85, CUSTOMERS)
    times = [SNAPSHOTS[0] + timedelta(days=int(d), hours=9) for d in offsets]
    events = pd.DataFrame({"customer_id": np.arange(1, CUSTOMERS + 1), "event_time": times})
    in_force = pd.merge_asof(
        events.sort_values("event_time"),
        history.sort_values("ts"),
        left_on="event_time",
        right_on="ts",
        by="customer_id",
    ).sort_values("customer_id")
    churned = (in_force.support_calls.to_numpy() > 3) | (in_force.tenure_months.to_numpy() < 6)
    events["churned"] = churned.astype(int)
    return events


def train(client: Client, history: pd.DataFrame) -> tuple[Any, Any, pd.DataFrame]:
    step(3, "Training set: point-in-time lookup of the features at each event's time")
    events = labelled_events(history)
    lookup = FeatureLookup(
        table_name=FEATURE_TABLE,
        lookup_key="customer_id",
        feature_names=FEATURES,
        timestamp_lookup_key="event_time",
        lookback_window=timedelta(days=62),
    )
    training_set = client.create_training_set(
        events, feature_lookups=[lookup], label="churned", exclude_columns=["event_time"]
    )
    frame = training_set.load_df()
    say(f"{len(frame)} rows: {', '.join(frame.columns)}")
    sample = frame.head(3)
    table(
        [
            [int(r.customer_id), *(r[f] for f in FEATURES), int(r.churned)]
            for _, r in sample.iterrows()
        ],
        ["customer_id", *FEATURES, "churned"],
    )
    model = GradientBoostingClassifier(random_state=0).fit(frame[FEATURES], frame["churned"])
    accuracy = model.score(frame[FEATURES], frame["churned"])
    say(f"trained GradientBoostingClassifier, training accuracy {accuracy:.3f}")
    return model, training_set, frame[FEATURES]


# -- 4. registration ---------------------------------------------------------------------------


def register(client: Client, model: Any, training_set: Any, features: pd.DataFrame) -> int:
    step(4, f"Register {MODEL} with its training set, alias champion")
    mv = client.register_model(
        model,
        MODEL,
        input_example=features.head(5),
        training_set=training_set,
        alias="champion",
        comment="trained by examples/feature_serving.py",
    )
    lookups = (mv.dependencies or {}).get("feature_lookups", [])
    for found in lookups:
        say(
            f"version {mv.version} looks up {', '.join(found['feature_names'])} "
            f"from {found['table_name']} by {', '.join(found['lookup_key'])}"
        )
    return mv.version


# -- 5. the endpoint ---------------------------------------------------------------------------


def serve(http: httpx.Client) -> str:
    step(5, f"Serve {MODEL}@champion from endpoint {ENDPOINT}, with an inference table")
    config = {
        "served_entities": [{"entity_name": MODEL, "alias": "champion"}],
        "auto_capture_config": {
            "catalog_name": CATALOG,
            "schema_name": "ml",
            "table_name_prefix": ENDPOINT.replace("-", "_"),
        },
    }
    existing = http.get(f"{ENDPOINTS}/{ENDPOINT}")
    if existing.status_code == 200:
        check(http.put(f"{ENDPOINTS}/{ENDPOINT}/config", json=config))
        say(f"exists  endpoint {ENDPOINT}: config updated (PUT {ENDPOINTS}/{ENDPOINT}/config)")
    else:
        check(http.post(ENDPOINTS, json={"name": ENDPOINT, "config": config}))
        say(f"ok      endpoint {ENDPOINT} (POST {ENDPOINTS})")
    info = check(http.get(f"{ENDPOINTS}/{ENDPOINT}"))
    payload = info["config"]["auto_capture_config"]["state"]["payload_table"]["name"]
    inference_table = f"{CATALOG}.ml.{payload}"
    say(f"inference table {inference_table}")
    created = http.post(SCIM_USERS, json={"userName": APP})
    if created.status_code != 409:
        check(created)
    sql(http, f"GRANT QUERY ON SERVING ENDPOINT `{ENDPOINT}` TO `{APP}`")
    return inference_table


def app_token(http: httpx.Client) -> str:
    issued = check(
        http.post(
            OBO_TOKENS,
            json={
                "user_name": APP,
                "comment": "examples/feature_serving.py",
                "lifetime_seconds": 3600,
            },
        )
    )
    return str(issued["token_value"])


# -- 6. invocations ----------------------------------------------------------------------------


def invoke(url: str, token: str, history: pd.DataFrame) -> None:
    step(6, f"As {APP}: invoke with keys only, then override a feature")
    path = f"/serving-endpoints/{ENDPOINT}/invocations"
    with httpx.Client(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=example_support.REQUEST_TIMEOUT_SECONDS,
    ) as app:
        latest = history[history.ts == SNAPSHOTS[-1]].set_index("customer_id")
        calm = latest[(latest.support_calls <= 2) & (latest.tenure_months >= 12)].index[0]
        busy = latest[latest.support_calls > 4].index[:2]
        keys = [{"customer_id": int(c)} for c in (calm, *busy)]
        answer = check(app.post(path, json={"dataframe_records": keys}))
        table(
            [
                [k["customer_id"], *(latest.loc[k["customer_id"], f] for f in FEATURES), p]
                for k, p in zip(keys, answer["predictions"], strict=True)
            ],
            ["customer_id", *FEATURES, "prediction"],
        )
        say(f"POST {path} {{'dataframe_records': {keys}}}")
        override = {"customer_id": int(calm), "support_calls": 9.0}
        changed = check(app.post(path, json={"dataframe_records": [override]}))
        say(
            f"customer {calm} with support_calls overridden to 9 in the request: "
            f"prediction {changed['predictions'][0]}"
        )
        missing = app.post(path, json={"dataframe_records": [{"customer_id": 10_000}]})
        body = missing.json()
        say(
            f"unknown customer 10000: {missing.status_code} {body.get('error_code')}: "
            f"{body.get('message')}"
        )
        denied = app.post(
            f"{ENDPOINTS}",
            json={
                "name": "not-mine",
                "config": {"served_entities": [{"entity_name": MODEL, "alias": "champion"}]},
            },
        )
        say(
            f"creating an endpoint over a model it may not see: {denied.status_code} "
            f"{denied.json().get('error_code')}"
        )


# -- 7. inference log and lineage --------------------------------------------------------------


def inference_log_and_lineage(http: httpx.Client, inference_table: str) -> None:
    step(7, "The inference table (SQL) and the lineage from feature table to endpoint")
    columns, rows = sql_rows(
        http,
        f"SELECT requester, status_code, model_version, execution_time_ms, request "
        f"FROM {inference_table} ORDER BY timestamp_ms DESC LIMIT 4",
    )
    table([[r[0], r[1], r[2], r[3], example_support.clip(str(r[4]), 48)] for r in rows], columns)
    graph = check(
        http.get(
            LINEAGE_PATH,
            params={"full_name": FEATURE_TABLE, "direction": "downstream", "depth": 4},
        )
    )
    say()
    say(f"GET {LINEAGE_PATH}?full_name={FEATURE_TABLE}&direction=downstream&depth=4")
    names = {n["id"]: n for n in graph["nodes"]}
    for edge in graph["edges"]:
        source, target = names[edge["source"]], names[edge["target"]]
        say(f"{_node(source):<40} --{edge['kind']}--> {_node(target)}")


def _node(node: dict[str, Any]) -> str:
    name = node.get("full_name") or node.get("name") or node.get("id")
    version = node.get("version")
    return f"{name} v{version}" if version is not None else str(name)


# -- main --------------------------------------------------------------------------------------


def run(url: str, token: str) -> None:
    print(f"Steward at {url}: feature table → training set → model → serving endpoint")
    with (
        httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=example_support.REQUEST_TIMEOUT_SECONDS,
        ) as http,
        Client(url, token) as admin,
    ):
        create_feature_table(http)
        history = write_features(admin)
        model, training_set, features = train(admin, history)
        version = register(admin, model, training_set, features)
        inference_table = serve(http)
        invoke(url, app_token(http), history)
        inference_log_and_lineage(http, inference_table)
    print(f"\nDone: endpoint {ENDPOINT} serves {MODEL} version {version} (@champion).")


def main(argv: Sequence[str] | None = None) -> int:
    return example_support.main(
        run, "Feature table to governed serving endpoint, end to end, on a Steward server.", argv
    )


if __name__ == "__main__":
    sys.exit(main())
