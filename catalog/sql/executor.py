"""Executes one Steward SQL statement for a caller.

Parsing is :mod:`policy.dialect`'s; every statement is authorized through
:meth:`catalog.access.authorizer.Authorizer.require_privilege` (or is metastore-admin only)
before the catalog services are called. Queries and writes of table data have modules of
their own: ``SELECT`` :mod:`catalog.sql.select_runner`, ``INSERT`` :mod:`catalog.sql.insert`,
``MERGE`` :mod:`catalog.sql.merge`. Results are columns and rows of JSON values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from sqlglot import exp

from catalog.access.authorizer import Caller, Hidden
from catalog.access.grants import PrivilegeChange
from catalog.audit.recorder import current_scope
from catalog.audit.riders import Rider
from catalog.identity import normalize_principal_name
from catalog.namespace import NewSecurable
from catalog.records import (
    ColumnRecord,
    PolicyFunctionRef,
    PrincipalKind,
    PrincipalRecord,
    SecurableRecord,
    TableDetailRecord,
    TableRecord,
)
from catalog.row_access.function_store import FunctionDefinition, castable
from catalog.row_access.functions import checked_body
from catalog.row_access.policy_store import PolicyRecord, UsingArgument, shown_fields
from catalog.runtime import Runtime
from catalog.sql.compiler import Budgets, ReadQuery, check_text
from catalog.sql.cpu_gate import statement_cpu
from catalog.sql.create_table_as import TableFromQuery, result_columns
from catalog.sql.insert import RESULT_COLUMNS as INSERT_COLUMNS
from catalog.sql.insert import run_insert
from catalog.sql.merge import RESULT_COLUMNS as MERGE_COLUMNS
from catalog.sql.merge import run_merge
from catalog.sql.readonly import physical_schema
from catalog.sql.select_runner import run_select
from catalog.sql.session_functions import ACCOUNT_USERS
from catalog.sql.sources import CatalogResolver
from catalog.sql.update_delete import RESULT_COLUMNS as UPDATE_COLUMNS
from catalog.sql.update_delete import run_update_or_delete
from catalog.sql.views import VIEW, qualify_tables, view_detail
from catalog.sql.writes import record_lineage, trace_lineage_into
from catalog.tables import build_table_detail
from catalog.tags.service import Entity
from common.column_types import parse_column_type
from common.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied
from common.text import check_storable
from policy import dialect as d
from policy import statement_reading as reading
from policy.parameters import bind_parameters, parameter_names
from policy.securables import Privilege, SecurableType
from policy.statement_reading import StatementKind as K

_PAGE = 1000


@dataclass
class StatementResult:
    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, type_text)
    rows: list[list[Any]] = field(default_factory=list)
    #: A SELECT whose rows were capped (see :mod:`catalog.sql.select_runner`).
    truncated: bool = False


def ok_result() -> StatementResult:
    return StatementResult([("status", "string")], [["OK"]])


#: Statements whose handler's last step is one write transaction and whose answer is then
#: :func:`ok_result`: their answer can commit with their change (and its audit event),
#: sparing the commit of its own that keeping an answer takes otherwise. A kind joins only
#: once its handler is that (a later step that could fail would leave an OK answer kept).
ANSWERED_IN_THEIR_CHANGE = frozenset({K.GRANT, K.REVOKE})


def _strings(*names: str) -> list[tuple[str, str]]:
    return [(n, "string") for n in names]


#: What each SHOW lists.
SHOWN = {
    K.SHOW_CATALOGS: SecurableType.CATALOG,
    K.SHOW_SCHEMAS: SecurableType.SCHEMA,
    K.SHOW_TABLES: SecurableType.TABLE,
    K.SHOW_MODELS: SecurableType.MODEL,
    K.SHOW_FUNCTIONS: SecurableType.FUNCTION,
}
#: Longer statement texts are never answered from the caches (a SHOW is short).
SHORT_STATEMENT_CHARS = 512


@dataclass(frozen=True)
class _Container:
    securable_type: SecurableType
    full_name: str


def _described(record: SecurableRecord) -> StatementResult:
    """DESCRIBE of a catalog, schema or model."""
    rows = [
        [f"{record.securable_type.value.title()} Name", record.full_name],
        ["Owner", record.owner],
        ["Comment", record.comment],
        ["Created By", record.created_by],
    ]
    return StatementResult(_strings("info_name", "info_value"), rows)


def _table_columns(table: TableRecord) -> StatementResult:
    """DESCRIBE TABLE: the columns."""
    rows: list[list[Any]] = [[c.name, c.type_text, c.comment] for c in table.detail.columns]
    return StatementResult(_strings("col_name", "data_type", "comment"), rows)


def _shown(securable_type: SecurableType, names: list[str]) -> StatementResult:
    """A SHOW's answer: the listed objects' full names, one column per level."""
    rows: list[list[Any]] = [full_name.split(".") for full_name in names]
    if securable_type is SecurableType.CATALOG:
        return StatementResult(_strings("catalog"), rows)
    if securable_type is SecurableType.SCHEMA:
        return StatementResult(_strings("catalog", "schema"), rows)
    name = {
        SecurableType.TABLE: "tableName",
        SecurableType.MODEL: "modelName",
        SecurableType.FUNCTION: "function",
    }[securable_type]
    return StatementResult(_strings("catalog", "schema", name), rows)


class StatementExecutor:
    """One statement, one caller."""

    def __init__(
        self,
        runtime: Runtime,
        caller: Caller,
        catalog: str | None = None,
        schema: str | None = None,
        statement_id: str | None = None,
        keep_ok_answer: Callable[[], Rider] | None = None,
    ) -> None:
        """``keep_ok_answer``: the row that keeps the statement's answer should it be
        :func:`ok_result`; a statement of :data:`ANSWERED_IN_THEIR_CHANGE` writes it in the
        transaction of its change, with the request's audit event (it rides the event's
        statement: :mod:`catalog.audit.riders`)."""
        self.rt = runtime
        self.keep_ok_answer = keep_ok_answer
        self.caller = caller
        self.default_catalog = catalog.strip().lower() if catalog else None
        self.default_schema = schema.strip().lower() if schema else None
        #: Names the lineage edges a write records (their ``entity_id``).
        self.statement_id = statement_id

    # -- entry point ---------------------------------------------------------------

    def execute(self, sql: str, parameters: Mapping[str, object] | None = None) -> StatementResult:
        """Run ``sql``; raises ``SqlSyntaxError``, ``ParameterError`` or ``StewardError``.

        The statement runs under the settings' budgets (:class:`catalog.sql.compiler.Budgets`):
        its text is measured before it is parsed, and every query it compiles is measured
        before its tables are resolved.
        """
        with self.rt.statements.admit(self.caller.name):
            return self._execute(sql, parameters)

    def answer_from_caches(self, sql: str) -> StatementResult | None:
        """The answer of a statement that needs nothing but this process's caches, or None
        (nothing done: run :meth:`execute`). In memory only, so the SQL route may call it
        on the event loop: a statement of :data:`FROM_CACHES` (a ``SHOW`` of catalogs,
        schemas, tables, models or functions; a ``DESCRIBE`` of a catalog, schema, table
        or model) whose text was parsed lately (its tree is kept:
        :mod:`policy.recent_trees`) and whose objects the namespace cache keeps. Refusals
        are raised as :meth:`execute` raises them, with the same answer."""
        if len(sql) > SHORT_STATEMENT_CHARS:
            return None  # no SHOW or DESCRIBE: a kept tree of 4,096 characters is no quick copy
        node = d.kept_statement(sql, lambda tree: reading.statement_kind(tree) in FROM_CACHES)
        if node is None or parameter_names(node):
            return None  # binding is :meth:`execute`'s (and these take no parameters)
        kind = reading.statement_kind(node)
        answer = FROM_CACHES[kind]
        with self.rt.statements.admit(self.caller.name):
            check_text(sql, Budgets.of(self.rt.settings))
            _name_audit_action(node, kind)
            return answer(self, node)

    def _execute(self, sql: str, parameters: Mapping[str, object] | None) -> StatementResult:
        check_text(sql, Budgets.of(self.rt.settings))
        with statement_cpu():
            node = d.parse_statement(sql)
            names = parameter_names(node)
            values = dict(parameters or {})
            if names or values:
                unknown = sorted(set(values) - set(names))
                if unknown:
                    raise InvalidParameter(
                        "parameter(s) not used by the statement: " + ", ".join(unknown)
                    )
                node = bind_parameters(node, values)
        kind = reading.statement_kind(node)
        _name_audit_action(node, kind)
        handler = HANDLERS.get(kind)
        if handler is None:
            raise InvalidParameter(f"{kind.value} statements are not supported yet")
        if kind in ANSWERED_IN_THEIR_CHANGE and (scope := current_scope()) is not None:
            scope.with_event = self.keep_ok_answer
        return handler(self, node)

    # -- helpers -------------------------------------------------------------------

    def _qualify(self, securable_type: SecurableType, parts: list[str]) -> str | None:
        """The full, lower-cased name; partial names take the request's catalog/schema."""
        if securable_type is SecurableType.METASTORE:
            return None
        depth = securable_type.depth
        parts = [p.lower() for p in parts]
        if len(parts) > depth:
            raise InvalidParameter(
                f"'{'.'.join(parts)}' has too many name parts for a {securable_type.value}"
            )
        missing = depth - len(parts)
        defaults = [self.default_catalog, self.default_schema][:missing]
        absent = [
            what for what, x in zip(("catalog", "schema"), defaults, strict=False) if x is None
        ]
        if absent:
            shown = ".".join(parts) or "(no name)"
            raise InvalidParameter(
                f"{securable_type.value} name {shown} is not fully qualified and the request "
                f"gives no default {' and '.join(absent)}: write the full name or set "
                f"{' and '.join(absent)} in the request"
            )
        return ".".join([*[x for x in defaults if x is not None], *parts])

    def _target(self, node: exp.Expression) -> tuple[SecurableType, str | None]:
        kind, parts = reading.securable_of(node)
        securable_type = reading.securable_type(kind)
        full_name = self._qualify(securable_type, parts)
        if securable_type is SecurableType.FUNCTION and not isinstance(node, d.CreateFunction):
            # FUNCTION also names a model, where no function of that name exists (the
            # name is unique across the namespace, so at most one of them does).
            with self.rt.db.read() as session:
                found = self.rt.stores.namespace(session).get_by_full_name(full_name or "")
            if found is not None and found.securable_type is SecurableType.MODEL:
                securable_type = SecurableType.MODEL
        return securable_type, full_name

    def _require(
        self, privilege: Privilege, securable_type: SecurableType, full_name: str | None
    ) -> SecurableRecord | None:
        if full_name is not None:
            chain = self.rt.authorizer.cached_chain(full_name, securable_type)
            if chain is not None:
                # Every level cached: decided as the route guards decide, with no read
                # session to open and close (~70 µs of a GRANT, measured).
                return self.rt.authorizer.require_on_chain(self.caller, privilege, chain)
        with self.rt.db.read() as session:
            return self.rt.authorizer.require_privilege(
                self.caller, privilege, securable_type, full_name, self.rt.stores.namespace(session)
            )

    def _require_admin(self) -> None:
        if not self.caller.is_metastore_admin:
            raise PermissionDenied("only a metastore admin may manage groups")

    def _exists(self, securable_type: SecurableType, full_name: str) -> bool:
        try:
            self.rt.namespace.get(securable_type, full_name)
        except NotFound:
            return False
        return True

    # -- grants --------------------------------------------------------------------

    def _grant(self, node: exp.Expression) -> StatementResult:
        securable_type, full_name = self._target(node)
        self._require(Privilege.OWNERSHIP, securable_type, full_name)
        privileges = reading.privileges_of(node)
        granting = isinstance(node, exp.Grant)
        changes = [
            PrivilegeChange(
                principal,
                add=privileges if granting else (),
                remove=() if granting else privileges,
            )
            for principal in reading.principals_of(node)
        ]
        self.rt.grants.update(self.caller, securable_type, full_name, changes, report=False)
        return ok_result()

    def _show_grants(self, node: exp.Expression) -> StatementResult:
        """The grants on an object the caller sees: all of them for whoever may change them,
        else the caller's own and its groups' (as GET permissions; docs/privileges.md)."""
        securable_type, full_name = self._target(node)
        self._require(Privilege.BROWSE, securable_type, full_name)
        principal = reading.principal_of(node)
        shown = self.rt.grants.assignments_seen_by(
            self.caller, securable_type, full_name, principal
        )
        rows = [
            [who, privilege, securable_type.value, full_name or "metastore"]
            for who, privileges in shown
            for privilege in privileges
        ]
        return StatementResult(
            _strings("principal", "action_type", "object_type", "object_key"), rows
        )

    def _show_grants_to(self, node: exp.Expression) -> StatementResult:
        """``SHOW GRANTS TO principal``: its grants on the objects the caller sees, as SHOW
        GRANTS ON each would show them (docs/privileges.md)."""
        principal = reading.principal_of(node)
        assert principal is not None
        found = self.rt.grants.grants_to_seen_by(self.caller, principal)
        who = normalize_principal_name(principal, "principal")
        rows = [
            [who, privilege, kind.value, name or "metastore"]
            for kind, name, privileges in found
            for privilege in privileges
        ]
        return StatementResult(
            _strings("principal", "action_type", "object_type", "object_key"), rows
        )

    def _alter_owner(self, node: exp.Expression) -> StatementResult:
        securable_type, full_name = self._target(node)
        if full_name is None:
            raise InvalidParameter("the metastore's owner cannot be changed with SQL")
        self._require(Privilege.OWNERSHIP, securable_type, full_name)
        owner = self.rt.identity.require_principal_name(reading.principal_of(node) or "", "owner")
        self.rt.namespace.update(self.caller, securable_type, full_name, owner=owner)
        return ok_result()

    def _alias(self, node: exp.Expression) -> StatementResult:
        """SET ALIAS / DROP ALIAS: owner or MANAGE on the model (docs/privileges.md), through the
        registry the composition root installed (the catalog does not import it)."""
        securable_type, full_name = self._target(node)
        assert full_name is not None
        self._require(Privilege.MANAGE, securable_type, full_name)
        registry = self.rt.registry
        if registry is None:
            raise InvalidParameter("this server has no model registry")
        alias, version = reading.alias_of(node)  # type: ignore[arg-type]
        if version is None:
            previous = registry.delete_alias(self.caller, full_name, alias)
            return StatementResult(
                _strings("alias", "previous_version"), [[alias.lower(), previous]]
            )
        record, previous = registry.set_alias(self.caller, full_name, alias, version)
        return StatementResult(
            [("alias", "string"), ("version", "bigint"), ("previous_version", "bigint")],
            [[record.alias, record.version, previous]],
        )

    # -- create / drop -------------------------------------------------------------

    def _create(self, node: exp.Expression) -> StatementResult:
        securable_type, full_name = self._target(node)
        assert full_name is not None
        if securable_type is SecurableType.CATALOG:
            self._require(Privilege.CREATE_CATALOG, SecurableType.METASTORE, None)
        else:
            parent = full_name.rsplit(".", 1)[0]
            self._require(Privilege.CREATE_SCHEMA, SecurableType.CATALOG, parent)
        if reading.if_not_exists(node) and self._exists(securable_type, full_name):
            return ok_result()
        try:
            self.rt.namespace.create(
                self.caller, NewSecurable(securable_type, full_name, reading.comment_of(node))
            )
        except AlreadyExists:
            if not reading.if_not_exists(node):
                raise
        return ok_result()

    def _create_table(self, node: exp.Expression) -> StatementResult:
        """CREATE [OR REPLACE] TABLE, by columns or AS SELECT: CREATE TABLE on the schema
        (with its gates); replacing an existing table needs what dropping it needs, and
        keeps the object — owner, grants, tags — as Databricks does (docs/sql.md)."""
        assert isinstance(node, exp.Create)
        _, full_name = self._target(node)
        assert full_name is not None
        replace = self._create_or_replace_gate(node, full_name)
        if replace is None:
            return ok_result()
        query = reading.query_of(node)
        extra = None
        if query is not None:
            made = TableFromQuery(self.rt, self._resolver(), full_name, query)
            detail, extra = made.detail, made.write(self.statement_id)
        else:
            detail = self._table_detail(node)
        comment = reading.comment_of(node)
        if replace:
            self.rt.namespace.replace_table(self.caller, full_name, detail, comment, extra)
            return ok_result()
        try:
            self.rt.namespace.create(
                self.caller,
                NewSecurable(SecurableType.TABLE, full_name, comment),
                table=detail,
                extra=extra,
            )
        except AlreadyExists:
            if not reading.if_not_exists(node):
                raise
        return ok_result()

    def _create_or_replace_gate(self, node: exp.Create, full_name: str) -> bool | None:
        """Authorize CREATE [OR REPLACE] TABLE | VIEW: whether it replaces an existing one
        (which needs what dropping it needs), or None when ``IF NOT EXISTS`` finds one
        there (nothing to do); creating needs CREATE TABLE on the schema, with its gates."""
        exists = self._exists(SecurableType.TABLE, full_name)
        if exists and reading.or_replace(node):
            self._require(Privilege.OWNERSHIP, SecurableType.TABLE, full_name)
            return True
        self._require(Privilege.CREATE_TABLE, SecurableType.SCHEMA, full_name.rsplit(".", 1)[0])
        return None if exists and reading.if_not_exists(node) else False

    def _table_detail(self, node: exp.Create) -> TableDetailRecord:
        """A table defined by its columns (with their masks), key and row filter."""
        specs = reading.columns_of(node)
        declared = {spec.name.lower(): spec.name for spec in specs}
        types = {spec.name.lower(): parse_column_type(spec.type_text).type_text for spec in specs}
        row_filter = reading.row_filter_of(node)
        key = reading.primary_key_of(node)
        detail = build_table_detail(
            table_type="MANAGED",
            data_source_format="DELTA",
            columns=self._column_records(specs, declared, types, 0),
            storage_location=None,
            primary_key_name=key.name if key else None,
            primary_key_columns=list(key.columns) if key else None,
            timeseries_columns=[key.timeseries] if key and key.timeseries else None,
        )
        if row_filter is not None:
            detail.row_filter = self._policy_function(row_filter, declared, types)
        return detail

    def _column_records(
        self,
        specs: list[reading.ColumnSpec],
        declared: Mapping[str, str],
        types: Mapping[str, str],
        first_position: int,
    ) -> list[ColumnRecord]:
        columns = []
        for offset, spec in enumerate(specs):
            parsed = parse_column_type(spec.type_text)
            mask = None
            if spec.mask is not None:
                mask = self._policy_function(spec.mask, declared, types, masked=spec.name)
            columns.append(
                ColumnRecord(
                    name=spec.name,
                    type_text=parsed.type_text,
                    type_name=parsed.type_name,
                    position=first_position + offset,
                    nullable=spec.nullable,
                    comment=spec.comment,
                    type_precision=parsed.precision,
                    type_scale=parsed.scale,
                    mask=mask,
                )
            )
        return columns

    def _add_columns(self, node: exp.Expression) -> StatementResult:
        """ALTER TABLE … ADD COLUMNS: MANAGE on the table (its owner and admins hold it)."""
        assert isinstance(node, d.AlterAddColumns)
        table = self._protected_table(node)
        specs = reading.columns_of(node)
        declared, types = _column_names(table)
        for spec in specs:
            declared.setdefault(spec.name.lower(), spec.name)
            types.setdefault(spec.name.lower(), parse_column_type(spec.type_text).type_text)
        columns = self._column_records(specs, declared, types, len(table.detail.columns))
        self.rt.namespace.add_columns(self.caller, table.securable.full_name, columns)
        return ok_result()

    def _table_properties(self, node: exp.Expression) -> StatementResult:
        """SET / UNSET TBLPROPERTIES: MANAGE on the table. Unsetting a key that is not set
        is an error unless IF EXISTS, as on Databricks."""
        assert isinstance(node, d.AlterTableProperties)
        table = self._protected_table(node)
        properties = reading.properties_of(node)
        if reading.statement_kind(node) is K.SET_TBLPROPERTIES:
            values = {k: v for k, v in properties.items() if v is not None}
            for key, value in values.items():
                check_storable(key, "property key")
                check_storable(value, "property value")
            self.rt.namespace.update(
                self.caller, SecurableType.TABLE, table.securable.full_name, properties=values
            )
            return ok_result()
        missing = [k for k in properties if k not in table.securable.properties]
        if missing and not node.args.get("exists"):
            raise InvalidParameter(
                f"[UNSET_NONEXISTENT_PROPERTIES] TABLE '{table.securable.full_name}' has no "
                f"propert{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)} (use IF "
                "EXISTS to ignore that)"
            )
        self.rt.namespace.update(
            self.caller,
            SecurableType.TABLE,
            table.securable.full_name,
            remove_properties=list(properties),
        )
        return ok_result()

    def _create_view(self, node: exp.Expression) -> StatementResult:
        """CREATE [OR REPLACE] VIEW: CREATE TABLE on the schema and the right to read what
        the query reads (it is planned for the caller); replacing a view needs what
        dropping it needs (catalog/sql/views.py)."""
        assert isinstance(node, exp.Create)
        _, full_name = self._target(node)
        assert full_name is not None
        replace = self._create_or_replace_gate(node, full_name)
        if replace is None:
            return ok_result()
        query = reading.query_of(node)
        assert query is not None
        qualified = qualify_tables(query, self.default_catalog, self.default_schema)
        resolver = self._resolver()
        planned = ReadQuery.plan(qualified, resolver, Budgets.of(self.rt.settings))
        compiled = planned.compile(self.rt.db.backend, physical_schema(self.rt.db), 0)
        detail = view_detail(result_columns(compiled.columns, "CREATE VIEW"), qualified)
        lineage = trace_lineage_into(
            exp.Insert(this=exp.to_table(full_name), expression=qualified),
            full_name,
            [c.name.lower() for c in detail.columns],
            planned.sources,
            resolver,
        )

        def record(session: Session, _: SecurableRecord) -> None:
            record_lineage(session, lineage, resolver, self.statement_id)

        comment = reading.comment_of(node)
        if replace:
            self.rt.namespace.replace_table(
                self.caller, full_name, detail, comment, record, view=True
            )
            return ok_result()
        self.rt.namespace.create(
            self.caller,
            NewSecurable(SecurableType.TABLE, full_name, comment),
            table=detail,
            extra=record,
        )
        return ok_result()

    def _drop(self, node: exp.Expression) -> StatementResult:
        securable_type, full_name = self._target(node)
        assert full_name is not None
        try:
            # Dropping follows the rule for ownership (docs/privileges.md, owners): the owner of the
            # object or of a container, a metastore admin, or MANAGE with the gates.
            self._require(Privilege.OWNERSHIP, securable_type, full_name)
        except NotFound as exc:
            if reading.if_exists(node):
                scope = current_scope()
                if isinstance(exc, Hidden) and scope is not None:
                    scope.failure = exc.audited()  # "OK" to the caller, the truth to the log
                return ok_result()
            raise
        kind = reading.statement_kind(node)
        if kind in (K.DROP_TABLE, K.DROP_VIEW):
            # After the check above: the kind of an object the caller may not see is
            # nobody's business (it answered as missing).
            self._refuse_other_kind(full_name, drop_view=kind is K.DROP_VIEW)
        try:
            if securable_type is SecurableType.MODEL:
                registry = self.rt.registry
                if registry is None:
                    raise InvalidParameter("models are not available on this server")
                registry.delete_model(full_name, force=True)
            else:
                force = reading.cascade_of(node) if securable_type in _CONTAINERS else True
                self.rt.namespace.delete(securable_type, full_name, force=force)
        except NotFound:
            if not reading.if_exists(node):
                raise
        return ok_result()

    def _refuse_other_kind(self, full_name: str, *, drop_view: bool) -> None:
        try:
            is_view = self.rt.namespace.get_table(full_name).detail.table_type == VIEW
        except NotFound:
            return
        if is_view != drop_view:
            what, use = ("a view", "DROP VIEW") if is_view else ("a table", "DROP TABLE")
            raise InvalidParameter(f"'{full_name}' is {what}: use {use}")

    # -- functions, row filters, column masks ----------------------------------------

    def _create_function(self, node: exp.Expression) -> StatementResult:
        """CREATE FUNCTION needs CREATE FUNCTION on the schema (with its gates); OR REPLACE
        of an existing function, what dropping it needs (docs/row-access.md)."""
        assert isinstance(node, d.CreateFunction)
        _, full_name = self._target(node)
        assert full_name is not None
        spec = reading.function_of(node)
        body = checked_body(spec.parameters, spec.returns, spec.body)
        exists = self._exists(SecurableType.FUNCTION, full_name)
        if exists and spec.replace:
            self._require(Privilege.OWNERSHIP, SecurableType.FUNCTION, full_name)
        else:
            self._require(
                Privilege.CREATE_FUNCTION, SecurableType.SCHEMA, full_name.rsplit(".", 1)[0]
            )
            if exists and reading.if_not_exists(node):
                return ok_result()
        self.rt.functions.create(
            self.caller, full_name, body, reading.comment_of(node), replace_existing=spec.replace
        )
        return ok_result()

    def _describe_function(self, node: exp.Expression) -> StatementResult:
        _, full_name = self._target(node)
        assert full_name is not None
        self._require(Privilege.BROWSE, SecurableType.FUNCTION, full_name)
        function = self.rt.functions.definition(full_name)
        parameters = ", ".join(f"{n} {t}" for n, t in function.body.parameters)
        rows = [
            ["Function", function.full_name],
            ["Type", "SCALAR"],
            ["Input", parameters or "()"],
            ["Returns", function.body.return_type],
            ["Owner", function.record.owner],
            ["Comment", function.record.comment],
            ["Body", function.body.body],
        ]
        return StatementResult(_strings("info_name", "info_value"), rows)

    def _policy_function(
        self,
        spec: reading.PolicyFunctionSpec,
        declared: Mapping[str, str],
        types: Mapping[str, str],
        masked: str | None = None,
    ) -> PolicyFunctionRef:
        """A row filter (``masked`` None) or column mask as stored, after checking that the
        caller may EXECUTE the function, that it takes the columns given (which exist) and,
        for a filter, that it returns BOOLEAN."""
        columns = []
        for name in spec.columns:
            found = declared.get(name.lower())
            if found is None:
                raise InvalidParameter(f"the table has no column '{name}'")
            columns.append(found)
        what = "row filter" if masked is None else f"mask of column '{masked}'"
        passed = len(columns) + (0 if masked is None else 1)
        function = self._usable_function(spec.function, passed, what, is_filter=masked is None)
        full_name = function.full_name
        if masked is not None and not castable(function.body.return_type, types[masked.lower()]):
            raise InvalidParameter(
                f"the mask of column '{masked}' ({types[masked.lower()]}) cannot be "
                f"FUNCTION '{full_name}', which returns {function.body.return_type}"
            )
        return PolicyFunctionRef(full_name, tuple(columns))

    def _usable_function(
        self, parts: Sequence[str], passed: int, what: str, *, is_filter: bool
    ) -> FunctionDefinition:
        """The function a filter, mask or policy names, after checking that the caller may
        EXECUTE it, that it takes the ``passed`` arguments and, for a filter, that it
        returns BOOLEAN."""
        full_name = self._qualify(SecurableType.FUNCTION, list(parts))
        assert full_name is not None
        self._require(Privilege.EXECUTE, SecurableType.FUNCTION, full_name)
        function = self.rt.functions.definition(full_name)
        if len(function.body.parameters) != passed:
            raise InvalidParameter(
                f"FUNCTION '{full_name}' takes {len(function.body.parameters)} argument(s), but "
                f"the {what} passes {passed}"
            )
        if is_filter and not function.returns_boolean:
            raise InvalidParameter(
                f"a row filter must return BOOLEAN; FUNCTION '{full_name}' returns "
                f"{function.body.return_type}"
            )
        return function

    def _protected_table(self, node: exp.Expression) -> TableRecord:
        """The table a row filter or mask statement changes, after checking MANAGE on it
        (its owner and metastore admins hold that; docs/row-access.md)."""
        _, full_name = self._target(node)
        assert full_name is not None
        self._require(Privilege.MANAGE, SecurableType.TABLE, full_name)
        return self.rt.namespace.get_table(full_name)

    def _row_filter(self, node: exp.Expression) -> StatementResult:
        assert isinstance(node, d.AlterRowFilter)
        table = self._protected_table(node)
        spec = reading.row_filter_of(node)
        declared, types = _column_names(table)
        ref = None if spec is None else self._policy_function(spec, declared, types)
        self.rt.namespace.set_row_filter(self.caller, table.securable.full_name, ref)
        return ok_result()

    def _column_mask(self, node: exp.Expression) -> StatementResult:
        assert isinstance(node, d.AlterColumnMask)
        table = self._protected_table(node)
        column, spec = reading.column_mask_of(node)
        declared, types = _column_names(table)
        name = declared.get(column.lower())
        if name is None:
            raise InvalidParameter(f"TABLE '{table.securable.full_name}' has no column '{column}'")
        ref = None if spec is None else self._policy_function(spec, declared, types, masked=name)
        self.rt.namespace.set_column_mask(self.caller, table.securable.full_name, name, ref)
        return ok_result()

    # -- governed tags and ABAC policies ----------------------------------------------

    def _tags(self, node: exp.Expression) -> StatementResult:
        """SET TAG(S) / UNSET TAG(S): APPLY TAG on the object (a column's: on its table),
        checked by the tag service through the one authorizer (docs/row-access.md)."""
        securable_type, full_name = self._target(node)
        assert full_name is not None
        column, tags = reading.tags_of(node)  # type: ignore[arg-type]
        entity = Entity.of(securable_type, full_name, column)
        self.rt.tags.change(
            self.caller, entity, tags, unset=reading.statement_kind(node) is K.UNSET_TAGS
        )
        return ok_result()

    def _policy_target(self, node: exp.Expression) -> SecurableRecord:
        """The object a policy statement is about, after checking MANAGE on it (its owner
        and metastore admins hold that)."""
        securable_type, full_name = self._target(node)
        found = self._require(Privilege.MANAGE, securable_type, full_name)
        assert found is not None
        return found

    def _create_policy(self, node: exp.Expression) -> StatementResult:
        assert isinstance(node, d.CreatePolicy)
        on = self._policy_target(node)
        spec = reading.policy_of(node)
        masks = spec.kind == d.POLICY_COLUMN_MASK
        passed = len(spec.using) + (1 if masks else 0)
        function = self._usable_function(spec.function, passed, "policy", is_filter=not masks)
        principals = [self._policy_principal(p) for p in (*spec.to, *spec.except_)]
        to, except_ = principals[: len(spec.to)], principals[len(spec.to) :]
        record = PolicyRecord(
            id="",
            securable_id=on.id,
            on_name=on.full_name,
            on_type=on.securable_type.value,
            name=normalize_principal_name(spec.name, "policy name"),
            policy_type=spec.kind,
            function_name=function.full_name,
            to=tuple(to),
            except_=tuple(except_),
            when=spec.when,
            match=spec.match,
            on_column=spec.on_column,
            using=tuple(
                UsingArgument(text, literal)
                for text, literal in zip(spec.using, spec.using_literal, strict=True)
            ),
            comment=reading.comment_of(node),
            created_at=0,
            created_by="",
            updated_at=0,
            updated_by="",
        )
        self.rt.policies.put(self.caller, on, record, replace_existing=spec.replace)
        return ok_result()

    def _policy_principal(self, name: str) -> str:
        folded = normalize_principal_name(name, "principal")
        if folded == ACCOUNT_USERS:
            return ACCOUNT_USERS
        return self.rt.identity.require_principal_name(name)

    def _drop_policy(self, node: exp.Expression) -> StatementResult:
        assert isinstance(node, d.DropPolicy)
        on = self._policy_target(node)
        try:
            self.rt.policies.drop(
                on, normalize_principal_name(reading.policy_name_of(node), "policy name")
            )
        except NotFound:
            if not reading.if_exists(node):
                raise
        return ok_result()

    def _show_policies(self, node: exp.Expression) -> StatementResult:
        """The policies defined on an object the caller sees (as DESCRIBE: whoever sees the
        object reads its governance; who they apply to is no secret from those it binds)."""
        securable_type, full_name = self._target(node)
        on = self._require(Privilege.BROWSE, securable_type, full_name)
        assert on is not None
        rows = [list(shown_fields(p)) for p in self.rt.policies.on(on)]
        return StatementResult(
            _strings(
                "name",
                "on_type",
                "on_name",
                "policy_type",
                "function",
                "to_principals",
                "except_principals",
                "when_condition",
                "match_columns",
                "on_column",
                "using_columns",
                "comment",
            ),
            rows,
        )

    def _use(self, node: exp.Expression) -> StatementResult:
        """USE CATALOG / USE SCHEMA: checks the container is there for the caller and
        answers it. The statement API keeps no session between requests (the request's
        ``catalog`` and ``schema`` fields are the defaults); the shell remembers it."""
        securable_type, full_name = self._target(node)
        assert full_name is not None
        self._require(Privilege.BROWSE, securable_type, full_name)
        catalog, _, schema = full_name.partition(".")
        return StatementResult(_strings("catalog", "schema"), [[catalog, schema or None]])

    # -- show / describe / comment -------------------------------------------------

    def _show_objects(self, node: exp.Expression) -> StatementResult:
        securable_type, parent = self._shown_container(node)
        if parent is not None:
            # As the list routes: a container the caller cannot see lists as a missing one.
            self._require(Privilege.BROWSE, parent.securable_type, parent.full_name)
        full_name = parent.full_name if parent is not None else None
        names = self.rt.namespace.list_full_names(self.caller, securable_type, full_name)
        return _shown(securable_type, names)

    def _show_objects_from_caches(self, node: exp.Expression) -> StatementResult | None:
        """:meth:`_show_objects` from the namespace cache alone, or None when it does not
        keep the container's chain or every page of its listing. Where the whole chain is
        kept, :meth:`_require`'s answer is the chain's (a missing level is never
        answered here: how a caller learns of it is :meth:`_require`'s)."""
        securable_type, parent = self._shown_container(node)
        full_name = None
        if parent is not None:
            full_name = parent.full_name
            chain = self.rt.authorizer.cached_chain(full_name, parent.securable_type)
            if chain is None:
                return None
            self.rt.authorizer.require_on_chain(self.caller, Privilege.BROWSE, chain)
        names = self.rt.namespace.cached_full_names(self.caller, securable_type, full_name)
        return None if names is None else _shown(securable_type, names)

    def _shown_container(self, node: exp.Expression) -> tuple[SecurableType, _Container | None]:
        """What a SHOW lists, and in which container (None: the metastore's catalogs)."""
        securable_type = SHOWN[reading.statement_kind(node)]
        if securable_type is SecurableType.CATALOG:
            return securable_type, None
        parent_type = securable_type.parent_type
        assert parent_type is not None
        parent = self._qualify(parent_type, reading.scope_of(node) or [])
        assert parent is not None
        return securable_type, _Container(parent_type, parent)

    def _describe(self, node: exp.Expression) -> StatementResult:
        securable_type, full_name = self._target(node)
        assert full_name is not None
        # As the GET routes: whoever sees the object reads its metadata (docs/privileges.md).
        self._require(Privilege.BROWSE, securable_type, full_name)
        if securable_type is SecurableType.TABLE:
            return self._describe_table(full_name, extended=reading.is_extended(node))
        return _described(self.rt.namespace.get(securable_type, full_name))

    def _describe_from_caches(self, node: exp.Expression) -> StatementResult | None:
        """:meth:`_describe` from the namespace cache alone (not ``EXTENDED``, which reads
        tags and policies), or None when the cache does not keep the object's chain."""
        kind, _ = reading.securable_of(node)
        if reading.securable_type(kind) is SecurableType.FUNCTION or reading.is_extended(node):
            return None  # FUNCTION may name a model: :meth:`_target` reads the store
        securable_type, full_name = self._target(node)
        assert full_name is not None
        chain = self.rt.authorizer.cached_chain(full_name, securable_type)
        if chain is None:
            return None
        self.rt.authorizer.require_on_chain(self.caller, Privilege.BROWSE, chain)
        if securable_type is not SecurableType.TABLE:
            return _described(chain[-1])
        table = self.rt.namespace.cached_table(full_name)
        return None if table is None else _table_columns(table)

    def _describe_table(self, full_name: str, extended: bool = False) -> StatementResult:
        """The columns; EXTENDED adds, as Databricks lays it out, the table's details,
        properties, row filter, column masks and tags (docs/row-access.md)."""
        table = self.rt.namespace.get_table(full_name)
        described = _table_columns(table)
        if extended:
            described.rows.extend(self._extended_table_rows(table))
        return described

    def _extended_table_rows(self, table: TableRecord) -> list[list[Any]]:
        record, detail = table.securable, table.detail
        catalog, schema, name = record.full_name.split(".")
        properties = ",".join(f"{k}={v}" for k, v in sorted(record.properties.items()))
        rows: list[list[Any]] = [
            ["", "", ""],
            ["# Detailed Table Information", "", ""],
            ["Catalog", catalog, ""],
            ["Database", schema, ""],
            ["Table", name, ""],
            ["Owner", record.owner, ""],
            ["Created By", record.created_by, ""],
            ["Type", detail.table_type, ""],
            ["Comment", record.comment, ""],
            ["Table Properties", f"[{properties}]", ""],
        ]
        if detail.row_filter is not None:
            rows += [
                ["", "", ""],
                ["# Row Filter", "", ""],
                ["Function", detail.row_filter.function_name, ""],
                ["Input Columns", f"[{', '.join(detail.row_filter.columns)}]", ""],
            ]
        masked = [c for c in detail.columns if c.mask is not None]
        if masked:
            rows += [["", "", ""], ["# Column Masks", "", ""]]
            for column in masked:
                assert column.mask is not None
                using = ", ".join(column.mask.columns)
                rows.append([column.name, column.mask.function_name, f"[{using}]"])
        tagged = self.rt.tags.list_table(self.caller, record.full_name)
        if tagged:
            rows += [["", "", ""], ["# Tags", "", ""]]
            rows += [[column or name, tag.key, tag.value] for column, tag in tagged]
        return rows

    def _comment(self, node: exp.Expression) -> StatementResult:
        securable_type, full_name = self._target(node)
        if full_name is None:
            raise InvalidParameter("the metastore has no comment to set")
        self._require(Privilege.MANAGE, securable_type, full_name)
        self.rt.namespace.update(
            self.caller, securable_type, full_name, comment=reading.comment_of(node) or ""
        )
        return ok_result()

    # -- principals ----------------------------------------------------------------

    def _principal(self, name: str, kind: str | None, what: str) -> PrincipalRecord:
        found = self.rt.identity.get_by_name(normalize_principal_name(name, what))
        if found is None or (kind is not None and found.kind != kind):
            raise NotFound(f"{what} '{name}' does not exist")
        return found

    def _create_group(self, node: exp.Expression) -> StatementResult:
        self._require_admin()
        name = normalize_principal_name(reading.group_of(node), "group name")
        if self.rt.identity.get_by_name(name) is not None:
            raise AlreadyExists(f"principal '{name}' already exists")
        self.rt.identity.create_principal(PrincipalKind.GROUP, name)
        return ok_result()

    def _drop_group(self, node: exp.Expression) -> StatementResult:
        self._require_admin()
        group = self._principal(reading.group_of(node), PrincipalKind.GROUP, "group")
        self.rt.identity.delete_principal(group.id, [PrincipalKind.GROUP])
        return ok_result()

    def _alter_group(self, node: exp.Expression) -> StatementResult:
        self._require_admin()
        if normalize_principal_name(reading.group_of(node), "group name") == ACCOUNT_USERS:
            raise InvalidParameter(
                f"'{ACCOUNT_USERS}' holds every user: its membership cannot be changed"
            )
        group = self._principal(reading.group_of(node), PrincipalKind.GROUP, "group")
        member_kind, member_name = reading.member_of(node)
        if member_kind == "GROUP":
            member = self._principal(member_name, PrincipalKind.GROUP, "group")
        else:
            member = self._principal(member_name, None, "user")
            if member.kind == PrincipalKind.GROUP:
                raise InvalidParameter(f"'{member_name}' is a group; use ADD GROUP")
        if reading.action_of(node) == "ADD":
            self.rt.identity.change_members(group.id, add=[member.id])
        else:
            self.rt.identity.change_members(group.id, remove=[member.id])
        return ok_result()

    def _show_principals(self, node: exp.Expression) -> StatementResult:
        """Principals' names, to every authenticated caller: the rule of the SCIM list routes
        (docs/privileges.md, "Principals")."""
        if reading.statement_kind(node) is K.SHOW_GROUPS:
            kinds, column = [PrincipalKind.GROUP], "name"
        else:
            kinds, column = [PrincipalKind.USER, PrincipalKind.SERVICE_PRINCIPAL], "name"
        found: list[Any] = []
        start = 1
        while True:
            batch, total = self.rt.identity.list_principals(kinds, None, start, _PAGE)
            found.extend(batch)
            start += len(batch)
            if not batch or start > total:
                break
        return StatementResult(_strings(column), [[p.name] for p in sorted(found, key=_name)])

    # -- queries -------------------------------------------------------------------

    def _resolver(self) -> CatalogResolver:
        return CatalogResolver(self.rt, self.caller, self.default_catalog, self.default_schema)

    def _select(self, node: exp.Expression) -> StatementResult:
        """System tables and managed tables: see :mod:`catalog.sql.select_runner`."""
        found = run_select(self.rt, self.caller, node, self.default_catalog, self.default_schema)
        return StatementResult(found.columns, found.rows, found.truncated)

    def _insert(self, node: exp.Expression) -> StatementResult:
        assert isinstance(node, exp.Insert)
        rows = run_insert(self.rt, self._resolver(), node, self.statement_id)
        return StatementResult(list(INSERT_COLUMNS), rows)

    def _update_or_delete(self, node: exp.Expression) -> StatementResult:
        assert isinstance(node, exp.Update | exp.Delete)
        rows = run_update_or_delete(self.rt, self._resolver(), node)
        return StatementResult(list(UPDATE_COLUMNS), rows)

    def _merge(self, node: exp.Expression) -> StatementResult:
        assert isinstance(node, exp.Merge)
        rows = run_merge(self.rt, self._resolver(), node, self.statement_id)
        return StatementResult(list(MERGE_COLUMNS), rows)


