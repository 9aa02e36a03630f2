"""Feature tables from the Python client and point-in-time training sets
(docs/feature-tables.md) against a real server: ``write_table`` (types, batches under the
body limit, merge counts, all-or-nothing on a bad row), ``lookup``, ``create_training_set``
on crafted timelines and on a random one checked against a brute-force join, denials, and a model
registered with its training set recording its lookups and lineage."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from registry import Client, FeatureLookup, StewardError, TrainingSet
from tests.registry_support import STEWARD, sql
from tests.support import ServerHandle, unique

T1 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
T3 = datetime(2024, 3, 3, 9, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


class Requests:
    """The requests a client sends (method, path, body size), seen through httpx's hooks."""

    def __init__(self, client: Client) -> None:
        self.seen: list[tuple[str, str, int]] = []
        client.rest._http.event_hooks["request"] = [self._record]

    def _record(self, request: httpx.Request) -> None:
        try:
            size = len(request.content)
        except httpx.RequestNotRead:  # a streamed upload
            size = -1
        self.seen.append((request.method, request.url.path, size))

    def to(self, suffix: str) -> list[tuple[str, str, int]]:
        return [r for r in self.seen if r[1].endswith(suffix)]

    def clear(self) -> None:
        self.seen.clear()


class World:
    """A catalog with schema ``ml``: a timeseries feature table ``activity`` (clicks and plan
    per customer over time), a feature table ``profile`` (region, age per customer), a
    table ``typed`` with one column of each common type; a scientist with SELECT, MODIFY
    and BROWSE on them and CREATE MODEL; a reader with SELECT on ``activity`` and BROWSE
    on ``profile``."""

    def __init__(self, server: ServerHandle, tmp_path: Path) -> None:
        self.server = server
        admin = server.admin
        self.catalog = unique("fs")
        self.activity = f"{self.catalog}.ml.activity"
        self.profile = f"{self.catalog}.ml.profile"
        self.typed = f"{self.catalog}.ml.typed"
        self.model = f"{self.catalog}.ml.churn"
        sql(admin, f"CREATE CATALOG {self.catalog}")
        sql(admin, f"CREATE SCHEMA {self.catalog}.ml")
        sql(
            admin,
            f"CREATE TABLE {self.activity} (customer_id BIGINT NOT NULL, ts TIMESTAMP NOT NULL, "
            "clicks DOUBLE, plan STRING, "
            "CONSTRAINT activity_pk PRIMARY KEY (customer_id, ts TIMESERIES))",
        )
        sql(
            admin,
            f"CREATE TABLE {self.profile} (customer_id BIGINT NOT NULL, region STRING, age INT, "
            "CONSTRAINT profile_pk PRIMARY KEY (customer_id))",
        )
        sql(
            admin,
            f"CREATE TABLE {self.typed} (id BIGINT NOT NULL, at TIMESTAMP, score DOUBLE, "
            "n INT, flag BOOLEAN, day DATE, name STRING, CONSTRAINT typed_pk PRIMARY KEY (id))",
        )
        self.scientist, scientist_token = server.create_user()
        self.reader, reader_token = server.create_user()
        tables = f"{self.activity}, {self.profile}, {self.typed}"
        statements = [
            f"GRANT USE CATALOG ON CATALOG {self.catalog} TO `{self.scientist}`",
            f"GRANT USE SCHEMA, CREATE MODEL ON SCHEMA {self.catalog}.ml TO `{self.scientist}`",
            f"GRANT USE CATALOG ON CATALOG {self.catalog} TO `{self.reader}`",
            f"GRANT USE SCHEMA ON SCHEMA {self.catalog}.ml TO `{self.reader}`",
            f"GRANT SELECT ON TABLE {self.activity} TO `{self.reader}`",
            f"GRANT BROWSE ON TABLE {self.profile} TO `{self.reader}`",
        ]
        for table in tables.split(", "):
            statements.append(
                f"GRANT SELECT, MODIFY, BROWSE ON TABLE {table} TO `{self.scientist}`"
            )
        for statement in statements:
            sql(admin, statement)
        self.ds = Client(server.url, scientist_token, cache_dir=tmp_path / "ds")
        self.rd = Client(server.url, reader_token, cache_dir=tmp_path / "rd")

    def timeline(self) -> None:
        """Customer 1: clicks 1, 2, 3 at T1 < T2 < T3 (plans a, b, c); customer 2 between
        them: 10 at T1 + 30 min, 20 at T2 + 30 min. Profiles for customers 1 and 2."""
        half = timedelta(minutes=30)
        activity = pd.DataFrame(
            {
                "customer_id": [1, 2, 1, 2, 1],
                "ts": [T1, T1 + half, T2, T2 + half, T3],
                "clicks": [1.0, 10.0, 2.0, 20.0, 3.0],
                "plan": ["a", "x", "b", "y", "c"],
            }
        )
        assert self.ds.write_table(self.activity, activity)["num_inserted_rows"] == 5
        profiles = [
            {"customer_id": 1, "region": "eu", "age": 31},
            {"customer_id": 2, "region": "us", "age": 45},
        ]
        assert self.ds.write_table(self.profile, profiles)["num_inserted_rows"] == 2

    def close(self) -> None:
        self.ds.close()
        self.rd.close()


