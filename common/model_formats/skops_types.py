"""Which types a skops file references, read from its schema without loading it, and the
types Steward trusts beyond skops' own defaults."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

from common.model_formats.base import UnsafeModel

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
