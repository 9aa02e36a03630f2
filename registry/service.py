"""Registered models and their versions (SPEC §9, first points).

A registered model is a MODEL securable of the catalog namespace plus a
registry row holding its version counter; versions live only here.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from catalog.authz import Caller
from catalog.errors import InvalidParameter, NotEmpty, NotFound
from catalog.names import normalize_full_name
from catalog.namespace import NamespaceService, NewSecurable
from catalog.pagination import decode_token, encode_token, page_size
from catalog.persistence.engine import Database
from catalog.records import Page, SecurableRecord, new_id, now_ms
from catalog.store.sql import SqlNamespaceStore
from policy.securables import SecurableType
from registry.store import SqlModelStore, VersionRecord

MODEL = SecurableType.MODEL
PENDING = "PENDING_REGISTRATION"
READY = "READY"
FAILED = "FAILED_REGISTRATION"
#: Version numbers are stored as 32-bit integers; nothing beyond can exist.
MAX_VERSION = 2**31 - 1


class ModelRegistry:
    def __init__(self, db: Database, namespace: NamespaceService, storage_root: Path) -> None:
        self.db = db
        self.namespace = namespace
        self.storage_root = storage_root

    def _model_location(self, model_id: str) -> str:
        return (self.storage_root / "models" / model_id).as_uri()

    # -- models ---------------------------------------------------------------------

    def create_model(self, caller: Caller, full_name: str, comment: str | None) -> SecurableRecord:
        model_id = new_id()

        def add_registry_row(session: Session, record: SecurableRecord) -> None:
            SqlModelStore(session).insert_model(record.id)

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
            if not force and SqlModelStore(session).has_versions(record.id):
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
    ) -> tuple[SecurableRecord, VersionRecord]:
        if not source:
            raise InvalidParameter("source must be a non-empty string")
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            store = SqlModelStore(session)
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
            )
            store.insert_version(record)
        return model, record

    def get_version(
        self, model_full_name: str, version: int
    ) -> tuple[SecurableRecord, VersionRecord]:
        with self.db.read() as session:
            model = self._model_in(session, model_full_name)
            return model, self._version_in(session, model, version)

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
            rows = SqlModelStore(session).list_versions(model.id, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        token = encode_token(str(rows[-1].version)) if more else None
        return model, Page(rows, token)

    def update_version(
        self, caller: Caller, model_full_name: str, version: int, comment: str | None
    ) -> tuple[SecurableRecord, VersionRecord]:
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            record = self._version_in(session, model, version)
            if comment is not None:
                record.comment = comment
            record.updated_at, record.updated_by = now_ms(), caller.name
            SqlModelStore(session).update_version(record)
        return model, record

    def finalize_version(
        self, caller: Caller, model_full_name: str, version: int
    ) -> tuple[SecurableRecord, VersionRecord]:
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            record = self._version_in(session, model, version)
            if record.status != PENDING:
                raise InvalidParameter(
                    f"version {version} of '{model.full_name}' is {record.status}, "
                    f"not {PENDING}; only a pending version can be finalized"
                )
            record.status = READY
            record.updated_at, record.updated_by = now_ms(), caller.name
            SqlModelStore(session).update_version(record)
        return model, record

    def delete_version(self, model_full_name: str, version: int) -> None:
        with self.db.transaction() as session:
            model = self._model_in(session, model_full_name)
            record = self._version_in(session, model, version)
            SqlModelStore(session).delete_version(record.id)

    # -- helpers --------------------------------------------------------------------

    @staticmethod
    def _model_in(session: Session, full_name: str) -> SecurableRecord:
        name = normalize_full_name(full_name, MODEL)
        model = SqlNamespaceStore(session).get(MODEL, name)
        if model is None:
            raise NotFound(f"MODEL '{name}' does not exist")
        return model

    @staticmethod
    def _version_in(session: Session, model: SecurableRecord, version: int) -> VersionRecord:
        found = (
            SqlModelStore(session).get_version(model.id, version)
            if 1 <= version <= MAX_VERSION
            else None
        )
        if found is None:
            raise NotFound(f"version {version} of MODEL '{model.full_name}' does not exist")
        return found
