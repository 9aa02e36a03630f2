"""Creating, replacing, dropping and listing ABAC policies (the caller is authorized
already: ``MANAGE`` on the object the policy is on, ``EXECUTE`` on its function;
docs/row-access.md)."""

from __future__ import annotations

from dataclasses import replace

from catalog.access.authorizer import Caller
from catalog.namespace import NamespaceService
from catalog.persistence.engine import Database
from catalog.records import SecurableRecord, now_ms
from catalog.row_access.policy_store import PolicyRecord, SqlPolicyStore
from catalog.store.factory import CatalogStores
from common.errors import AlreadyExists, NotFound


class PolicyService:
    def __init__(self, db: Database, stores: CatalogStores, namespace: NamespaceService) -> None:
        self.db = db
        self.stores = stores
        self.namespace = namespace

    def put(
        self, caller: Caller, on: SecurableRecord, policy: PolicyRecord, *, replace_existing: bool
    ) -> PolicyRecord:
        """A new policy on ``on``; with ``replace_existing``, the one of that name there is
        redefined (keeping its creation), else a name in use is an error."""
        now = now_ms()
        record = replace(
            policy,
            securable_id=on.id,
            on_name=on.full_name,
            on_type=on.securable_type.value,
            created_at=now,
            created_by=caller.name,
            updated_at=now,
            updated_by=caller.name,
        )
        with self.db.transaction() as session:
            store = SqlPolicyStore(session)
            exists = any(
                p.name == policy.name
                for p in store.on(on.id, on.full_name, on.securable_type.value)
            )
            if exists and not replace_existing:
                raise AlreadyExists(
                    f"POLICY '{policy.name}' already exists on {on.securable_type.value} "
                    f"'{on.full_name}'"
                )
            return store.put(record)

    def drop(self, on: SecurableRecord, name: str) -> None:
        with self.db.transaction() as session:
            if not SqlPolicyStore(session).remove(on.id, name):
                raise NotFound(
                    f"POLICY '{name}' does not exist on {on.securable_type.value} '{on.full_name}'"
                )

    def on(self, on: SecurableRecord) -> list[PolicyRecord]:
        with self.db.read() as session:
            return SqlPolicyStore(session).on(on.id, on.full_name, on.securable_type.value)

    def everywhere(self) -> list[PolicyRecord]:
        with self.db.read() as session:
            return SqlPolicyStore(session).everywhere()