_CONTAINERS = (SecurableType.CATALOG, SecurableType.SCHEMA)


def _column_names(table: TableRecord) -> tuple[dict[str, str], dict[str, str]]:
    """Lower-cased column name → (the name as declared, its type text)."""
    columns = table.detail.columns
    return (
        {c.name.lower(): c.name for c in columns},
        {c.name.lower(): c.type_text for c in columns},
    )


def _name(principal: Any) -> str:
    return principal.name


# -- audit -------------------------------------------------------------------------------------

#: Databricks' action name for each statement kind (service ``unityCatalog``); statements
#: whose action depends on the object's type name it per type below.
_ACTIONS: dict[K, str] = {
    K.GRANT: "updatePermissions",
    K.REVOKE: "updatePermissions",
    K.SHOW_GRANTS: "getPermissions",
    K.SHOW_GRANTS_TO: "getPermissions",
    K.CREATE_CATALOG: "createCatalog",
    K.CREATE_SCHEMA: "createSchema",
    K.CREATE_TABLE: "createTable",
    K.CREATE_VIEW: "createTable",
    K.DROP_VIEW: "deleteTable",
    K.DROP_CATALOG: "deleteCatalog",
    K.DROP_SCHEMA: "deleteSchema",
    K.DROP_TABLE: "deleteTable",
    K.DROP_MODEL: "deleteRegisteredModel",
    K.SHOW_CATALOGS: "listCatalogs",
    K.SHOW_SCHEMAS: "listSchemas",
    K.SHOW_TABLES: "listTables",
    K.SHOW_MODELS: "listRegisteredModels",
    K.DESCRIBE_TABLE: "getTable",
    K.DESCRIBE_MODEL: "getRegisteredModel",
    K.DESCRIBE_CATALOG: "getCatalog",
    K.DESCRIBE_SCHEMA: "getSchema",
    K.CREATE_GROUP: "createGroup",
    K.DROP_GROUP: "deleteGroup",
    K.ALTER_GROUP: "patchGroup",
    K.SET_ALIAS: "setRegisteredModelAlias",
    K.DROP_ALIAS: "deleteRegisteredModelAlias",
    K.SHOW_GROUPS: "listGroups",
    K.SHOW_USERS: "listUsers",
    K.CREATE_FUNCTION: "createFunction",
    K.DROP_FUNCTION: "deleteFunction",
    K.SHOW_FUNCTIONS: "listFunctions",
    K.DESCRIBE_FUNCTION: "getFunction",
    K.SET_ROW_FILTER: "updateTable",
    K.DROP_ROW_FILTER: "updateTable",
    K.SET_COLUMN_MASK: "updateTable",
    K.ADD_COLUMNS: "updateTable",
    K.SET_TBLPROPERTIES: "updateTable",
    K.UNSET_TBLPROPERTIES: "updateTable",
    K.DROP_COLUMN_MASK: "updateTable",
    K.USE_CATALOG: "getCatalog",
    K.USE_SCHEMA: "getSchema",
    K.CREATE_POLICY: "createPolicy",
    K.DROP_POLICY: "deletePolicy",
    K.SHOW_POLICIES: "listPolicies",
}
_UPDATE_ACTIONS: dict[SecurableType, str] = {
    SecurableType.METASTORE: "updateMetastore",
    SecurableType.CATALOG: "updateCatalog",
    SecurableType.SCHEMA: "updateSchema",
    SecurableType.TABLE: "updateTable",
    SecurableType.MODEL: "updateRegisteredModel",
    SecurableType.FUNCTION: "updateFunction",
    SecurableType.SERVING_ENDPOINT: "updateServingEndpoint",
}
_METADATA_READS = frozenset(
    {K.SHOW_GRANTS, K.SHOW_GRANTS_TO, K.SHOW_CATALOGS, K.SHOW_SCHEMAS, K.SHOW_TABLES, K.SHOW_MODELS}
    | {K.DESCRIBE_TABLE, K.DESCRIBE_MODEL, K.DESCRIBE_CATALOG, K.DESCRIBE_SCHEMA}
    | {K.SHOW_GROUPS, K.SHOW_USERS, K.SHOW_FUNCTIONS, K.DESCRIBE_FUNCTION}
    | {K.USE_CATALOG, K.USE_SCHEMA, K.SHOW_POLICIES}
)
_DATA_STATEMENTS = frozenset({K.SELECT, K.INSERT, K.MERGE, K.UPDATE, K.DELETE})
_GROUP_KINDS = frozenset({K.CREATE_GROUP, K.DROP_GROUP, K.ALTER_GROUP, K.SHOW_GROUPS, K.SHOW_USERS})


