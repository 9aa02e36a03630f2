"""Every read and write of ``casbin_rule``, the table that holds grants.

A grant is one ``p`` line: principal (``v0``), securable id (``v1``), privilege (``v2``).
Grants, the namespace (dropping objects), identity (deleting principals) and the Casbin
adapter (loading the policy) all come here, so the shape of a grant row is known in one
place. Each function works inside the caller's session: the change commits (or not)
with the transaction that made it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from catalog.persistence.driver import DriverStatement
from catalog.persistence.schema import CasbinRule

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


def remove_grants_on(session: Session, securable_ids: Iterable[str]) -> None:
    """Grants go with their objects: a re-created name starts with none."""
    session.execute(
        delete(CasbinRule).where(CasbinRule.ptype == GRANT, CasbinRule.v1.in_(list(securable_ids)))
    )


def remove_grants_to(session: Session, principal: str) -> None:
    """Grants go with their principal."""
    session.execute(delete(CasbinRule).where(CasbinRule.ptype == GRANT, CasbinRule.v0 == principal))
