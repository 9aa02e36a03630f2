"""The Python client of Steward: ``from registry.client import Client``.

It talks to the server over REST only and imports no server module (no FastAPI,
SQLAlchemy, persistence or store code); what it shares with the server lives in
:mod:`common`.
"""

from common.model_safety import UnsafeModel
from registry.client.client import Client, predict
from registry.client.errors import StewardError
from registry.client.features import FeatureLookup, TrainingSet
from registry.client.models import LoadedModel, ModelVersion

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
