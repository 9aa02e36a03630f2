"""OpenLineage RunEvents (``POST /api/v1/lineage``, as Marquez serves it) as lineage edges.

Which datasets are catalog tables
---------------------------------
A dataset is a Steward table when its ``namespace`` is Steward's own: ``steward``,
``uc`` or any URI with one of those schemes (``steward://host:8080``,
``uc://workspace``). Its ``name`` must then be ``catalog.schema.table`` and name an
existing table (404 otherwise: a producer that says "this is a catalog table" and
is wrong should hear about it). Every other namespace (``s3://bucket``,
``postgres://host:5432``, ``kafka://…``) is an EXTERNAL node keyed by namespace and
name, even when its name happens to look like a catalog name: only an explicit
namespace maps, so another system's ``db.schema.table`` never lands on ours.

What an event records
---------------------
Each input → each output becomes a table edge of kind ``openlineage`` (the job,
``namespace/name``, is kept on the edge as its entity), and each output's
``columnLineage`` facet becomes column edges (their inputs become table edges
too). Edges are recorded for ``COMPLETE`` and ``OTHER`` events and events without
an ``eventType``; ``START``, ``RUNNING``, ``FAIL`` and ``ABORT`` are checked the
same way and accepted but record nothing, so one run counts once however many
events it sends. Unknown fields and facets are ignored, as OpenLineage requires.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.text import NAME_LENGTH, storable_problem

#: Namespaces (or URI schemes) that mean "a table of this catalog".
CATALOG_SCHEMES = frozenset({"steward", "uc"})
MAX_DATASETS = 1000
MAX_TEXT = 4096

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
ColumnName = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]


class _Lenient(BaseModel):
    """OpenLineage documents carry facets we do not read: ignore what is unknown, but
    refuse text a store cannot hold in anything we keep."""

    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if isinstance(value, str):
            problem = storable_problem(value)
            if problem:
                raise ValueError(problem)
        return value


class EventType(StrEnum):
    START = "START"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    ABORT = "ABORT"
    FAIL = "FAIL"
    OTHER = "OTHER"


#: Event types whose datasets are recorded (see the module docstring).
RECORDED = frozenset({EventType.COMPLETE, EventType.OTHER, None})


class Run(_Lenient):
    runId: Text


class Job(_Lenient):
    namespace: Text
    name: Text


class InputField(_Lenient):
    namespace: Text
    name: Text
    field: ColumnName


class ColumnLineageField(_Lenient):
    inputFields: list[InputField] = Field(max_length=MAX_DATASETS)


class ColumnLineageFacet(_Lenient):
    fields: dict[ColumnName, ColumnLineageField]


class DatasetFacets(_Lenient):
    columnLineage: ColumnLineageFacet | None = None


class Dataset(_Lenient):
    namespace: Text
    name: Text
    facets: DatasetFacets | None = None


class RunEvent(_Lenient):
    """An OpenLineage RunEvent; ``eventTime``, ``run`` and ``job`` are required."""

    eventType: EventType | None = None
    eventTime: datetime
    run: Run
    job: Job
    inputs: list[Dataset] = Field(default_factory=list, max_length=MAX_DATASETS)
    outputs: list[Dataset] = Field(default_factory=list, max_length=MAX_DATASETS)
    producer: str | None = None
    schemaURL: str | None = None

    @property
    def records(self) -> bool:
        return self.eventType in RECORDED

    @property
    def job_path(self) -> str:
        return f"{self.job.namespace}/{self.job.name}"


def is_catalog_namespace(namespace: str) -> bool:
    scheme = namespace.split("://", 1)[0] if "://" in namespace else namespace
    return scheme.strip().lower() in CATALOG_SCHEMES
