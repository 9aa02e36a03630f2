"""Registered models and their versions (docs/registry.md, first points).

A registered model is a MODEL securable of the catalog namespace plus a
registry row holding its version counter; versions live only here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from catalog.access.authorizer import Caller
from catalog.audit.recorder import current_scope
from catalog.lineage import Edge, EdgeKind, model_version_node, record_edges, securable_node
from catalog.lineage.recording import table_nodes
from catalog.names import normalize_full_name
from catalog.namespace import NamespaceService, NewSecurable
from catalog.pagination import decode_token, encode_token, page_size
from catalog.persistence.engine import Database
from catalog.records import Page, SecurableRecord, new_id, now_ms
from catalog.tags.store import OBJECT, SqlTagStore, TagRecord
from common.errors import InvalidParameter, InvalidState, NotEmpty, NotFound
from common.model_safety import LoadPolicy
from policy.securables import SecurableType
from registry import artifact_files as artifacts
from registry.model_store import AliasRecord, RegistryStores, VersionRecord
from registry.version_cache import VersionCache
from registry.version_dependencies import Dependencies

MODEL = SecurableType.MODEL
PENDING = "PENDING_REGISTRATION"
READY = "READY"
FAILED = "FAILED_REGISTRATION"
#: Version numbers are stored as 32-bit integers; nothing beyond can exist.
MAX_VERSION = 2**31 - 1
#: MLflow's alias rules: a name, not "latest", not a version reference like "v3".
_ALIAS = re.compile(r"^[a-z_][a-z0-9_-]{0,254}$")
_VERSION_LIKE = re.compile(r"^v\d+$")


def validate_alias(alias: str) -> str:
    """The stored (lower-case) alias name, or InvalidParameter saying what is wrong."""
    name = alias.strip().lower() if isinstance(alias, str) else ""
    if not _ALIAS.match(name):
        raise InvalidParameter(
            f"alias '{alias}' is not valid: use letters, digits, '_' and '-', starting with a "
            "letter or '_', at most 255 characters"
        )
    if name == "latest" or _VERSION_LIKE.match(name):
        raise InvalidParameter(
            f"alias '{alias}' is reserved: 'latest' and 'v<number>' refer to versions"
        )
    return name


def _pending(model: SecurableRecord, record: VersionRecord) -> None:
    if record.status != PENDING:
        raise InvalidParameter(
            f"version {record.version} of '{model.full_name}' is {record.status}, "
            f"not {PENDING}; only a pending version can be finalized"
        )


def note_audit(**params: object) -> None:
    """Add what a registry change did (old and new alias targets …) to the request's event."""
    scope = current_scope()
    if scope is not None:
        scope.params.update(params)


