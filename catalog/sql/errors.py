"""Error messages of the system-table query path, located in the statement when possible."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import SqlglotError

from common.errors import InvalidParameter


def refuse(message: str, node: exp.Expression | None = None) -> InvalidParameter:
    """An ``InvalidParameter`` saying ``message``, with the line and column of ``node``."""
    return InvalidParameter(f"{message}{position(node) if node is not None else ''}")


def position(node: exp.Expression) -> str:
    """`` (line L, column C)`` of the first token of ``node`` the parser located, or ``""``."""
    for found in node.walk():
        meta = found.meta
        if "line" in meta and "col" in meta:
            width = int(meta.get("end", 0)) - int(meta.get("start", 0))
            return f" (line {meta['line']}, column {max(1, int(meta['col']) - width)})"
    return ""


def shown(node: exp.Expression, limit: int = 60) -> str:
    """``node`` as Databricks SQL, shortened for a message."""
    try:
        text = node.sql("databricks", comments=False)
    except SqlglotError:
        text = type(node).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
