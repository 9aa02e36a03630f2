"""Steward's model registry: registered models, versions, aliases, artifacts and serving.

The Python client is one import away (``from registry import Client``); it is loaded
lazily so the server never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.client import Client, LoadedModel, ModelVersion, StewardError, predict
    from registry.features import FeatureLookup, TrainingSet
    from registry.safety import UnsafeModel

__all__ = [
    "Client",
    "FeatureLookup",
    "LoadedModel",
    "ModelVersion",
    "StewardError",
    "TrainingSet",
    "UnsafeModel",
    "predict",
]
_FEATURES = {"FeatureLookup", "TrainingSet"}


def __getattr__(name: str) -> Any:
    if name == "UnsafeModel":
        from registry.safety import UnsafeModel

        return UnsafeModel
    if name in _FEATURES:
        from registry import features

        return getattr(features, name)
    if name in __all__:
        from registry import client

        return getattr(client, name)
    raise AttributeError(f"module 'registry' has no attribute '{name}'")
