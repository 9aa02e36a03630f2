"""``steward lineage NAME``: the lineage graph of a table or model, for people or tools.

It reads ``GET /api/2.1/steward/lineage`` like any client (BROWSE on NAME; what the
caller may not see stays redacted) and renders the answer as an indented tree
(default), the JSON itself (``--json``, like every command; ``--format json`` too),
Graphviz ``dot`` or a Mermaid flowchart. Both diagram languages read UTF-8, so names
are written as they are (``×``, ``é``; never ``u00d7``), escaped only where the language
needs it.

A name may hold a control character stored before names refused them (an OpenLineage
dataset recorded with a ``\r``, say): the tree, DOT and Mermaid all show it as a visible
escape (:func:`common.text.escape_controls`: ``\r``, ``\x1b``, ``\u202e``), so nothing
from the data acts on a terminal or breaks a diagram's line. ``--json`` is the answer as
it is (JSON escapes controls itself).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer

from common.text import escape_controls
from steward.cli.output import JsonFlag, emit_json
from steward.cli.shared import api, fail

LINEAGE_PATH = "/api/2.1/steward/lineage"
#: Mermaid's entity codes for what a label cannot hold as it is; ``#`` first (it starts one).
MERMAID_CODES = (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;"))


class Format(StrEnum):
    TREE = "tree"
    JSON = "json"
    DOT = "dot"
    MERMAID = "mermaid"


class Way(StrEnum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


def lineage(
    name: Annotated[str, typer.Argument(help="catalog.schema.table, a model, or an endpoint")],
    direction: Annotated[Way, typer.Option("--direction", "-d", help="Which way to walk")] = (
        Way.BOTH
    ),
    depth: Annotated[int, typer.Option("--depth", help="Hops to walk (1-20)")] = 3,
    fmt: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="tree (default), dot or mermaid; json as --json"),
    ] = None,
    columns: Annotated[
        bool, typer.Option("--columns", help="Include column lineage (json only)")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show what NAME comes from (upstream) and what comes from it (downstream)."""
    chosen = _chosen_format(fmt, as_json)
    graph = api().get(
        LINEAGE_PATH,
        full_name=name,
        direction=direction.value,
        depth=depth,
        include_columns=str(columns).lower(),
    )
    render: dict[Format, Callable[[dict[str, Any]], str]] = {
        Format.TREE: lambda g: render_tree(g, direction.value),
        Format.DOT: render_dot,
        Format.MERMAID: render_mermaid,
    }
    if chosen is Format.JSON:
        emit_json(graph)
        return
    typer.echo(render[chosen](graph))


def _chosen_format(fmt: Format | None, as_json: bool) -> Format:
    """``--json`` is ``--format json``; with another ``--format`` it is a mistake."""
    if as_json and fmt not in (None, Format.JSON):
        fail(f"--json and --format {fmt.value}: choose one")
    return Format.JSON if as_json else fmt or Format.TREE


def label(node: dict[str, Any]) -> str:
    """A node's name (with its version), its control characters visibly escaped."""
    if node.get("redacted"):
        return f"(redacted {kind_text(node['type']).lower()})"
    name = node.get("name") or node["id"]
    if node.get("version") is not None:
        name = f"{name} v{node['version']}"
    return escape_controls(str(name))


def kind_text(value: Any) -> str:
    """A node type or an edge kind as shown: the server's word, escaped like a name."""
    return escape_controls(str(value))