def _name_audit_action(node: exp.Expression, kind: K) -> None:
    """Name the request's audit event after the statement (docs/audit.md: one event per statement),
    with the statement text among its parameters."""
    scope = current_scope()
    if scope is None:
        return
    scope.params["statement_kind"] = kind.value
    try:
        scope.object_name = ".".join(reading.securable_of(node)[1]).lower() or None
    except (AttributeError, KeyError, TypeError, ValueError, InvalidParameter):
        scope.object_name = None
    if kind in _DATA_STATEMENTS:
        # A read or write of table data: service databrickssql, action executeStatement,
        # always recorded (never a metadata read). INSERT and MERGE name their target as
        # the event's object once it is resolved (catalog.sql.writes.resolve_target).
        scope.metadata_read = False
        return
    action = _ACTIONS.get(kind)
    if action is None and kind in (K.ALTER_OWNER, K.COMMENT_ON, K.SET_TAGS, K.UNSET_TAGS):
        try:
            action = _UPDATE_ACTIONS[reading.securable_type(reading.securable_of(node)[0])]
        except (KeyError, ValueError, InvalidParameter):
            action = None
    if action is None:
        return
    scope.service_name = "accounts" if kind in _GROUP_KINDS else "unityCatalog"
    scope.action_name = action
    scope.metadata_read = kind in _METADATA_READS


