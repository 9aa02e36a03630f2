"""Alembic environment: run migrations online against the configured URL."""

from __future__ import annotations

from alembic import context

from catalog.persistence.engine import make_engine
from catalog.persistence.schema import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            # SQLite runs DDL in transactions too. As one transaction (BEGIN IMMEDIATE on
            # our writer engine) the whole upgrade holds the write lock from reading the
            # version table to the last revision, so a server's workers starting together
            # migrate once; per-revision transactions let two of them both see it empty.
            transactional_ddl=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas starting together must not run the same migration twice.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7274201)")
            context.run_migrations()
    engine.dispose()


run_migrations_online()
