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
from catalog.sql.views import VIEW, VIEW_OWNER_META, ViewDefinition, expand_views
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
        #: (reader, full name, privilege) already authorized.
        self._checked: set[tuple[str, str, Privilege]] = set()
        #: View owners as callers, by name.
        self._owners: dict[str, Caller] = {}

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

    def expand_views(self, tree: exp.Expression) -> exp.Expression:
        """Views in ``tree`` replaced by their queries (:mod:`catalog.sql.views`)."""
        return expand_views(tree, self._view_of)

    def reader(self, table: exp.Table) -> Caller:
        """Whose rights a reference is read with: the caller's, or — inside a view — the
        view owner's."""
        owner = table.meta.get(VIEW_OWNER_META)
        if owner is None:
            return self.caller
        found = self._owners.get(owner)
        if found is None:
            found = self.runtime.identity.caller_named(owner)
            if found is None:
                raise InvalidParameter(
                    f"a view read here belongs to '{owner}', who no longer exists or is "
                    "deactivated: give the view a new owner (ALTER VIEW … OWNER TO)"
                )
            self._owners[owner] = found
        return found

    def _view_of(self, table: exp.Table) -> ViewDefinition | None:
        try:
            full_name = self.full_name(table)
        except NotFound:
            return None
        if full_name in INFORMATION_SCHEMA or full_name in SOURCES:
            return None
        if full_name.split(".")[0] == SYSTEM_CATALOG:
            return None
        # Asked of every table a query names: the namespace cache answers without a read.
        found = self.runtime.namespace.cached_table(full_name)
        if found is None:
            try:
                found = self.runtime.namespace.get_table(full_name)
            except NotFound:
                return None
        if found.detail.table_type != VIEW or found.detail.view_definition is None:
            return None
        reader = self.reader(table)
        if (reader.name, full_name, Privilege.SELECT) not in self._checked:
            self._authorize(table, full_name, Privilege.SELECT, reader)
            self._checked.add((reader.name, full_name, Privilege.SELECT))
        return ViewDefinition(full_name, found.securable.owner, found.detail.view_definition)

    def resolve(self, table: exp.Table, privilege: Privilege) -> Source:
        full_name = self.full_name(table)
        reader = self.reader(table)
        if full_name in INFORMATION_SCHEMA:
            # No grant: the rows are those about objects the caller sees, decided once per
            # statement (catalog/sql/information_schema.py).
            if privilege is not Privilege.SELECT:
                raise InvalidParameter(
                    f"'{full_name}' is a system table: it is read-only{position(table)}"
                )
            if full_name not in self.resolved:
                # Always the querying user's rows, inside a view too: one statement has one
                # source per name, and these rows never show more than the querying user
                # could read directly.
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
            if (reader.name, full_name, privilege) not in self._checked:
                with self.runtime.db.read() as session:
                    self.runtime.authorizer.require_system_read(
                        reader, full_name, self.runtime.stores.namespace(session)
                    )
                self._checked.add((reader.name, full_name, privilege))
            self.resolved[full_name] = system
            return system
        if (reader.name, full_name, privilege) not in self._checked:
            self._authorize(table, full_name, privilege, reader)
            self._checked.add((reader.name, full_name, privilege))
        source = self.resolved.get(full_name)
        if source is None:
            try:
                layout = self.runtime.data.layout(full_name)
            except NotFound:
                raise not_a_table(table) from None
            except InvalidParameter:
                if self._view_of(table) is not None:  # a view where a table must be
                    raise InvalidParameter(
                        f"'{full_name}' is a view: it cannot be written{position(table)}"
                    ) from None
                raise
            # The table's row filter and masks, for this caller: the derived table the
            # compiler puts in its place applies them (catalog/row_access/).
            access = self.runtime.row_access.for_caller(layout.record, self.session)
            source = self.resolved[full_name] = GovernedSource(full_name, layout, access)
        return source

    def _authorize(
        self, table: exp.Table, full_name: str, privilege: Privilege, reader: Caller
    ) -> None:
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
                reader.is_metastore_admin
                or authorizer.can_see_all_children(reader, chain[:-1])
                or authorizer.can_see(reader, chain[-1])
            )
            if not visible:  # answered as missing; the audit log records the denial
                denial = PermissionDenied(f"{privilege.value} on TABLE '{full_name}' is required")
                raise Hidden(not_a_table(table).message, denial)
            authorizer.require_privilege(reader, privilege, SecurableType.TABLE, full_name, store)
