"""XGBoost models, as MLflow's ``xgboost`` flavor stores them: one UBJSON or JSON file.

XGBoost reads these formats by parsing them; nothing in them names code. What could make
loading unsafe is the MLmodel itself: MLflow builds the object from ``model_class``,
whatever class that names, so Steward constructs only XGBoost's own model classes. The
deprecated binary format (``model_format: xgb``) is refused: XGBoost 3 no longer reads it.
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

#: ``model_class`` values Steward constructs (module path as MLflow records it → class name).
MODEL_CLASSES: dict[str, str] = {
    "xgboost.core.Booster": "Booster",
    "xgboost.sklearn.XGBClassifier": "XGBClassifier",
    "xgboost.sklearn.XGBRegressor": "XGBRegressor",
    "xgboost.sklearn.XGBRanker": "XGBRanker",
    "xgboost.sklearn.XGBRFClassifier": "XGBRFClassifier",
    "xgboost.sklearn.XGBRFRegressor": "XGBRFRegressor",
}
FILE_FORMATS = ("ubj", "json")


class XGBoostModel:
    """``predict`` as MLflow's pyfunc for XGBoost: a Booster gets a DMatrix of the frame,
    the scikit-learn wrappers the frame itself; feature names are checked either way."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def feature_names_in_(self) -> list[str] | None:
        import xgboost

        booster = (
            self.model if isinstance(self.model, xgboost.Booster) else self.model.get_booster()
        )
        return booster.feature_names

    def predict(self, data: Any) -> Any:
        import xgboost

        if isinstance(self.model, xgboost.Booster):
            return self.model.predict(xgboost.DMatrix(data), validate_features=True)
        return self.model.predict(data, validate_features=True)


class XGBoostFormat(ModelFormat):
    flavor = "xgboost"
    loader_module = "mlflow.xgboost"
    library = "xgboost"
    extra = "xgboost"
    data_file = "model.ubj"
    requirements = ("xgboost",)

    def check(
        self, directory: Path, conf: dict[str, Any], files: list[str], found: Findings
    ) -> None:
        model_class = conf.get("model_class", "xgboost.core.Booster")
        if model_class not in MODEL_CLASSES:
            raise UnsafeModel(
                f"the xgboost flavor names model class '{model_class}'; Steward constructs only "
                f"XGBoost's own: {', '.join(sorted(MODEL_CLASSES))}"
            )
        file_format = conf.get("model_format", "xgb")
        if file_format not in FILE_FORMATS:
            raise UnsafeModel(
                f"the xgboost flavor's model_format is '{file_format}'; save with "
                "model_format='ubj' or 'json'"
            )
        name = member(directory, conf.get("data"), files, "the xgboost flavor")
        if not head(directory / name).lstrip().startswith(b"{"):
            raise not_a(directory / name, f"an XGBoost {file_format.upper()} model file")

    def load(self, directory: Path, conf: dict[str, Any], options: LoadOptions) -> Any:
        self.check(directory, conf, [str(conf.get("data"))], Findings())
        path = inside(directory, conf.get("data"), "the xgboost flavor")
        xgboost = self.import_library()
        model = getattr(xgboost, MODEL_CLASSES[conf.get("model_class", "xgboost.core.Booster")])()
        try:
            model.load_model(str(path))
        except xgboost.core.XGBoostError as exc:
            raise UnsafeModel(f"{path.name} is not a readable XGBoost model: {exc}") from None
        return XGBoostModel(model)

    def owns(self, model: Any) -> bool:
        return qualified_name(model) in MODEL_CLASSES

    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        xgboost = self.import_library()
        model.save_model(str(directory / self.data_file))
        return {
            "code": None,
            "data": self.data_file,
            "model_class": qualified_name(model),
            "model_format": "ubj",
            "xgb_version": xgboost.__version__,
        }

    def wrap(self, model: Any) -> Any:
        return XGBoostModel(model)


XGBOOST = XGBoostFormat()
