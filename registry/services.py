"""The registry's services as one typed value, built once by the composition root.

Registry handlers receive it through :func:`registry.http.deps.registry_services`; the
catalog's services stay in :class:`catalog.runtime.Runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.artifact_service import ArtifactService
from registry.model_registry import ModelRegistry
from registry.serving.endpoint_service import ServingService


@dataclass(frozen=True)
class RegistryServices:
    models: ModelRegistry
    artifacts: ArtifactService
    serving: ServingService
