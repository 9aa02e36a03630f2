"""What every model format Steward loads has in common, and the errors they share.

A format is one MLflow flavor whose files Steward can check at finalize without loading
them (names, magic bytes, the classes the MLmodel asks for) and load later without running
code from the artifact: the library parses a data file, it never unpickles or imports
what the file names. Each format lives in its own module of this package; the table in
:mod:`common.model_formats` is the only place that lists them.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any


class UnsafeModel(ValueError):
    """A model Steward will not accept or load, and why (names the types or the setting)."""


class MissingLibrary(UnsafeModel):
    """The model is fine, but the library that reads it is not installed here."""


@dataclass
class Findings:
    """What a finalize check learned about a version's files beyond plain refusals."""

    #: Why loading would run code of the artifact's choosing (refused unless pickle is allowed).
    runs_code: list[str] = field(default_factory=list)
    #: skops files whose types must be on the allow-list.
    skops_files: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class LoadOptions:
    """What a caller lets a loader accept beyond the safe default."""

    allow_pickle: bool = False
    trusted_types: frozenset[str] = frozenset()


def member(directory: Path, name: Any, files: Iterable[str], what: str) -> str:
    """``name`` as one of the artifact files (relative, no ``..``), or UnsafeModel."""
    if not isinstance(name, str) or not name:
        raise UnsafeModel(f"{what} does not name its model file")
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or "\\" in name:
        raise UnsafeModel(f"{what} names model file '{name}' outside the version's artifacts")
    clean = relative.as_posix()
    if clean not in set(files):
        raise UnsafeModel(f"{what} names model file '{clean}', which is not among the artifacts")
    return clean


def inside(directory: Path, name: Any, what: str) -> Path:
    """The file ``name`` under ``directory`` for loading (symbolic links resolved and kept
    inside), or UnsafeModel."""
    if not isinstance(name, str) or not name:
        raise UnsafeModel(f"{what} does not name its model file")
    root = directory.resolve()
    path = (directory / name).resolve()
    if root not in path.parents or not path.is_file():
        raise UnsafeModel(f"model file '{name}' is not a file inside the model directory")
    return path


def head(path: Path, size: int = 64) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def is_pickle_data(data: bytes) -> bool:
    """The magic of pickle protocols 2-5: ``\\x80`` then the protocol."""
    return len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5


def not_a(path: Path, what: str) -> UnsafeModel:
    """The refusal of a model file that is not what its flavor says, naming a pickle as one."""
    if is_pickle_data(head(path)):
        return UnsafeModel(f"{path.name} is a pickle, not {what}")
    return UnsafeModel(f"{path.name} is not {what}")


def qualified_name(value: Any) -> str:
    """``module.Class`` of a value, as MLflow records ``model_class``."""
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


class ModelFormat(ABC):
    """One MLflow flavor Steward checks, loads, serves and saves."""

    #: The MLflow flavor's name (the key under ``flavors`` in MLmodel).
    flavor: str
    #: What MLflow's ``python_function`` flavor names as its loader for this format.
    loader_module: str
    #: The module that reads the format, and the extra of ``steward`` that installs it.
    library: str
    extra: str
    #: The model file MLflow writes, relative to the model directory.
    data_file: str
    #: Distributions pinned in a saved model's requirements.
    requirements: tuple[str, ...] = ()

    def import_library(self) -> ModuleType:
        try:
            return importlib.import_module(self.library)
        except ImportError:
            raise MissingLibrary(
                f"{self.flavor} models need the '{self.library}' library, which is not "
                f"installed here: pip install 'steward[{self.extra}]'"
            ) from None

    @abstractmethod
    def check(
        self, directory: Path, conf: dict[str, Any], files: list[str], found: Findings
    ) -> None:
        """Refuse (UnsafeModel) what this flavor's configuration or files make unsafe, without
        importing the library; record in ``found`` what the caller decides on."""

    @abstractmethod
    def load(self, directory: Path, conf: dict[str, Any], options: LoadOptions) -> Any:
        """The model as an object whose ``predict`` answers as MLflow's pyfunc for the flavor."""

    @abstractmethod
    def owns(self, model: Any) -> bool:
        """Whether ``model`` (an in-memory object of the library) is saved by this format."""

    @abstractmethod
    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        """Write the model file into ``directory``; the flavor's MLmodel configuration."""

    @abstractmethod
    def wrap(self, model: Any) -> Any:
        """The in-memory model behind the same ``predict`` as :meth:`load` gives."""
