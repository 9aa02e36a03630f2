"""The migrations build exactly the schema the code declares, on both backends.

``catalog/persistence/schema.py`` and ``registry/persistence/schema.py`` describe the tables
the code queries; the Alembic migrations are what a database actually gets. A migration
that forgets an index the models declare (or the reverse) would pass every functional test
and only show as a slow query, so the two are compared with Alembic's own autogenerate diff.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import registry.persistence.schema  # noqa: F401  (registers the registry's tables on Base.metadata)
from catalog.persistence.schema import Base
from steward.app import upgrade_database


def test_migrated_database_matches_the_declared_schema(database_url: str) -> None:
    upgrade_database(database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
