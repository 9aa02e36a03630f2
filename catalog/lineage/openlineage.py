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

Budgets
-------
One event is one transaction, and on SQLite one transaction holds the database's
only write lock: an event of 1,000 inputs × 1,000 outputs (a million edges in an
82 KB body) once stalled every other request for minutes. So :class:`EventBudget`
bounds what one event may ask for, counted as listed (duplicates included) and
checked before anything is looked up, authorized or written: inputs, outputs,
column-lineage input fields (each is a column edge) and edges (inputs × outputs
plus column-lineage input fields). Every event type is checked, recorded or not. An
event over budget is ``413 REQUEST_LIMIT_EXCEEDED`` naming the limit, the count and
the setting that raises it; it changes nothing (its audit event is still written).
How many datasets a body can list at all is bounded by ``STEWARD_MAX_BODY_BYTES``.

Names
-----
A dataset's (and a job's) namespace and name, and the column names of a
``columnLineage`` facet, are another system's names: they are stored NFC-normalised with
their case kept (:func:`common.text.fold_external`), so a producer that writes ``é``
decomposed (NFD, as macOS file names are) records the same node as one that does not.
One holding a control or invisible character (``\r``, ESC, U+202E …) is refused with
400, naming the field, the character's code point and its position, and nothing is
recorded: these names end up on terminals and in diagrams. A catalog dataset's name is
then folded like every securable name (NFKC, lower-case; :mod:`catalog.names`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from catalog.config import Settings
from common.errors import PayloadTooLarge
from common.text import (
    EXTERNAL_REFUSED,
    NAME_LENGTH,
    control_problem,
    fold_external,
    shown,
    storable_problem,
)

#: Namespaces (or URI schemes) that mean "a table of this catalog".
CATALOG_SCHEMES = frozenset({"steward", "uc"})
MAX_TEXT = 4096


def external_name(value: str) -> str:
    """A name of another system as stored: NFC, case kept; one holding a control or
    invisible character is refused (the error names its code point and position)."""
    problem = control_problem(value, EXTERNAL_REFUSED)
    if problem:
        # Through the template's context: the message may hold braces of its own.
        raise PydanticCustomError(
            "invalid_name", "{message}", {"message": f"{shown(value)} {problem}"}
        )
    return fold_external(value)


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
#: A dataset's or job's namespace or name.
Name = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(external_name)]
ColumnName = Annotated[
    str, Field(min_length=1, max_length=NAME_LENGTH), AfterValidator(external_name)
]


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
    namespace: Name
    name: Name


class InputField(_Lenient):
    namespace: Name
    name: Name
    field: ColumnName

    @property
    def dataset(self) -> Dataset:
        """The dataset this column comes from."""
        return Dataset(namespace=self.namespace, name=self.name)


class ColumnLineageField(_Lenient):
    inputFields: list[InputField]


class ColumnLineageFacet(_Lenient):
    fields: dict[ColumnName, ColumnLineageField]


class DatasetFacets(_Lenient):
    columnLineage: ColumnLineageFacet | None = None


class Dataset(_Lenient):
    namespace: Name
    name: Name
    facets: DatasetFacets | None = None


class RunEvent(_Lenient):
    """An OpenLineage RunEvent; ``eventTime``, ``run`` and ``job`` are required."""

    eventType: EventType | None = None
    eventTime: datetime
    run: Run
    job: Job
    inputs: list[Dataset] = Field(default_factory=list)
    outputs: list[Dataset] = Field(default_factory=list)
    producer: str | None = None
    schemaURL: str | None = None

    @property
    def records(self) -> bool:
        return self.eventType in RECORDED

    @property
    def job_path(self) -> str:
        return f"{self.job.namespace}/{self.job.name}"

    @property
    def column_field_count(self) -> int:
        """Input fields of the outputs' ``columnLineage`` facets: one column edge each."""
        return sum(
            len(lineage.inputFields)
            for d in self.outputs
            if d.facets is not None and d.facets.columnLineage is not None
            for lineage in d.facets.columnLineage.fields.values()
        )


@dataclass(frozen=True)
class EventBudget:
    """How much one event may ask for (see the module docstring); the defaults are the
    settings' (docs/running.md)."""

    max_inputs: int = Settings.model_fields["lineage_max_inputs"].default
    max_outputs: int = Settings.model_fields["lineage_max_outputs"].default
    max_column_fields: int = Settings.model_fields["lineage_max_column_fields"].default
    max_edges: int = Settings.model_fields["lineage_max_edges"].default

    @classmethod
    def from_settings(cls, settings: Settings) -> EventBudget:
        return cls(
            max_inputs=settings.lineage_max_inputs,
            max_outputs=settings.lineage_max_outputs,
            max_column_fields=settings.lineage_max_column_fields,
            max_edges=settings.lineage_max_edges,
        )

    def check(self, event: RunEvent) -> None:
        """Refuse ``event`` (413) if it is over any budget: counting only, no I/O."""
        inputs, outputs = len(event.inputs), len(event.outputs)
        fields = event.column_field_count
        edges = inputs * outputs + fields
        counted = (
            (f"{inputs} inputs", inputs, self.max_inputs, "STEWARD_LINEAGE_MAX_INPUTS"),
            (f"{outputs} outputs", outputs, self.max_outputs, "STEWARD_LINEAGE_MAX_OUTPUTS"),
            (
                f"{fields} column-lineage input fields",
                fields,
                self.max_column_fields,
                "STEWARD_LINEAGE_MAX_COLUMN_FIELDS",
            ),
            (
                f"{edges} edges ({inputs} inputs × {outputs} outputs + {fields} "
                "column-lineage input fields)",
                edges,
                self.max_edges,
                "STEWARD_LINEAGE_MAX_EDGES",
            ),
        )
        over = [
            f"{what}, over the limit of {limit} ({setting})"
            for what, count, limit, setting in counted
            if count > limit
        ]
        if over:
            raise PayloadTooLarge(
                f"OpenLineage event over budget: {'; '.join(over)}. Nothing was recorded: "
                "split the event, or raise the setting on the server (docs/lineage.md)"
            )


def is_catalog_namespace(namespace: str) -> bool:
    scheme = namespace.split("://", 1)[0] if "://" in namespace else namespace
    return scheme.strip().lower() in CATALOG_SCHEMES
