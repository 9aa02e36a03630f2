"""SQL functions: ``CREATE [OR REPLACE] FUNCTION c.s.f(p TYPE, …) [RETURNS TYPE] RETURN expr``.

A function is a FUNCTION securable (EXECUTE, MANAGE, BROWSE, ALL PRIVILEGES) whose body
is one expression of the query allow-list (:mod:`catalog.sql.compiler`) over its
parameters, plus the session functions (:mod:`catalog.sql.session_functions`). No
tables, subqueries, aggregates or window functions: a body is evaluated per row, inlined
into the query that reads the table it protects, so it costs what the same expression
written by hand would (no call per row, no second query).

The body is checked when the function is created and again, through the compiler's own
checks, in every query it is inlined into. Privileges are checked by the caller of this
service (the SQL executor), as for every statement.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types

from catalog.access.authorizer import Caller
from catalog.names import split_full_name
from catalog.namespace import NamespaceService, NewSecurable
from catalog.persistence.engine import Database
from catalog.records import SecurableRecord, now_ms
from catalog.row_access.function_store import (
    FunctionBody,
    FunctionDefinition,
    SqlFunctionStore,
    data_type,
)
from catalog.sql.compiler import check_expression
from catalog.sql.errors import refuse, shown
from catalog.store.factory import CatalogStores
from common.errors import AlreadyExists, InvalidParameter, NotFound
from policy.dialect import to_sql
from policy.securables import SecurableType

_T = exp.DataType.Type
#: Nodes a body may not contain, though queries may: a body is a per-row expression.
_NOT_IN_BODIES: tuple[type[exp.Expression], ...] = (
    exp.Query,
    exp.Subquery,
    exp.Table,
    exp.Star,
    exp.AggFunc,
    exp.Window,
    exp.CountIf,
)


def checked_body(
    parameters: tuple[tuple[str, str], ...], returns: str | None, body: exp.Expression
) -> FunctionBody:
    """The definition to store, after checking the body; ``InvalidParameter`` naming the
    problem (and where it is) otherwise."""
    names = [name.lower() for name, _ in parameters]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise InvalidParameter(f"parameter '{parameters[index][0]}' is declared twice")
    check_expression(body)
    for node in body.walk():
        if isinstance(node, _NOT_IN_BODIES):
            raise refuse(
                f"'{shown(node)}' cannot appear in a function's body: a body is one expression "
                "over the parameters, evaluated per row (no tables, subqueries, aggregates or "
                "window functions)",
                node,
            )
        if isinstance(node, exp.Column) and (node.table or node.name.lower() not in names):
            listed = ", ".join(name for name, _ in parameters) or "none"
            raise refuse(
                f"'{shown(node)}' is not a parameter of the function (parameters: {listed})",
                node,
            )
    return_type = returns or _inferred_type(parameters, body)
    return FunctionBody(parameters, return_type, to_sql(body))


def _inferred_type(parameters: tuple[tuple[str, str], ...], body: exp.Expression) -> str:
    typed = {name.lower(): type_text for name, type_text in parameters}
    probe = body.copy()
    for column in list(probe.find_all(exp.Column)):
        replacement = exp.cast(exp.null(), data_type(typed[column.name.lower()]))
        if column is probe:
            probe = replacement
        else:
            column.replace(replacement)
    try:
        found = annotate_types(probe, dialect="databricks").type
    except (SqlglotError, KeyError, ValueError, TypeError):
        found = None
    if found is None or found.this in (_T.UNKNOWN, _T.NULL):
        raise InvalidParameter(
            "cannot tell what type the function returns: declare it with RETURNS <type>"
        )
    return to_sql(found)


class FunctionService:
    """Creates, replaces and reads SQL functions (authorization is the caller's)."""

    def __init__(self, db: Database, stores: CatalogStores, namespace: NamespaceService) -> None:
        self.db = db
        self.stores = stores
        self.namespace = namespace

    def create(
        self,
        caller: Caller,
        full_name: str,
        body: FunctionBody,
        comment: str | None,
        *,
        replace_existing: bool = False,
    ) -> SecurableRecord:
        """A new function; or, with ``replace_existing``, the existing one's definition and
        comment replaced (owner, grants and the filters and masks that use it stay)."""
        name = ".".join(split_full_name(full_name, SecurableType.FUNCTION))
        if replace_existing:
            with self.db.transaction() as session:
                store = self.stores.namespace(session)
                record = store.get(SecurableType.FUNCTION, name)
                if record is not None:
                    record.comment = comment
                    record.updated_at, record.updated_by = now_ms(), caller.name
                    store.update(record)
                    SqlFunctionStore(session).put(record.id, body)
                    return record
        try:
            return self.namespace.create(
                caller,
                NewSecurable(SecurableType.FUNCTION, name, comment),
                extra=lambda session, record: SqlFunctionStore(session).put(record.id, body),
            )
        except AlreadyExists:
            raise AlreadyExists(f"'{name}' already exists") from None

    def definition(self, full_name: str) -> FunctionDefinition:
        """The function of that name; NotFound when there is none."""
        name = ".".join(split_full_name(full_name, SecurableType.FUNCTION))
        with self.db.read() as session:
            record = self.namespace.find(
                self.stores.namespace(session), SecurableType.FUNCTION, name
            )
            body = SqlFunctionStore(session).get(record.id) if record is not None else None
        if record is None or body is None:
            raise NotFound(f"FUNCTION '{name}' does not exist")
        return FunctionDefinition(record, body)