@pytest.fixture
def world(server: ServerHandle, tmp_path: Path) -> Iterator[World]:
    w = World(server, tmp_path)
    yield w
    w.close()


def activity_lookup(world: World, **extra: Any) -> FeatureLookup:
    params: dict[str, Any] = {"feature_names": ["clicks"], "timestamp_lookup_key": "at"}
    params.update(extra)
    return FeatureLookup(world.activity, "cid", **params)


def same(left: Any, right: Any) -> bool:
    """Equal, with NaN equal to NaN."""
    return bool(pd.isna(left) and pd.isna(right)) or left == right


# -- write_table and lookup ------------------------------------------------------------------


def test_write_table_from_dataframe_and_records_with_types(world: World) -> None:
    frame = pd.DataFrame(
        {
            "id": np.array([1, 2, 3], dtype="int64"),
            "at": [
                pd.Timestamp("2024-05-01 12:00:00", tz="Europe/Berlin"),  # +02:00
                pd.Timestamp("2024-05-01 12:00:00.123456"),  # naive: UTC
                pd.NaT,
            ],
            "score": np.array([0.5, np.nan, 2.25]),
            "n": np.array([7, 8, 9], dtype="int32"),
            "flag": [True, False, None],
            "day": [pd.Timestamp("2024-05-01").date(), None, pd.Timestamp("2024-12-31").date()],
            "name": ["ä", None, "c"],
        }
    )
    counts = world.ds.write_table(world.typed, frame)
    assert counts == {"num_affected_rows": 3, "num_inserted_rows": 3, "num_updated_rows": 0}
    records = [
        {"id": np.int64(4), "at": "2024-05-01T12:00:00+05:30", "score": np.float32(1.5)},
        {"id": 5, "at": datetime(2024, 5, 1, 23, 30, tzinfo=PLUS_TWO), "n": np.int16(-3)},
        {"id": 6, "score": float("nan"), "flag": np.bool_(True)},
    ]
    assert world.ds.write_table(world.typed, records)["num_inserted_rows"] == 3

    rows = world.ds.lookup(world.typed, [{"id": i} for i in (1, 2, 3, 4, 5, 6, 99)])
    assert rows[-1] is None
    by_id = {r["id"]: r for r in rows[:-1]}
    assert by_id[1]["at"] == "2024-05-01T10:00:00.000000Z"
    assert by_id[2]["at"] == "2024-05-01T12:00:00.123456Z"
    assert by_id[3]["at"] is None
    assert by_id[4]["at"] == "2024-05-01T06:30:00.000000Z"
    assert by_id[5]["at"] == "2024-05-01T21:30:00.000000Z"
    assert [by_id[i]["score"] for i in (1, 2, 3, 4, 6)] == [0.5, None, 2.25, 1.5, None]
    assert (by_id[1]["n"], by_id[5]["n"], by_id[6]["flag"], by_id[3]["flag"]) == (7, -3, True, None)
    assert (by_id[1]["day"], by_id[2]["day"], by_id[3]["day"]) == ("2024-05-01", None, "2024-12-31")
    assert (by_id[1]["name"], by_id[2]["name"]) == ("ä", None)

    # A DataFrame of keys gives a typed DataFrame on its index, NaN where nothing is found.
    keys = pd.DataFrame({"id": [5, 99, 1]}, index=[10, 20, 30])
    found = world.ds.lookup(world.typed, keys)
    assert list(found.index) == [10, 20, 30]
    assert list(found.columns) == ["id", "at", "score", "n", "flag", "day", "name"]
    assert isinstance(found["at"].dtype, pd.DatetimeTZDtype) and str(found["at"].dt.tz) == "UTC"
    assert found.loc[30, "at"] == pd.Timestamp("2024-05-01T10:00:00Z")
    assert found.loc[20].isna().all()
    assert found.loc[10, "n"] == -3

    # Merge: existing keys are updated, new ones inserted; append refuses existing keys.
    counts = world.ds.write_table(
        world.typed, [{"id": 1, "score": 9.0}, {"id": 7, "score": 1.0}], mode="merge"
    )
    assert counts == {"num_affected_rows": 2, "num_inserted_rows": 1, "num_updated_rows": 1}
    assert world.ds.lookup(world.typed, [{"id": 1}])[0]["score"] == 9.0
    assert world.ds.lookup(world.typed, [{"id": 1}])[0]["at"] is None  # a merge writes rows
    with pytest.raises(StewardError) as refused:
        world.ds.write_table(world.typed, [{"id": 8}, {"id": 7}], mode="append")
    assert refused.value.status_code == 400 and "row 2" in refused.value.message
    assert world.ds.lookup(world.typed, [{"id": 8}]) == [None]
    with pytest.raises(StewardError, match="mode 'overwrite'"):
        world.ds.write_table(world.typed, [{"id": 8}], mode="overwrite")
    assert world.ds.write_table(world.typed, []) == {
        "num_affected_rows": 0,
        "num_inserted_rows": 0,
        "num_updated_rows": 0,
    }


