"""Steward's JSON answers as MLflow's registry entities.

Written here rather than borrowed from MLflow's Unity Catalog converters: those drop the
aliases, the tags and the ``status_message`` (the reason a registration failed), and they
are private to MLflow and move between its releases."""

from __future__ import annotations

from typing import Any

from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)


def model_version(info: dict[str, Any]) -> ModelVersion:
    name = f"{info['catalog_name']}.{info['schema_name']}.{info['model_name']}"
    return ModelVersion(
        name=name,
        version=str(info["version"]),
        creation_timestamp=info.get("created_at"),
        last_updated_timestamp=info.get("updated_at"),
        description=info.get("comment"),
        user_id=info.get("created_by"),
        source=info.get("source"),
        run_id=info.get("run_id"),
        status=info.get("status"),
        status_message=info.get("status_message"),
        tags=[ModelVersionTag(t["key"], t.get("value", "")) for t in info.get("tags") or []],
        aliases=[a["alias_name"] for a in info.get("aliases") or []],
    )


def registered_model(info: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=info["full_name"],
        creation_timestamp=info.get("created_at"),
        last_updated_timestamp=info.get("updated_at"),
        description=info.get("comment"),
        tags=[RegisteredModelTag(t["key"], t.get("value", "")) for t in info.get("tags") or []],
        aliases=[
            RegisteredModelAlias(a["alias_name"], str(a["version_num"]))
            for a in info.get("aliases") or []
        ],
    )
