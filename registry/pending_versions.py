"""Model versions left PENDING_REGISTRATION are deleted after a while.

A client that created a version and never finalized it (it crashed mid-upload, or gave
up) leaves a version number taken, a model that looks busy and files on disk. After
``STEWARD_PENDING_VERSION_SECONDS`` (a day by default) the server deletes such a version
and its files, with an audit event of the system (``expirePendingModelVersion``) written
in the same transaction as the deletion. Every replica sweeps; deleting a version another
one already deleted is a no-op (its ``NotFound`` is skipped).
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid

from catalog.audit.recorder import AuditScope, enter_scope, leave_scope
from catalog.logs import get_logger
from common.errors import InvalidParameter, NotFound
from registry.artifact_service import ArtifactService, artifacts_dir
from registry.model_registry import ModelRegistry

log = get_logger("steward.registry")
#: Who the audit log names for the deletions.
SYSTEM_USER = "system"
ACTION = "expirePendingModelVersion"


class PendingVersionSweeper(threading.Thread):
    def __init__(
        self,
        registry: ModelRegistry,
        artifacts: ArtifactService,
        max_age_seconds: float,
        interval_seconds: float | None = None,
    ) -> None:
        super().__init__(name="steward-pending-versions", daemon=True)
        self.registry = registry
        self.artifacts = artifacts
        self.max_age_seconds = max_age_seconds
        #: A sweep every tenth of the age allowed (at most every ten minutes).
        self.interval_seconds = interval_seconds or min(600.0, max(1.0, max_age_seconds / 10))
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_seconds):
            try:
                self.sweep()
            except Exception as exc:  # a database hiccup: the next round tries again
                log.warning("pending_version_sweep_failed", error=str(exc))

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=10)

    def sweep(self) -> list[tuple[str, int]]:
        """Delete what is stale now; the (model, version) pairs deleted."""
        cutoff = int((time.time() - self.max_age_seconds) * 1000)
        deleted: list[tuple[str, int]] = []
        for full_name, record in self.registry.stale_pending(cutoff):
            scope = AuditScope(
                request_id=uuid.uuid4().hex,
                user_name=SYSTEM_USER,
                action_name=ACTION,
                object_name=full_name,
                params={
                    "version": record.version,
                    "created_by": record.created_by,
                    "pending_seconds": int(time.time() - record.created_at / 1000),
                },
            )
            token = enter_scope(scope)
            try:
                self.registry.expire_pending(full_name, record.version)
            except (NotFound, InvalidParameter):
                continue  # another replica was first, or the client finalized meanwhile
            finally:
                leave_scope(token)
            shutil.rmtree(artifacts_dir(record, self.artifacts.storage_root), ignore_errors=True)
            deleted.append((full_name, record.version))
            log.info("pending_version_expired", model=full_name, version=record.version)
        return deleted
