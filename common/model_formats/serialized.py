"""Loading a serialized scikit-learn style object: skops with the allow-list, pickle only
when the caller allows it. Shared by the sklearn flavor and LightGBM's scikit-learn wrappers.

The MLmodel's own ``skops_trusted_types`` is never consulted: a crafted model would trust
whatever it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.model_formats.base import LoadOptions, UnsafeModel
from common.model_formats.skops_types import TRUSTED_TYPES, untrusted_types

SKOPS = "skops"
PICKLE_FORMATS = frozenset({"pickle", "cloudpickle"})
#: A loaded skops archive may not expand beyond this (zip bombs).
MAX_EXPANDED_BYTES = 16 << 30


def load_serialized(path: Path, serialization: str, options: LoadOptions) -> Any:
    if serialization == SKOPS:
        import skops.io

        bad = untrusted_types(path, TRUSTED_TYPES | options.trusted_types, MAX_EXPANDED_BYTES)
        if bad:
            raise UnsafeModel(
                f"{path.name} references types outside Steward's allow-list of trusted "
                f"types: {', '.join(bad)}"
            )
        return skops.io.load(path, trusted=untrusted_types(path, (), MAX_EXPANDED_BYTES))
    if serialization in PICKLE_FORMATS:
        if not options.allow_pickle:
            raise UnsafeModel(
                f"{path.name} is a {serialization} artifact, and loading it runs code from the "
                "file; pass allow_pickle=True only for models whose origin you trust"
            )
        if serialization == "cloudpickle":
            import cloudpickle

            with path.open("rb") as handle:
                return cloudpickle.load(handle)
        import pickle

        with path.open("rb") as handle:
            return pickle.load(handle)  # explicitly allowed by the caller
    raise UnsafeModel(f"unknown serialization_format '{serialization}'")
