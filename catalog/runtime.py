"""The catalog's services as one typed value, built once by the composition root.

Request handlers, the SQL executor and the CLI's server command receive a
:class:`Runtime`; nothing is looked up by name. What the catalog needs of the packages
built on top of it (the model registry, for ``DROP MODEL`` and ``ALTER MODEL … SET
ALIAS``) is a protocol here, so the dependency still points one way: the composition
root hands the registry in, the catalog never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from catalog.access.authorizer import Authorizer, Caller
from catalog.access.grants import GrantService
from catalog.admission import StatementAdmission
from catalog.audit.group_commit import GroupCommitter
from catalog.audit.recorder import AuditRecorder
from catalog.audit.shared_walks import SharedWalks
from catalog.config import Settings
from catalog.data.table_data import TableDataService
from catalog.identity import IdentityService
from catalog.namespace import NamespaceService
from catalog.persistence.engine import Database
from catalog.store.factory import CatalogStores
from catalog.tags.service import TagService

if TYPE_CHECKING:  # built on the SQL compiler, whose package imports this module
    from catalog.row_access.functions import FunctionService
    from catalog.row_access.policies import PolicyService
    from catalog.row_access.table_access import RowAccessPolicies


class AliasView(Protocol):
    @property
    def alias(self) -> str: ...
    @property
    def version(self) -> int: ...


class RegistryHooks(Protocol):
    """The model registry as SQL statements use it."""

    def delete_model(self, full_name: str, force: bool) -> None: ...

    def set_alias(
        self, caller: Caller, model_full_name: str, alias: str, version: int
    ) -> tuple[AliasView, int | None]: ...

    def delete_alias(self, caller: Caller, model_full_name: str, alias: str) -> int: ...


class Background(Protocol):
    """A thread the service runs beside requests (policy listener, audit checkpoints)."""

    def stop(self) -> None: ...


@dataclass
class Runtime:
    """Everything a request handler may need."""

    settings: Settings
    db: Database
    #: The store implementation, picked once: handlers never name a concrete store.
    stores: CatalogStores
    authorizer: Authorizer
    identity: IdentityService
    namespace: NamespaceService
    grants: GrantService
    audit: AuditRecorder
    #: Writes the events of requests that changed nothing (reads, refusals), many per commit.
    audit_commits: GroupCommitter
    #: Rows of managed tables (feature tables).
    data: TableDataService
    #: Each caller's SQL statements in flight (``STEWARD_SQL_MAX_STATEMENTS_PER_USER``).
    statements: StatementAdmission
    #: Tags on securables and columns.
    tags: TagService
    #: SQL functions (FUNCTION securables).
    functions: FunctionService
    #: ABAC policies (CREATE POLICY).
    policies: PolicyService
    #: Tables' row filters and column masks, bound per caller for every read path.
    row_access: RowAccessPolicies
    #: The model registry, when the composition root installed one.
    registry: RegistryHooks | None = None
    #: Started after the services; stopped, newest first, at shutdown.
    background: list[Background] = field(default_factory=list)
    #: Walks of the audit chain for ``GET …/audit/verification``, one at a time, shared.
    audit_walks: SharedWalks[Any] = field(default_factory=SharedWalks)

    def stop_background(self) -> None:
        while self.background:
            self.background.pop().stop()
