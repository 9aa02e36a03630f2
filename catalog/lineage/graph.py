"""Reading the lineage graph: a breadth-first walk over indexed edges.

Each level of the walk is one query, ``WHERE target_id IN (frontier)`` going
upstream or ``WHERE source_id IN (frontier)`` going downstream, served by the
edge table's unique key (source first) and its target index. A depth-5 walk is
therefore five index range scans, not one query per node: the cost grows with
what is returned, not with the size of the graph. Each level reads the edges'
full rows, so nothing is fetched twice.

These hot queries go to the driver as plain SQL (``IN (?, …)`` on SQLite, ``=
ANY(%s::bigint[])`` on PostgreSQL) and rows stay tuples: compiling an expanding
``IN`` of a thousand ids and processing every row through SQLAlchemy's result
machinery cost several times the database work. Times come back as the ISO 8601
strings the API answers with, which spares parsing SQLite's text into datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.lineage.model import NodeType
from catalog.persistence.schema import LineageNode, Securable

#: Ids per ``IN (…)`` list; a larger frontier is split (SQLite's default limit is 32766).
IN_CHUNK = 10_000


class Direction(StrEnum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


@dataclass(frozen=True)
class EdgeRow:
    id: int
    source_id: int
    target_id: int
    kind: str
    entity_type: str
    #: ISO 8601, UTC (``2026-01-02T03:04:05.678901Z``).
    first_seen: str
    last_seen: str
    count: int
    principal: str | None
    request_id: str | None


@dataclass(frozen=True)
class ColumnEdgeRow:
    source_id: int
    source_column: str
    target_id: int
    target_column: str
    kind: str
    first_seen: str
    last_seen: str
    count: int
    principal: str | None
    request_id: str | None


@dataclass(frozen=True)
class NodeRow:
    id: int
    node_type: str
    node_key: str
    securable_id: str | None
    version: int | None
    #: The live securable's full name, or the last one recorded if it no longer exists.
    full_name: str | None
    path: str | None
    #: Whether the catalog object behind the node still exists (always True for external).
    exists: bool


@dataclass
class Traversal:
    #: Node ids in discovery order, starting nodes first.
    node_ids: list[int]
    edges: list[EdgeRow]
    #: Whether the walk stopped at ``max_nodes`` before reaching its depth.
    truncated: bool = False


_EDGE = (
    "id, source_id, target_id, kind, entity_type, first_seen, last_seen, count, principal, "
    "request_id"
)
#: One level of the walk: the edges at the near end of the frontier.
_STEP = {
    Direction.UPSTREAM: f"SELECT {_EDGE} FROM lineage_edges WHERE target_id {{ids}}",
    Direction.DOWNSTREAM: f"SELECT {_EDGE} FROM lineage_edges WHERE source_id {{ids}}",
}
_FAR = {Direction.UPSTREAM: 1, Direction.DOWNSTREAM: 2}


def traverse(
    session: Session,
    start: Sequence[int],
    direction: Direction,
    depth: int,
    max_nodes: int,
) -> Traversal:
    """Every node within ``depth`` hops of ``start`` in ``direction`` and the edges walked.

    ``both`` walks upstream and downstream separately (it does not turn around, which
    would pull in a node's siblings). Cycles end where a node was already seen; the edge
    closing the cycle is still returned. Past ``max_nodes`` the walk stops, returning
    only edges between nodes it kept.
    """
    seen: dict[int, None] = dict.fromkeys(start)
    edges: dict[int, tuple[Any, ...]] = {}
    truncated = False
    ways = [direction] if direction is not Direction.BOTH else list(_FAR)
    with _Driver(session) as sql:
        for way in ways:
            far = _FAR[way]
            frontier = list(start)
            for _ in range(depth):
                if not frontier or truncated:
                    break
                found = sql.rows(_STEP[way], frontier)
                frontier = []
                for row in found:
                    other = row[far]
                    if other not in seen:
                        if len(seen) >= max_nodes:
                            truncated = True
                            continue
                        seen[other] = None
                        frontier.append(other)
                    edges[row[0]] = row
    return Traversal(list(seen), [_edge_row(r) for r in edges.values()], truncated)


def neighbours(
    session: Session,
    start: str | Sequence[int],
    direction: Direction = Direction.BOTH,
    depth: int = 1,
    max_nodes: int = 10_000,
) -> Traversal:
    """The walk from a catalog object (by full name: a table's node, a model's and its
    versions') or from node ids. No authorization: callers that answer people go
    through :meth:`catalog.lineage.lineage_service.LineageService.graph`."""
    if isinstance(start, str):
        start = securable_start_nodes(session, start)
    return traverse(session, start, direction, depth, max_nodes)


def securable_start_nodes(session: Session, full_name: str) -> list[int]:
    """The nodes of the catalog object named ``full_name`` (none if it has no lineage)."""
    query = (
        select(LineageNode.id)
        .join(Securable, Securable.id == LineageNode.securable_id)
        .where(Securable.full_name == full_name.lower())
        .order_by(LineageNode.id)
    )
    return list(session.scalars(query))


def start_nodes(session: Session, securable_id: str) -> list[int]:
    """The nodes of one catalog object: a table's node, or a model's and its versions'."""
    query = select(LineageNode.id).where(LineageNode.securable_id == securable_id)
    return list(session.scalars(query.order_by(LineageNode.id)))


def external_start_nodes(session: Session, node_key: str) -> list[int]:
    """The node of the external dataset keyed ``node_key`` (``ext:<digest>``), if any."""
    query = select(LineageNode.id).where(
        LineageNode.node_type == NodeType.EXTERNAL.value, LineageNode.node_key == node_key
    )
    return list(session.scalars(query))


def load_nodes(session: Session, ids: Sequence[int]) -> dict[int, NodeRow]:
    """Nodes by id, with the current full name of the catalog object behind each."""
    with _Driver(session) as sql:
        rows = sql.rows(
            "SELECT n.id, n.node_type, n.node_key, n.securable_id, n.version, n.full_name, "
            "n.path, s.full_name, s.id FROM lineage_nodes n "
            "LEFT JOIN securables s ON s.id = n.securable_id WHERE n.id {ids}",
            ids,
        )
    out: dict[int, NodeRow] = {}
    for nid, ntype, key, sid, version, stored, path, live, live_id in rows:
        exists = sid is None or live_id is not None
        out[nid] = NodeRow(nid, ntype, key, sid, version, live or stored, path, exists)
    return out


def column_edges_among(session: Session, ids: Iterable[int]) -> list[ColumnEdgeRow]:
    """Column edges whose both ends are among ``ids`` (the nodes of one traversal)."""
    wanted = set(ids)
    with _Driver(session) as sql:
        rows = sql.rows(
            "SELECT source_id, source_column, target_id, target_column, kind, first_seen, "
            "last_seen, count, principal, request_id FROM lineage_column_edges "
            "WHERE target_id {ids}",
            sorted(wanted),
        )
    return [
        ColumnEdgeRow(*r[:5], iso_utc(r[5]), iso_utc(r[6]), *r[7:]) for r in rows if r[0] in wanted
    ]


class _Driver:
    """Plain SQL with one list of ids, bound the way each backend takes a list best, on the
    session's own connection (same transaction), through the driver's cursor."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()  # joins the session's transaction (snapshot)
        self.postgres = connection.dialect.name == "postgresql"
        dbapi = connection.connection.dbapi_connection
        assert dbapi is not None
        self.cursor = dbapi.cursor()
        self.previous: str | None = None

    def __enter__(self) -> _Driver:
        if self.postgres:
            # Lookups by a list of ids are always selective, but without statistics (a table
            # just loaded, autovacuum off) PostgreSQL guesses each id matches 0.5% of the rows
            # and scans the whole table: forbid that for these queries only.
            self.cursor.execute(
                "SELECT current_setting('enable_seqscan'), "
                "set_config('enable_seqscan', 'off', true)"
            )
            self.previous = self.cursor.fetchone()[0]
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            if self.previous is not None:
                self.cursor.execute(
                    "SELECT set_config('enable_seqscan', %s, true)", (self.previous,)
                )
        finally:
            self.cursor.close()

    def rows(self, template: str, ids: Sequence[int]) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), IN_CHUNK):
            chunk = list(ids[start : start + IN_CHUNK])
            if self.postgres:
                sql, params = template.format(ids="= ANY(%s::bigint[])"), (chunk,)
            else:
                marks = ",".join("?" * len(chunk))
                sql, params = template.format(ids=f"IN ({marks})"), tuple(chunk)
            self.cursor.execute(sql, params)
            out.extend(self.cursor.fetchall())
        return out


def _edge_row(r: tuple[Any, ...]) -> EdgeRow:
    return EdgeRow(r[0], r[1], r[2], r[3], r[4], iso_utc(r[5]), iso_utc(r[6]), r[7], r[8], r[9])


def iso_utc(value: datetime | str) -> str:
    """A stored time as ISO 8601 UTC text. SQLite returns SQLAlchemy's storage text
    (``2026-01-02 03:04:05.678901``, UTC by construction); PostgreSQL a datetime."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}Z"
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
