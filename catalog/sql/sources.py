"""What a table name in SQL resolves to, and whether the caller may use it that way.

A table reference is, after the request's default catalog and schema fill in missing
parts and the name is lower-cased (Databricks names are case-insensitive, quoted or not),
either

- a **system table** (:mod:`catalog.sql.system_sources`): reading needs SELECT on it
  (:meth:`catalog.access.authorizer.Authorizer.require_system_read`); the ``system`` catalog needs
  no USE privileges and is never written;
- a table of ``system.information_schema`` (:mod:`catalog.sql.information_schema`):
  read-only, no grant needed; its rows are those about objects the caller sees;
- a **managed table** of the catalog (:mod:`catalog.sql.table_sources`): reading needs
  USE CATALOG + USE SCHEMA + SELECT, writing (``INSERT``, ``MERGE``) the gates + MODIFY
  (:meth:`catalog.access.authorizer.Authorizer.require_privilege`); an EXTERNAL table is refused
  (its data is not in Steward);
- or **not a table**: a name that does not resolve to one of those, a model, a table in
  a missing schema — and a table the caller may not see (docs/privileges.md, visibility:
  no ownership and no grant on it or a container). All of these get the same answer, a
  ``TABLE_OR_VIEW_NOT_FOUND`` naming the reference as written, so the answer says
  nothing about what exists. Physical names (``audit_events``, ``data_…``,
  ``securables``, ``sqlite_master``, ``pg_catalog.*``) are never looked up anywhere but
  in the catalog, so they are simply "not a table".

A caller who may see the table but lacks a privilege gets PERMISSION_DENIED naming it
(the usage gate first), as every other statement answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlglot import exp

from catalog.access.authorizer import Caller, Hidden
from catalog.names import SYSTEM_CATALOG
from catalog.runtime import Runtime
from catalog.sql import information_schema
from catalog.sql.errors import position
from catalog.sql.session_functions import SessionContext
from catalog.sql.system_sources import INFORMATION_SCHEMA, SOURCES
from catalog.sql.table_sources import GovernedSource
from common.errors import InvalidParameter, NotFound, PermissionDenied
from common.text import fold_identifier
from policy.securables import Privilege, SecurableType

#: ``exp.Table.meta`` key: the privilege a reference needs (default SELECT); the MERGE
#: planner marks its target MODIFY.
PRIVILEGE_META = "steward_privilege"


class Source(Protocol):
    """What the compiler needs of a table: public columns and the SQL computing them."""

    full_name: str

    @property
    def columns(self) -> dict[str, str]: ...

    @property
    def names(self) -> dict[str, str]: ...

    @property
    def fields(self) -> dict[tuple[str, str], str]: ...

    @property
    def physical_tables(self) -> frozenset[str]: ...

    def derived(self, backend: str, schema: str | None) -> exp.Select: ...


class Resolver(Protocol):
    def __call__(self, table: exp.Table) -> Source: ...


def written(table: exp.Table) -> str:
    return ".".join(part.name for part in table.parts)


def not_a_table(table: exp.Table) -> NotFound:
    """The one answer for every reference that is not a table the caller may use."""
    return NotFound(
        f"[TABLE_OR_VIEW_NOT_FOUND] '{written(table)}' is not a table: no table or view of "
        f"that name can be found{position(table)}. SQL reads the system tables "
        f"({', '.join(sorted({*SOURCES, *INFORMATION_SCHEMA}))}) and the catalog's managed "
        "tables, named "
        "catalog.schema.table (or with the request's default catalog and schema)"
    )


def qualified_name(
    table: exp.Table, default_catalog: str | None, default_schema: str | None
) -> str | None:
    """``catalog.schema.table`` in its stored spelling (:func:`common.text.fold_identifier`:
    NFKC, lower-case), or None when the parts do not make one."""
    parts = [fold_identifier(part.name) for part in table.parts]
    if not parts or len(parts) > 3 or any(not part for part in parts):
        return None
    defaults = [default_catalog, default_schema][: 3 - len(parts)]
    if any(d is None for d in defaults):
        return None
    return ".".join([*(d for d in defaults if d is not None), *parts])


def system_only(table: exp.Table) -> Source:
    """A resolver for the system tables alone, without authorization (for in-process use)."""
    name = ".".join(part.name.lower() for part in table.parts)
    source = SOURCES.get(name)
    if source is None:
        raise not_a_table(table)
    return source


@dataclass
class CatalogResolver:
    """Resolves and authorizes table references for one caller and one statement.

    Each table is checked once per privilege; :attr:`resolved` keeps what was resolved,
    by full name.
    """

    runtime: Runtime
    caller: Caller
    default_catalog: str | None = None
    default_schema: str | None = None

    def __post_init__(self) -> None:
        self.resolved: dict[str, Source] = {}
        self._checked: set[tuple[str, Privilege]] = set()

    @property
    def session(self) -> SessionContext:
        """Who the session functions answer for (:mod:`catalog.sql.session_functions`)."""
        return SessionContext.of(self.caller.name, self.caller.groups)

    def __call__(self, table: exp.Table) -> Source:
        privilege = table.meta.get(PRIVILEGE_META, Privilege.SELECT)
        return self.resolve(table, privilege)

    def full_name(self, table: exp.Table) -> str:
        name = qualified_name(table, self.default_catalog, self.default_schema)
        if name is None:
            raise not_a_table(table)
        return name

    def resolve(self, table: exp.Table, privilege: Privilege) -> Source:
        full_name = self.full_name(table)
        if full_name in INFORMATION_SCHEMA:
            # No grant: the rows are those about objects the caller sees, decided once per
            # statement (catalog/sql/information_schema.py).
            if privilege is not Privilege.SELECT:
                raise InvalidParameter(
                    f"'{full_name}' is a system table: it is read-only{position(table)}"
                )
            if full_name not in self.resolved:
                self.resolved[full_name] = information_schema.source(
                    self.runtime, self.caller, full_name
                )
            return self.resolved[full_name]
        system = SOURCES.get(full_name)
        if system is not None:
            if privilege is not Privilege.SELECT:
                raise InvalidParameter(
                    f"'{full_name}' is a system table: it is read-only{position(table)}"
                )
            if (full_name, privilege) not in self._checked:
                with self.runtime.db.read() as session:
                    self.runtime.authorizer.require_system_read(
                        self.caller, full_name, self.runtime.stores.namespace(session)
                    )
                self._checked.add((full_name, privilege))
            self.resolved[full_name] = system
            return system
        if (full_name, privilege) not in self._checked:
            self._authorize(table, full_name, privilege)
            self._checked.add((full_name, privilege))
        source = self.resolved.get(full_name)
        if source is None:
            try:
                layout = self.runtime.data.layout(full_name)
            except NotFound:
                raise not_a_table(table) from None
            # The table's row filter and masks, for this caller: the derived table the
            # compiler puts in its place applies them (catalog/row_access/).
            access = self.runtime.row_access.for_caller(layout.record, self.session)
            source = self.resolved[full_name] = GovernedSource(full_name, layout, access)
        return source

    def _authorize(self, table: exp.Table, full_name: str, privilege: Privilege) -> None:
        authorizer = self.runtime.authorizer
        with self.runtime.db.read() as session:
            store = self.runtime.stores.namespace(session)
            if full_name.split(".")[0] == SYSTEM_CATALOG:
                raise not_a_table(table)  # system.* that is not a system table
            try:
                chain = authorizer.resolve_chain(full_name, SecurableType.TABLE, store)
            except NotFound:
                raise not_a_table(table) from None
            visible = (
                self.caller.is_metastore_admin
                or authorizer.can_see_all_children(self.caller, chain[:-1])
                or authorizer.can_see(self.caller, chain[-1])
            )
            if not visible:  # answered as missing; the audit log records the denial
                denial = PermissionDenied(f"{privilege.value} on TABLE '{full_name}' is required")
                raise Hidden(not_a_table(table).message, denial)
            authorizer.require_privilege(
                self.caller, privilege, SecurableType.TABLE, full_name, store
            )
