"""The seed flow of Steward's model registry, end to end, as a script you can run.

1. create catalog ``main``, schema ``main.ml`` and the training table
   ``main.ml.churn_features`` with SQL;
2. train a small churn classifier on synthetic data with scikit-learn;
3. register two versions of ``main.ml.churn`` with the Python client, declaring the
   training table (which makes it a lineage edge);
4. create the user ``analyst@example.com`` and the group ``ml-consumers``, add the user,
   grant the group USE CATALOG, USE SCHEMA and EXECUTE on the model, and issue the user a
   token;
5. point ``champion`` at the newer version (client) and ``challenger`` at the older one
   (SQL ``ALTER MODEL … SET ALIAS``);
6. as the analyst: load ``models:/main.ml.churn@champion`` and predict, then try to move
   the alias and get 403 PERMISSION_DENIED;
7. print the audit events of the model written by this run and the lineage of the
   training table.

Run it against a server (a metastore admin's token)::

    make run                                    # in one terminal
    STEWARD_TOKEN=$(cat .steward/admin-token) .venv/bin/python examples/churn_registry.py

or with nothing else running (a throw-away server on SQLite in a temporary directory)::

    .venv/bin/python examples/churn_registry.py --start-server

Running it again against the same server is fine: existing objects are reused and two
new versions are registered (the aliases then point at those).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import example_support
import httpx
import numpy as np
import pandas as pd
from example_support import check, clip, say, sql, step, table
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from registry import Client, StewardError

CATALOG = "main"
SCHEMA = f"{CATALOG}.ml"
TABLE = f"{SCHEMA}.churn_features"
MODEL = f"{SCHEMA}.churn"
ANALYST = "analyst@example.com"
GROUP = "ml-consumers"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "on_monthly_contract"]

SQL_PATH = "/api/2.0/sql/statements"
SCIM_USERS = "/api/2.0/preview/scim/v2/Users"
OBO_TOKENS = "/api/2.0/token-management/on-behalf-of/tokens"
AUDIT_PATH = "/api/2.1/steward/audit"
LINEAGE_PATH = "/api/2.1/steward/lineage"
METASTORE_SUMMARY = "/api/2.1/unity-catalog/metastore_summary"


# -- 1. catalog, schema and training table ---------------------------------------------------


def create_namespace(http: httpx.Client) -> None:
    step(1, f"Catalog, schema and training table (SQL on {SQL_PATH})")
    sql(http, f"CREATE CATALOG IF NOT EXISTS {CATALOG} COMMENT 'production data and models'")
    sql(http, f"CREATE SCHEMA IF NOT EXISTS {SCHEMA} COMMENT 'machine learning'")
    sql(
        http,
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        "customer_id BIGINT NOT NULL, tenure_months INT, monthly_charges DOUBLE, "
        "support_calls INT, on_monthly_contract INT, churned BOOLEAN, "
        "CONSTRAINT churn_features_pk PRIMARY KEY (customer_id)"
        ") COMMENT 'one row per customer: churn features and label'",
    )


# -- 2. training -----------------------------------------------------------------------------


def synthetic_customers(n: int = 2000, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers whose churn depends on tenure, support calls, charges and contract type."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 73, n).astype("float64"),
            "monthly_charges": rng.uniform(20, 120, n).round(2),
            "support_calls": rng.poisson(1.5, n).astype("float64"),
            "on_monthly_contract": rng.integers(0, 2, n).astype("float64"),
        }
    )
    # New customers, frequent callers and expensive month-to-month plans churn: thresholds
    # and an interaction, which trees pick up and a linear model only approximates.
    logit = (
        -2.0
        + 2.5 * (X.tenure_months < 12)
        + 2.0 * (X.support_calls >= 3)
        + 1.5 * X.on_monthly_contract * (X.monthly_charges > 80)
        - 0.02 * X.tenure_months
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def train() -> tuple[list[tuple[str, Any, float]], pd.DataFrame]:
    step(2, "Train a churn classifier on synthetic data (scikit-learn)")
    X, y = synthetic_customers()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    say(f"{len(X)} customers, {len(FEATURES)} features, churn rate {y.mean():.0%}")
    candidates = [
        (
            "logistic_regression",
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        ),
        (
            "gradient_boosting",
            GradientBoostingClassifier(n_estimators=60, max_depth=2, random_state=0),
        ),
    ]
    trained = []
    for name, estimator in candidates:
        estimator.fit(X_train, y_train)
        accuracy = float(estimator.score(X_test, y_test))
        trained.append((name, estimator, accuracy))
    table(
        [(name, f"{accuracy:.3f}") for name, _, accuracy in trained],
        ["model", "held-out accuracy"],
    )
    return trained, X_test


# -- 3. registration -------------------------------------------------------------------------


def register(
    admin: Client, trained: list[tuple[str, Any, float]], X: pd.DataFrame
) -> list[tuple[int, str]]:
    """Register each trained model; returns (version, description) in order."""
    step(3, f"Register two versions of {MODEL} (registry.Client)")
    try:
        admin.get_model(MODEL)
        say(f"exists  {MODEL}: new versions follow the existing ones")
    except StewardError as exc:
        if exc.status_code != 404:
            raise
        admin.create_model(MODEL, comment="customer churn classifier")
        say(f"ok      registered model {MODEL}")
    versions = []
    for name, estimator, accuracy in trained:
        mv = admin.register_model(
            estimator,
            MODEL,
            input_example=X.head(5),
            training_tables=[TABLE],
            tags={"algorithm": name, "accuracy": f"{accuracy:.3f}"},
            comment=f"{name} trained by examples/churn_registry.py",
        )
        versions.append((mv.version, f"{name}, held-out accuracy {accuracy:.3f}"))
        tables = ", ".join((mv.dependencies or {}).get("training_tables", []))
        say(f"version {mv.version}  {mv.status:<5}  {name:<20}  trained on {tables}")
    return versions


# -- 4. consumers ----------------------------------------------------------------------------


def consumers(http: httpx.Client) -> str:
    step(4, f"A consumer: {ANALYST} in group {GROUP}")
    created = http.post(SCIM_USERS, json={"userName": ANALYST})
    if created.status_code == 409:
        say(f"exists  user {ANALYST} (SCIM)")
    else:
        check(created)
        say(f"ok      user {ANALYST} (SCIM POST {SCIM_USERS})")
    sql(http, f"CREATE GROUP `{GROUP}`", tolerate=["RESOURCE_ALREADY_EXISTS"])
    sql(
        http,
        f"ALTER GROUP `{GROUP}` ADD USER `{ANALYST}`",
        tolerate=["RESOURCE_ALREADY_EXISTS"],
    )
    sql(http, f"GRANT USE CATALOG ON CATALOG {CATALOG} TO `{GROUP}`")
    sql(http, f"GRANT USE SCHEMA ON SCHEMA {SCHEMA} TO `{GROUP}`")
    sql(http, f"GRANT EXECUTE ON MODEL {MODEL} TO `{GROUP}`")
    issued = check(
        http.post(
            OBO_TOKENS,
            json={
                "user_name": ANALYST,
                "comment": "examples/churn_registry.py",
                "lifetime_seconds": 3600,
            },
        )
    )
    say(f"ok      token for {ANALYST}, valid one hour (POST {OBO_TOKENS})")
    return str(issued["token_value"])


# -- 5. aliases ------------------------------------------------------------------------------


def aliases(
    admin: Client, http: httpx.Client, older: tuple[int, str], newer: tuple[int, str]
) -> None:
    step(5, "Aliases: champion and challenger")
    say(f"champion is version {newer[0]} ({newer[1]})")
    say(f"challenger is version {older[0]} ({older[1]})")
    say()
    mv = admin.set_alias(MODEL, "champion", newer[0])
    say(f"champion   -> version {mv.version}   (client.set_alias)")
    sql(http, f"ALTER MODEL {MODEL} SET ALIAS challenger = {older[0]}")
    challenger = admin.get_version(MODEL, "challenger")
    say(f"challenger -> version {challenger.version}   (SQL ALTER MODEL … SET ALIAS)")


# -- 6. the analyst --------------------------------------------------------------------------


def as_analyst(url: str, token: str, older: int, champion: int) -> None:
    step(6, f"As {ANALYST}: load by alias, predict, try to move the alias")
    uri = f"models:/{MODEL}@champion"
    with (
        tempfile.TemporaryDirectory(prefix="steward-example-cache-") as cache,
        Client(url, token, cache_dir=cache) as analyst,
    ):
        loaded = analyst.load_model(uri)
        say(f"loaded {uri} -> version {loaded.version} (files checked against their SHA-256)")
        if loaded.version != champion:
            raise SystemExit(f"expected champion to be version {champion}, got {loaded.version}")
        sample = pd.DataFrame(
            [(2, 95.0, 4, 1), (60, 45.0, 0, 0), (30, 110.0, 1, 1), (18, 60.0, 3, 0)],
            columns=FEATURES,
            dtype="float64",
        )
        labels = loaded.predict(sample)
        probabilities = loaded.model.predict_proba(sample)[:, 1]
        rows = [
            (
                int(r.tenure_months),
                f"{r.monthly_charges:.2f}",
                int(r.support_calls),
                "yes" if r.on_monthly_contract else "no",
                f"{p:.2f}",
                "churn" if label else "stays",
            )
            for r, p, label in zip(sample.itertuples(), probabilities, labels, strict=True)
        ]
        say()
        table(
            rows,
            [
                "tenure (months)",
                "charges",
                "support calls",
                "month-to-month",
                "p(churn)",
                "prediction",
            ],
        )
        say()
        try:
            analyst.set_alias(MODEL, "champion", older)
        except StewardError as exc:
            if exc.status_code != 403:
                raise
            say(f"moving champion to version {older}: refused, HTTP {exc.status_code}")
            say(f"  {exc.error_code}: {exc.message}")
        else:
            raise SystemExit("the analyst moved the alias: EXECUTE must not allow that")
        still = analyst.get_version(MODEL, "champion").version
        say(f"champion still -> version {still}")


# -- 7. audit and lineage --------------------------------------------------------------------


def audit_cursor(http: httpx.Client) -> str | None:
    """Where the audit log ends now: listing with ``order=asc`` from this token returns what
    comes after (the ``follow_page_token`` that ``steward audit --follow`` uses)."""
    body = check(http.get(AUDIT_PATH, params={"object": MODEL, "max_results": 1}))
    return body.get("follow_page_token")


def audit_and_lineage(http: httpx.Client, cursor: str | None) -> None:
    step(7, f"Audit events of {MODEL} written by this run, and lineage")
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"object": MODEL, "order": "asc", "max_results": 1000}
    if cursor:
        params["page_token"] = cursor
    while True:
        page = check(http.get(AUDIT_PATH, params=params))
        events += page["events"]
        if not page["events"] or not page.get("next_page_token"):
            break
        params["page_token"] = page["next_page_token"]
    say(f"GET {AUDIT_PATH}?object={MODEL}: {len(events)} events (file transfers grouped)")
    say()
    table(_audit_rows(events), ["time (UTC)", "user", "action", "status", "detail"])

    say()
    say(f"GET {LINEAGE_PATH}?full_name={TABLE}&direction=downstream")
    say()
    from steward.cli.lineage import render_tree  # what `steward lineage --format tree` prints

    graph = check(http.get(LINEAGE_PATH, params={"full_name": TABLE, "direction": "downstream"}))
    for line in render_tree(graph, "downstream").splitlines():
        say(line)


FILE_ACTIONS = ("uploadModelVersionArtifact", "getModelVersionArtifact")


def _audit_rows(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """One row per event, except that a run of one user's uploads or downloads of one
    version's files is one row."""
    rows: list[list[Any]] = []
    last_key: tuple[Any, ...] | None = None
    for event in events:
        params = event.get("request_params") or {}
        user = event["user_identity"].get("email")
        action = event["action_name"]
        status = event["response"]["status_code"]
        key = (user, action, status, params.get("version"))
        if action in FILE_ACTIONS and status < 400 and key == last_key:
            rows[-1][-1] += 1
            continue
        last_key = key
        count = 1 if action in FILE_ACTIONS and status < 400 else None
        rows.append([event["event_time"][11:23], user, action, status, event, count])
    return [
        (time_, user, action, status, _detail(event, count))
        for time_, user, action, status, event, count in rows
    ]


