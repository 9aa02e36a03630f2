"""scikit-learn models, as MLflow's ``sklearn`` flavor stores them.

Steward saves them with skops (whose loader constructs only allow-listed types); MLflow
reads a missing ``serialization_format`` as pickle, which runs code when loaded and is
refused unless a server admin allows it. The loaded object is the estimator itself, so
serving can take its fast path (:mod:`registry.serving.predictor`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.model_formats.base import Findings, LoadOptions, ModelFormat, inside, member
from common.model_formats.serialized import SKOPS, load_serialized


class SklearnFormat(ModelFormat):
    flavor = "sklearn"
    loader_module = "mlflow.sklearn"
    library = "sklearn"
    extra = "client"
    data_file = "model.skops"
    requirements = ("scikit-learn", "skops", "numpy", "scipy")

    def check(
        self, directory: Path, conf: dict[str, Any], files: list[str], found: Findings
    ) -> None:
        serialization = conf.get("serialization_format", "pickle")
        if serialization == SKOPS:
            found.skops_files.add(member(directory, conf.get("pickled_model"), files, "sklearn"))
        else:
            found.runs_code.append(f"sklearn flavor with serialization_format '{serialization}'")

    def load(self, directory: Path, conf: dict[str, Any], options: LoadOptions) -> Any:
        path = inside(directory, conf.get("pickled_model"), "the sklearn flavor")
        return load_serialized(path, conf.get("serialization_format", "pickle"), options)

    def owns(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        import sklearn
        import skops.io

        path = directory / self.data_file
        skops.io.dump(model, path)
        # MLflow's loader trusts what the MLmodel lists; Steward's loaders use their own list.
        needed = skops.io.get_untrusted_types(file=path)
        return {
            "code": None,
            "pickled_model": self.data_file,
            "serialization_format": SKOPS,
            "sklearn_version": sklearn.__version__,
            "skops_trusted_types": needed or None,
        }

    def wrap(self, model: Any) -> Any:
        return model


SKLEARN = SklearnFormat()
