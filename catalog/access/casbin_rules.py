"""Every read and write of ``casbin_rule``, the table that holds grants.

A grant is one ``p`` line: principal (``v0``), securable id (``v1``), privilege (``v2``).
Grants, the namespace (dropping objects), identity (deleting principals) and the Casbin
adapter (loading the policy) all come here, so the shape of a grant row is known in one
place. Each function works inside the caller's session: the change commits (or not)
with the transaction that made it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import String, Table, bindparam, delete, exists, literal, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from catalog.persistence.driver import DriverStatement
from catalog.persistence.schema import CasbinRule, Principal, Securable

GRANT = "p"

_RULES = CasbinRule.__table__
_LINE = ["ptype", "v0", "v1", "v2"]
# A GRANT or REVOKE statement writes its lines with these, compiled once and run on the
# driver (catalog/persistence/driver.py): SQLAlchemy's ORM execution of each cost more
# than the statement.
_ADD = {
    "sqlite": DriverStatement(sqlite_insert(_RULES).on_conflict_do_nothing(), column_keys=_LINE),
    "postgresql": DriverStatement(
        postgresql_insert(_RULES).on_conflict_do_nothing(), column_keys=_LINE
    ),
}
_OF_LINE = (
    _RULES.c.ptype == GRANT,
    _RULES.c.v0 == bindparam("principal"),
    _RULES.c.v1 == bindparam("securable"),
)
#: Revoking one privilege, or (the second) all of them; each says what it removed.
_REMOVE = DriverStatement(
    delete(_RULES).where(*_OF_LINE, _RULES.c.v2 == bindparam("privilege")).returning(_RULES.c.v2)
)
_REMOVE_ALL = DriverStatement(delete(_RULES).where(*_OF_LINE).returning(_RULES.c.v2))

# A GRANT or REVOKE of one privilege to one principal on an object named by its full name
# and type (change_grant_on_named), as one statement that finds the object and the
# principal itself: on PostgreSQL two round trips fewer than reading both first (the
# object's chain, the principal), and two statements fewer on SQLite. It writes only when
# both are there; an object and principal that exist are all the separate reads
# established (a table's containers exist while it does: its rows cascade with theirs).
_SECURABLES = Securable.__table__
_NAMED_OBJECT = (
    _SECURABLES.c.full_name == bindparam("full_name"),
    _SECURABLES.c.securable_type == bindparam("securable_type"),
)
_PRINCIPAL_EXISTS = exists().where(Principal.__table__.c.name == bindparam("principal"))


def _add_named(insert: Callable[[Table], Any]) -> DriverStatement:
    line = select(
        literal(GRANT, String).label("ptype"),
        bindparam("principal", type_=String).label("v0"),
        _SECURABLES.c.id.label("v1"),
        bindparam("privilege", type_=String).label("v2"),
    ).where(*_NAMED_OBJECT, _PRINCIPAL_EXISTS)
    return DriverStatement(
        insert(_RULES).from_select(_LINE, line).on_conflict_do_nothing().returning(_RULES.c.v1)
    )


_ADD_NAMED = {"sqlite": _add_named(sqlite_insert), "postgresql": _add_named(postgresql_insert)}
_REMOVE_NAMED = DriverStatement(
    delete(_RULES)
    .where(
        _RULES.c.ptype == GRANT,
        _RULES.c.v0 == bindparam("principal"),
        _RULES.c.v1 == select(_SECURABLES.c.id).where(*_NAMED_OBJECT).scalar_subquery(),
        _RULES.c.v2 == bindparam("privilege"),
        _PRINCIPAL_EXISTS,
    )
    .returning(_RULES.c.v1)
)


def all_grants(session: Session) -> list[tuple[str, str, str]]:
    """Every grant as (principal, securable id, privilege): the policy Casbin loads."""
    rows = session.execute(
        select(CasbinRule.v0, CasbinRule.v1, CasbinRule.v2).where(CasbinRule.ptype == GRANT)
    )
    return [(str(who), str(on), str(what)) for who, on, what in rows]


def grants_on(
    session: Session, securable_id: str, principal: str | None = None
) -> list[tuple[str, str]]:
    """Direct grants on one object as (principal, privilege), ordered by both."""
    query = select(CasbinRule.v0, CasbinRule.v2).where(
        CasbinRule.ptype == GRANT, CasbinRule.v1 == securable_id
    )
    if principal is not None:
        query = query.where(CasbinRule.v0 == principal)
    rows = session.execute(query.order_by(CasbinRule.v0, CasbinRule.v2))
    return [(str(who), str(what)) for who, what in rows]


def grants_to(session: Session, principal: str) -> list[tuple[str, str]]:
    """Direct grants to one principal as (securable id, privilege)."""
    query = select(CasbinRule.v1, CasbinRule.v2).where(
        CasbinRule.ptype == GRANT, CasbinRule.v0 == principal
    )
    rows = session.execute(query.order_by(CasbinRule.v1, CasbinRule.v2))
    return [(str(where), str(what)) for where, what in rows]


def add_grant(session: Session, principal: str, securable_id: str, privilege: str) -> bool:
    """Grant once; False when the grant was already there.

    One statement that does nothing on the line's unique key: two sessions granting the
    same privilege at once (PostgreSQL runs them side by side) both succeed, the second
    finding the first's line, instead of the second failing on the key."""
    connection = session.connection()
    line = {"ptype": GRANT, "v0": principal, "v1": securable_id, "v2": privilege}
    cursor = _ADD[connection.dialect.name].execute(connection, line)
    try:
        return bool(cursor.rowcount)
    finally:
        cursor.close()


def remove_grants(
    session: Session, principal: str, securable_id: str, privilege: str | None
) -> Sequence[str]:
    """Revoke one privilege, or every direct one (``privilege`` None); the privileges gone."""
    line = {"principal": principal, "securable": securable_id}
    if privilege is None:
        rows = _REMOVE_ALL.all(session.connection(), line)
    else:
        rows = _REMOVE.all(session.connection(), {**line, "privilege": privilege})
    return [str(p) for (p,) in rows]


def change_grant_on_named(
    session: Session,
    granting: bool,
    principal: str,
    full_name: str,
    securable_type: str,
    privilege: str,
) -> str | None:
    """Grant (or, not ``granting``, revoke) ``privilege`` on the object of
    ``securable_type`` named ``full_name`` to ``principal``, both found by the one
    statement: the object's id when a line was added (removed); None when nothing was
    written (no such object or principal, or nothing to change), for the caller to find
    out which with the separate reads."""
    connection = session.connection()
    statement = _ADD_NAMED[connection.dialect.name] if granting else _REMOVE_NAMED
    params = {
        "principal": principal,
        "full_name": full_name,
        "securable_type": securable_type,
        "privilege": privilege,
    }
    row = statement.first(connection, params)
    return str(row[0]) if row is not None else None


def remove_grants_on(session: Session, securable_ids: Iterable[str]) -> None:
    """Grants go with their objects: a re-created name starts with none."""
    session.execute(
        delete(CasbinRule).where(CasbinRule.ptype == GRANT, CasbinRule.v1.in_(list(securable_ids)))
    )


def remove_grants_to(session: Session, principal: str) -> None:
    """Grants go with their principal."""
    session.execute(delete(CasbinRule).where(CasbinRule.ptype == GRANT, CasbinRule.v0 == principal))
