"""What Steward agrees to register: models whose loading runs no code of the artifact's
choosing. Pickle (and cloudpickle, joblib …) runs code when loaded, so it is refused
unless a server admin allows it (``STEWARD_ALLOW_PICKLE=1``); so is a flavor that ships
Python code for MLflow to import (``code:``) or a flavor Steward cannot verify.

Nothing in this module loads a model. The server calls :func:`check_model` at finalize: it
reads the MLmodel flavors, looks at file names and magic bytes, asks each flavor's format
(:mod:`common.model_formats`) to check its configuration and files, and asks skops which
types a ``.skops`` file references (skops builds a tree from the file's JSON schema
without importing or constructing anything). The client and serving load through
:func:`common.model_formats.load_model`, which uses the same allow-list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.model_formats import FORMATS, Findings, by_flavor, by_loader
from common.model_formats.base import UnsafeModel, head, is_pickle_data, member
from common.model_formats.serialized import PICKLE_FORMATS, SKOPS
from common.model_formats.skops_types import TRUSTED_TYPES, skops_types, untrusted_types

__all__ = [
    "ALLOW_PICKLE_SETTING",
    "PICKLE_FORMATS",
    "SKOPS",
    "TRUSTED_TYPES",
    "LoadPolicy",
    "UnsafeModel",
    "check_model",
    "looks_like_pickle",
    "member",
    "skops_types",
    "untrusted_types",
]

ALLOW_PICKLE_SETTING = "STEWARD_ALLOW_PICKLE=1"
#: Names of files that hold pickles (torch's .pt/.pth files are zip archives of pickles).
PICKLE_SUFFIXES = frozenset(
    {".pkl", ".pickle", ".pickle5", ".joblib", ".cloudpickle", ".dill", ".pt", ".pth"}
)


@dataclass(frozen=True)
class LoadPolicy:
    """What the server accepts at finalize (from its settings)."""

    allow_pickle: bool = False
    #: Trusted in addition to :data:`TRUSTED_TYPES`.
    extra_trusted_types: frozenset[str] = field(default_factory=frozenset)
    #: Largest size a skops archive may expand to (guards against zip bombs).
    max_expanded_bytes: int = 4 << 30

    @property
    def trusted_types(self) -> frozenset[str]:
        return TRUSTED_TYPES | self.extra_trusted_types


def looks_like_pickle(path: Path) -> bool:
    """By name, or by the magic of pickle protocols 2-5 (``\\x80`` then the protocol)."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return True
    try:
        return is_pickle_data(head(path, 2))
    except OSError:
        return False


def _ships_code(flavor: str, conf: dict[str, Any]) -> str | None:
    """MLflow puts a flavor's ``code`` directory on ``sys.path`` before loading."""
    code = conf.get("code")
    if code:
        return f"{flavor} flavor ships Python code in '{code}' that MLflow imports when loading"
    return None


def check_model(
    directory: Path, mlmodel: dict[str, Any], files: list[str], policy: LoadPolicy
) -> None:
    """Refuse (UnsafeModel) what would run code when loaded, or types off the allow-list.

    ``files``: the artifact paths relative to ``directory``, symbolic links already refused.
    """
    flavors = mlmodel.get("flavors") or {}
    if not isinstance(flavors, dict):
        raise UnsafeModel("MLmodel 'flavors' must be a mapping")
    found = Findings(
        runs_code=[
            f"{name} (a pickle file)" for name in files if looks_like_pickle(directory / name)
        ],
        skops_files={name for name in files if name.lower().endswith(".skops")},
    )
    for flavor, raw in flavors.items():
        conf = raw if isinstance(raw, dict) else {}
        if (shipped := _ships_code(flavor, conf)) is not None:
            found.runs_code.append(shipped)
        if flavor == "python_function":
            loader = conf.get("loader_module")
            chosen = by_loader(loader)
            if chosen is None:
                found.runs_code.append(
                    f"python_function loader '{loader or 'mlflow.pyfunc.model'}' "
                    "(loads a pickled object)"
                )
            elif chosen.flavor not in flavors:
                raise UnsafeModel(
                    f"python_function flavor loads with {loader} but the MLmodel has no "
                    f"{chosen.flavor} flavor"
                )
        elif (known := by_flavor(flavor)) is not None:
            known.check(directory, conf, files, found)
        else:
            found.runs_code.append(f"flavor '{flavor}' (a format Steward cannot verify)")
    if found.runs_code and not policy.allow_pickle:
        formats = ", ".join(f.flavor for f in FORMATS)
        raise UnsafeModel(
            "refused: "
            + "; ".join(sorted(set(found.runs_code)))
            + ". Pickle and cloudpickle run code when loaded; store scikit-learn models with "
            f"skops (serialization_format='skops') or use a format Steward verifies ({formats}), "
            "or have a server admin allow pickle with " + ALLOW_PICKLE_SETTING
        )
    for name in sorted(found.skops_files):
        bad = untrusted_types(directory / name, policy.trusted_types, policy.max_expanded_bytes)
        if bad:
            raise UnsafeModel(
                f"{name} references types outside Steward's allow-list of trusted types: "
                + ", ".join(bad)
            )
