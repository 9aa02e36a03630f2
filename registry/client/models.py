"""Model versions as the client sees them, and models saved in MLflow's layout.

A model is saved in its format's safe layout (:mod:`common.model_formats`: skops for
scikit-learn, UBJSON for XGBoost, text for LightGBM boosters, ONNX) with an
MLflow-compatible ``MLmodel`` (the format's flavor and ``python_function`` loading
through MLflow's module for it), so MLflow can load what Steward's client registered. Model URIs are
MLflow's ``models:/catalog.schema.model@alias`` and ``models:/…/<version>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml

from common.model_formats import format_of
from common.signature import as_frame
from registry.client.errors import StewardError

CHECKSUM_HEADER = "X-Checksum-SHA256"
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))$")
CHUNK_BYTES = 1 << 20


@dataclass
class ModelVersion:
    """A model version as the server describes it."""

    full_name: str
    version: int
    status: str
    status_message: str | None
    aliases: list[str]
    tags: dict[str, str]
    signature: dict[str, Any] | None
    artifact_digest: str | None
    storage_location: str
    source: str
    run_id: str | None
    created_by: str
    dependencies: dict[str, Any] | None
    info: dict[str, Any] = field(repr=False)

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> ModelVersion:
        return cls(
            full_name=f"{info['catalog_name']}.{info['schema_name']}.{info['model_name']}",
            version=int(info["version"]),
            status=info["status"],
            status_message=info.get("status_message"),
            aliases=[a["alias_name"] for a in info.get("aliases") or []],
            tags={t["key"]: t["value"] for t in info.get("tags") or []},
            signature=info.get("signature"),
            artifact_digest=info.get("artifact_digest"),
            storage_location=info.get("storage_location", ""),
            source=info.get("source", ""),
            run_id=info.get("run_id"),
            created_by=info.get("created_by", ""),
            dependencies=info.get("dependencies"),
            info=info,
        )


@dataclass
class LoadedModel:
    """A model loaded from the registry; ``predict`` takes DataFrames, records or arrays."""

    model: Any
    full_name: str
    version: int
    uri: str
    path: Path
    signature: dict[str, Any] | None = None

    def predict(self, data: Any) -> Any:
        return self.model.predict(model_input(data, self.model))


def model_input(data: Any, model: Any = None) -> Any:
    """Data as the model takes it: Databricks serving payloads (``dataframe_split``,
    ``dataframe_records``, ``instances``, ``inputs``), records and dicts as DataFrames,
    arrays as arrays (as a DataFrame with the model's feature names when it has them)."""
    if isinstance(data, dict):
        if "dataframe_split" in data:
            import pandas as pd

            split = data["dataframe_split"]
            return pd.DataFrame(split["data"], columns=split.get("columns"))
        if "dataframe_records" in data:
            data = data["dataframe_records"]
        elif "instances" in data or "inputs" in data:
            data = data.get("instances", data.get("inputs"))
    data = as_frame(data)
    if isinstance(data, list | tuple):
        data = np.asarray(data)
    names = getattr(model, "feature_names_in_", None)
    if isinstance(data, np.ndarray) and names is not None and data.ndim == 2:
        with contextlib.suppress(ImportError):
            import pandas as pd

            data = pd.DataFrame(data, columns=list(names))
    return data


def parse_model_uri(uri: str) -> tuple[str, int | None, str | None]:
    """``models:/c.s.m@alias`` or ``models:/c.s.m/3`` → (full name, version, alias)."""
    match = _URI.match(uri.strip()) if isinstance(uri, str) else None
    if match is None or match["name"].count(".") != 2:
        raise StewardError(
            "INVALID_PARAMETER_VALUE",
            f"model URI '{uri}' is not models:/catalog.schema.model@alias or "
            "models:/catalog.schema.model/<version>",
        )
    version = int(match["version"]) if match["version"] else None
    return match["name"], version, match["alias"]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def safe_relative(path: str) -> PurePosixPath:
    """A manifest path from the server, checked before anything is written under it."""
    relative = PurePosixPath(path)
    if (
        not path
        or "\\" in path
        or "\x00" in path
        or relative.is_absolute()
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise StewardError("INVALID_STATE", f"the server listed an unsafe artifact path '{path}'")
    return relative


def pinned_requirements(packages: Iterable[str]) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in packages:
        with contextlib.suppress(PackageNotFoundError):
            pins.append(f"{package}=={version(package)}")
    return pins


def save_model(
    model: Any,
    directory: Path,
    signature: dict[str, str],
    input_example: Any = None,
) -> Path:
    """Write ``model`` as an MLflow model directory in its format's safe layout (skops for
    scikit-learn, UBJSON for XGBoost, text for LightGBM boosters, ONNX as is)."""
    model_format = format_of(model)
    directory.mkdir(parents=True, exist_ok=True)
    flavor = model_format.save(model, directory)
    requirements = pinned_requirements(("numpy", *model_format.requirements))
    python = platform.python_version()
    (directory / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (directory / "python_env.yaml").write_text(
        yaml.safe_dump(
            {
                "python": python,
                "build_dependencies": ["pip", "setuptools", "wheel"],
                "dependencies": ["-r requirements.txt"],
            },
            sort_keys=False,
        )
    )
    (directory / "conda.yaml").write_text(
        yaml.safe_dump(
            {
                "channels": ["conda-forge"],
                "dependencies": [f"python={python}", "pip", {"pip": requirements}],
                "name": "mlflow-env",
            },
            sort_keys=False,
        )
    )
    model_file = flavor.get("data") or flavor.get("pickled_model")
    pyfunc: dict[str, Any] = {
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        "loader_module": model_format.loader_module,
        # mlflow.sklearn's pyfunc reads model_path; the other flavors' read data.
        ("model_path" if model_format.flavor == "sklearn" else "data"): model_file,
        "python_version": python,
    }
    if model_format.flavor == "sklearn":
        pyfunc["predict_fn"] = "predict"
    mlmodel: dict[str, Any] = {
        "artifact_path": "model",
        "flavors": {"python_function": pyfunc, model_format.flavor: flavor},
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime()),
        "signature": {**signature, "params": None},
    }
    if input_example is not None:
        frame = as_frame(input_example)
        if hasattr(frame, "to_json"):
            (directory / "input_example.json").write_text(frame.to_json(orient="split"))
    mlmodel["model_size_bytes"] = sum(p.stat().st_size for p in directory.rglob("*"))
    (directory / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False))
    return directory
