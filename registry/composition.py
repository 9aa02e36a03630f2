"""The composition root: the one place that wires policy, catalog and registry together.

It lives in ``registry`` because that package sits on top of the dependency
graph (``policy`` ← ``catalog`` ← ``registry``) and may import both others.
The HTTP app is built here (``create_app``); the CLI entry point
(``registry.cli.main``) builds its commands on top of it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import FastAPI

from catalog.audit.checkpointer import Checkpointer
from catalog.audit.recorder import AuditRecorder
from catalog.authz import Authorizer
from catalog.config import Settings
from catalog.data.service import TableDataService
from catalog.grants import GrantService
from catalog.http.app import build_app
from catalog.http.deps import Runtime
from catalog.identity import IdentityService
from catalog.logs import configure_logging, get_logger
from catalog.namespace import NamespaceService
from catalog.persistence import migrate
from catalog.persistence.engine import Database
from catalog.policy_adapter import load_engine
from catalog.policy_sync import PolicyListener
from policy.enforcer import PolicyEngine
from registry import artifact_routes
from registry import http as registry_http
from registry.artifact_store import ArtifactService
from registry.safety import LoadPolicy
from registry.service import ModelRegistry
from registry.serving import http as serving_http
from registry.serving.cache import ModelCache
from registry.serving.service import ServingService

REGISTRY_VERSIONS = Path(__file__).parent / "migrations" / "versions"
#: The registry's HTTP routers, after the catalog's.
REGISTRY_ROUTERS = (
    registry_http.router,
    artifact_routes.router,
    serving_http.router,
    serving_http.invocations,
)
log = get_logger("steward.server")


def upgrade_database(database_url: str) -> None:
    """Apply every package's migrations (all Alembic heads)."""
    migrate.upgrade(database_url, [REGISTRY_VERSIONS])


def build_runtime(settings: Settings) -> Runtime:
    db = Database(settings.resolved_database_url)
    engine = PolicyEngine()
    authorizer = Authorizer(engine, db.backend)
    namespace = NamespaceService(db, authorizer)
    runtime = Runtime(
        settings=settings,
        db=db,
        authorizer=authorizer,
        identity=IdentityService(db, authorizer.feed),
        namespace=namespace,
        grants=GrantService(db, authorizer),
        audit=AuditRecorder(db, settings.audit_metadata_reads),
        data=TableDataService(db, namespace),
    )
    policy = LoadPolicy(
        allow_pickle=settings.allow_pickle,
        extra_trusted_types=frozenset(settings.trusted_types),
        max_expanded_bytes=settings.max_version_artifact_bytes,
    )
    registry = ModelRegistry(
        db, namespace, settings.storage_root, policy, settings.max_version_artifact_bytes
    )
    runtime.extensions[registry_http.REGISTRY] = registry
    runtime.extensions[artifact_routes.ARTIFACTS] = ArtifactService(
        registry,
        settings.storage_root,
        settings.max_artifact_bytes,
        settings.max_version_artifact_bytes,
    )
    models = ModelCache(db, settings.storage_root, settings.allow_pickle, settings.trusted_types)
    runtime.extensions[serving_http.SERVING] = ServingService(db, namespace, runtime.data, models)
    return runtime


def start(settings: Settings) -> Runtime:
    """Migrate, build the services and bootstrap the metastore and its first admin."""
    settings.storage_root.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url)
    runtime = build_runtime(settings)
    runtime.namespace.bootstrap()
    generated = runtime.identity.bootstrap_admin(settings.admin_token, settings.storage_root)
    engine = runtime.authorizer.engine
    if runtime.db.backend == "postgresql":
        # Listen before loading, so a change committed meanwhile is replayed, not lost.
        listener = PolicyListener(
            settings.resolved_database_url, engine, lambda: load_engine(runtime.db, engine)
        )
        listener.start_and_wait_listening()
        runtime.extensions["policy_listener"] = listener
        load_engine(runtime.db, engine)
        listener.ready.set()
    else:
        load_engine(runtime.db, engine)
    if settings.audit_checkpoint_seconds > 0:
        checkpointer = Checkpointer(
            runtime.db, settings.audit_key, settings.audit_checkpoint_seconds
        )
        checkpointer.start()
        runtime.extensions["audit_checkpointer"] = checkpointer
    if generated is not None:
        # Printed once, to the terminal only: never through the logger.
        print(
            f"Steward bootstrap admin token (shown once, also saved to "
            f"{settings.storage_root / 'admin-token'}):\n{generated}",
            file=sys.stderr,
            flush=True,
        )
    return runtime


def shutdown(runtime: Runtime) -> None:
    """Stop the policy listener (if any) and close the database pools."""
    serving = runtime.extensions.get(serving_http.SERVING)
    if isinstance(serving, ServingService):
        serving.stop()
    checkpointer = runtime.extensions.get("audit_checkpointer")
    if isinstance(checkpointer, Checkpointer):
        checkpointer.stop()
    listener = runtime.extensions.get("policy_listener")
    if isinstance(listener, PolicyListener):
        listener.stop()
        listener.join(timeout=5)
    runtime.db.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    runtime = start(settings)
    log.info(
        "started",
        database=runtime.db.backend,
        storage_root=str(settings.storage_root),
    )
    return build_app(
        runtime,
        REGISTRY_ROUTERS,
        on_shutdown=lambda: shutdown(runtime),
        first_routers=(serving_http.invocations,),
    )
