"""What a row filter and two column masks cost a query, side by side with the same query
without them and with the pre-ABAC way of doing the same (a hand-written view).

A table of ``--rows`` rows (default 1M: id, region, ssn, email, amount) is loaded three
times: ``plain`` with no policy, ``governed`` with a row filter (``region = 'US'`` unless
the reader is in ``admins``) and masks on ``ssn`` and ``email`` (the value for members of
``hr`` / ``support``, a constant or NULL for everyone else), and ``tagged``, whose columns
carry governed tags that three ABAC policies on it match to the same filter and masks. The
reader is a user in none of those groups, holding SELECT on all. Each query runs five
ways, interleaved round by round so all see the same minutes of the machine:

- **unfiltered**: the query on ``plain``;
- **policy**: the same query on ``governed`` (the filter and masks are inlined by the SQL
  rewrite, docs/row-access.md);
- **abac**: the same query on ``tagged`` (the policies reach it through its tags);
- **view**: the query on a hand-written view over ``plain`` with the same filter and masks
  (``WITH v AS (SELECT … CASE WHEN is_member(…) … FROM plain WHERE …) SELECT … FROM v``:
  a view's body expanded in place, which is what a view is to the database);
- **steward view**: the query on a real view (``CREATE VIEW``) of that body.

Statements run in-process through the SQL executor (parse, authorize, compile, run),
without HTTP, so the figures are the statement's own cost. Goal: policy at most 1.2× the
unfiltered query, and never more than the view.

    .venv/bin/python -m benchmarks.row_access --backends sqlite,postgresql
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    add_json,
    add_postgres_url,
    database_for,
    fmt,
    log,
    machine_line,
    markdown_table,
    ratio,
    run_on_backends,
    write_json,
)
from catalog.access.authorizer import Caller
from catalog.config import Settings
from catalog.records import PrincipalKind
from catalog.runtime import Runtime
from catalog.sql.executor import StatementExecutor
from steward.app import shutdown, start

ADMIN_TOKEN = "dapi-bench-admin"
REGIONS = ("US", "EU", "APAC", "LATAM")
FILTER = "r = 'US' OR is_account_group_member('admins')"
SSN_MASK = "CASE WHEN is_member('hr') THEN s ELSE '***-**-****' END"
EMAIL_MASK = "CASE WHEN is_member('support') THEN e ELSE NULL END"

#: name → query over ``{t}`` (the table, or the view's CTE name).
QUERIES: dict[str, str] = {
    "aggregate (scan, group by)": (
        "SELECT region, count(*) AS n, sum(amount) AS total, count(email) AS emails "
        "FROM {t} GROUP BY region ORDER BY region"
    ),
    "predicate on a masked column": (
        "SELECT count(*) FROM {t} WHERE ssn = '***-**-****' AND amount > 500"
    ),
    "rows (filter, order, limit 100)": (
        "SELECT id, ssn, email, amount FROM {t} WHERE amount > 990 "
        "ORDER BY amount DESC, id LIMIT 100"
    ),
    "point lookup by key": "SELECT * FROM {t} WHERE id = {key}",
}


def _view_body(schema: str) -> str:
    return (
        f"SELECT id, region, CASE WHEN is_member('hr') THEN ssn ELSE '***-**-****' END AS ssn, "
        "CASE WHEN is_member('support') THEN email ELSE NULL END AS email, amount "
        f"FROM {schema}.plain WHERE region = 'US' OR is_account_group_member('admins')"
    )


def _view(query: str, schema: str) -> str:
    return f"WITH v AS ({_view_body(schema)}) " + query.format(t="v", key="{key}")


TABLES = ("plain", "governed", "tagged")


def _load(rt: Runtime, admin: Caller, schema: str, rows: int) -> None:
    sql = StatementExecutor
    for name in TABLES:
        sql(rt, admin).execute(
            f"CREATE TABLE {schema}.{name} (id BIGINT NOT NULL, region STRING, ssn STRING, "
            f"email STRING, amount DOUBLE, CONSTRAINT {name}_pk PRIMARY KEY (id))"
        )
    rng = random.Random(7)
    chunk = 50_000
    for start_at in range(0, rows, chunk):
        batch = [
            {
                "id": i,
                "region": REGIONS[rng.randrange(len(REGIONS))],
                "ssn": f"{rng.randrange(1000):03d}-{rng.randrange(100):02d}-{i % 10000:04d}",
                "email": None if i % 7 == 0 else f"user{i}@example.com",
                "amount": round(rng.random() * 1000, 2),
            }
            for i in range(start_at, min(rows, start_at + chunk))
        ]
        for name in TABLES:
            rt.data.write(f"{schema}.{name}", batch)
    for statement in (
        f"CREATE FUNCTION {schema}.us_only(r STRING) RETURNS BOOLEAN RETURN {FILTER}",
        f"CREATE FUNCTION {schema}.ssn_mask(s STRING) RETURN {SSN_MASK}",
        f"CREATE FUNCTION {schema}.email_mask(e STRING) RETURN {EMAIL_MASK}",
        f"ALTER TABLE {schema}.governed SET ROW FILTER {schema}.us_only ON (region)",
        f"ALTER TABLE {schema}.governed ALTER COLUMN ssn SET MASK {schema}.ssn_mask",
        f"ALTER TABLE {schema}.governed ALTER COLUMN email SET MASK {schema}.email_mask",
        f"ALTER TABLE {schema}.tagged ALTER COLUMN region SET TAGS ('geo' = 'region')",
        f"ALTER TABLE {schema}.tagged ALTER COLUMN ssn SET TAGS ('pii' = 'ssn')",
        f"ALTER TABLE {schema}.tagged ALTER COLUMN email SET TAGS ('pii' = 'email')",
        f"CREATE POLICY us ON TABLE {schema}.tagged ROW FILTER {schema}.us_only "
        "TO `account users` FOR TABLES MATCH COLUMNS has_tag('geo') AS g USING COLUMNS (g)",
        f"CREATE POLICY ssn ON TABLE {schema}.tagged COLUMN MASK {schema}.ssn_mask "
        "TO `account users` FOR TABLES MATCH COLUMNS has_tag_value('pii', 'ssn') AS s "
        "ON COLUMN s",
        f"CREATE POLICY email ON TABLE {schema}.tagged COLUMN MASK {schema}.email_mask "
        "TO `account users` FOR TABLES MATCH COLUMNS has_tag_value('pii', 'email') AS e "
        "ON COLUMN e",
        f"CREATE VIEW {schema}.v AS {_view_body(schema)}",
    ):
        sql(rt, admin).execute(statement)


def _reader(rt: Runtime, admin: Caller, schema: str) -> Caller:
    name = "reader@example.com"
    record = rt.identity.create_principal(PrincipalKind.USER, name)
    catalog = schema.split(".")[0]
    for statement in (
        f"GRANT USE CATALOG ON CATALOG {catalog} TO `{name}`",
        f"GRANT USE SCHEMA, SELECT ON SCHEMA {schema} TO `{name}`",
    ):
        StatementExecutor(rt, admin).execute(statement)
    return Caller(record, rt.authorizer.feed.engine.groups(name))


def _rounded(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows with sums rounded: a float sum depends on the order rows are added in."""
    return [[round(v, 3) if isinstance(v, float) else v for v in row] for row in rows]


