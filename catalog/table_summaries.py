"""Table summaries of a catalog (Databricks' ``tables.list_summaries``): the full name
and type of every table the caller sees, across the catalog's schemas, filtered by SQL
``LIKE`` patterns on schema and table names.

A summary is listed exactly when the table's GET would answer the caller 200
(docs/privileges.md, "Lists show exactly what a GET shows"): a table the caller sees
through a grant on it is listed even when its schema is not visible. Order is by schema
name, then table name; the page token carries the last (schema, table) given. Each page
examines a bounded number of rows: a catalog with many tables none of which match may
answer a short (even empty) page with a token to go on, which Databricks' clients follow
until no token comes.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from catalog.access.authorizer import Caller
from catalog.namespace import NamespaceService
from catalog.pagination import decode_token, encode_token, page_size
from catalog.records import Page, SecurableRecord
from catalog.store.base import NamespaceStore
from common.errors import InvalidParameter
from common.text import fold_identifier
from policy.securables import SecurableType

SCHEMA, TABLE = SecurableType.SCHEMA, SecurableType.TABLE
#: Rows read from the store in one go.
_BATCH = 200
#: Rows (schemas and tables) one page may examine before it answers what it has.
_MAX_EXAMINED = 20_000
#: A LIKE pattern longer than any name is a mistake, not a pattern.
MAX_PATTERN = 1024


@dataclass(frozen=True)
class TableSummary:
    full_name: str
    table_type: str


def like(name: str, pattern: str) -> bool:
    """SQL ``LIKE``: ``%`` any run of characters, ``_`` any one character.

    Matched segment by segment, leftmost first (which is exact for patterns whose only
    wildcard runs are ``%``): linear in practice, with no regular expression to blow up.
    """
    parts = pattern.split("%")
    if len(parts) == 1:
        return len(name) == len(pattern) and _at(name, 0, pattern)
    first, last = parts[0], parts[-1]
    if len(name) < len(first) + len(last):
        return False
    if not _at(name, 0, first) or not _at(name, len(name) - len(last), last):
        return False
    position, end = len(first), len(name) - len(last)
    for segment in parts[1:-1]:
        found = next(
            (i for i in range(position, end - len(segment) + 1) if _at(name, i, segment)), None
        )
        if found is None:
            return False
        position = found + len(segment)
    return True


def _at(name: str, start: int, segment: str) -> bool:
    return all(c == "_" or name[start + i] == c for i, c in enumerate(segment))


def normalize_pattern(pattern: str | None, what: str) -> str | None:
    """A pattern in the names' one spelling (folded like them); empty means no filter."""
    if pattern is None or pattern == "":
        return None
    if len(pattern) > MAX_PATTERN:
        raise InvalidParameter(f"{what} is longer than {MAX_PATTERN} characters")
    return fold_identifier(pattern)


def list_summaries(
    namespace: NamespaceService,
    caller: Caller,
    catalog: str,
    schema_pattern: str | None,
    table_pattern: str | None,
    max_results: int | None,
    page_token: str | None,
    server_max: int,
) -> Page[TableSummary]:
    """One page of the summaries of ``catalog``'s tables the caller sees. The catalog's
    visibility is the route guard's (a hidden catalog answers as a missing one)."""
    limit = page_size(max_results, server_max)
    after_schema, after_table = _cursor(page_token)
    schemas = normalize_pattern(schema_pattern, "schema_name_pattern")
    tables = normalize_pattern(table_pattern, "table_name_pattern")
    with namespace.db.read() as session:
        store = namespace.stores.namespace(session)
        return _Scan(namespace, store, caller, limit).run(
            catalog, schemas, tables, after_schema, after_table
        )


class _Scan:
    """One page's walk: schemas in name order, each one's tables in name order."""

    def __init__(
        self, namespace: NamespaceService, store: NamespaceStore, caller: Caller, limit: int
    ) -> None:
        self.authorizer = namespace.authorizer
        self.store = store
        self.caller = caller
        self.limit = limit
        self.examined = 0
        self.found: list[SecurableRecord] = []

    def run(
        self,
        catalog: str,
        schema_pattern: str | None,
        table_pattern: str | None,
        after_schema: str | None,
        after_table: str | None,
    ) -> Page[TableSummary]:
        parent = self.authorizer.resolve_chain(catalog, SecurableType.CATALOG, self.store)[-1]
        resume = None
        if after_schema is not None and after_table is not None:
            resume = self.store.get(SCHEMA, f"{parent.full_name}.{after_schema}")
        cursor = after_schema
        if resume is not None:  # finish the schema the last page stopped in
            stop = self._tables(resume, table_pattern, after_table)
            if stop is not None:
                return self._page(stop)
        while True:
            batch = self.store.list_children(parent.id, [SCHEMA], cursor, _BATCH)
            for schema in batch:
                cursor = schema.name
                self.examined += 1
                if schema_pattern is not None and not like(schema.name, schema_pattern):
                    continue
                stop = self._tables(schema, table_pattern, None)
                if stop is not None:
                    return self._page(stop)
            if len(batch) < _BATCH:
                return self._page(None)
            if self.examined >= _MAX_EXAMINED:
                return self._page((cursor or "", None))

    def _tables(
        self, schema: SecurableRecord, pattern: str | None, after: str | None
    ) -> tuple[str, str | None] | None:
        """Collect the schema's visible tables after ``after``; where to resume if the page
        filled or the budget ran out, else None (the schema is done)."""
        chain = self.authorizer.resolve_chain(schema.full_name, SCHEMA, self.store)
        everything = self.authorizer.can_see_all_children(self.caller, chain, TABLE)
        cursor = after
        while True:
            batch = self.store.list_children(schema.id, [TABLE], cursor, _BATCH)
            for table in batch:
                cursor = table.name
                self.examined += 1
                if pattern is not None and not like(table.name, pattern):
                    continue
                if everything or self.authorizer.can_see(self.caller, table):
                    self.found.append(table)
                    if len(self.found) == self.limit:
                        return schema.name, table.name
            if len(batch) < _BATCH:
                return None
            if self.examined >= _MAX_EXAMINED:
                return schema.name, cursor

    def _page(self, stop: tuple[str, str | None] | None) -> Page[TableSummary]:
        details = self.store.get_table_details([t.id for t in self.found])
        items = [TableSummary(t.full_name, details[t.id].table_type) for t in self.found]
        return Page(items, encode_token(orjson.dumps(list(stop)).decode()) if stop else None)


def _cursor(page_token: str | None) -> tuple[str | None, str | None]:
    """(schema, table) the last page stopped after; table None: after the whole schema."""
    after = decode_token(page_token)
    if after is None:
        return None, None
    try:
        schema, table = orjson.loads(after)
        if not isinstance(schema, str) or not (table is None or isinstance(table, str)):
            raise TypeError
    except (ValueError, TypeError) as exc:
        raise InvalidParameter(f"page_token '{page_token}' is not a valid page token") from exc
    return schema, table
