"""The model formats Steward registers, loads and serves without running the artifact's code.

One module per MLflow flavor (:mod:`.sklearn`, :mod:`.xgboost`, :mod:`.lightgbm`,
:mod:`.onnx`), each a :class:`~common.model_formats.base.ModelFormat`; :data:`FORMATS` is the
one table that lists them. The server checks a version's files against its format at
finalize (:func:`common.model_safety.check_model`); the client and serving load through
:func:`load_model`. The libraries themselves are optional extras (``steward[xgboost]``,
``steward[lightgbm]``, ``steward[onnx]``), imported only when a model of theirs is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from common.model_formats.base import (
    Findings,
    LoadOptions,
    MissingLibrary,
    ModelFormat,
    UnsafeModel,
)
from common.model_formats.lightgbm import LIGHTGBM
from common.model_formats.onnx import ONNX
from common.model_formats.sklearn import SKLEARN
from common.model_formats.xgboost import XGBOOST

__all__ = [
    "FORMATS",
    "Findings",
    "LoadOptions",
    "MissingLibrary",
    "ModelFormat",
    "UnsafeModel",
    "by_flavor",
    "by_loader",
    "format_of",
    "load_model",
    "read_mlmodel",
]

MLMODEL = "MLmodel"
FORMATS: tuple[ModelFormat, ...] = (SKLEARN, XGBOOST, LIGHTGBM, ONNX)
_BY_FLAVOR = {f.flavor: f for f in FORMATS}
_BY_LOADER = {f.loader_module: f for f in FORMATS}


def by_flavor(flavor: str) -> ModelFormat | None:
    return _BY_FLAVOR.get(flavor)


def by_loader(loader_module: Any) -> ModelFormat | None:
    return _BY_LOADER.get(loader_module) if isinstance(loader_module, str) else None


def format_of(model: Any) -> ModelFormat:
    """The format that saves an in-memory ``model`` (scikit-learn's for any other estimator)."""
    for candidate in (XGBOOST, LIGHTGBM, ONNX):
        if candidate.owns(model):
            return candidate
    if SKLEARN.owns(model):
        return SKLEARN
    raise UnsafeModel(
        f"Steward saves scikit-learn estimators, XGBoost and LightGBM boosters and ONNX "
        f"models, not a {type(model).__module__}.{type(model).__qualname__}"
    )


def read_mlmodel(directory: Path) -> dict[str, Any]:
    path = directory / MLMODEL
    if not path.is_file():
        raise UnsafeModel(f"no {MLMODEL} file in {directory}")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise UnsafeModel(f"{MLMODEL} is not a YAML mapping")
    return document


def load_model(directory: Path, options: LoadOptions = LoadOptions()) -> Any:
    """The model stored in ``directory`` through its format's safe loader: the flavor the
    ``python_function`` loader names, else the first flavor Steward knows."""
    flavors = read_mlmodel(directory).get("flavors") or {}
    if not isinstance(flavors, dict):
        raise UnsafeModel("MLmodel 'flavors' must be a mapping")
    pyfunc = flavors.get("python_function")
    chosen = by_loader(pyfunc.get("loader_module")) if isinstance(pyfunc, dict) else None
    if chosen is None or chosen.flavor not in flavors:
        chosen = next((f for f in FORMATS if f.flavor in flavors), None)
    if chosen is None:
        known = ", ".join(f.flavor for f in FORMATS)
        raise UnsafeModel(f"the model has none of the flavors Steward loads ({known})")
    conf = flavors[chosen.flavor]
    if not isinstance(conf, dict):
        raise UnsafeModel(f"the {chosen.flavor} flavor's configuration must be a mapping")
    return chosen.load(directory, conf, options)
