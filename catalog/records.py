"""Plain records passed between the store, the domain services and the HTTP layer.

Stores return these rather than ORM objects so sessions never leak upward.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from common.ids import random_uuid
from policy.securables import SecurableType


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id() -> str:
    return random_uuid()


@dataclass
class SecurableRecord:
    id: str
    securable_type: SecurableType
    parent_id: str | None
    name: str
    full_name: str
    owner: str
    created_at: int
    created_by: str
    comment: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    storage_root: str | None = None
    storage_location: str | None = None
    updated_at: int | None = None
    updated_by: str | None = None

    @property
    def name_parts(self) -> list[str]:
        return self.full_name.split(".")


@dataclass(frozen=True)
class PolicyFunctionRef:
    """A row filter or column mask: the FUNCTION's full name and the columns whose values
    it takes (a filter's ``ON`` columns; a mask's ``USING COLUMNS``, after the masked
    column itself)."""

    function_name: str
    columns: tuple[str, ...] = ()


@dataclass
class ColumnRecord:
    name: str
    type_text: str
    type_name: str
    position: int
    nullable: bool = True
    comment: str | None = None
    type_json: str | None = None
    type_precision: int | None = None
    type_scale: int | None = None
    type_interval_type: str | None = None
    partition_index: int | None = None
    mask: PolicyFunctionRef | None = None


@dataclass
class TableDetailRecord:
    table_type: str
    data_source_format: str | None = None
    view_definition: str | None = None
    primary_key_name: str | None = None
    primary_key_columns: list[str] | None = None
    timeseries_column: str | None = None
    columns: list[ColumnRecord] = field(default_factory=list)
    row_filter: PolicyFunctionRef | None = None

    @property
    def is_feature_table(self) -> bool:
        return bool(self.primary_key_columns)


@dataclass
class TableRecord:
    securable: SecurableRecord
    detail: TableDetailRecord


@dataclass
class MetastoreRecord:
    id: str
    name: str
    owner: str
    created_at: int


class PrincipalKind:
    USER = "USER"
    SERVICE_PRINCIPAL = "SERVICE_PRINCIPAL"
    GROUP = "GROUP"


@dataclass
class PrincipalRecord:
    id: str
    kind: str
    name: str
    created_at: int
    display_name: str | None = None
    active: bool = True
    is_metastore_admin: bool = False


@dataclass
class TokenRecord:
    id: str
    principal_id: str
    token_hash: str
    created_at: int
    created_by: str
    comment: str | None = None
    expiry_time: int | None = None


T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_page_token: str | None = None
