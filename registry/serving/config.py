"""An endpoint's configuration: what it serves, how traffic splits, where it logs.

Served entities follow Databricks (``{entity_name, entity_version, name?}``) plus Steward's
``alias`` (follow ``champion`` instead of pinning a version, docs/serving.md). Traffic is split by
``traffic_percentage`` on each entity (docs/serving.md) or Databricks' ``traffic_config.routes``;
the percentages are whole numbers summing to 100, and one entity alone gets 100.
The inference table is Databricks' ``auto_capture_config``:
``<catalog_name>.<schema_name>.<table_name_prefix>_payload``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

from catalog.names import normalize_full_name, normalize_part
from catalog.records import ColumnRecord, TableDetailRecord
from common.errors import InvalidParameter
from policy.securables import SecurableType
from registry.model_registry import MAX_VERSION, validate_alias

#: Databricks allows up to 15 served entities per endpoint.
MAX_ENTITIES = 15
INFERENCE_SUFFIX = "_payload"


@dataclass(frozen=True)
class ServedEntity:
    name: str
    entity_name: str
    entity_version: int | None
    alias: str | None
    traffic_percentage: int

    @property
    def target(self) -> str:
        """``models:/`` style description: the version or the alias followed."""
        if self.alias is not None:
            return f"{self.entity_name}@{self.alias}"
        return f"{self.entity_name}/{self.entity_version}"


@dataclass(frozen=True)
class AutoCapture:
    catalog_name: str
    schema_name: str
    table_name_prefix: str
    enabled: bool = True

    @property
    def schema_full_name(self) -> str:
        return f"{self.catalog_name}.{self.schema_name}"

    @property
    def table_full_name(self) -> str:
        return f"{self.schema_full_name}.{self.table_name_prefix}{INFERENCE_SUFFIX}"


@dataclass(frozen=True)
class EndpointConfig:
    served_entities: tuple[ServedEntity, ...]
    auto_capture: AutoCapture | None = None

    @property
    def capturing(self) -> bool:
        return self.auto_capture is not None and self.auto_capture.enabled

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "served_entities": [asdict(e) for e in self.served_entities],
                "auto_capture": asdict(self.auto_capture) if self.auto_capture else None,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> EndpointConfig:
        data = orjson.loads(text)
        capture = data.get("auto_capture")
        return cls(
            tuple(ServedEntity(**e) for e in data["served_entities"]),
            AutoCapture(**capture) if capture else None,
        )


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InvalidParameter(f"{what} must be a whole number, not {value!r}")
    return int(value)


def _version(value: Any, entity: str) -> int:
    """Databricks sends entity_version as a string ("3"); numbers are accepted too."""
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if not text.isdigit() or not 1 <= int(text) <= MAX_VERSION:
        raise InvalidParameter(
            f"served entity '{entity}': entity_version {value!r} is not a version number"
        )
    return int(text)


def parse_config(
    served: list[dict[str, Any]] | None,
    traffic_routes: list[dict[str, Any]] | None,
    auto_capture: dict[str, Any] | None,
) -> EndpointConfig:
    """Validate a request's config (already shaped by the HTTP models) into the domain."""
    if not served:
        raise InvalidParameter("config.served_entities must list at least one served entity")
    if len(served) > MAX_ENTITIES:
        raise InvalidParameter(f"an endpoint serves at most {MAX_ENTITIES} entities")
    entities: list[ServedEntity] = []
    seen: set[str] = set()
    given: dict[str, int | None] = {}
    for number, raw in enumerate(served, start=1):
        model = raw.get("entity_name")
        if not isinstance(model, str) or not model:
            raise InvalidParameter(f"served entity {number}: entity_name is required")
        model = normalize_full_name(model, SecurableType.MODEL)
        version, alias = raw.get("entity_version"), raw.get("alias")
        if (version is None) == (alias is None):
            raise InvalidParameter(
                f"served entity {number} ('{model}'): give exactly one of entity_version or alias"
            )
        pinned = _version(version, model) if version is not None else None
        followed = validate_alias(alias) if alias is not None else None
        default_name = f"{model.split('.')[-1]}-{pinned if pinned is not None else followed}"
        name = raw.get("name") or default_name
        name = normalize_part(name, f"served entity {number} name")
        if name in seen:
            raise InvalidParameter(
                f"served entity name '{name}' is used twice; give each entity its own name"
            )
        seen.add(name)
        share = raw.get("traffic_percentage")
        given[name] = None if share is None else _whole(share, f"traffic_percentage of '{name}'")
        entities.append(ServedEntity(name, model, pinned, followed, 0))
    shares = _traffic(entities, given, traffic_routes)
    entities = [
        ServedEntity(e.name, e.entity_name, e.entity_version, e.alias, shares[e.name])
        for e in entities
    ]
    return EndpointConfig(tuple(entities), _capture(auto_capture))