def _timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def measure(backend: str, directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    with database_for(backend, directory, args.postgres_url) as url:
        settings = Settings(
            storage_root=directory / f"storage-{backend}",
            database_url=url,
            admin_token=ADMIN_TOKEN,
            max_rows_per_write=100_000,
        )
        rt, _registry = start(settings)
        try:
            admin = rt.identity.authenticate(ADMIN_TOKEN)
            for statement in ("CREATE CATALOG bench", "CREATE SCHEMA bench.s"):
                StatementExecutor(rt, admin).execute(statement)
            began = time.perf_counter()
            _load(rt, admin, "bench.s", args.rows)
            seconds = time.perf_counter() - began
            log(f"{backend}: loaded {len(TABLES)} x {args.rows:,} rows in {seconds:.0f} s")
            reader = _reader(rt, admin, "bench.s")
            return _compare(rt, reader, args)
        finally:
            shutdown(rt)


def _compare(rt: Runtime, reader: Caller, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(11)
    results: dict[str, Any] = {}
    for label, query in QUERIES.items():
        ways = {
            "unfiltered": query.format(t="bench.s.plain", key="{key}"),
            "policy": query.format(t="bench.s.governed", key="{key}"),
            "abac": query.format(t="bench.s.tagged", key="{key}"),
            "view": _view(query, "bench.s"),
            "steward view": query.format(t="bench.s.v", key="{key}"),
        }
        answers = {
            way: StatementExecutor(rt, reader).execute(text.format(key=1)).rows
            for way, text in ways.items()
        }
        for way in ("abac", "view", "steward view"):
            if _rounded(answers["policy"]) != _rounded(answers[way]):
                raise SystemExit(f"{label}: the policy and the {way} answer differently")
        times: dict[str, list[float]] = {way: [] for way in ways}
        for round_number in range(args.repeats):
            order = list(ways)
            if round_number % 2:
                order.reverse()
            key = rng.randrange(args.rows)
            for way in order:
                text = ways[way].format(key=key)
                times[way].append(_timed(lambda t=text: StatementExecutor(rt, reader).execute(t)))
        results[label] = {way: statistics.median(values) for way, values in times.items()}
        log(f"  {label}: " + ", ".join(f"{w} {v:.1f} ms" for w, v in results[label].items()))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15, help="rounds per query")
    add_postgres_url(parser)
    add_json(parser)
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    figures: dict[str, Any] = {}

    def body(directory: Path) -> None:
        for backend in backends:
            figures[backend] = measure(backend, directory, args)

    info, seconds = run_on_backends("steward-bench-rows-", backends, args.postgres_url, body)
    print(machine_line(info))
    print(f"{args.rows:,} rows per table, median of {args.repeats} rounds, ms per statement")
    for backend in backends:
        rows = [
            [
                "query",
                backend,
                "unfiltered",
                "policy",
                "abac",
                "view",
                "steward view",
                "policy/unfiltered",
                "abac/unfiltered",
                "policy/view",
            ]
        ]
        for label, cell in figures[backend].items():
            rows.append(
                [
                    label,
                    "ms",
                    fmt(cell["unfiltered"], "ms"),
                    fmt(cell["policy"], "ms"),
                    fmt(cell["abac"], "ms"),
                    fmt(cell["view"], "ms"),
                    fmt(cell["steward view"], "ms"),
                    ratio(cell["policy"], cell["unfiltered"]),
                    ratio(cell["abac"], cell["unfiltered"]),
                    ratio(cell["policy"], cell["view"]),
                ]
            )
        print("\n".join(markdown_table(rows)))
    print(f"total {seconds:.0f} s")
    write_json(args.json, {"machine": info, "rows": args.rows, "figures": figures})


if __name__ == "__main__":
    main()
