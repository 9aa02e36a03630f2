"""The Python client's serving methods and write progress against a real server
(registry/client/serving.py): create, read, list, update, query and delete an endpoint as
the CLI's specs say them, a traffic split by spec, and the rows-written callback of large
writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from registry import Client, StewardError
from tests.support import ServerHandle, unique


def fitted(intercept: float) -> LinearRegression:
    X = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) ** 2})
    return LinearRegression().fit(X, intercept + 2 * X.a - X.b)


def test_endpoints_from_create_to_delete(server: ServerHandle, tmp_path: Path) -> None:
    admin = Client(url=server.url, token=server.admin_token, cache_dir=tmp_path)
    catalog = unique("cs")
    admin.sql(f"CREATE CATALOG {catalog}")
    admin.sql(f"CREATE SCHEMA {catalog}.ml")
    model = f"{catalog}.ml.reg"
    example = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 0.0]})
    admin.register_model(fitted(0.0), model, input_example=example, alias="champion")
    admin.register_model(fitted(100.0), model, input_example=example)
    name = unique("ep")

    created = admin.create_endpoint(name, [f"{model}@champion"])
    assert created["name"] == name
    assert created["config"]["served_entities"][0]["alias"] == "champion"
    assert name in [e["name"] for e in admin.list_endpoints()]
    rows = [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 0.0}]
    want = [2.0 * r["a"] - r["b"] for r in rows]
    for data in (rows, pd.DataFrame(rows), {"dataframe_records": rows}):
        got = admin.query_endpoint(name, data)
        assert got == pytest.approx(want), (data, got)

    updated = admin.update_endpoint(name, [f"{model}/1:old=0", f"{model}/2:new=100"])
    routes = {e["name"]: e["traffic_percentage"] for e in updated["config"]["served_entities"]}
    assert routes == {"old": 0, "new": 100}
    assert admin.query_endpoint(name, rows) == pytest.approx([w + 100.0 for w in want])
    assert admin.get_endpoint(name)["config"]["config_version"] == 2

    with pytest.raises(StewardError) as bad:
        admin.create_endpoint(unique("ep"), [f"{model}"])
    assert "MODEL/VERSION or MODEL@ALIAS" in bad.value.message
    with pytest.raises(StewardError) as bad_share:
        admin.create_endpoint(unique("ep"), [f"{model}/1=half"])
    assert "whole number" in bad_share.value.message

    admin.delete_endpoint(name)
    with pytest.raises(StewardError) as gone:
        admin.get_endpoint(name)
    assert gone.value.status_code == 404


def test_large_writes_report_progress_batch_by_batch(server: ServerHandle) -> None:
    admin = Client(url=server.url, token=server.admin_token)
    catalog = unique("cs")
    admin.sql(f"CREATE CATALOG {catalog}")
    admin.sql(f"CREATE SCHEMA {catalog}.fs")
    table = f"{catalog}.fs.t"
    admin.sql(
        f"CREATE TABLE {table} (id BIGINT NOT NULL, note STRING, CONSTRAINT pk PRIMARY KEY (id))"
    )
    rows = [{"id": i, "note": f"{i:0100d}"} for i in range(25_000)]
    seen: list[tuple[int, int]] = []
    totals = admin.write_table(table, rows, progress=lambda done, total: seen.append((done, total)))
    assert totals["num_inserted_rows"] == 25_000
    assert len(seen) >= 3 and seen[-1] == (25_000, 25_000)
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})  # strictly growing
    assert all(total == 25_000 for _, total in seen)
