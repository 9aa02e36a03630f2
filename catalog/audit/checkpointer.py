"""Writes a checkpoint of the audit chain every so often, and once more on shutdown."""

from __future__ import annotations

import threading

from sqlalchemy.exc import SQLAlchemyError

from catalog.audit.log import Anchor, write_checkpoint
from catalog.logs import get_logger
from catalog.persistence.engine import Database

log = get_logger("steward.audit")


def checkpoint_now(db: Database, key: bytes | None) -> Anchor | None:
    """One checkpoint in its own transaction; its anchor, or None when nothing changed."""
    with db.transaction() as session:
        return write_checkpoint(session, key)


class Checkpointer(threading.Thread):
    def __init__(self, db: Database, key: bytes | None, interval_s: float) -> None:
        super().__init__(name="steward-audit-checkpoints", daemon=True)
        self.db, self.key, self.interval_s = db, key, interval_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            self._once()

    def stop(self) -> None:
        """Stop the loop and write a last checkpoint."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=10)
        self._once()

    def _once(self) -> None:
        try:
            written = checkpoint_now(self.db, self.key)
        except SQLAlchemyError as exc:  # the next round will try again
            log.warning("audit_checkpoint_failed", error=str(exc))
            return
        if written is not None:
            # The digest is the anchor an auditor keeps outside the database (a log
            # pipeline does): see catalog.audit.log.Anchor.
            log.info(
                "audit_checkpoint",
                checkpoint=written.id,
                digest=written.digest,
                signed=self.key is not None,
            )
