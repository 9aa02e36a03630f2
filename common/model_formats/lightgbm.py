"""LightGBM models, as MLflow's ``lightgbm`` flavor stores them.

A Booster is saved as LightGBM's text model (``model.lgb``, starting ``tree``), which
LightGBM parses: safe to load. MLflow saves the scikit-learn wrappers (``LGBMClassifier``
…) with the sklearn flavor's serializers instead; those follow the same rules as
scikit-learn models (skops with trusted types, pickle only where allowed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.model_formats.base import (
    Findings,
    LoadOptions,
    ModelFormat,
    UnsafeModel,
    head,
    inside,
    member,
    not_a,
    qualified_name,
)
from common.model_formats.serialized import SKOPS, load_serialized

BOOSTER = "lightgbm.basic.Booster"
TEXT_MAGIC = b"tree\n"
TEXT_MODEL = "a LightGBM text model (one starts 'tree')"


class LightGBMModel:
    """``predict`` as MLflow's pyfunc for LightGBM: the model's own ``predict`` of the frame."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def feature_names_in_(self) -> list[str] | None:
        if qualified_name(self.model) == BOOSTER:
            return list(self.model.feature_name())
        names = getattr(self.model, "feature_name_", None)
        return list(names) if names is not None else None

    def predict(self, data: Any) -> Any:
        return self.model.predict(data)


class LightGBMFormat(ModelFormat):
    flavor = "lightgbm"
    loader_module = "mlflow.lightgbm"
    library = "lightgbm"
    extra = "lightgbm"
    data_file = "model.lgb"
    requirements = ("lightgbm",)

    def check(
        self, directory: Path, conf: dict[str, Any], files: list[str], found: Findings
    ) -> None:
        name = member(directory, conf.get("data"), files, "the lightgbm flavor")
        model_class = conf.get("model_class", BOOSTER)
        if model_class == BOOSTER:
            if not head(directory / name).startswith(TEXT_MAGIC):
                raise not_a(directory / name, TEXT_MODEL)
            return
        # A scikit-learn wrapper, stored by MLflow's sklearn serializers.
        serialization = conf.get("serialization_format", "cloudpickle")
        if serialization == SKOPS:
            found.skops_files.add(name)
        else:
            found.runs_code.append(
                f"lightgbm flavor {model_class} with serialization_format '{serialization}'"
            )

    def load(self, directory: Path, conf: dict[str, Any], options: LoadOptions) -> Any:
        path = inside(directory, conf.get("data"), "the lightgbm flavor")
        lightgbm = self.import_library()
        model_class = conf.get("model_class", BOOSTER)
        if model_class != BOOSTER:
            serialization = conf.get("serialization_format", "cloudpickle")
            return LightGBMModel(load_serialized(path, serialization, options))
        if not head(path).startswith(TEXT_MAGIC):
            raise not_a(path, TEXT_MODEL)
        try:
            return LightGBMModel(lightgbm.Booster(model_file=str(path)))
        except lightgbm.basic.LightGBMError as exc:
            raise UnsafeModel(f"{path.name} is not a readable LightGBM model: {exc}") from None

    def owns(self, model: Any) -> bool:
        return qualified_name(model) == BOOSTER

    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        lightgbm = self.import_library()
        model.save_model(str(directory / self.data_file))
        return {
            "code": None,
            "data": self.data_file,
            "lgb_version": lightgbm.__version__,
            "model_class": BOOSTER,
        }

    def wrap(self, model: Any) -> Any:
        return LightGBMModel(model)


LIGHTGBM = LightGBMFormat()
