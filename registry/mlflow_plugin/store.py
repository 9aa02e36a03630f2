"""MLflow's model registry store for ``steward:http(s)://host:port`` registry URIs.

Built on MLflow's ``AbstractStore`` and Steward's REST API (JSON through MLflow's own HTTP
helpers, so retries, TLS settings and error codes behave as in MLflow's stores), not on
its Unity Catalog OSS store: that one refuses aliases and tags, writes artifacts to a
local path, drops the reason a registration failed, and hard-wires the ``uc`` scheme.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from mlflow.entities.model_registry import ModelVersion, ModelVersionTag, RegisteredModel
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, NOT_IMPLEMENTED
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore

from registry.mlflow_plugin.artifacts import StewardArtifactRepository, artifact_uri
from registry.mlflow_plugin.entities import model_version, registered_model
from registry.mlflow_plugin.rest import UC, base_url, call, part

FAILED = "FAILED_REGISTRATION"
#: What MLflow adds to every search of a registry that may hold prompts (Steward holds none).
_PROMPT_CLAUSE = re.compile(
    r"\s*(AND\s+)?tag\.`?mlflow\.prompt\.is_prompt`?\s*!=\s*'true'\s*", re.I
)
_NAME_FILTER = re.compile(r"^\s*name\s*=\s*(['\"])(?P<name>[^'\"]+)\1\s*$", re.I)


#: Tags of registered models are tag assignments on them (docs/api.md).
_TAGS = f"{UC}/entity-tag-assignments"


def _three_parts(name: str) -> tuple[str, str, str]:
    parts = name.split(".")
    if len(parts) != 3 or not all(parts):
        raise MlflowException(
            f"'{name}' is not a model's full name: Steward names models catalog.schema.model",
            INVALID_PARAMETER_VALUE,
        )
    return parts[0], parts[1], parts[2]


def _unsupported(what: str) -> MlflowException:
    return MlflowException(f"{what} is not supported by Steward's registry", NOT_IMPLEMENTED)


class StewardRegistryStore(AbstractStore):
    """One per registry URI (MLflow caches it); the token is read on every call."""

    def __init__(self, store_uri: str, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        self.base = base_url(store_uri)
        self.tracking_uri = tracking_uri

    def _models(self, name: str) -> str:
        return f"{UC}/models/{part(name)}"

    def _version(self, name: str, version: int | str) -> str:
        return f"{self._models(name)}/versions/{int(version)}"

    # -- registered models -----------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: Any = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        catalog, schema, model = _three_parts(name)
        body = {
            "name": model,
            "catalog_name": catalog,
            "schema_name": schema,
            "comment": description,
        }
        info = call(self.base, "POST", f"{UC}/models", body)
        for tag in tags or []:
            self.set_registered_model_tag(name, tag)
        return registered_model({**info, "tags": self._model_tags(name)} if tags else info)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The model and its tags in one request (Steward's ``include_tags``): MLflow's
        client reads a model before most calls on it."""
        info = call(self.base, "GET", self._models(name), params={"include_tags": "true"})
        tags = [{"key": t["key"], "value": t.get("value") or ""} for t in info.get("tags", [])]
        return registered_model({**info, "tags": tags})

    def _model_tags(self, name: str) -> list[dict[str, Any]]:
        """A model's tags (Steward keeps them as tag assignments on the model)."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = call(
                self.base,
                "GET",
                f"{_TAGS}/registered_models/{part(name)}/tags",
                params={"page_token": token},
            )
            found += [
                {"key": t["tag_key"], "value": t.get("tag_value") or ""}
                for t in page.get("tag_assignments", [])
            ]
            token = page.get("next_page_token")
            if not token:
                return found

    def update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        return registered_model(
            call(self.base, "PATCH", self._models(name), {"comment": description})
        )

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        new = _three_parts(new_name)[2] if "." in new_name else new_name
        return registered_model(call(self.base, "PATCH", self._models(name), {"new_name": new}))

    def delete_registered_model(self, name: str) -> None:
        call(self.base, "DELETE", self._models(name))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        remaining = _PROMPT_CLAUSE.sub(" ", filter_string or "").strip()
        if remaining or order_by:
            raise MlflowException(
                f"Steward lists registered models without filter or order (got filter "
                f"{remaining!r}, order_by {order_by!r})",
                INVALID_PARAMETER_VALUE,
            )
        params = {"max_results": max_results, "page_token": page_token}
        page = call(self.base, "GET", f"{UC}/models", params=params)
        models = [registered_model(m) for m in page.get("registered_models", [])]
        return PagedList(models, page.get("next_page_token"))

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        if stages:
            raise _unsupported("stages (use aliases)")
        ready = [v for v in self._all_versions(name) if v.status == "READY"]
        return [max(ready, key=lambda v: int(v.version))] if ready else []

    def set_registered_model_tag(self, name: str, tag: Any) -> None:
        body = {
            "entity_type": "registered_models",
            "entity_name": name,
            "tag_key": tag.key,
            "tag_value": tag.value,
        }
        call(self.base, "POST", _TAGS, body)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        call(self.base, "DELETE", f"{_TAGS}/registered_models/{part(name)}/tags/{part(key)}")

    # -- versions --------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: list[ModelVersionTag] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        local_model_path: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Create the version (PENDING_REGISTRATION), upload its files through Steward,
        finalize it. A version the server refuses at finalize (an unsafe or unreadable
        model) raises with the server's reason; one whose upload failed is deleted."""
        catalog, schema, model = _three_parts(name)
        with _model_files(source, local_model_path, self.tracking_uri) as directory:
            body = {
                "model_name": model,
                "catalog_name": catalog,
                "schema_name": schema,
                "source": source,
                "run_id": run_id,
                "comment": description,
                "tags": [{"key": t.key, "value": t.value} for t in tags] if tags else None,
            }
            created = call(self.base, "POST", f"{UC}/models/versions", body)
            version = int(created["version"])
            try:
                repository = StewardArtifactRepository(artifact_uri(self.base, name, version))
                repository.log_artifacts(directory)
            except BaseException:
                with suppress(MlflowException):  # the upload's error is the one to report
                    call(self.base, "DELETE", self._version(name, version))
                raise
        finalized = call(
            self.base,
            "PATCH",
            f"{self._version(name, version)}/finalize",
            {"full_name": name, "version": version},
        )
        if finalized.get("status") == FAILED:
            reason = finalized.get("status_message") or "no reason given"
            raise MlflowException(
                f"Steward refused version {version} of {name}: {reason}", INVALID_PARAMETER_VALUE
            )
        return model_version(finalized)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return model_version(call(self.base, "GET", self._version(name, version)))

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        body = {"comment": description}
        return model_version(call(self.base, "PATCH", self._version(name, version), body))

    def delete_model_version(self, name: str, version: int | str) -> None:
        call(self.base, "DELETE", self._version(name, version))

    def _all_versions(self, name: str) -> list[ModelVersion]:
        found: list[ModelVersion] = []
        token = None
        while True:
            page = call(
                self.base, "GET", f"{self._models(name)}/versions", params={"page_token": token}
            )
            found += [model_version(v) for v in page.get("model_versions", [])]
            token = page.get("next_page_token")
            if not token:
                return found

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        match = _NAME_FILTER.match(filter_string or "")
        if match is None or order_by:
            raise MlflowException(
                f"Steward searches the versions of one model: filter_string must be "
                f"\"name = 'catalog.schema.model'\" (got {filter_string!r})",
                INVALID_PARAMETER_VALUE,
            )
        params = {"max_results": max_results, "page_token": page_token}
        page = call(self.base, "GET", f"{self._models(match['name'])}/versions", params=params)
        versions = [model_version(v) for v in page.get("model_versions", [])]
        return PagedList(versions, page.get("next_page_token"))

    def set_model_version_tag(self, name: str, version: int | str, tag: ModelVersionTag) -> None:
        body = {"tags": [{"key": tag.key, "value": tag.value}]}
        call(self.base, "PATCH", self._version(name, version), body)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        call(self.base, "PATCH", self._version(name, version), {"delete_tags": [key]})

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        raise _unsupported("stages (use aliases)")

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return artifact_uri(self.base, name, version)

    # -- aliases ---------------------------------------------------------------------

    def _alias(self, name: str, alias: str) -> str:
        return f"{self._models(name)}/aliases/{part(alias)}"

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        call(self.base, "PUT", self._alias(name, alias), {"version_num": int(version)})

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        call(self.base, "DELETE", self._alias(name, alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return model_version(call(self.base, "GET", self._alias(name, alias)))


@contextmanager
def _model_files(
    source: str, local_model_path: str | None, tracking_uri: str | None
) -> Iterator[str]:
    """A local directory holding the model's files: the one MLflow just wrote, the source
    itself when it is a local directory, or else a download of the source into a fresh
    temporary directory, removed afterwards (never the source)."""
    if local_model_path:
        yield local_model_path
        return
    local = source.removeprefix("file://")
    if os.path.isdir(local):
        yield local
        return
    from mlflow.artifacts import download_artifacts  # heavier: only when needed

    scratch = tempfile.mkdtemp(prefix="steward-mlflow-")
    try:
        yield download_artifacts(artifact_uri=source, dst_path=scratch, tracking_uri=tracking_uri)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
