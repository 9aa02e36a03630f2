"""Loading a model directory safely, for the client and for serving.

Each flavor loads through its format in :mod:`common.model_formats`: skops files only when
every type they reference is trusted (skops' defaults, :data:`common.model_safety.TRUSTED_TYPES`
or the caller's ``trusted_types``), pickle and cloudpickle only with ``allow_pickle=True``,
XGBoost, LightGBM and ONNX models by their libraries' own parsers.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from common.model_formats import LoadOptions, UnsafeModel, load_model, read_mlmodel
from common.model_formats.sklearn import SKLEARN

__all__ = ["load", "load_sklearn", "read_mlmodel"]


def load(directory: Path, *, allow_pickle: bool = False, trusted_types: Iterable[str] = ()) -> Any:
    """The model stored in ``directory``, whatever format Steward loads it in."""
    return load_model(directory, LoadOptions(allow_pickle, frozenset(trusted_types)))


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
    return SKLEARN.load(directory, conf, LoadOptions(allow_pickle, frozenset(trusted_types)))