#: The handler of each kind of statement (a table, not a method: built once, not for
#: every statement).
HANDLERS: dict[K, Callable[[StatementExecutor, exp.Expression], StatementResult]] = {
    K.GRANT: StatementExecutor._grant,
    K.REVOKE: StatementExecutor._grant,
    K.SHOW_GRANTS: StatementExecutor._show_grants,
    K.SHOW_GRANTS_TO: StatementExecutor._show_grants_to,
    K.ALTER_OWNER: StatementExecutor._alter_owner,
    K.SET_ALIAS: StatementExecutor._alias,
    K.DROP_ALIAS: StatementExecutor._alias,
    K.CREATE_CATALOG: StatementExecutor._create,
    K.CREATE_SCHEMA: StatementExecutor._create,
    K.CREATE_TABLE: StatementExecutor._create_table,
    K.CREATE_VIEW: StatementExecutor._create_view,
    K.DROP_VIEW: StatementExecutor._drop,
    K.ADD_COLUMNS: StatementExecutor._add_columns,
    K.SET_TBLPROPERTIES: StatementExecutor._table_properties,
    K.UNSET_TBLPROPERTIES: StatementExecutor._table_properties,
    K.DROP_CATALOG: StatementExecutor._drop,
    K.DROP_SCHEMA: StatementExecutor._drop,
    K.DROP_TABLE: StatementExecutor._drop,
    K.DROP_MODEL: StatementExecutor._drop,
    K.SHOW_CATALOGS: StatementExecutor._show_objects,
    K.SHOW_SCHEMAS: StatementExecutor._show_objects,
    K.SHOW_TABLES: StatementExecutor._show_objects,
    K.SHOW_MODELS: StatementExecutor._show_objects,
    K.DESCRIBE_TABLE: StatementExecutor._describe,
    K.DESCRIBE_MODEL: StatementExecutor._describe,
    K.DESCRIBE_CATALOG: StatementExecutor._describe,
    K.DESCRIBE_SCHEMA: StatementExecutor._describe,
    K.COMMENT_ON: StatementExecutor._comment,
    K.CREATE_GROUP: StatementExecutor._create_group,
    K.DROP_GROUP: StatementExecutor._drop_group,
    K.ALTER_GROUP: StatementExecutor._alter_group,
    K.SHOW_GROUPS: StatementExecutor._show_principals,
    K.SHOW_USERS: StatementExecutor._show_principals,
    K.SELECT: StatementExecutor._select,
    K.INSERT: StatementExecutor._insert,
    K.MERGE: StatementExecutor._merge,
    K.UPDATE: StatementExecutor._update_or_delete,
    K.DELETE: StatementExecutor._update_or_delete,
    K.CREATE_FUNCTION: StatementExecutor._create_function,
    K.DROP_FUNCTION: StatementExecutor._drop,
    K.SHOW_FUNCTIONS: StatementExecutor._show_objects,
    K.DESCRIBE_FUNCTION: StatementExecutor._describe_function,
    K.SET_ROW_FILTER: StatementExecutor._row_filter,
    K.DROP_ROW_FILTER: StatementExecutor._row_filter,
    K.SET_COLUMN_MASK: StatementExecutor._column_mask,
    K.DROP_COLUMN_MASK: StatementExecutor._column_mask,
    K.USE_CATALOG: StatementExecutor._use,
    K.USE_SCHEMA: StatementExecutor._use,
    K.SET_TAGS: StatementExecutor._tags,
    K.UNSET_TAGS: StatementExecutor._tags,
    K.CREATE_POLICY: StatementExecutor._create_policy,
    K.DROP_POLICY: StatementExecutor._drop_policy,
    K.SHOW_POLICIES: StatementExecutor._show_policies,
}

#: The statements :meth:`StatementExecutor.answer_from_caches` may answer, and how.
FROM_CACHES: dict[K, Callable[[StatementExecutor, exp.Expression], StatementResult | None]] = {
    **dict.fromkeys(SHOWN, StatementExecutor._show_objects_from_caches),
    K.DESCRIBE_TABLE: StatementExecutor._describe_from_caches,
    K.DESCRIBE_MODEL: StatementExecutor._describe_from_caches,
    K.DESCRIBE_CATALOG: StatementExecutor._describe_from_caches,
    K.DESCRIBE_SCHEMA: StatementExecutor._describe_from_caches,
}
