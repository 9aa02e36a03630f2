"""ONNX models, as MLflow's ``onnx`` flavor stores them: ``model.onnx`` (a protobuf graph)
and, for large tensors, external data files beside it.

ONNX Runtime runs the graph's operators; it runs no code from the file (custom operator
libraries load only when a session registers them, and Steward's sessions register
none). Two things in an ONNX artifact still need care: external data locations (a path
such as ``../../etc/passwd`` would make the runtime read outside the version), checked
against the version's files with the ``onnx`` library, at finalize where it is installed
and always before loading; and the MLmodel's session options and execution providers,
which Steward ignores: sessions run on the CPU with ONNX Runtime's defaults.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from common.model_formats.base import (
    Findings,
    LoadOptions,
    ModelFormat,
    UnsafeModel,
    inside,
    member,
)

MODEL_PROTO = "onnx.onnx_ml_pb2.ModelProto"


def external_locations(path: Path) -> list[str]:
    """The external data files a model's tensors name (the graph is read, not the data)."""
    import onnx
    from onnx.external_data_helper import _get_all_tensors

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # any protobuf decoding error: the file is not a model
        raise UnsafeModel(f"{path.name} is not a readable ONNX model: {exc}") from None
    locations = []
    for tensor in _get_all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            entries = {entry.key: entry.value for entry in tensor.external_data}
            locations.append(entries.get("location", ""))
    return locations


def check_external_data(directory: Path, model_file: str, files: list[str]) -> None:
    """Every external data location is one of the version's files, beside or below the model."""
    base = PurePosixPath(model_file).parent
    for location in external_locations(directory / model_file):
        relative = (base / location).as_posix() if location else ""
        member(directory, relative, files, f"{model_file}'s external data")


class OnnxModel:
    """``predict`` as MLflow's pyfunc for ONNX: a frame becomes the one input tensor (or one
    input per column), float64 is cast where the graph wants float32, and a frame comes back
    with one column per output (rows of a 2-D output kept together, where MLflow flattens)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = [(i.name, i.type) for i in session.get_inputs()]
        self.outputs = [o.name for o in session.get_outputs()]

    @property
    def feature_names_in_(self) -> list[str] | None:
        return None  # the columns feed one tensor in the signature's order

    def predict(self, data: Any) -> Any:
        import pandas as pd

        if isinstance(data, dict):
            feeds = dict(data)
        elif isinstance(data, np.ndarray):
            if len(self.inputs) != 1:
                raise ValueError(
                    f"the model has {len(self.inputs)} inputs; an array feeds only one"
                )
            feeds = {self.inputs[0][0]: data}
        elif isinstance(data, pd.DataFrame):
            if len(self.inputs) > 1:
                feeds = {name: data[name].to_numpy() for name, _ in self.inputs}
            else:
                feeds = {self.inputs[0][0]: data.to_numpy()}
        else:
            raise TypeError(f"an ONNX model takes a frame, an array or a dict, not {type(data)}")
        for name, kind in self.inputs:
            feed = feeds.get(name)
            if kind == "tensor(float)" and feed is not None and feed.dtype == np.float64:
                feeds[name] = feed.astype(np.float32)
        results = self.session.run(self.outputs, feeds)
        if not isinstance(data, pd.DataFrame):
            return dict(zip(self.outputs, results, strict=True))
        columns: dict[str, Any] = {}
        for name, result in zip(self.outputs, results, strict=True):
            array = np.asarray(result)
            columns[name] = (
                array.reshape(-1) if array.ndim <= 1 or array.shape[1:] == (1,) else list(array)
            )
        return pd.DataFrame(columns)


class OnnxFormat(ModelFormat):
    flavor = "onnx"
    loader_module = "mlflow.onnx"
    library = "onnxruntime"
    extra = "onnx"
    data_file = "model.onnx"
    requirements = ("onnx", "onnxruntime")

    def check(
        self, directory: Path, conf: dict[str, Any], files: list[str], found: Findings
    ) -> None:
        name = member(directory, conf.get("data"), files, "the onnx flavor")
        try:
            import onnx  # noqa: F401
        except ImportError:
            return  # checked before every load, where the onnx extra is installed
        check_external_data(directory, name, files)

    def load(self, directory: Path, conf: dict[str, Any], options: LoadOptions) -> Any:
        path = inside(directory, conf.get("data"), "the onnx flavor")
        onnxruntime = self.import_library()
        try:
            import onnx  # noqa: F401
        except ImportError:
            raise UnsafeModel(
                "ONNX models need the 'onnx' library to check their external data: "
                f"pip install 'steward[{self.extra}]'"
            ) from None
        files = [p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()]
        check_external_data(directory, path.relative_to(directory.resolve()).as_posix(), files)
        try:
            session = onnxruntime.InferenceSession(
                str(path), onnxruntime.SessionOptions(), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own types for bad graphs
            raise UnsafeModel(f"{path.name} is not a model ONNX Runtime can run: {exc}") from None
        return OnnxModel(session)

    def owns(self, model: Any) -> bool:
        kind = type(model)
        return f"{kind.__module__}.{kind.__qualname__}" == MODEL_PROTO

    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        import onnx

        onnx.save_model(model, str(directory / self.data_file))
        return {
            "code": None,
            "data": self.data_file,
            "onnx_session_options": None,
            "onnx_version": onnx.__version__,
            "providers": ["CPUExecutionProvider"],
        }

    def wrap(self, model: Any) -> Any:
        onnxruntime = self.import_library()
        return OnnxModel(
            onnxruntime.InferenceSession(
                model.SerializeToString(), providers=["CPUExecutionProvider"]
            )
        )


ONNX = OnnxFormat()
