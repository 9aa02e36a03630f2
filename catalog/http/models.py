"""Request and response bodies of the Unity Catalog routes, after the reference OpenAPI spec.

Requests forbid unknown fields so a typo is a 400, not a silent no-op.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalog.records import SecurableRecord
from common.text import NAME_LENGTH, SHORT_TEXT_LENGTH, TYPE_TEXT_LENGTH, storable_problem

Properties = dict[str, str]
#: A name stored in a column of NAME_LENGTH characters.
ShortName = Annotated[str, Field(max_length=NAME_LENGTH)]


def _refuse_unstorable(value: Any) -> None:
    if isinstance(value, str):
        problem = storable_problem(value)
        if problem:
            raise ValueError(problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unstorable(key)
            _refuse_unstorable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_unstorable(item)


class RequestBody(BaseModel):
    """Base of every request body: unknown fields are refused, and so is text no store can hold."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        _refuse_unstorable(value)
        return value


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ErrorResponse(Response):
    """The one body of every error answer, whatever the route (catalog/http/errors.py)."""

    error_code: str
    message: str
    #: also in the ``X-Request-Id`` header, the server's log lines and the audit event
    request_id: str


class SecurableInfo(Response):
    """Fields every securable's response carries: who owns it, who made and changed it when."""

    owner: str
    created_at: int
    created_by: str
    updated_at: int | None = None
    updated_by: str | None = None

    @staticmethod
    def stamps(record: SecurableRecord) -> dict[str, Any]:
        return {
            "owner": record.owner,
            "created_at": record.created_at,
            "created_by": record.created_by,
            "updated_at": record.updated_at,
            "updated_by": record.updated_by,
        }


# -- catalogs ---------------------------------------------------------------------------


class CreateCatalog(RequestBody):
    name: str
    comment: str | None = None
    properties: Properties | None = None
    storage_root: str | None = None


class UpdateCatalog(RequestBody):
    comment: str | None = None
    properties: Properties | None = None
    new_name: str | None = None
    owner: str | None = None


class CatalogInfo(SecurableInfo):
    name: str
    comment: str | None = None
    properties: Properties | None = None
    id: str
    storage_root: str | None = None
    storage_location: str | None = None


class ListCatalogsResponse(Response):
    catalogs: list[CatalogInfo]
    next_page_token: str | None = None


# -- schemas ----------------------------------------------------------------------------


class CreateSchema(RequestBody):
    name: str
    catalog_name: str
    comment: str | None = None
    properties: Properties | None = None
    storage_root: str | None = None


class UpdateSchema(RequestBody):
    comment: str | None = None
    properties: Properties | None = None
    new_name: str | None = None
    owner: str | None = None


class SchemaInfo(SecurableInfo):
    name: str
    catalog_name: str
    comment: str | None = None
    properties: Properties | None = None
    full_name: str
    schema_id: str
    storage_root: str | None = None
    storage_location: str | None = None


class ListSchemasResponse(Response):
    schemas: list[SchemaInfo]
    next_page_token: str | None = None


# -- tables -----------------------------------------------------------------------------


class TableType(StrEnum):
    MANAGED = "MANAGED"
    EXTERNAL = "EXTERNAL"
    STREAMING_TABLE = "STREAMING_TABLE"
    MATERIALIZED_VIEW = "MATERIALIZED_VIEW"
    METRIC_VIEW = "METRIC_VIEW"
    VIEW = "VIEW"


class DataSourceFormat(StrEnum):
    DELTA = "DELTA"
    CSV = "CSV"
    JSON = "JSON"
    AVRO = "AVRO"
    PARQUET = "PARQUET"
    ORC = "ORC"
    TEXT = "TEXT"


class ColumnTypeName(StrEnum):
    BOOLEAN = "BOOLEAN"
    BYTE = "BYTE"
    SHORT = "SHORT"
    INT = "INT"
    LONG = "LONG"
    FLOAT = "FLOAT"
    DOUBLE = "DOUBLE"
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"
    TIMESTAMP_NTZ = "TIMESTAMP_NTZ"
    STRING = "STRING"
    BINARY = "BINARY"
    DECIMAL = "DECIMAL"
    INTERVAL = "INTERVAL"
    ARRAY = "ARRAY"
    STRUCT = "STRUCT"
    MAP = "MAP"
    VARIANT = "VARIANT"
    CHAR = "CHAR"
    NULL = "NULL"
    USER_DEFINED_TYPE = "USER_DEFINED_TYPE"
    TABLE_TYPE = "TABLE_TYPE"


class ColumnMask(RequestBody):
    """A column's mask, as Databricks' ``ColumnInfo.mask``: the function and the other
    columns it takes (set with ``ALTER TABLE … ALTER COLUMN … SET MASK``)."""

    function_name: str
    using_column_names: list[str] | None = None


class TableRowFilter(RequestBody):
    """A table's row filter, as Databricks' ``TableInfo.row_filter`` (set with ``ALTER
    TABLE … SET ROW FILTER``)."""

    function_name: str
    input_column_names: list[str]


class ColumnInfo(RequestBody):
    name: ShortName
    type_text: str | None = Field(default=None, max_length=TYPE_TEXT_LENGTH)
    type_json: str | None = None
    type_name: ColumnTypeName
    type_precision: int | None = Field(default=None, ge=0)
    type_scale: int | None = Field(default=None, ge=0)
    type_interval_type: str | None = Field(default=None, max_length=SHORT_TEXT_LENGTH)
    position: int | None = Field(default=None, ge=0)
    comment: str | None = None
    nullable: bool | None = True
    partition_index: int | None = Field(default=None, ge=0)
    mask: ColumnMask | None = None


class PrimaryKeyConstraint(RequestBody):
    """Databricks' ``table_constraints`` entry; a primary key makes a feature table."""

    name: ShortName
    child_columns: list[str] = Field(min_length=1)
    timeseries_columns: list[str] | None = None


class TableConstraint(RequestBody):
    primary_key_constraint: PrimaryKeyConstraint | None = None


class TableDependency(RequestBody):
    table_full_name: str


class FunctionDependency(RequestBody):
    function_full_name: str


class Dependency(RequestBody):
    """One dependency of a view: exactly one of ``table`` or ``function``."""

    table: TableDependency | None = None
    function: FunctionDependency | None = None


class DependencyList(RequestBody):
    dependencies: list[Dependency] | None = None


class CreateTable(RequestBody):
    name: str
    catalog_name: str
    schema_name: str
    table_type: TableType
    data_source_format: DataSourceFormat | None = None
    columns: list[ColumnInfo]
    storage_location: str | None = None
    comment: str | None = None
    properties: Properties | None = None
    view_definition: str | None = None
    view_dependencies: DependencyList | None = None
    table_constraints: list[TableConstraint] | None = None


class TableInfo(SecurableInfo):
    name: str
    catalog_name: str
    schema_name: str
    full_name: str
    table_type: str
    data_source_format: str | None = None
    columns: list[ColumnInfo]
    storage_location: str | None = None
    comment: str | None = None
    properties: Properties | None = None
    table_id: str
    view_definition: str | None = None
    table_constraints: list[TableConstraint] | None = None
    row_filter: TableRowFilter | None = None


class ListTablesResponse(Response):
    tables: list[TableInfo]
    next_page_token: str | None = None


class Empty(Response):
    pass
