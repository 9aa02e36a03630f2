"""Options shared by the commands that work on the database directly (not over HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="STEWARD_DATABASE_URL",
        help="SQLAlchemy URL; default: SQLite under the storage root.",
    ),
]
StorageRoot = Annotated[
    Path | None,
    typer.Option(
        "--storage-root",
        envvar="STEWARD_STORAGE_ROOT",
        help="Where the SQLite file, artifacts and the admin token live (default ./.steward).",
    ),
]
