"""FastAPI dependencies of the registry's routes: its services, typed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from registry.artifact_service import ArtifactService
from registry.model_registry import ModelRegistry
from registry.services import RegistryServices
from registry.serving.endpoint_service import ServingService


def services_of(request: Request) -> RegistryServices:
    """The services the composition root installed with the app."""
    services: RegistryServices = request.app.state.registry
    return services


# ``async def`` though they await nothing: a plain ``def`` dependency costs a thread
# hand-off per request for an attribute read.


async def model_registry(request: Request) -> ModelRegistry:
    return services_of(request).models


async def artifact_service(request: Request) -> ArtifactService:
    return services_of(request).artifacts


async def serving_service(request: Request) -> ServingService:
    return services_of(request).serving


RegistryDep = Annotated[ModelRegistry, Depends(model_registry)]
ArtifactsDep = Annotated[ArtifactService, Depends(artifact_service)]
ServingDep = Annotated[ServingService, Depends(serving_service)]
