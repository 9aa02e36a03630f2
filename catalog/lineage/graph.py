"""Reading the lineage graph: a breadth-first walk over indexed edges.

Each level of the walk is one query, ``WHERE target_id IN (frontier)`` going
upstream or ``WHERE source_id IN (frontier)`` going downstream, served by the
edge table's unique key (source first) and its target index. A depth-5 walk is
therefore five index range scans, not one query per node: the cost grows with
what is returned, not with the size of the graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.persistence.schema import LineageColumnEdge, LineageEdge, LineageNode, Securable

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
    first_seen: datetime
    last_seen: datetime
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
    first_seen: datetime
    last_seen: datetime
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


_EDGE_COLUMNS = (
    LineageEdge.id,
    LineageEdge.source_id,
    LineageEdge.target_id,
    LineageEdge.kind,
    LineageEdge.entity_type,
    LineageEdge.first_seen,
    LineageEdge.last_seen,
    LineageEdge.count,
    LineageEdge.principal,
    LineageEdge.request_id,
)


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
    closing the cycle is still returned.
    """
    seen: dict[int, None] = dict.fromkeys(start)
    edges: dict[int, EdgeRow] = {}
    truncated = False
    directions = (
        [Direction.UPSTREAM, Direction.DOWNSTREAM] if direction is Direction.BOTH else [direction]
    )
    for way in directions:
        frontier = list(start)
        for _ in range(depth):
            if not frontier or truncated:
                break
            found = _level(session, frontier, way)
            frontier = []
            for row in found:
                other = row.source_id if way is Direction.UPSTREAM else row.target_id
                if other not in seen:
                    if len(seen) >= max_nodes:
                        truncated = True
                        continue
                    seen[other] = None
                    frontier.append(other)
                edges[row.id] = row
    return Traversal(list(seen), list(edges.values()), truncated)


def _level(session: Session, frontier: list[int], way: Direction) -> list[EdgeRow]:
    column = LineageEdge.target_id if way is Direction.UPSTREAM else LineageEdge.source_id
    rows: list[EdgeRow] = []
    for start in range(0, len(frontier), IN_CHUNK):
        chunk = frontier[start : start + IN_CHUNK]
        result = session.execute(select(*_EDGE_COLUMNS).where(column.in_(chunk)))
        rows.extend(EdgeRow(*row) for row in result)
    return rows


def start_nodes(session: Session, securable_id: str, version: int | None) -> list[int]:
    """The nodes of one catalog object: a table's node, or a model's and its versions'."""
    query = select(LineageNode.id).where(LineageNode.securable_id == securable_id)
    if version is not None:
        query = query.where(LineageNode.version == version)
    return list(session.scalars(query.order_by(LineageNode.id)))


def load_nodes(session: Session, ids: Sequence[int]) -> dict[int, NodeRow]:
    """Nodes by id, with the current full name of the catalog object behind each."""
    out: dict[int, NodeRow] = {}
    n, s = LineageNode, Securable
    for start in range(0, len(ids), IN_CHUNK):
        chunk = list(ids[start : start + IN_CHUNK])
        query = (
            select(
                n.id,
                n.node_type,
                n.node_key,
                n.securable_id,
                n.version,
                n.full_name,
                n.path,
                s.full_name,
                s.id,
            )
            .outerjoin(s, s.id == n.securable_id)
            .where(n.id.in_(chunk))
        )
        for nid, ntype, key, sid, version, stored, path, live, live_id in session.execute(query):
            exists = sid is None or live_id is not None
            out[nid] = NodeRow(nid, ntype, key, sid, version, live or stored, path, exists)
    return out


def column_edges_among(session: Session, ids: Iterable[int]) -> list[ColumnEdgeRow]:
    """Column edges whose both ends are among ``ids`` (the nodes of one traversal)."""
    wanted = set(ids)
    c = LineageColumnEdge
    rows: list[ColumnEdgeRow] = []
    members = sorted(wanted)
    for start in range(0, len(members), IN_CHUNK):
        chunk = members[start : start + IN_CHUNK]
        query = select(
            c.source_id,
            c.source_column,
            c.target_id,
            c.target_column,
            c.kind,
            c.first_seen,
            c.last_seen,
            c.count,
            c.principal,
            c.request_id,
        ).where(c.target_id.in_(chunk))
        rows.extend(ColumnEdgeRow(*row) for row in session.execute(query) if row[0] in wanted)
    return rows


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
