"""A managed table as a source of SQL: its public columns over its physical table.

A managed table ``main.sales.orders`` keeps its rows in ``data_<securable id hex>``
with columns ``c<position>`` (:mod:`catalog.data.physical`). The compiler
(:mod:`catalog.sql.compiler`) resolves user SQL against the table's *public* columns —
declared names, Databricks types — and then puts, in place of the reference, the derived
table built here::

    SELECT "c0" AS "order id", "c1" AS "amount", … FROM "<schema>"."data_…"

Both the aliases and the physical names come from the catalog's records and are built
as sqlglot nodes (never spliced from user text); the physical table is qualified with
the service's schema, so no CTE of the user's can stand in for it. Public names are
lower-cased: Databricks names are case-insensitive, and sqlglot's resolution lower-cases
every identifier of the Databricks dialect. The declared spelling (``Order Id``) is kept
for result column names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.errors import SqlglotError

from catalog.data.physical import ROW_IDENTITY, column_name
from catalog.data.table_data import TableLayout
from catalog.records import ColumnRecord

if TYPE_CHECKING:
    from catalog.row_access.table_access import RowAccess


def _sql_type(column: ColumnRecord) -> str:
    """The column's type as sqlglot's Databricks dialect reads it (STRING if it cannot)."""
    try:
        exp.DataType.build(column.type_text, dialect="databricks")
    except (SqlglotError, ValueError):
        return "STRING"
    return column.type_text


def _row_identity(backend: str) -> exp.Expression:
    stored = exp.column(ROW_IDENTITY[backend])
    # ctid (a tid) comes back as text and is cast back where it is used.
    return exp.cast(stored, "TEXT") if backend == "postgresql" else stored


@dataclass(frozen=True)
class GovernedSource:
    """A managed table of the catalog, as the compiler reads it."""

    full_name: str
    layout: TableLayout = field(repr=False)
    #: The table's row filter and masks for the querying user, if it has any.
    access: RowAccess | None = field(default=None, repr=False)
    #: A column name under which the stored row's identity (``rowid``/``ctid``) is read
    #: too, for ``UPDATE`` and ``DELETE`` only (:mod:`catalog.sql.update_delete`).
    row_identity: str | None = None

    @property
    def record_columns(self) -> list[ColumnRecord]:
        return self.layout.columns

    @property
    def columns(self) -> dict[str, str]:
        """Public column name (lower-cased) → Databricks type, in column order."""
        columns = {c.name.lower(): _sql_type(c) for c in self.record_columns}
        if self.row_identity is not None:
            columns[self.row_identity] = "STRING"
        return columns

    @property
    def names(self) -> dict[str, str]:
        """Lower-cased public name → the name as declared."""
        return {c.name.lower(): c.name for c in self.record_columns}

    @property
    def fields(self) -> dict[tuple[str, str], str]:
        """Struct fields readable as plain columns: none (struct values are JSON text)."""
        return {}

    @property
    def physical_tables(self) -> frozenset[str]:
        return frozenset({self.layout.table.name})

    def derived(self, backend: str, schema: str | None) -> exp.Select:
        """A fresh SELECT naming each physical column by its public name; with a row
        filter or masks, the masks in place of their columns and the filter as WHERE."""
        access = self.access
        projections = [
            exp.alias_(
                access.projection(c, backend)
                if access is not None
                else exp.column(column_name(c.position), quoted=True),
                c.name.lower(),
                quoted=True,
            )
            for c in self.record_columns
        ]
        if self.row_identity is not None:
            projections.append(exp.alias_(_row_identity(backend), self.row_identity, quoted=True))
        table = exp.table_(self.layout.table.name, db=schema, quoted=True)
        select = exp.select(*projections).from_(table)
        condition = access.condition(backend) if access is not None else None
        return select if condition is None else select.where(condition, copy=False)
