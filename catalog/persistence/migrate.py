"""Alembic driven from code: the server upgrades on start, ``steward db upgrade`` on demand.

Each package owns the migrations of its own tables (``catalog`` here,
``registry`` beside its code); the composition root passes every package's
folder, and Alembic upgrades all heads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

CATALOG_VERSIONS = Path(__file__).parent / "migrations" / "versions"


def alembic_config(database_url: str, version_locations: Sequence[Path]) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option(
        "version_locations", " ".join(str(p) for p in [CATALOG_VERSIONS, *version_locations])
    )
    cfg.set_main_option("path_separator", "space")
    # Alembic reads the URL through configparser, which treats '%' specially.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, version_locations: Sequence[Path] = ()) -> None:
    command.upgrade(alembic_config(database_url, version_locations), "heads")
