"""structlog set-up: JSON lines for the server, readable lines in a terminal.

The request id is bound in a context variable by the HTTP middleware, so every
line logged while serving a request carries it without being passed around.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog

_SECRET_KEYS = {"authorization", "token", "token_value", "password", "admin_token"}


def _drop_secrets(
    _logger: object, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Belt and braces: no log line may carry a credential, whoever logged it."""
    for key in list(event_dict):
        if key.lower() in _SECRET_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    """``auto`` renders for people on a terminal and JSON lines everywhere else."""
    if fmt not in ("auto", "json", "console"):
        raise ValueError(f"log format must be auto, json or console, not {fmt!r}")
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    renderer: structlog.typing.Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_text)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def _orjson_text(event: Any, **options: Any) -> str:
    """JSON lines through orjson (two lines per serving request: audit and access)."""
    return orjson.dumps(
        event, default=options.get("default", str), option=orjson.OPT_NON_STR_KEYS
    ).decode()


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