def test_a_large_write_is_split_under_the_body_limit(world: World) -> None:
    seen = Requests(world.ds)
    count = 12_000
    start = datetime(2024, 1, 1, tzinfo=UTC)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(count) % 50,
            "ts": [start + timedelta(minutes=i) for i in range(count)],
            "clicks": np.arange(count, dtype="float64"),
            "plan": ["p" * 80] * count,
        }
    )
    counts = world.ds.write_table(world.activity, frame)
    assert counts == {"num_affected_rows": count, "num_inserted_rows": count, "num_updated_rows": 0}
    writes = seen.to("/rows")
    assert len(writes) >= 2, writes
    assert all(size <= world.ds.max_request_bytes for _, _, size in writes)
    # Merging the same rows again updates every one of them, over as many requests.
    again = world.ds.write_table(world.activity, frame.assign(clicks=frame.clicks + 1))
    assert again == {"num_affected_rows": count, "num_inserted_rows": 0, "num_updated_rows": count}

    # Lookups split too: a small limit makes several requests, answers stay in order.
    with Client(world.server.url, world.ds.token, max_request_bytes=4_000) as small:
        watched = Requests(small)
        keys = [{"customer_id": i % 60} for i in range(600)]
        times = [start + timedelta(minutes=i * 20) for i in range(600)]
        rows = small.lookup(world.activity, keys, as_of=times)
        assert len(watched.to("/lookup")) >= 3
    for key, moment, row in zip(keys, times, rows, strict=True):
        c = key["customer_id"]
        if c >= 50:
            assert row is None
            continue
        minutes = int((moment - start).total_seconds() // 60)
        latest = minutes - ((minutes - c) % 50)  # the last minute ≤ moment written for c
        if latest < 0:
            assert row is None, (c, moment, row)
            continue
        assert row is not None and row["clicks"] == latest + 1, (c, moment, row)


def test_a_bad_row_names_row_and_column_and_writes_nothing(world: World) -> None:
    good = [{"id": 100 + i, "score": float(i)} for i in range(5)]
    # One batch: the server refuses it.
    with pytest.raises(StewardError) as bad:
        world.ds.write_table(world.typed, [*good[:2], {"id": 102, "score": "high"}, *good[3:]])
    assert (bad.value.error_code, bad.value.status_code) == ("INVALID_PARAMETER_VALUE", 400)
    assert "row 3" in bad.value.message and "'score'" in bad.value.message
    assert world.ds.lookup(world.typed, [{"id": r["id"]} for r in good]) == [None] * 5

    # Several batches: the bad row is found before any is written, numbered in the whole
    # write, as are NOT NULL and unknown columns and a key given twice.
    rows = [{"id": 1000 + i, "name": "n" * 50, "at": "2024-01-01T00:00:00Z"} for i in range(400)]
    with Client(world.server.url, world.ds.token, max_request_bytes=8_000) as small:
        seen = Requests(small)
        for broken, needles in (
            ({**rows[350], "at": "yesterday"}, ("row 351", "'at'", "timestamp")),
            ({**rows[350], "id": None}, ("row 351", "'id'", "NOT NULL")),
            ({**rows[350], "colour": "red"}, ("row 351", "'colour'")),
            ({**rows[350], "id": 1001}, ("rows 2 and 351", "id=1001")),
        ):
            with pytest.raises(StewardError) as bad:
                small.write_table(world.typed, [*rows[:350], broken, *rows[351:]])
            for needle in needles:
                assert needle in bad.value.message, (needle, bad.value.message)
        assert seen.to("/rows") == []
    assert world.ds.lookup(world.typed, [{"id": 1000}, {"id": 1399}]) == [None, None]
    # What only the server can check (append: the key exists) stops a split write at the
    # batch it finds it in, numbered in the whole write; the batches before it stay.
    world.ds.write_table(world.typed, [rows[300]])
    small = Client(world.server.url, world.ds.token, max_request_bytes=8_000)
    with small, pytest.raises(StewardError) as bad:
        small.write_table(world.typed, rows, mode="append")
    assert "row 301:" in bad.value.message and "already exists" in bad.value.message
    found = world.ds.lookup(world.typed, [{"id": 1000}, {"id": 1399}])
    assert found[0] is not None and found[1] is None


def test_writes_need_modify_and_lookups_select(world: World) -> None:
    world.timeline()
    # The reader has SELECT on activity but not MODIFY: nothing is written.
    with pytest.raises(StewardError) as denied:
        world.rd.write_table(world.activity, [{"customer_id": 9, "ts": T1, "clicks": 1.0}])
    assert (denied.value.error_code, denied.value.status_code) == ("PERMISSION_DENIED", 403)
    assert "MODIFY" in denied.value.message
    with pytest.raises(StewardError) as denied:
        many = [{"customer_id": 9, "ts": T1 + timedelta(seconds=i)} for i in range(30_000)]
        world.rd.write_table(world.activity, many)
    assert denied.value.status_code == 403
    assert world.ds.lookup(world.activity, [{"customer_id": 9}]) == [None]

    # BROWSE on profile lets the reader plan a training set, not read its features.
    df = pd.DataFrame({"cid": [1, 2], "at": [T2, T3]})
    training = world.rd.create_training_set(
        df, [FeatureLookup(world.profile, "cid", feature_names=["region"])]
    )
    with pytest.raises(StewardError) as denied:
        training.load_df()
    assert (denied.value.error_code, denied.value.status_code) == ("PERMISSION_DENIED", 403)
    assert "SELECT" in denied.value.message
    with pytest.raises(StewardError) as denied:
        world.rd.lookup(world.profile, [{"customer_id": 1}])
    assert denied.value.status_code == 403
    # SELECT on activity reads its rows, and (with the usage gates) its description, as
    # UC's getTable allows: enough to join it.
    assert world.rd.lookup(world.activity, [{"customer_id": 1}])[0]["clicks"] == 3.0
    plain = world.rd.lookup(world.activity, pd.DataFrame({"customer_id": [2]}))
    assert list(plain["clicks"]) == [20.0]
    allowed = world.rd.create_training_set(df, [activity_lookup(world)]).load_df()
    assert list(allowed["clicks"]) == [2.0, 20.0]
    # No privilege at all on a table: refused when the set is made.
    other = unique("t")
    sql(world.server.admin, f"CREATE TABLE {world.catalog}.ml.{other} (k BIGINT)")
    with pytest.raises(StewardError) as denied:
        world.rd.create_training_set(df, [FeatureLookup(f"{world.catalog}.ml.{other}", "cid")])
    assert denied.value.status_code in (403, 404)


# -- point-in-time training sets -------------------------------------------------------------


def test_point_in_time_join_on_a_crafted_timeline(world: World) -> None:
    world.timeline()
    second, half = timedelta(seconds=1), timedelta(minutes=30)
    rows = [
        # (case, customer, time, expected clicks, expected plan)
        ("before t1", 1, T1 - second, np.nan, np.nan),
        ("exactly t1", 1, T1, 1.0, "a"),
        ("exactly t2", 1, T2, 2.0, "b"),
        ("exactly t2, as +02:00", 1, T2.astimezone(PLUS_TWO), 2.0, "b"),
        ("between t2 and t3", 1, T3 - second, 2.0, "b"),
        ("exactly t3", 1, T3, 3.0, "c"),
        ("after t3", 1, T3 + timedelta(days=30), 3.0, "c"),
        ("c2 before its first", 2, T1 + half - second, np.nan, np.nan),
        ("c2 at t2: its t1 + 30 min", 2, T2, 10.0, "x"),
        ("c2 at its t2 + 30 min", 2, T2 + half, 20.0, "y"),
        ("c2 after t3", 2, T3, 20.0, "y"),
        ("unknown key", 3, T3, np.nan, np.nan),
        ("no time", 1, pd.NaT, np.nan, np.nan),
    ]
    df = pd.DataFrame(
        {
            "cid": [r[1] for r in rows],
            "at": pd.to_datetime([r[2] for r in rows], utc=True),
            "churned": [i % 2 for i in range(len(rows))],
        },
        index=[f"r{i}" for i in reversed(range(len(rows)))],  # not a RangeIndex
    )
    seen = Requests(world.ds)
    training = world.ds.create_training_set(
        df,
        feature_lookups=[
            FeatureLookup(
                world.activity, "cid", feature_names=["clicks", "plan"], timestamp_lookup_key="at"
            ),
            FeatureLookup(world.profile, ["cid"]),  # every non-key column, latest values
        ],
        label="churned",
    )
    assert isinstance(training, TrainingSet)
    assert len(seen.to("/lookup")) == 0  # nothing is fetched until load_df
    loaded = training.load_df()
    assert list(loaded.index) == list(df.index)
    assert list(loaded.columns) == ["cid", "at", "clicks", "plan", "region", "age", "churned"]
    for (case, customer, _, clicks, plan), (_, got) in zip(rows, loaded.iterrows(), strict=True):
        assert same(got["clicks"], clicks), (case, got["clicks"], clicks)
        assert same(got["plan"], plan), (case, got["plan"], plan)
        region, age = {1: ("eu", 31), 2: ("us", 45)}.get(customer, (np.nan, np.nan))
        assert same(got["region"], region) and same(got["age"], age), (case, got)
    assert loaded["clicks"].dtype == "float64" and loaded["age"].dtype == "float64"
    assert list(loaded["churned"]) == list(df["churned"])
    # One request per table (unique keys), none again when loaded twice.
    assert len(seen.to("/lookup")) == 2
    assert training.load_df().equals(loaded)
    assert len(seen.to("/lookup")) == 2
    assert training.feature_names == ["clicks", "plan", "region", "age"]
    assert [f.feature_names for f in training.feature_lookups] == [
        ["clicks", "plan"],
        ["region", "age"],
    ]

    # Without timestamp_lookup_key a timeseries table gives each key's latest values.
    latest = world.ds.create_training_set(
        df, [FeatureLookup(world.activity, "cid", feature_names="clicks")]
    ).load_df()
    expected = {1: 3.0, 2: 20.0}
    assert all(
        same(got, expected.get(c, np.nan)) for c, got in zip(df.cid, latest.clicks, strict=True)
    )


def test_lookback_window_excludes_stale_values(world: World) -> None:
    world.timeline()
    hour = timedelta(hours=1)
    df = pd.DataFrame(
        {
            "cid": [1, 1, 1, 2, 2, 1, 1],
            "at": [T3 + 2 * hour, T3 + hour / 2, T3, T2, T2 + hour, T2, T2 + timedelta(seconds=1)],
        }
    )
    windowed = world.ds.create_training_set(
        df, [activity_lookup(world, lookback_window=timedelta(hours=1))]
    ).load_df()
    # T3 + 2h: the value at T3 is older than an hour; c2 at T2: its value is 23.5 h old.
    assert all(
        same(a, b)
        for a, b in zip(windowed.clicks, [np.nan, 3.0, 3.0, np.nan, 20.0, 2.0, 2.0], strict=True)
    )
    # In seconds, and the boundary is inclusive: exactly one window old still counts.
    boundary = world.ds.create_training_set(
        pd.DataFrame({"cid": [1, 1], "at": [T3 + hour, T3 + hour + timedelta(microseconds=1)]}),
        [activity_lookup(world, lookback_window=3600)],
    ).load_df()
    assert same(boundary.clicks[0], 3.0) and same(boundary.clicks[1], np.nan)
    # A zero window: only values stamped exactly at the row's time.
    exact = world.ds.create_training_set(
        df, [activity_lookup(world, lookback_window=timedelta(0))]
    ).load_df()
    assert all(
        same(a, b)
        for a, b in zip(
            exact.clicks, [np.nan, np.nan, 3.0, np.nan, np.nan, 2.0, np.nan], strict=True
        )
    )


def test_labels_exclusions_renames_and_clear_errors(world: World) -> None:
    world.timeline()
    df = pd.DataFrame(
        {"cid": [2, 1], "at": [T3, T2], "churned": [1, 0], "note": ["x", "y"], "region": ["?", "?"]}
    )
    activity = activity_lookup(world, feature_names=["clicks", "plan"])

    # A feature named like a DataFrame column, or like another lookup's feature: refused.
    with pytest.raises(StewardError) as clash:
        world.ds.create_training_set(df, [activity, FeatureLookup(world.profile, "cid")])
    assert "'region'" in clash.value.message and "rename_outputs" in clash.value.message
    twice = FeatureLookup(world.activity, "cid", feature_names=["clicks"])
    with pytest.raises(StewardError) as clash:
        world.ds.create_training_set(df, [activity, twice])
    assert "'clicks'" in clash.value.message and world.activity in clash.value.message

    training = world.ds.create_training_set(
        df,
        [
            activity,
            FeatureLookup(
                world.activity,
                "cid",
                feature_names=["clicks"],
                rename_outputs={"clicks": "clicks_now"},
            ),
            FeatureLookup(world.profile, "cid", rename_outputs={"region": "home_region"}),
        ],
        label="churned",
        exclude_columns=["note", "at", "age"],
    )
    loaded = training.load_df()
    assert list(loaded.columns) == [
        "cid",
        "region",
        "clicks",
        "plan",
        "clicks_now",
        "home_region",
        "churned",
    ]
    assert list(loaded.clicks) == [20.0, 2.0] and list(loaded.clicks_now) == [20.0, 3.0]
    assert list(loaded.home_region) == ["us", "eu"] and list(loaded.region) == ["?", "?"]
    assert training.labels == ["churned"]

    # Multiple labels stay last, in the given order.
    two = world.ds.create_training_set(
        df.drop(columns="region"), [activity], label=["note", "churned"]
    ).load_df()
    assert list(two.columns)[-2:] == ["note", "churned"]

    for lookups, kwargs, needles in (
        ([activity], {"label": "missing"}, ("label 'missing'",)),
        ([activity], {"label": "churned", "exclude_columns": ["churned"]}, ("exclude_columns",)),
        ([activity], {"exclude_columns": ["nope"]}, ("'nope'",)),
        ([activity_lookup(world, feature_names=["bogus"])], {}, ("'bogus'", "clicks")),
        ([FeatureLookup(world.activity, ["cid", "at"])], {}, ("customer_id",)),
        ([FeatureLookup(world.activity, "cust")], {}, ("no column 'cust'",)),
        (
            [FeatureLookup(world.profile, "cid", timestamp_lookup_key="at")],
            {},
            ("TIMESERIES",),
        ),
        (
            [FeatureLookup(world.profile, "cid", rename_outputs={"nothing": "x"})],
            {},
            ("rename_outputs",),
        ),
    ):
        with pytest.raises(StewardError) as bad:
            world.ds.create_training_set(df.drop(columns="region"), lookups, **kwargs)
        assert bad.value.error_code == "INVALID_PARAMETER_VALUE"
        for needle in needles:
            assert needle in bad.value.message, (needle, bad.value.message)
    with pytest.raises(StewardError, match="lookback_window needs timestamp_lookup_key"):
        FeatureLookup(world.activity, "cid", lookback_window=timedelta(days=1))
    with pytest.raises(StewardError, match=r"catalog\.schema\.table"):
        FeatureLookup("activity", "cid")


def brute_force(
    features: pd.DataFrame, df: pd.DataFrame, lookback: timedelta | None
) -> list[float]:
    """Point in time the slow, obvious way: for each row, among its key's feature rows not
    later than its time (and within the lookback), the value of the latest."""
    out = []
    for _, row in df.iterrows():
        candidates = features[(features.customer_id == row.cid) & (features.ts <= row["at"])]
        if lookback is not None:
            candidates = candidates[candidates.ts >= row["at"] - lookback]
        out.append(np.nan if candidates.empty else candidates.sort_values("ts").clicks.iloc[-1])
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_random_timeline_matches_a_brute_force_join(world: World, seed: int) -> None:
    rng = random.Random(seed)
    day = datetime(2024, 6, 1, tzinfo=UTC)
    stamps = {
        (c, day + timedelta(seconds=rng.randrange(86_400)))
        for c in range(6)
        for _ in range(rng.randrange(0, 40))
    }
    features = pd.DataFrame(
        [
            {"customer_id": c, "ts": ts, "clicks": float(rng.randrange(1000))}
            for c, ts in sorted(stamps)
        ]
    )
    world.ds.write_table(world.activity, features)
    times = [day + timedelta(seconds=rng.randrange(-3_600, 90_000)) for _ in range(400)]
    exact = sorted(stamps)
    df = pd.DataFrame(
        {
            "cid": [rng.randrange(7) for _ in range(400)],  # customer 6 has no features
            "at": pd.to_datetime(times, utc=True),
        }
    )
    for i in range(0, 400, 10):  # every tenth row exactly at a feature's time (inclusive)
        df.loc[i, "cid"] = exact[(i // 10) % len(exact)][0]
        df.loc[i, "at"] = pd.Timestamp(exact[(i // 10) % len(exact)][1])
    df = pd.concat([df, df.sample(50, random_state=seed)], ignore_index=True)  # repeated pairs
    features["ts"] = pd.to_datetime(features["ts"], utc=True)
    for lookback in (None, timedelta(hours=2)):
        seen = Requests(world.ds)
        got = world.ds.create_training_set(
            df, [activity_lookup(world, lookback_window=lookback)]
        ).load_df()
        assert len(seen.to("/lookup")) == 1
        want = brute_force(features, df, lookback)
        mismatches = [
            (i, df.cid[i], df["at"][i], g, w)
            for i, (g, w) in enumerate(zip(got.clicks, want, strict=True))
            if not same(g, w)
        ]
        assert not mismatches, mismatches[:5]
        assert got.clicks.notna().sum() > 50  # the timeline is not trivially empty


# -- registration -----------------------------------------------------------------------------


def test_a_model_registered_with_its_training_set_records_lookups_and_lineage(
    world: World,
) -> None:
    world.timeline()
    df = pd.DataFrame(
        {
            "cid": [1, 2, 1, 2, 1, 2],
            "at": [T1, T2, T2, T3, T3, T3 + timedelta(hours=1)],
            "churned": [0, 1, 0, 1, 1, 1],
        }
    )
    training = world.ds.create_training_set(
        df,
        [
            activity_lookup(world, lookback_window=timedelta(days=2)),
            FeatureLookup(world.profile, "cid", feature_names=["age"]),
        ],
        label="churned",
        exclude_columns=["cid", "at"],
    )
    train = training.load_df()
    X, y = train.drop(columns="churned"), train.churned
    model = LogisticRegression().fit(X, y)
    mv = world.ds.register_model(
        model, world.model, input_example=X.head(2), training_set=training, alias="champion"
    )
    lookups = [
        {
            "table_name": world.activity,
            "lookup_key": ["cid"],
            "feature_names": ["clicks"],
            "timestamp_lookup_key": "at",
            "rename_outputs": None,
        },
        {
            "table_name": world.profile,
            "lookup_key": ["cid"],
            "feature_names": ["age"],
            "timestamp_lookup_key": None,
            "rename_outputs": None,
        },
    ]
    assert mv.dependencies == {"training_tables": [], "feature_lookups": lookups}
    fetched = world.server.admin.get(
        f"/api/2.1/unity-catalog/models/{world.model}/versions/{mv.version}"
    )
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["dependencies"]["feature_lookups"] == lookups

    # Explicit training tables and lookups are kept alongside the set's.
    mv2 = world.ds.register_model(
        model,
        world.model,
        input_example=X.head(2),
        training_tables=[world.typed],
        feature_lookups=[FeatureLookup(world.typed, "id", feature_names=["score"])],
        training_set=training,
    )
    assert mv2.dependencies is not None
    assert mv2.dependencies["training_tables"] == [world.typed]
    assert [f["table_name"] for f in mv2.dependencies["feature_lookups"]] == [
        world.typed,
        world.activity,
        world.profile,
    ]

    upstream = world.server.admin.get(
        f"{STEWARD}/lineage",
        params={"full_name": world.model, "direction": "upstream", "depth": 3},
    )
    assert upstream.status_code == 200, upstream.text
    nodes = {n["id"]: n for n in upstream.json()["nodes"]}
    edges = {
        (nodes[e["source"]].get("name"), e["kind"], nodes[e["target"]].get("version"))
        for e in upstream.json()["edges"]
    }
    for version in (mv.version, mv2.version):
        assert (world.activity, "feature_lookup", version) in edges
        assert (world.profile, "feature_lookup", version) in edges
    assert (world.typed, "feature_lookup", mv2.version) in edges
    assert (world.typed, "training", mv2.version) in edges
    downstream = world.server.admin.get(
        f"{STEWARD}/lineage",
        params={"full_name": world.activity, "direction": "downstream", "depth": 2},
    )
    assert downstream.status_code == 200, downstream.text
    names = {n.get("name") for n in downstream.json()["nodes"]}
    assert world.model in names or any(
        n.get("version") == mv.version for n in downstream.json()["nodes"]
    )
