"""Request and response bodies of the Unity Catalog routes, after the reference OpenAPI spec.

Requests forbid unknown fields so a typo is a 400, not a silent no-op.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

Properties = dict[str, str]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- catalogs ---------------------------------------------------------------------------


class CreateCatalog(Request):
    name: str
    comment: str | None = None
    properties: Properties | None = None
    storage_root: str | None = None


class UpdateCatalog(Request):
    comment: str | None = None
    properties: Properties | None = None
    new_name: str | None = None
    owner: str | None = None


class CatalogInfo(Response):
    name: str
    comment: str | None = None
    properties: Properties | None = None
    owner: str
    created_at: int
    created_by: str
    updated_at: int | None = None
    updated_by: str | None = None
    id: str
    storage_root: str | None = None
    storage_location: str | None = None


class ListCatalogsResponse(Response):
    catalogs: list[CatalogInfo]
    next_page_token: str | None = None


# -- schemas ----------------------------------------------------------------------------


class CreateSchema(Request):
    name: str
    catalog_name: str
    comment: str | None = None
    properties: Properties | None = None
    storage_root: str | None = None


class UpdateSchema(Request):
    comment: str | None = None
    properties: Properties | None = None
    new_name: str | None = None
    owner: str | None = None


class SchemaInfo(Response):
    name: str
    catalog_name: str
    comment: str | None = None
    properties: Properties | None = None
    full_name: str
    owner: str
    created_at: int
    created_by: str
    updated_at: int | None = None
    updated_by: str | None = None
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


class ColumnInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type_text: str | None = None
    type_json: str | None = None
    type_name: ColumnTypeName
    type_precision: int | None = Field(default=None, ge=0)
    type_scale: int | None = Field(default=None, ge=0)
    type_interval_type: str | None = None
    position: int | None = Field(default=None, ge=0)
    comment: str | None = None
    nullable: bool | None = True
    partition_index: int | None = Field(default=None, ge=0)


class PrimaryKeyConstraint(BaseModel):
    """Databricks' ``table_constraints`` entry; a primary key makes a feature table."""

    model_config = ConfigDict(extra="forbid")

    name: str
    child_columns: list[str] = Field(min_length=1)
    timeseries_columns: list[str] | None = None


class TableConstraint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    primary_key_constraint: PrimaryKeyConstraint | None = None


class CreateTable(Request):
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
    view_dependencies: dict[str, object] | None = None
    table_constraints: list[TableConstraint] | None = None


class TableInfo(Response):
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
    owner: str
    created_at: int
    created_by: str
    updated_at: int | None = None
    updated_by: str | None = None
    table_id: str
    view_definition: str | None = None
    table_constraints: list[TableConstraint] | None = None


class ListTablesResponse(Response):
    tables: list[TableInfo]
    next_page_token: str | None = None


class Empty(Response):
    pass
