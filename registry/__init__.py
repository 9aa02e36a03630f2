"""Steward's model registry: registered models, versions, aliases, artifacts and serving.

The Python client is one import away (``from registry import Client``); it is loaded
lazily so the server never pays for it, and it lives in :mod:`registry.client`, apart
from the server's modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry.client import (
        Client,
        FeatureLookup,
        LoadedModel,
        ModelVersion,
        StewardError,
        TrainingSet,
        UnsafeModel,
        predict,
    )

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


def __getattr__(name: str) -> Any:
    if name in __all__:
        import registry.client

        return getattr(registry.client, name)
    raise AttributeError(f"module 'registry' has no attribute '{name}'")