def _detail(event: dict[str, Any], files: int | None = None) -> str:
    """A short note for the table: the alias moved, the statement, the files, the error."""
    params = event.get("request_params") or {}
    error = event["response"].get("error_message")
    if error:
        return clip(error)
    if files is not None:
        return f"v{params.get('version')}: {files} file{'s' if files != 1 else ''}"
    if params.get("statement"):
        note = str(params["statement"])
        if params.get("previous_version") is not None:
            note += f" (was v{params['previous_version']})"
        return clip(note)
    if params.get("alias"):
        target = params.get("version_num", params.get("version"))
        note = f"{params['alias']}" + (f" -> v{target}" if target is not None else "")
        if params.get("previous_version") is not None:
            note += f" (was v{params['previous_version']})"
        return note
    dependencies = params.get("dependencies") or {}
    if dependencies.get("training_tables"):
        return "trained on " + ", ".join(dependencies["training_tables"])
    if params.get("status"):
        return f"v{params.get('version')} {params['status']}"
    if params.get("version") is not None:
        return f"v{params['version']}"
    return ""


# -- main ------------------------------------------------------------------------------------


def run(url: str, token: str) -> None:
    print(f"Steward at {url}: the churn model's seed flow")
    with (
        httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=example_support.REQUEST_TIMEOUT_SECONDS,
        ) as http,
        Client(url, token) as admin,
    ):
        me = check(http.get("/api/2.0/preview/scim/v2/Me"))
        print(f"Signed in as {me.get('userName')}")
        create_namespace(http)
        cursor = audit_cursor(http)
        trained, X_test = train()
        older, newer = register(admin, trained, X_test)
        analyst_token = consumers(http)
        aliases(admin, http, older, newer)
        as_analyst(url, analyst_token, older[0], newer[0])
        audit_and_lineage(http, cursor)
    print(f"\nDone: {MODEL}@champion is version {newer[0]}, @challenger is version {older[0]}.")


def main(argv: Sequence[str] | None = None) -> int:
    return example_support.main(
        run,
        "Train, register, govern and load the churn model on a Steward server.",
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
