"""The store implementation, picked once by the composition root.

Services and handlers ask the factory for a store over the session of their unit of
work; none of them names a concrete store, so another implementation is one class
here (and one line in :mod:`steward.app`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from sqlalchemy.orm import Session

from catalog.store.base import IdentityStore, NamespaceStore
from catalog.store.sqlalchemy_stores import SqlIdentityStore, SqlNamespaceStore


class CatalogStores(ABC):
    """Stores of the catalog's own tables, one per unit of work (a session)."""

    @abstractmethod
    def namespace(self, session: Session) -> NamespaceStore: ...

    @abstractmethod
    def identity(self, session: Session) -> IdentityStore: ...


class SqlCatalogStores(CatalogStores):
    """The SQLAlchemy stores, for SQLite and PostgreSQL alike."""

    def namespace(self, session: Session) -> NamespaceStore:
        return SqlNamespaceStore(session)

    def identity(self, session: Session) -> IdentityStore:
        return SqlIdentityStore(session)
