"""Server settings, read from the environment (docs/running.md) and overridable by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_MAX_ARTIFACT_BYTES = 1 << 30
DEFAULT_MAX_VERSION_ARTIFACT_BYTES = 4 << 30
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Settings:
    storage_root: Path = field(default_factory=lambda: Path(".steward").resolve())
    database_url: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    admin_token: str | None = None
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = 1 << 20
    #: "json": one JSON object per line; "console": for people; "auto": console on a terminal.
    log_format: str = "auto"
    log_level: str = "info"
    #: Whether reads of metadata (GET routes, SHOW/DESCRIBE) write audit events; reads of
    #: data and models, changes, denials and failures always do.
    audit_metadata_reads: bool = True
    #: HMAC key that signs audit checkpoints; kept outside the database on purpose.
    audit_key: bytes | None = field(default=None, repr=False)
    #: Seconds between automatic checkpoints of the audit chain (0: only on shutdown).
    audit_checkpoint_seconds: float = 60.0
    #: Largest total size of a request's headers, in bytes (431 above it, before the token
    #: is looked at).
    max_header_bytes: int = 16 << 10
    #: Largest model artifact file accepted by upload, in bytes.
    max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES
    #: Largest total of one model version's artifacts, in bytes (checked on upload and at
    #: finalize).
    max_version_artifact_bytes: int = DEFAULT_MAX_VERSION_ARTIFACT_BYTES
    #: Budgets of one SQL statement (docs/sql.md, limits), checked before the expensive
    #: work: characters of text, select items of a query (stars counted as the columns they
    #: stand for), and nodes of a query's syntax tree.
    sql_max_chars: int = 32_768
    sql_max_select_items: int = 256
    sql_max_query_nodes: int = 2_000
    #: Accept pickle/cloudpickle model artifacts at finalize (they run code when loaded).
    allow_pickle: bool = False
    #: Types trusted in skops files beyond Steward's built-in allow-list.
    trusted_types: tuple[str, ...] = ()
    #: Budgets of one OpenLineage event (docs/lineage.md), checked before any work: inputs
    #: and outputs listed, column-lineage input fields, and edges (inputs × outputs plus
    #: column-lineage input fields).
    lineage_max_inputs: int = 100
    lineage_max_outputs: int = 100
    lineage_max_column_fields: int = 1000
    lineage_max_edges: int = 2000

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.storage_root / 'steward.db'}"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        settings = cls(
            storage_root=Path(env.get("STEWARD_STORAGE_ROOT", ".steward")).resolve(),
            database_url=env.get("STEWARD_DATABASE_URL") or None,
            host=env.get("STEWARD_HOST", DEFAULT_HOST),
            port=int(env.get("STEWARD_PORT", str(DEFAULT_PORT))),
            admin_token=env.get("STEWARD_ADMIN_TOKEN") or None,
            max_body_bytes=int(env.get("STEWARD_MAX_BODY_BYTES", str(1 << 20))),
            log_format=env.get("STEWARD_LOG_FORMAT", "auto"),
            log_level=env.get("STEWARD_LOG_LEVEL", "info"),
            audit_metadata_reads=env.get("STEWARD_AUDIT_METADATA_READS", "1").lower()
            not in ("0", "false", "no", "off"),
            audit_key=audit_key_from_env(env),
            audit_checkpoint_seconds=float(env.get("STEWARD_AUDIT_CHECKPOINT_SECONDS", "60")),
            max_header_bytes=int(env.get("STEWARD_MAX_HEADER_BYTES", str(cls.max_header_bytes))),
            max_artifact_bytes=int(
                env.get("STEWARD_MAX_ARTIFACT_BYTES", str(DEFAULT_MAX_ARTIFACT_BYTES))
            ),
            max_version_artifact_bytes=int(
                env.get(
                    "STEWARD_MAX_VERSION_ARTIFACT_BYTES", str(DEFAULT_MAX_VERSION_ARTIFACT_BYTES)
                )
            ),
            sql_max_chars=int(env.get("STEWARD_SQL_MAX_CHARS", str(cls.sql_max_chars))),
            sql_max_select_items=int(
                env.get("STEWARD_SQL_MAX_SELECT_ITEMS", str(cls.sql_max_select_items))
            ),
            sql_max_query_nodes=int(
                env.get("STEWARD_SQL_MAX_QUERY_NODES", str(cls.sql_max_query_nodes))
            ),
            allow_pickle=env.get("STEWARD_ALLOW_PICKLE", "0").strip().lower() not in _FALSE,
            trusted_types=tuple(
                t.strip() for t in env.get("STEWARD_TRUSTED_TYPES", "").split(",") if t.strip()
            ),
            lineage_max_inputs=int(
                env.get("STEWARD_LINEAGE_MAX_INPUTS", str(cls.lineage_max_inputs))
            ),
            lineage_max_outputs=int(
                env.get("STEWARD_LINEAGE_MAX_OUTPUTS", str(cls.lineage_max_outputs))
            ),
            lineage_max_column_fields=int(
                env.get("STEWARD_LINEAGE_MAX_COLUMN_FIELDS", str(cls.lineage_max_column_fields))
            ),
            lineage_max_edges=int(env.get("STEWARD_LINEAGE_MAX_EDGES", str(cls.lineage_max_edges))),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        if "storage_root" in given:
            given["storage_root"] = Path(str(given["storage_root"])).resolve()
        return replace(settings, **given)


def audit_key_from_env(env: os._Environ[str] | dict[str, str]) -> bytes | None:
    """``STEWARD_AUDIT_KEY`` (the key itself) or ``STEWARD_AUDIT_KEY_FILE`` (a file holding it)."""
    if env.get("STEWARD_AUDIT_KEY"):
        return env["STEWARD_AUDIT_KEY"].encode()
    if env.get("STEWARD_AUDIT_KEY_FILE"):
        return Path(env["STEWARD_AUDIT_KEY_FILE"]).read_bytes().strip()
    return None
