"""Abstract stores: what the domain needs from persistence, nothing about how.

One store instance works inside one unit of work (a database transaction) so
that a change and everything recorded about it commit together.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

from catalog.records import (
    ColumnRecord,
    MetastoreRecord,
    PolicyFunctionRef,
    PrincipalRecord,
    SecurableRecord,
    TableDetailRecord,
    TokenRecord,
)
from policy.securables import SecurableType

#: ``session.info`` key the namespace store sets in a transaction that changes the namespace:
#: at commit every process drops what it cached of it (catalog/store/namespace_cache.py).
NAMESPACE_CHANGED_INFO = "steward_namespace_changed"
#: ``session.info`` key of a transaction that only added objects: the (full name, parent id)
#: of each. Caches forget just what an addition can make stale (the name, its parent's
#: pages of children) instead of everything; any other change sets
#: :data:`NAMESPACE_CHANGED_INFO` as well, and everything is dropped.
NAMESPACE_ADDED_INFO = "steward_namespace_added"


class NamespaceStore(ABC):
    def reads_committed(self) -> bool:
        """Whether this store reads in a read-only transaction, which may be answered from
        the namespace cache (a write transaction sees its own changes and must not be)."""
        return False

    @abstractmethod
    def get_metastore(self) -> MetastoreRecord | None: ...

    @abstractmethod
    def insert_metastore(self, record: MetastoreRecord) -> None: ...

    @abstractmethod
    def get(self, securable_type: SecurableType, full_name: str) -> SecurableRecord | None: ...

    @abstractmethod
    def get_by_id(self, securable_type: SecurableType, securable_id: str) -> SecurableRecord | None:
        """The object of this type with this id (Databricks addresses some objects by id)."""

    @abstractmethod
    def get_by_full_name(self, full_name: str) -> SecurableRecord | None:
        """The object of any namespace type with this full name (tables and models share names)."""

    @abstractmethod
    def find_by_id(self, securable_id: str) -> SecurableRecord | None:
        """The object with that id, of whatever type."""

    @abstractmethod
    def get_many(self, full_names: Iterable[str]) -> dict[str, SecurableRecord]: ...

    @abstractmethod
    def insert(self, record: SecurableRecord) -> None:
        """Insert; raises :class:`common.errors.AlreadyExists` if the name is taken."""

    @abstractmethod
    def insert_child(
        self,
        record: SecurableRecord,
        parent_type: SecurableType,
        parent_name: str,
        detail: TableDetailRecord | None = None,
    ) -> SecurableRecord | None:
        """Insert ``record`` (and a table's ``detail``) under the parent of ``parent_type``
        named ``parent_name``, found in this transaction: the record as written, its
        ``parent_id`` the parent's; None when there is no such parent. Raises
        :class:`common.errors.AlreadyExists` if the name is taken."""

    @abstractmethod
    def list_children(
        self,
        parent_id: str | None,
        securable_types: Sequence[SecurableType],
        after_name: str | None,
        limit: int,
    ) -> list[SecurableRecord]:
        """Children ordered by name, strictly after ``after_name`` (keyset pagination)."""

    @abstractmethod
    def list_by_type(
        self, securable_type: SecurableType, after_full_name: str | None, limit: int
    ) -> list[SecurableRecord]:
        """Objects of one type in any container, ordered by full name (keyset pagination)."""

    @abstractmethod
    def descendant_ids(self, full_name: str) -> list[str]:
        """Ids of everything under the object with this full name (not the object itself)."""

    @abstractmethod
    def has_children(self, parent_id: str) -> bool: ...

    @abstractmethod
    def update(self, record: SecurableRecord) -> None:
        """Persist comment, properties, owner and the updated stamps of ``record``."""

    @abstractmethod
    def rename(self, record: SecurableRecord, new_name: str, new_full_name: str) -> None:
        """Rename an object and rewrite the full names of everything under it."""

    @abstractmethod
    def delete(self, securable_id: str) -> None:
        """Delete an object and, through cascading keys, everything under it."""

    @abstractmethod
    def insert_table_detail(self, securable_id: str, detail: TableDetailRecord) -> None: ...

    @abstractmethod
    def get_table_details(self, securable_ids: Sequence[str]) -> dict[str, TableDetailRecord]: ...

    @abstractmethod
    def replace_table_detail(self, securable_id: str, detail: TableDetailRecord) -> None:
        """A table's definition (type, columns, keys, filter, masks) replaced whole."""

    @abstractmethod
    def add_columns(self, securable_id: str, columns: Sequence[ColumnRecord]) -> None:
        """Columns appended to a table (their positions follow the existing ones)."""

    @abstractmethod
    def set_row_filter(self, securable_id: str, row_filter: PolicyFunctionRef | None) -> None:
        """Set or (None) drop a table's row filter."""

    @abstractmethod
    def set_column_mask(
        self, securable_id: str, position: int, mask: PolicyFunctionRef | None
    ) -> None:
        """Set or (None) drop the mask of the column at ``position``."""


class IdentityStore(ABC):
    @abstractmethod
    def insert_principal(self, record: PrincipalRecord) -> None: ...

    @abstractmethod
    def get_principal_by_name(self, name: str) -> PrincipalRecord | None: ...

    @abstractmethod
    def get_principal(self, principal_id: str) -> PrincipalRecord | None: ...

    @abstractmethod
    def list_principals(
        self, kinds: Sequence[str], name_equals: str | None, offset: int, limit: int
    ) -> tuple[list[PrincipalRecord], int]:
        """A page of principals of the given kinds and the total count."""

    @abstractmethod
    def count_principals(self) -> int: ...

    @abstractmethod
    def update_principal(self, record: PrincipalRecord) -> None:
        """Persist ``display_name`` and ``active`` of ``record`` (its name never changes:
        grants, ownership and tokens refer to it)."""

    @abstractmethod
    def delete_principal(self, principal_id: str) -> None: ...

    @abstractmethod
    def add_member(self, group_id: str, member_id: str) -> None: ...

    @abstractmethod
    def remove_member(self, group_id: str, member_id: str) -> None: ...

    @abstractmethod
    def members_of(self, group_id: str) -> list[PrincipalRecord]: ...

    @abstractmethod
    def groups_of(self, principal_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(member_id, group_id) edges for the given members: one hop up."""

    @abstractmethod
    def insert_token(self, record: TokenRecord) -> None: ...

    @abstractmethod
    def find_token(self, token_hash: str) -> tuple[TokenRecord, PrincipalRecord] | None: ...

    @abstractmethod
    def list_tokens(self, principal_id: str | None) -> list[TokenRecord]: ...

    @abstractmethod
    def get_token(self, token_id: str) -> TokenRecord | None: ...

    @abstractmethod
    def update_token_comment(self, token_id: str, comment: str | None) -> None: ...

    @abstractmethod
    def delete_token(self, token_id: str) -> None: ...


__all__ = ["ColumnRecord", "IdentityStore", "NamespaceStore"]
