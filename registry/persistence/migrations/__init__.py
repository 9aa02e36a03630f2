"""The registry's Alembic revisions (its own tables); the composition root passes
:data:`VERSIONS` beside the catalog's when it upgrades the database."""

from pathlib import Path

VERSIONS = Path(__file__).parent / "versions"
