"""What Steward agrees to load: scikit-learn models stored with skops, whose every type is on
an allow-list. Pickle (and cloudpickle, joblib …) runs code when loaded, so it is refused
unless a server admin allows it (``STEWARD_ALLOW_PICKLE=1``).

Nothing in this module loads a model. The server calls :func:`check_model` at finalize: it
reads the MLmodel flavors, looks at file names and magic bytes, and asks skops which types a
``.skops`` file references (skops builds a tree from the file's JSON schema without importing
or constructing anything). The client and serving load through :mod:`common.model_loading`, which
uses the same allow-list.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

ALLOW_PICKLE_SETTING = "STEWARD_ALLOW_PICKLE=1"
SKOPS = "skops"
PICKLE_FORMATS = frozenset({"pickle", "cloudpickle"})
#: Names of files that hold pickles (torch's .pt/.pth files are zip archives of pickles).
PICKLE_SUFFIXES = frozenset(
    {".pkl", ".pickle", ".pickle5", ".joblib", ".cloudpickle", ".dill", ".pt", ".pth"}
)
#: The python_function loaders whose model file this module can verify.
VERIFIED_LOADERS = frozenset({"mlflow.sklearn"})
#: A skops schema is JSON describing the object tree; a few MB for large forests.
MAX_SKOPS_SCHEMA_BYTES = 256 << 20
MAX_SKOPS_MEMBERS = 1_000_000

_DISTANCES = (
    "Euclidean",
    "SEuclidean",
    "Manhattan",
    "Chebyshev",
    "Minkowski",
    "Mahalanobis",
    "Hamming",
    "Canberra",
    "BrayCurtis",
    "Jaccard",
    "Matching",
    "Dice",
    "RogersTanimoto",
    "RussellRao",
    "SokalMichener",
    "SokalSneath",
    "Haversine",
)

#: Types trusted beyond skops' own defaults (its defaults already cover the public
#: scikit-learn estimators, numpy arrays and scalars, numpy ufuncs, builtin containers and
#: primitives). These are the internal helper objects fitted estimators hold: tree
#: structures, neighbour indexes and their metrics, optimizer state, calibrators, and the
#: numpy/scipy value types they use. None of them runs code of the artifact's choosing.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "builtins.frozenset",
        "numpy.dtype",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
        "scipy.sparse._coo.coo_matrix",
        "scipy.sparse._csr.csr_array",
        "scipy.sparse._csc.csc_array",
        "scipy.sparse._coo.coo_array",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        *(
            f"sklearn.metrics._dist_metrics.{d}Distance{bits}"
            for d in _DISTANCES
            for bits in (64, 32)
        ),
    }
)


class UnsafeModel(ValueError):
    """A model Steward will not accept or load, and why (names the types or the setting)."""


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
        with path.open("rb") as handle:
            head = handle.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def skops_types(path: Path, max_expanded_bytes: int) -> list[str]:
    """The types a skops file references that skops itself does not trust by default.

    Reads the archive's schema only: no module is imported and no object constructed.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_SKOPS_MEMBERS:
                raise UnsafeModel(f"{path.name} holds too many entries ({len(members)})")
            expanded = sum(m.file_size for m in members)
            schema = next((m for m in members if m.filename == "schema.json"), None)
    except zipfile.BadZipFile as exc:
        raise UnsafeModel(f"{path.name} is not a skops file (not a zip archive)") from exc
    if schema is None:
        raise UnsafeModel(f"{path.name} is not a skops file (no schema.json)")
    if expanded > max_expanded_bytes or schema.file_size > MAX_SKOPS_SCHEMA_BYTES:
        raise UnsafeModel(
            f"{path.name} expands to {expanded} bytes, over the limit of {max_expanded_bytes}"
        )
    import skops.io

    try:
        return sorted(skops.io.get_untrusted_types(file=path))
    except Exception as exc:  # a malformed schema: refuse, say why
        raise UnsafeModel(f"{path.name} is not a readable skops file: {exc}") from exc


def untrusted_types(path: Path, trusted: Iterable[str], max_expanded_bytes: int) -> list[str]:
    """Types of a skops file outside skops' defaults and ``trusted``."""
    allowed = set(trusted)
    return [t for t in skops_types(path, max_expanded_bytes) if t not in allowed]


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


def check_model(
    directory: Path, mlmodel: dict[str, Any], files: list[str], policy: LoadPolicy
) -> None:
    """Refuse (UnsafeModel) what would run code when loaded, or types off the allow-list.

    ``files``: the artifact paths relative to ``directory``, symbolic links already refused.
    """
    flavors = mlmodel.get("flavors") or {}
    if not isinstance(flavors, dict):
        raise UnsafeModel("MLmodel 'flavors' must be a mapping")
    code_running: list[str] = [
        f"{name} (a pickle file)" for name in files if looks_like_pickle(directory / name)
    ]
    skops_files = {name for name in files if name.lower().endswith(".skops")}
    for flavor, raw in flavors.items():
        conf = raw if isinstance(raw, dict) else {}
        if flavor == "sklearn":
            # MLflow reads a missing serialization_format as pickle.
            fmt = conf.get("serialization_format", "pickle")
            if fmt == SKOPS:
                skops_files.add(member(directory, conf.get("pickled_model"), files, "sklearn"))
            else:
                code_running.append(f"sklearn flavor with serialization_format '{fmt}'")
        elif flavor == "python_function":
            loader = conf.get("loader_module")
            if loader not in VERIFIED_LOADERS:
                code_running.append(
                    f"python_function loader '{loader or 'mlflow.pyfunc.model'}' "
                    "(loads a pickled object)"
                )
            elif "sklearn" not in flavors:
                raise UnsafeModel(
                    "python_function flavor loads with mlflow.sklearn but the "
                    "MLmodel has no sklearn flavor"
                )
        else:
            code_running.append(f"flavor '{flavor}' (a format Steward cannot verify)")
    if code_running and not policy.allow_pickle:
        raise UnsafeModel(
            "refused: "
            + "; ".join(sorted(set(code_running)))
            + ". Pickle and cloudpickle run code when loaded; store scikit-learn models with "
            "skops (serialization_format='skops'), or have a server admin allow pickle with "
            + ALLOW_PICKLE_SETTING
        )
    for name in sorted(skops_files):
        bad = untrusted_types(directory / name, policy.trusted_types, policy.max_expanded_bytes)
        if bad:
            raise UnsafeModel(
                f"{name} references types outside Steward's allow-list of trusted types: "
                + ", ".join(bad)
            )