class ModelRegistry:
    def __init__(
        self,
        db: Database,
        stores: RegistryStores,
        namespace: NamespaceService,
        storage_root: Path,
        policy: LoadPolicy | None = None,
        max_version_bytes: int | None = None,
    ) -> None:
        self.db = db
        self.stores = stores
        self.namespace = namespace
        self.storage_root = storage_root
        #: Versions by alias, kept until any version, alias or tag changes anywhere
        #: (the composition root connects it to the policy feed).
        self.versions = VersionCache()
        #: What finalize accepts (pickle or not, trusted skops types) and how much.
        self.policy = policy or LoadPolicy()
        self.max_version_bytes = max_version_bytes

    def _model_location(self, model_id: str) -> str:
        return (self.storage_root / "models" / model_id).as_uri()

    # -- models ---------------------------------------------------------------------

    def create_model(self, caller: Caller, full_name: str, comment: str | None) -> SecurableRecord:
        model_id = new_id()

        def add_registry_row(session: Session, record: SecurableRecord) -> None:
            self.stores.models(session).insert_model(record.id)

        new = NewSecurable(
            MODEL, full_name, comment, storage_location=self._model_location(model_id)
        )
        return self.namespace.create(caller, new, extra=add_registry_row, record_id=model_id)

    def get_model(self, full_name: str) -> SecurableRecord:
        return self.namespace.get(MODEL, full_name)

    def list_models(
        self,
        caller: Caller,
        catalog_name: str | None,
        schema_name: str | None,
        max_results: int | None,
        page_token: str | None,
        server_max: int,
    ) -> Page[SecurableRecord]:
        if catalog_name and schema_name:
            return self.namespace.list(
                caller, MODEL, f"{catalog_name}.{schema_name}", max_results, page_token, server_max
            )
        if catalog_name or schema_name:
            raise InvalidParameter("give both catalog_name and schema_name, or neither")
        return self.namespace.list_all(caller, MODEL, max_results, page_token, server_max)

    def update_model(
        self,
        caller: Caller,
        full_name: str,
        comment: str | None,
        new_name: str | None,
        owner: str | None,
    ) -> SecurableRecord:
        return self.namespace.update(
            caller, MODEL, full_name, comment=comment, new_name=new_name, owner=owner
        )

    def delete_model(self, full_name: str, force: bool) -> None:
        def refuse_if_versions(session: Session, record: SecurableRecord) -> None:
            if not force and self.stores.models(session).has_versions(record.id):
                raise NotEmpty(
                    f"MODEL '{record.full_name}' has versions; delete them first "
                    "or delete with force=true"
                )

        self.namespace.delete(MODEL, full_name, force=True, before_delete=refuse_if_versions)

    # -- versions -------------------------------------------------------------------

    def create_version(
        self,
        caller: Caller,
        model_full_name: str,
        source: str,
        run_id: str | None,
        comment: str | None,
        tags: dict[str, str] | None = None,
        dependencies: Dependencies | None = None,
    ) -> tuple[SecurableRecord, VersionRecord]:
        """A new PENDING_REGISTRATION version with the next number. Declared dependencies
        (training tables, feature lookups) must name tables the caller can see; they become
        lineage edges in the same transaction."""
        if not source:
            raise InvalidParameter("source must be a non-empty string")
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            store = self.stores.models(session)
            tables = self._dependency_tables(session, caller, dependencies)
            number = store.next_version(model.id)
            location = f"{model.storage_location}/versions/{number}"
            record = VersionRecord(
                id=new_id(),
                model_id=model.id,
                version=number,
                source=source,
                status=PENDING,
                storage_location=location,
                created_at=now_ms(),
                created_by=caller.name,
                run_id=run_id,
                comment=comment,
                dependencies=dependencies.to_json() if dependencies else None,
            )
            store.insert_version(record)
            for key, value in (tags or {}).items():
                store.set_tag(record.id, key, value)
            record.tags = dict(sorted((tags or {}).items()))
            if dependencies:
                nodes = table_nodes(self.stores.namespace(session), tables)
                record_edges(session, dependencies.edges(nodes, model, number))
        return model, record

    def _dependency_tables(
        self, session: Session, caller: Caller, dependencies: Dependencies | None
    ) -> dict[str, SecurableRecord]:
        if not dependencies:
            return {}
        store = self.stores.namespace(session)
        names = dependencies.table_names()
        found = store.get_many(names)
        tables: dict[str, SecurableRecord] = {}
        for name in names:
            record = found.get(name)
            visible = record is not None and record.securable_type is SecurableType.TABLE
            if visible:
                chain = self.namespace.authorizer.resolve_chain(name, SecurableType.TABLE, store)
                visible = self.namespace.authorizer.can_see_all_children(caller, chain[:-1]) or (
                    self.namespace.authorizer.can_see(caller, chain[-1])
                )
            if not visible or record is None:
                raise NotFound(f"TABLE '{name}' (a declared dependency) does not exist")
            tables[name] = record
        return tables

    def get_version(
        self, model_full_name: str, version: int, *, decorated: bool = True
    ) -> tuple[SecurableRecord, VersionRecord]:
        """The model and its version; ``decorated=False`` leaves out the version's tags and
        aliases (two queries) for callers that need only its status and files."""
        with self.db.read() as session:
            model = self._model_in(session, model_full_name)
            record = self._version_in(session, model, version)
            if decorated:
                self.stores.models(session).decorate([record])
            return model, record

    def list_versions(
        self,
        model_full_name: str,
        max_results: int | None,
        page_token: str | None,
        server_max: int,
    ) -> tuple[SecurableRecord, Page[VersionRecord]]:
        limit = page_size(max_results, server_max)
        after_token = decode_token(page_token)
        try:
            after = int(after_token) if after_token is not None else None
        except ValueError as exc:
            raise InvalidParameter("page_token is not a valid model version page token") from exc
        if after is not None and not 0 <= after <= MAX_VERSION:
            raise InvalidParameter("page_token is not a valid model version page token")
        with self.db.read() as session:
            model = self._model_in(session, model_full_name)
            store = self.stores.models(session)
            rows = store.decorate(store.list_versions(model.id, after, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        token = encode_token(str(rows[-1].version)) if more else None
        return model, Page(rows, token)

    def update_version(
        self,
        caller: Caller,
        model_full_name: str,
        version: int,
        comment: str | None,
        set_tags: dict[str, str] | None = None,
        delete_tags: list[str] | None = None,
    ) -> tuple[SecurableRecord, VersionRecord]:
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            record = self._version_in(session, model, version)
            store = self.stores.models(session)
            if comment is not None:
                record.comment = comment
            for key in delete_tags or []:
                store.delete_tag(record.id, key)
            for key, value in (set_tags or {}).items():
                store.set_tag(record.id, key, value)
            record.updated_at, record.updated_by = now_ms(), caller.name
            store.update_version(record)
            store.decorate([record])
        return model, record

    def finalize_version(
        self, caller: Caller, model_full_name: str, version: int
    ) -> tuple[SecurableRecord, VersionRecord]:
        # Inspecting artifacts (hashing every file, reading the skops type list) can take a
        # while: do it before the write transaction, then re-check the version inside it.
        with self.db.read() as session:
            model = self._model_in(session, model_full_name)
            pending = self._version_in(session, model, version)
            _pending(model, pending)
            location = pending.storage_location
        summary: artifacts.ArtifactSummary | None = None
        failure: str | None = None
        try:
            summary = artifacts.inspect(
                artifacts.local_path(location, self.storage_root),
                self.policy,
                self.max_version_bytes,
            )
        except artifacts.InvalidArtifacts as exc:
            failure = str(exc)
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            record = self._version_in(session, model, version)
            _pending(model, record)
            if summary is not None and record.artifact_manifest:
                failure = artifacts.differences(record.artifact_manifest, summary.manifest)
                summary = None if failure else summary
            if summary is None:
                record.status, record.status_message = FAILED, failure
            else:
                record.status, record.status_message = READY, None
                record.signature = summary.signature
                record.artifact_digest, record.artifact_size = summary.digest, summary.size
                record.artifact_manifest = summary.manifest
            record.updated_at, record.updated_by = now_ms(), caller.name
            store = self.stores.models(session)
            store.update_version(record)
            store.decorate([record])
            note_audit(status=record.status, status_message=record.status_message)
        return model, record

    def record_uploads(
        self,
        model_full_name: str,
        version: int,
        entries: list[tuple[str, int, str]],
        place: Callable[[], None] = lambda: None,
    ) -> None:
        """Remember what HTTP uploads stored (path, size, SHA-256 of each file) so that
        finalize can check the files against them. Kept in the version's manifest column
        while it is pending; finalize replaces it with the manifest of what it registered.
        ``place`` puts the files where they belong once the version is known to be pending,
        under the model's lock: a finalize cannot slip in between the check and the files
        landing. The request's audit event lists the files."""
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            store = self.stores.models(session)
            store.lock_model(model.id)  # uploads of one version write the column in turn
            record = self._version_in(session, model, version)
            if record.status != PENDING:
                raise InvalidState(
                    f"version {version} of '{model.full_name}' is {record.status}; files can "
                    f"be uploaded only while it is {PENDING}"
                )
            place()
            uploaded = {
                path: (path, size, digest)
                for path, size, digest in artifacts.parse_manifest(record.artifact_manifest or "[]")
            }
            uploaded.update((entry[0], entry) for entry in entries)
            record.artifact_manifest = artifacts.manifest_json(sorted(uploaded.values()))
            store.update_version(record)
            note_audit(files=[{"path": p, "size": n, "sha256": d} for p, n, d in entries])

    def stale_pending(
        self, created_before: int, limit: int = 100
    ) -> list[tuple[str, VersionRecord]]:
        """Versions left PENDING_REGISTRATION since before ``created_before`` (epoch ms)."""
        with self.db.read() as session:
            return self.stores.models(session).stale_pending(created_before, limit)

    def expire_pending(self, model_full_name: str, version: int) -> None:
        """Delete a version that is still PENDING_REGISTRATION, checked in the deleting
        transaction: one finalized meanwhile is kept (InvalidParameter, nothing written)."""
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            record = self._version_in(session, model, version)
            _pending(model, record)
            store = self.stores.models(session)
            store.lock_model(model.id)
            store.delete_aliases_of(record.id)
            store.delete_version(record.id)

    def delete_version(self, model_full_name: str, version: int) -> list[str]:
        """Delete a version and every alias pointing at it; return those aliases."""
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            record = self._version_in(session, model, version)
            store = self.stores.models(session)
            store.lock_model(model.id)
            dropped = store.delete_aliases_of(record.id)
            store.delete_version(record.id)
            note_audit(dropped_aliases=dropped)
        return dropped

    # -- aliases --------------------------------------------------------------------

    def set_alias(
        self, caller: Caller, model_full_name: str, alias: str, version: int
    ) -> tuple[AliasRecord, int | None]:
        """Point ``alias`` at ``version`` (creating or moving it) in one transaction; return
        the alias and the version it pointed at before (None: it is new)."""
        name = validate_alias(alias)
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            store = self.stores.models(session)
            store.lock_model(model.id)
            target = self._version_in(session, model, version)
            if target.status != READY:
                raise InvalidParameter(
                    f"version {version} of '{model.full_name}' is {target.status}; only a "
                    f"{READY} version can hold an alias"
                )
            previous = store.get_alias(model.id, name)
            at = now_ms()
            store.put_alias(model.id, name, target, caller.name, at)
            old = previous.version if previous else None
            note_audit(alias=name, version=version, previous_version=old)
            record_edges(
                session,
                [
                    Edge(
                        model_version_node(model, version),
                        securable_node(model),
                        EdgeKind.ALIAS,
                        name,
                    )
                ],
            )
        return AliasRecord(name, version, target.id, at, caller.name), old

    def delete_alias(self, caller: Caller, model_full_name: str, alias: str) -> int:
        """Remove an alias; return the version it pointed at."""
        name = validate_alias(alias)
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            store = self.stores.models(session)
            store.lock_model(model.id)
            previous = store.get_alias(model.id, name)
            if previous is None:
                raise NotFound(f"alias '{name}' of MODEL '{model.full_name}' does not exist")
            store.delete_alias(model.id, name)
            note_audit(alias=name, previous_version=previous.version)
        return previous.version

    def get_by_alias(
        self, model_full_name: str, alias: str
    ) -> tuple[SecurableRecord, VersionRecord]:
        name = validate_alias(alias)
        with self.db.read() as session:
            model = self._model_in(session, model_full_name)

        def read() -> VersionRecord | None:
            with self.db.read() as session:
                store = self.stores.models(session)
                found = store.get_alias(model.id, name)
                if found is None:
                    return None
                record = self._version_in(session, model, found.version)
                store.decorate([record])
                return record

        record = self.versions.by_alias(model.id, name, read)
        if record is None:
            raise NotFound(f"alias '{name}' of MODEL '{model.full_name}' does not exist")
        return model, record

    def cached_by_alias(
        self, model_full_name: str, alias: str
    ) -> tuple[list[SecurableRecord], VersionRecord] | None:
        """:meth:`get_by_alias` from memory alone — the model's securable chain (catalog,
        schema, model) from the namespace cache and the version from :attr:`versions` —
        or None when anything is not kept (nothing is read). For a route on the event
        loop: a load by alias asks for the alias first, and it is mostly kept."""
        chain = self.namespace.authorizer.cached_chain(model_full_name, MODEL)
        if chain is None:
            return None
        record = self.versions.peek(chain[-1].id, validate_alias(alias))
        return (chain, record) if record is not None else None

    def model_details(
        self, model_full_name: str, *, with_tags: bool = False
    ) -> tuple[SecurableRecord, list[AliasRecord], list[TagRecord]]:
        """The model, its aliases and (``with_tags``) its tags, in one read. For a caller
        the route's guard let see the model: its tags are shown to whoever sees it."""
        with self.db.read() as session:
            model = self._model_in(session, model_full_name)
            aliases = self.stores.models(session).aliases_of(model.id)
            tags = SqlTagStore(session).list(model.id, OBJECT) if with_tags else []
            return model, aliases, tags

    # -- helpers --------------------------------------------------------------------

    def _model_in(self, session: Session, full_name: str) -> SecurableRecord:
        name = normalize_full_name(full_name, MODEL)
        model = self.namespace.find(self.stores.namespace(session), MODEL, name)
        if model is None:
            raise NotFound(f"MODEL '{name}' does not exist")
        return model

    def _version_in(self, session: Session, model: SecurableRecord, version: int) -> VersionRecord:
        found = (
            self.stores.models(session).get_version(model.id, version)
            if 1 <= version <= MAX_VERSION
            else None
        )
        if found is None:
            raise NotFound(f"version {version} of MODEL '{model.full_name}' does not exist")
        return found
