"""The composition root: the one place that wires policy, catalog and registry together.

It sits on top of the dependency graph (``common`` ← ``policy`` ← ``catalog`` ←
``registry`` ← ``steward``), so it may import them all; nothing imports it but the CLI's
``server`` and ``db`` commands. It picks the store implementation, builds the catalog's
:class:`~catalog.runtime.Runtime` and the registry's services, hands the registry to the
catalog as its :class:`~catalog.runtime.RegistryHooks`, and builds the HTTP app
(``create_app``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware import Middleware

from catalog.access.authorizer import Authorizer
from catalog.access.cache_sync import drop_on_namespace_changes
from catalog.access.casbin_adapter import load_engine
from catalog.access.change_beacon import ChangeBeacon
from catalog.access.grants import GrantService
from catalog.access.replica_sync import ChangeLogFollower, PolicyListener
from catalog.admission import StatementAdmission
from catalog.audit.checkpointer import Checkpointer
from catalog.audit.group_commit import GroupCommitter
from catalog.audit.recorder import AuditRecorder
from catalog.config import Settings, SettingsError
from catalog.data.table_data import TableDataService
from catalog.http.app import SwaggerAssets, build_app
from catalog.http.routes import statements as statement_routes
from catalog.identity import IdentityService
from catalog.logs import configure_logging, get_logger
from catalog.namespace import NamespaceService
from catalog.persistence import migrate
from catalog.persistence.engine import Database
from catalog.persistence.root_lock import RootLock
from catalog.row_access.abac import PolicyIndex
from catalog.row_access.functions import FunctionService
from catalog.row_access.policies import PolicyService
from catalog.row_access.table_access import RowAccessPolicies
from catalog.runtime import Runtime
from catalog.sql import statement_results
from catalog.store.namespace_cache import NamespaceCache
from catalog.tags.service import TagService
from common.model_safety import LoadPolicy
from policy.enforcer import PolicyEngine
from registry.artifact_service import ArtifactService
from registry.http.routes import artifacts as artifact_routes
from registry.http.routes import models as model_routes
from registry.http.routes import serving as serving_routes
from registry.model_registry import ModelRegistry
from registry.model_store import SqlRegistryStores
from registry.pending_versions import PendingVersionSweeper
from registry.persistence.migrations import VERSIONS as REGISTRY_VERSIONS
from registry.services import RegistryServices
from registry.serving.cache import ModelCache
from registry.serving.endpoint_service import ServingService
from registry.version_cache import drop_on_registry_changes
from steward.console.app import (
    FAVICON,
    SWAGGER_CSS,
    SWAGGER_JS,
    ConsoleMiddleware,
    build_console,
)
from steward.supervision import end_with_supervisor

#: The registry's HTTP routers, after the catalog's.
REGISTRY_ROUTERS = (
    model_routes.router,
    artifact_routes.router,
    serving_routes.router,
    serving_routes.invocations,
)
log = get_logger("steward.server")
#: The advisory lock key of the first start (the migration's is 7274201).
BOOTSTRAP_LOCK = 7274202


def upgrade_database(database_url: str) -> None:
    """Apply every package's migrations (all Alembic heads)."""
    migrate.upgrade(database_url, [REGISTRY_VERSIONS])


def build_runtime(settings: Settings) -> tuple[Runtime, RegistryServices]:
    db = Database(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)
    engine = PolicyEngine()
    authorizer = Authorizer(engine, db.backend)
    authorizer.feed.attach(db)  # every transaction's policy ops applied as it commits
    stores = SqlRegistryStores()
    authorizer.cache = NamespaceCache(db, stores)
    drop_on_namespace_changes(
        db, authorizer.feed, authorizer.cache.invalidate, authorizer.cache.forget_added
    )
    namespace = NamespaceService(db, authorizer, stores)
    functions = FunctionService(db, stores, namespace)

    def generation() -> int | None:
        return authorizer.cache.generation if authorizer.cache else None

    runtime = Runtime(
        settings=settings,
        db=db,
        stores=stores,
        authorizer=authorizer,
        identity=IdentityService(db, authorizer.feed, stores),
        namespace=namespace,
        grants=GrantService(db, authorizer, stores),
        audit=AuditRecorder(db, settings.audit_metadata_reads),
        audit_commits=GroupCommitter(
            db,
            write_payloads=statement_results.write_kept_answers,
            name="steward-request-audit",
            on_connection=True,
            payload_riders=statement_results.riders_of,
        ),
        data=TableDataService(db, namespace, settings.max_rows_per_write),
        statements=StatementAdmission(settings.sql_max_statements_per_user),
        tags=TagService(db, stores, authorizer),
        functions=functions,
        policies=PolicyService(db, stores, namespace),
        row_access=RowAccessPolicies(
            functions.definition,
            generation=generation,
            policies=PolicyIndex(db, generation).for_table,
        ),
    )
    policy = LoadPolicy(
        allow_pickle=settings.allow_pickle,
        extra_trusted_types=frozenset(settings.trusted_types),
        max_expanded_bytes=settings.max_version_artifact_bytes,
    )
    models = ModelRegistry(
        db, stores, namespace, settings.storage_root, policy, settings.max_version_artifact_bytes
    )
    drop_on_registry_changes(db, authorizer.feed, models.versions)
    runtime.registry = models
    loaded = ModelCache(
        db, stores, settings.storage_root, settings.allow_pickle, settings.trusted_types
    )
    services = RegistryServices(
        models=models,
        artifacts=ArtifactService(
            models,
            settings.storage_root,
            settings.max_artifact_bytes,
            settings.max_version_artifact_bytes,
        ),
        serving=ServingService(db, stores, namespace, runtime.data, loaded, runtime.row_access),
    )
    return runtime, services