def _traffic(
    entities: list[ServedEntity],
    given: dict[str, int | None],
    routes: list[dict[str, Any]] | None,
) -> dict[str, int]:
    if routes:
        if any(v is not None for v in given.values()):
            raise InvalidParameter(
                "give traffic either as traffic_percentage on the served entities or as "
                "traffic_config.routes, not both"
            )
        given = {e.name: 0 for e in entities}
        for route in routes:
            target = route.get("served_entity_name") or route.get("served_model_name")
            if not isinstance(target, str) or target.lower() not in given:
                known = ", ".join(sorted(given))
                raise InvalidParameter(
                    f"traffic route names served entity {target!r}, which is not served "
                    f"(served: {known})"
                )
            given[target.lower()] = _whole(
                route.get("traffic_percentage"), f"traffic_percentage of '{target}'"
            )
    if len(entities) == 1 and given[entities[0].name] is None:
        return {entities[0].name: 100}
    missing = [name for name, share in given.items() if share is None]
    if missing:
        raise InvalidParameter(
            f"served entity '{missing[0]}' has no traffic_percentage; with several served "
            "entities give each one a share (they sum to 100)"
        )
    shares = {name: int(share or 0) for name, share in given.items()}
    for name, share in shares.items():
        if not 0 <= share <= 100:
            raise InvalidParameter(f"traffic_percentage of '{name}' must be between 0 and 100")
    if sum(shares.values()) != 100:
        raise InvalidParameter(
            f"traffic percentages must sum to 100, not {sum(shares.values())} "
            f"({', '.join(f'{n}: {s}' for n, s in shares.items())})"
        )
    return shares


def _capture(raw: dict[str, Any] | None) -> AutoCapture | None:
    if raw is None:
        return None
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidParameter("auto_capture_config.enabled must be true or false")
    parts = []
    for key in ("catalog_name", "schema_name"):
        value = raw.get(key)
        if not isinstance(value, str) or not value:
            raise InvalidParameter(f"auto_capture_config.{key} is required")
        parts.append(normalize_part(value, f"auto_capture_config.{key}"))
    prefix = raw.get("table_name_prefix")
    if not isinstance(prefix, str) or not prefix:
        raise InvalidParameter("auto_capture_config.table_name_prefix is required")
    prefix = normalize_part(prefix, "auto_capture_config.table_name_prefix")
    return AutoCapture(parts[0], parts[1], prefix, enabled)


# -- the inference table ---------------------------------------------------------------------

#: Databricks' inference table columns, where they make sense here.
INFERENCE_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("databricks_request_id", "STRING", False),
    ("client_request_id", "STRING", True),
    ("date", "DATE", False),
    ("timestamp_ms", "LONG", False),
    ("status_code", "INT", False),
    ("execution_time_ms", "LONG", False),
    ("request", "STRING", True),
    ("response", "STRING", True),
    ("served_entity_id", "STRING", True),
    ("model_name", "STRING", True),
    ("model_version", "INT", True),
    ("requester", "STRING", True),
)


def inference_table_detail() -> TableDetailRecord:
    return TableDetailRecord(
        table_type="MANAGED",
        data_source_format="DELTA",
        columns=[
            ColumnRecord(
                name=name,
                type_text={"LONG": "bigint"}.get(type_name, type_name.lower()),
                type_name=type_name,
                position=position,
                nullable=nullable,
            )
            for position, (name, type_name, nullable) in enumerate(INFERENCE_COLUMNS)
        ],
    )
