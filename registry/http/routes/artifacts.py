"""``/api/2.1/steward/models/{full_name}/versions/{version}/artifacts``: a version's files over
HTTP, for clients that cannot write its ``file:`` storage location themselves.

* ``PUT …/artifacts/{path}`` uploads one file, streamed to disk, while the version is
  PENDING_REGISTRATION, by the version's creator; it needs what creating a version needs
  (CREATE MODEL VERSION on the model, or ownership). ``X-Checksum-SHA256`` (optional) is
  verified.
* ``PUT …/artifact-bundle`` uploads several files at once, and ``GET …/artifact-bundle``
  downloads all of a READY version's (common/artifacts.py says what a bundle is): what
  MLflow's client sends one request per file for, in one.
* ``GET …/artifacts`` lists the manifest (path, size, sha256), and
  ``GET …/artifacts/{path}`` streams one file with its SHA-256 in ``X-Checksum-SHA256``.
  Both need EXECUTE (with USE CATALOG and USE SCHEMA), as loading the model does, and are
  always audited (EXECUTE is a data privilege).

All are direct routes (catalog/http/direct.py): MLflow's client sends one request per
file each way, so FastAPI's routing and dependency solving were most of a small file's
cost; the guards and the audit are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.responses import Response

from catalog.http.deps import CallerDep
from catalog.http.direct import DIRECT, json_answer
from catalog.http.guards import guard
from catalog.http.middleware import STREAMED_BODY
from common.artifacts import BUNDLE_MEDIA_TYPE
from common.errors import InvalidParameter
from policy.requirements import NameFrom
from policy.securables import Privilege, SecurableType
from registry.artifact_service import CHECKSUM_HEADER, ArtifactEntry
from registry.http.deps import ArtifactsDep

router = APIRouter(prefix="/api/2.1/steward", tags=["ModelArtifacts"])
BY_NAME = NameFrom.path("full_name")
BASE = "/models/{full_name}/versions/{version}/artifacts"
BUNDLE = "/models/{full_name}/versions/{version}/artifact-bundle"
T = TypeVar("T")
#: Writes reach the disk in pieces of about this size (one thread hop each).
_WRITE_BATCH = 1 << 20


class ArtifactInfo(BaseModel):
    path: str
    size: int
    sha256: str


class BundleResponse(BaseModel):
    """The files a bundle stored, as the server hashed them."""

    files: list[ArtifactInfo]


class ListArtifactsResponse(BaseModel):
    full_name: str
    version: int
    status: str
    #: For a READY version, the digest recorded at finalize, over exactly these files.
    artifact_digest: str | None = None
    files: list[ArtifactInfo]


def _info(entry: ArtifactEntry) -> ArtifactInfo:
    return ArtifactInfo(path=entry.path, size=entry.size, sha256=entry.sha256)


#: Uploads need what creating a version needs (the handler checks the creator).
WRITES = guard(privilege=Privilege.CREATE_MODEL_VERSION, on=SecurableType.MODEL, name_from=BY_NAME)


def _streamed_upload(media_type: str) -> dict[str, Any]:
    """``openapi_extra`` of an upload: a direct route whose body (of ``media_type``) the
    handler streams itself, past the request body limit."""
    return {
        **DIRECT,
        STREAMED_BODY: True,
        "requestBody": {
            "required": True,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        },
    }


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise InvalidParameter("Content-Length must be a number") from exc
    if value < 0:
        raise InvalidParameter("Content-Length must not be negative")
    return value


@router.put(
    BASE + "/{path:path}",
    dependencies=[WRITES],
    operation_id="uploadModelVersionArtifact",
    response_model=ArtifactInfo,
    openapi_extra=_streamed_upload("application/octet-stream"),
)
async def upload_artifact(
    full_name: str,
    version: int,
    path: str,
    request: Request,
    caller: CallerDep,
    artifacts: ArtifactsDep,
) -> Response:
    """Upload one file of a PENDING_REGISTRATION version (replacing a file of that path),
    by the version's creator. The body is the file's bytes; over the size limits → 413 and
    nothing is written."""
    upload = await run_in_threadpool(
        artifacts.begin_upload,
        caller.name,
        full_name,
        version,
        path,
        _declared_length(request),
        request.headers.get(CHECKSUM_HEADER),
    )
    try:
        entry = await _stream_into(request, upload.write, upload.finish)
    except BaseException:
        await run_in_threadpool(upload.abort)
        raise
    return json_answer(_info(entry))


async def _stream_into(
    request: Request, write: Callable[[bytes], None], finish: Callable[[bytes], T]
) -> T:
    """The body into ``write`` in pieces of about :data:`_WRITE_BATCH` (one thread hand-off
    each), then its rest and the commit through ``finish`` in one more: a small body is
    one hand-off in all."""
    pending: list[bytes] = []
    buffered = 0
    async for chunk in request.stream():
        if not chunk:
            continue
        pending.append(chunk)
        buffered += len(chunk)
        if buffered >= _WRITE_BATCH:
            await run_in_threadpool(write, b"".join(pending))
            pending, buffered = [], 0
    return await run_in_threadpool(finish, b"".join(pending))


@router.put(
    BUNDLE,
    dependencies=[WRITES],
    operation_id="uploadModelVersionArtifactBundle",
    response_model=BundleResponse,
    openapi_extra=_streamed_upload(BUNDLE_MEDIA_TYPE),
)
async def upload_bundle(
    full_name: str,
    version: int,
    request: Request,
    caller: CallerDep,
    artifacts: ArtifactsDep,
) -> Response:
    """Upload several files of a PENDING_REGISTRATION version at once, by its creator: a
    bundle (a JSON manifest line of path, size and SHA-256, then the files' bytes in its
    order). Every file is checked as a single upload is; all of them land, or none."""
    bundle = await run_in_threadpool(
        artifacts.begin_bundle, caller.name, full_name, version, _declared_length(request)
    )
    try:
        entries = await _stream_into(request, bundle.feed, bundle.finish)
    except BaseException:
        await run_in_threadpool(bundle.abort)
        raise
    return json_answer(BundleResponse(files=[_info(e) for e in entries]))


@router.get(
    BUNDLE,
    dependencies=[guard(privilege=Privilege.EXECUTE, on=SecurableType.MODEL, name_from=BY_NAME)],
    operation_id="getModelVersionArtifactBundle",
    response_class=StreamingResponse,
    responses={200: {"content": {BUNDLE_MEDIA_TYPE: {}}}},
    openapi_extra=DIRECT,
)
async def download_bundle(full_name: str, version: int, artifacts: ArtifactsDep) -> Response:
    """Every file of a READY version as one bundle, each checked against the manifest
    recorded at finalize (a file changed since → 409 INVALID_STATE, before anything is
    sent when the version's files are small)."""
    bundle = await run_in_threadpool(artifacts.open_bundle, full_name, version)
    if bundle.content is not None:
        return Response(bundle.content, media_type=BUNDLE_MEDIA_TYPE)
    assert bundle.chunks is not None
    return StreamingResponse(bundle.chunks, media_type=BUNDLE_MEDIA_TYPE)


@router.get(
    BASE,
    dependencies=[guard(privilege=Privilege.EXECUTE, on=SecurableType.MODEL, name_from=BY_NAME)],
    operation_id="listModelVersionArtifacts",
    response_model=ListArtifactsResponse,
    openapi_extra=DIRECT,
)
async def list_artifacts(full_name: str, version: int, artifacts: ArtifactsDep) -> Response:
    """A READY version's manifest as recorded at finalize; a pending (or failed) version's
    files as they are now."""
    model, record, entries = await run_in_threadpool(artifacts.listing, full_name, version)
    return json_answer(
        ListArtifactsResponse(
            full_name=model.full_name,
            version=record.version,
            status=record.status,
            artifact_digest=record.artifact_digest,
            files=[_info(e) for e in entries],
        )
    )


@router.get(
    BASE + "/{path:path}",
    dependencies=[guard(privilege=Privilege.EXECUTE, on=SecurableType.MODEL, name_from=BY_NAME)],
    operation_id="getModelVersionArtifact",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    openapi_extra=DIRECT,
)
async def download_artifact(
    full_name: str, version: int, path: str, artifacts: ArtifactsDep
) -> Response:
    """One file of a READY version, checked against the manifest recorded at finalize (a
    file changed since → 409 INVALID_STATE). ``X-Checksum-SHA256`` carries its digest."""
    download = await run_in_threadpool(artifacts.open_download, full_name, version, path)
    headers = {
        CHECKSUM_HEADER: download.entry.sha256,
        "Content-Length": str(download.entry.size),
    }
    if download.content is not None:  # a small file, read and checked whole
        return Response(download.content, media_type="application/octet-stream", headers=headers)
    return StreamingResponse(
        download.chunks(), media_type="application/octet-stream", headers=headers
    )