def prepare_storage_root(root: Path) -> None:
    """The storage root holds the database (feature rows, token digests, the audit log)
    and model artifacts: readable by the server's user only. Everything the process
    creates afterwards is private too (umask 077)."""
    os.umask(0o077)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)


def start(settings: Settings) -> tuple[Runtime, RegistryServices]:
    """Migrate, build the services and bootstrap the metastore and its first admin."""
    prepare_storage_root(settings.storage_root)
    lock = None
    if settings.resolved_database_url.startswith("sqlite"):
        lock = RootLock(settings.storage_root).acquire_or_join_parent()
    try:
        upgrade_database(settings.resolved_database_url)
        runtime, services = build_runtime(settings)
    except BaseException:
        if lock is not None:
            lock.stop()
        raise
    if lock is not None:
        runtime.background.append(lock)  # stopped last: released after everything else
    runtime.background.append(runtime.audit_commits)  # what is queued is written first
    runtime.background.append(services.serving)
    if settings.pending_version_seconds > 0:
        sweeper = PendingVersionSweeper(
            services.models, services.artifacts, settings.pending_version_seconds
        )
        sweeper.start()
        runtime.background.append(sweeper)
    # Replicas starting together on an empty database: one creates the metastore, the
    # system catalog and the first admin; the others then find them.
    with runtime.db.exclusive(BOOTSTRAP_LOCK):
        runtime.namespace.bootstrap()
        generated = runtime.identity.bootstrap_admin(settings.admin_token, settings.storage_root)
    engine = runtime.authorizer.engine
    if runtime.db.backend == "postgresql":
        # Listen before loading, so a change committed meanwhile is replayed, not lost.
        listener = PolicyListener(
            settings.resolved_database_url,
            engine,
            lambda: load_engine(runtime.db, engine),
            runtime.authorizer.feed.hooks,
            origin=runtime.authorizer.feed.origin,
        )
        listener.start_and_wait_listening()
        runtime.background.append(listener)
        load_engine(runtime.db, engine)
        listener.ready.set()
    else:
        # The other worker processes' changes arrive through the change log: note where it
        # ends before loading, so a change committed meanwhile is replayed, not lost.
        after = ChangeLogFollower.last_seq(runtime.db)
        load_engine(runtime.db, engine)
        follower = ChangeLogFollower(
            runtime.db,
            engine,
            after,
            ChangeBeacon(settings.storage_root),
            runtime.authorizer.feed.hooks,
        )
        runtime.authorizer.feed.follower = follower  # its own changes, in log order too
        follower.start()
        runtime.background.append(follower)
    if settings.audit_checkpoint_seconds > 0:
        checkpointer = Checkpointer(
            runtime.db, settings.audit_key, settings.audit_checkpoint_seconds
        )
        checkpointer.start()
        runtime.background.append(checkpointer)
    if generated is not None:
        # Printed once, to the terminal only: never through the logger.
        print(
            f"Steward bootstrap admin token (shown once, also saved to "
            f"{settings.storage_root / 'admin-token'}):\n{generated}",
            file=sys.stderr,
            flush=True,
        )
    return runtime, services


def shutdown(runtime: Runtime) -> None:
    """Stop the background threads (serving refreshes, checkpoints, the policy listener)
    and close the database pools."""
    runtime.stop_background()
    runtime.db.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The server's app. Without ``settings`` (``uvicorn --factory steward.app:create_app``)
    they are read from the environment, and one that is not valid ends the process as
    ``steward server`` does: one line on stderr and exit code 2, not uvicorn's traceback."""
    if settings is None:
        try:
            settings = Settings.from_env()
        except SettingsError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
    configure_logging(settings.log_format, settings.log_level)
    end_with_supervisor()
    runtime, services = start(settings)
    log.info(
        "started",
        database=runtime.db.backend,
        storage_root=str(settings.storage_root),
    )
    console = build_console()
    app = build_app(
        runtime,
        REGISTRY_ROUTERS,
        on_shutdown=lambda: shutdown(runtime),
        # Matched before the hundred others: scoring, then the SQL endpoint (trying every
        # route before it cost a SHOW statement a tenth of its CPU).
        first_routers=(serving_routes.invocations, statement_routes.router),
        front=(Middleware(ConsoleMiddleware, console=console),),
        swagger=SwaggerAssets(SWAGGER_JS, SWAGGER_CSS, FAVICON),
    )
    app.state.registry = services
    console.state.api_app = app  # the console's pages call the API through the whole app
    return app
