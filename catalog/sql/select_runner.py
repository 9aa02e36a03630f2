"""``SELECT`` through the SQL endpoint: plan, authorize, compile, run read-only, present.

The steps and why each exists are in :mod:`catalog.sql.compiler` (the compiler),
:mod:`catalog.sql.sources` (what names resolve to, who may read them) and
:mod:`catalog.sql.readonly` (the database's guard). Every table the query names is
authorized before anything runs: SELECT on a system table (metastore admins hold it by
default), USE CATALOG + USE SCHEMA + SELECT on a managed table (nobody holds it by
default, not even a metastore admin: docs/privileges.md).

Values are JSON-safe: timestamps ISO-8601 UTC strings with microseconds and ``Z`` (as
``GET /api/2.1/steward/audit`` writes them; TIMESTAMP_NTZ without the ``Z``), dates
``YYYY-MM-DD``, structs, arrays and maps compact JSON text (``{"email":"a@b.c"}``),
binary base64 (as the rows API gives it), decimals numbers. At most ``max_rows`` rows come
back; ``truncated`` says when the query had more.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlglot import exp

from catalog.access.authorizer import Caller
from catalog.runtime import Runtime
from catalog.sql.compiler import MAX_ROWS, Budgets, CompiledQuery, ReadQuery
from catalog.sql.readonly import TIMEOUT_SECONDS, physical_schema, run_readonly
from catalog.sql.sources import CatalogResolver


@dataclass
class SelectResult:
    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, type_text)
    rows: list[list[Any]] = field(default_factory=list)
    #: Whether rows past ``max_rows`` were left out.
    truncated: bool = False


def run_select(
    runtime: Runtime,
    caller: Caller,
    node: exp.Expression,
    default_catalog: str | None = None,
    default_schema: str | None = None,
    *,
    max_rows: int = MAX_ROWS,
    timeout: float = TIMEOUT_SECONDS,
) -> SelectResult:
    """Run a parsed SELECT for ``caller``; ``runtime`` is a ``catalog.http.deps.Runtime``."""
    resolver = CatalogResolver(runtime, caller, default_catalog, default_schema)
    query = ReadQuery.plan(node, resolver, Budgets.of(resolver.runtime.settings))
    compiled, raw = run_query(runtime, query, max_rows, timeout)
    rows, truncated = present(raw, compiled.kinds, compiled.max_rows)
    return SelectResult(compiled.columns, rows, truncated)


def run_query(
    runtime: Runtime, query: ReadQuery, max_rows: int = MAX_ROWS, timeout: float = TIMEOUT_SECONDS
) -> tuple[CompiledQuery, list[tuple[Any, ...]]]:
    """Compile a planned (authorized) query for this database and run it read-only; the
    rows as the database returns them (at most ``max_rows + 1``)."""
    db = runtime.db
    compiled = query.compile(db.backend, physical_schema(db), max_rows)
    return compiled, run_readonly(db, compiled.sql, compiled.tables, timeout)


def present(
    rows: Iterable[Sequence[Any]], kinds: Sequence[str], max_rows: int
) -> tuple[list[list[Any]], bool]:
    """Rows as JSON-safe values, at most ``max_rows``; and whether any were left out."""
    out: list[list[Any]] = []
    for row in rows:
        if len(out) == max_rows:
            return out, True
        out.append([_value(value, kind) for value, kind in zip(row, kinds, strict=True)])
    return out, False


def _value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "timestamp_ntz":
        moment = _timestamp(value)
        return moment.removesuffix("Z") if isinstance(moment, str) else moment
    if kind == "timestamp" or isinstance(value, datetime):
        return _timestamp(value)
    if kind == "date" or isinstance(value, date):
        return value.isoformat() if isinstance(value, date) else str(value)[:10]
    if kind == "struct":
        return _struct(value)
    if kind == "boolean" and isinstance(value, int):
        return bool(value)
    if isinstance(value, Decimal | float) and not math.isfinite(value):
        return str(value)  # NaN / Infinity have no JSON number
    if kind == "fraction" and isinstance(value, Decimal | int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, Decimal | float) and kind == "integer" and value == int(value):
        return int(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def _timestamp(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _struct(value: Any) -> Any:
    """Compact JSON text; a stored JSON ``null`` is SQL NULL."""
    try:
        parsed = orjson.loads(value) if isinstance(value, str | bytes) else value
    except orjson.JSONDecodeError:
        return value
    return None if parsed is None else orjson.dumps(parsed).decode()
