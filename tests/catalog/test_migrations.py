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


def differences_from_declared(database_url: str) -> list[object]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()


def test_migrated_database_matches_the_declared_schema(database_url: str) -> None:
    upgrade_database(database_url)
    assert differences_from_declared(database_url) == []


def _upgrade_after(start_at: float, database_url: str) -> None:
    import time

    time.sleep(max(0.0, start_at - time.time()))
    upgrade_database(database_url)


def test_processes_migrating_one_empty_database_at_once_all_succeed(database_url: str) -> None:
    """A server's workers (SQLite) and replicas (PostgreSQL) all migrate as they start.

    On SQLite the migration ran one transaction per revision, so two processes both read
    an empty version table and the second one's CREATE TABLE failed ("already exists"),
    killing a worker. Now the whole upgrade is one write transaction on either backend.
    """
    import multiprocessing
    import time

    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0  # every process imported and waiting when it begins
    processes = [
        context.Process(target=_upgrade_after, args=(start_at, database_url)) for _ in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    assert differences_from_declared(database_url) == []
