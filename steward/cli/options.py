"""Options shared by the commands that work on the database directly (not over HTTP), and
how those commands read the server's settings.

The flags carry no ``envvar``: the ``STEWARD_*`` variables are read, and checked, by
:meth:`catalog.config.Settings.from_env` alone, with a flag over its variable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from catalog.config import Settings

#: The exit code of a setting that is not valid, as of a flag that is not (click's usage
#: errors exit with 2 too).
SETTINGS_EXIT_CODE = 2

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (or STEWARD_DATABASE_URL); default: SQLite under the storage root.",
    ),
]
StorageRoot = Annotated[
    Path | None,
    typer.Option(
        "--storage-root",
        help="Where the SQLite file, artifacts and the admin token live (or "
        "STEWARD_STORAGE_ROOT; default ./.steward).",
    ),
]


@contextmanager
def settings_errors() -> Iterator[None]:
    """End the command on a :class:`~catalog.config.SettingsError`: its one line on stderr
    and exit code 2, never a traceback (the server's libraries are imported only here, in
    the commands that need them)."""
    from catalog.config import SettingsError

    try:
        yield
    except SettingsError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(SETTINGS_EXIT_CODE) from None


def load_settings(**flags: object) -> Settings:
    """The server's settings as ``server``, ``db`` and ``audit verify|checkpoint`` read them:
    the ``STEWARD_*`` variables with the flags given (``None``: not given) over them."""
    from catalog.config import Settings

    with settings_errors():
        settings = Settings.from_env(**flags)
    return settings
