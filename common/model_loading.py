"""Loading a model directory (an MLflow model with the ``sklearn`` flavor) safely.

skops files load only when every type they reference is trusted by skops' defaults,
:data:`common.model_safety.TRUSTED_TYPES`, or the caller's ``trusted_types``; the MLmodel's own
``skops_trusted_types`` is not consulted (a crafted model would trust whatever it needs).
Pickle and cloudpickle load only with ``allow_pickle=True``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from common.model_safety import PICKLE_FORMATS, SKOPS, TRUSTED_TYPES, UnsafeModel, untrusted_types

MLMODEL = "MLmodel"
#: A loaded skops archive may not expand beyond this (zip bombs).
MAX_EXPANDED_BYTES = 16 << 30


def read_mlmodel(directory: Path) -> dict[str, Any]:
    path = directory / MLMODEL
    if not path.is_file():
        raise UnsafeModel(f"no {MLMODEL} file in {directory}")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise UnsafeModel(f"{MLMODEL} is not a YAML mapping")
    return document


def _model_file(directory: Path, name: Any) -> Path:
    if not isinstance(name, str) or not name:
        raise UnsafeModel("the sklearn flavor does not name its model file")
    root = directory.resolve()
    path = (directory / name).resolve()
    if root not in path.parents or not path.is_file():
        raise UnsafeModel(f"model file '{name}' is not a file inside the model directory")
    return path


def load_sklearn(
    directory: Path,
    *,
    allow_pickle: bool = False,
    trusted_types: Iterable[str] = (),
) -> Any:
    """The scikit-learn model stored in ``directory`` (UnsafeModel when refused)."""
    flavors = read_mlmodel(directory).get("flavors") or {}
    conf = flavors.get("sklearn") if isinstance(flavors, dict) else None
    if not isinstance(conf, dict):
        raise UnsafeModel("the model has no sklearn flavor; Steward loads scikit-learn models")
    fmt = conf.get("serialization_format", "pickle")
    path = _model_file(directory, conf.get("pickled_model"))
    if fmt == SKOPS:
        import skops.io

        trusted = TRUSTED_TYPES | set(trusted_types)
        bad = untrusted_types(path, trusted, MAX_EXPANDED_BYTES)
        if bad:
            raise UnsafeModel(
                f"{path.name} references types outside Steward's allow-list of trusted "
                f"types: {', '.join(bad)}"
            )
        return skops.io.load(path, trusted=untrusted_types(path, (), MAX_EXPANDED_BYTES))
    if fmt in PICKLE_FORMATS:
        if not allow_pickle:
            raise UnsafeModel(
                f"{path.name} is a {fmt} artifact, and loading it runs code from the file; "
                "pass allow_pickle=True only for models whose origin you trust"
            )
        if fmt == "cloudpickle":
            import cloudpickle

            with path.open("rb") as handle:
                return cloudpickle.load(handle)
        import pickle

        with path.open("rb") as handle:
            return pickle.load(handle)  # explicitly allowed by the caller
    raise UnsafeModel(f"unknown sklearn serialization_format '{fmt}'")