def render_tree(graph: dict[str, Any], direction: str) -> str:
    """The start node, then an ``upstream`` and/or ``downstream`` branch; a node already
    shown on the path is marked ``(cycle)`` and not expanded again."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    if not graph["nodes"]:
        return ""
    root = graph["nodes"][0]["id"]
    up: dict[str, list[dict[str, Any]]] = defaultdict(list)
    down: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for edge in graph["edges"]:
        up[edge["target"]].append(edge)
        down[edge["source"]].append(edge)
    lines = [f"{label(nodes[root])} ({kind_text(nodes[root]['type'])})"]
    ways = [("upstream", up, "source"), ("downstream", down, "target")]
    chosen = [w for w in ways if direction in (w[0], "both")]
    for i, (title, index, end) in enumerate(chosen):
        last = i == len(chosen) - 1
        lines.append(("└── " if last else "├── ") + title)
        _branch(lines, nodes, index, end, root, "    " if last else "│   ", {root})
    return "\n".join(lines)


def _branch(
    lines: list[str],
    nodes: dict[str, dict[str, Any]],
    index: dict[str, list[dict[str, Any]]],
    end: str,
    node_id: str,
    prefix: str,
    path: set[str],
) -> None:
    edges = sorted(index.get(node_id, []), key=lambda e: label(nodes[e[end]]))
    for i, edge in enumerate(edges):
        last = i == len(edges) - 1
        other = edge[end]
        node = nodes[other]
        note = f"  [{kind_text(edge['kind'])} ×{edge['count']}]"
        cycle = "  (cycle)" if other in path else ""
        lines.append(
            f"{prefix}{'└── ' if last else '├── '}{label(node)} ({kind_text(node['type'])})"
            f"{note}{cycle}"
        )
        if not cycle:
            _branch(
                lines,
                nodes,
                index,
                end,
                other,
                prefix + ("    " if last else "│   "),
                path | {other},
            )


def _short_ids(graph: dict[str, Any]) -> dict[str, str]:
    """Node ids safe in any diagram language: n0, n1, … in answer order."""
    return {n["id"]: f"n{i}" for i, n in enumerate(graph["nodes"])}


def render_dot(graph: dict[str, Any]) -> str:
    """A Graphviz digraph, UTF-8 as it is: ``dot -Tsvg`` draws ``×`` and ``é`` themselves."""
    ids = _short_ids(graph)
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
    for node in graph["nodes"]:
        style = ", style=dashed" if node.get("redacted") else ""
        text = dot_string(label(node), kind_text(node["type"]))
        lines.append(f"  {ids[node['id']]} [label={text}{style}];")
    for edge in graph["edges"]:
        text = dot_string(f"{kind_text(edge['kind'])} ×{edge['count']}")
        lines.append(f"  {ids[edge['source']]} -> {ids[edge['target']]} [label={text}];")
    lines.append("}")
    return "\n".join(lines)


def dot_string(*lines: str) -> str:
    """A quoted DOT label of ``lines`` (joined by DOT's ``\\n`` line break).

    Only what DOT reads specially is escaped: ``"``, ``\\`` (the start of DOT's own
    escapes such as ``\\N``) and line breaks; any other character is written as it is.
    """
    return '"' + "\\n".join(_dot_escape(line) for line in lines) + '"'


def _dot_escape(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def render_mermaid(graph: dict[str, Any]) -> str:
    """A Mermaid flowchart, UTF-8 as it is."""
    ids = _short_ids(graph)
    lines = ["flowchart LR"]
    for node in graph["nodes"]:
        text = f"{mermaid_text(label(node))}<br/>{mermaid_text(kind_text(node['type']))}"
        lines.append(f'  {ids[node["id"]]}["{text}"]')
    for edge in graph["edges"]:
        kind = mermaid_text(kind_text(edge["kind"]))
        lines.append(f"  {ids[edge['source']]} -->|{kind}| {ids[edge['target']]}")
    return "\n".join(lines)


def mermaid_text(text: str) -> str:
    """Text inside a Mermaid label: its entity codes for what would end the label or be
    read as markup or an entity (``"``, ``<``, ``>``, ``#``, ``|``), a line break as ``<br/>``."""
    for char, code in MERMAID_CODES:
        text = text.replace(char, code)
    return text.replace("\r\n", "<br/>").replace("\n", "<br/>")
