"""A model version's files over Steward's artifact routes, as an MLflow artifact repository.

``steward:http://host:8080/api/2.1/steward/models/<name>/versions/<n>/artifacts`` is where
the registry store (:mod:`.store`) says a version's files are. Uploads (while the version
is pending, by whoever may create versions) and downloads (with EXECUTE) are each
authorized and audited by the server, and carry each file's SHA-256, which the server
checks on upload and this repository checks on download. A directory of files (a model)
goes up and comes down as one bundle (common/artifacts.py), one request each way where
MLflow's own repositories send one per file; a single file goes on its own (``PUT``/``GET
…/artifacts/<path>``). Steward lists a version's files flat (path, size, sha256); MLflow
walks directories, so :meth:`list_artifacts` answers one level of that list at a time.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import DATA_LOSS, INVALID_PARAMETER_VALUE, NOT_IMPLEMENTED
from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.utils.file_utils import create_tmp_dir
from mlflow.utils.rest_utils import http_request, verify_rest_response

from common.artifacts import (
    BUNDLE_MEDIA_TYPE,
    MAX_MANIFEST_BYTES,
    BundleEntry,
    manifest_line,
    parse_manifest,
)
from common.errors import InvalidParameter
from registry.mlflow_plugin.rest import base_url, credentials

CHECKSUM_HEADER = "X-Checksum-SHA256"
_CHUNK = 1 << 20
#: Bundles up to this size are sent as one body; larger ones stream from the files.
_BUNDLE_IN_MEMORY = 64 << 20


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class StewardArtifactRepository(ArtifactRepository):
    def __init__(
        self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
    ) -> None:
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        url = urlsplit(base_url(artifact_uri))
        self.host = f"{url.scheme}://{url.netloc}"
        self.prefix = url.path.rstrip("/")
        #: ``…/versions/<n>/artifact-bundle``: all of the version's files at once.
        self.bundle = self.prefix.removesuffix("/artifacts") + "/artifact-bundle"
        self._manifest: list[dict[str, Any]] | None = None

    def _endpoint(self, relative: str) -> str:
        return f"{self.prefix}/{quote(relative.strip('/'), safe='/')}"

    # -- upload ----------------------------------------------------------------------

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        relative = posixpath.join(artifact_path or "", os.path.basename(local_file))
        headers = {
            "Content-Type": "application/octet-stream",
            CHECKSUM_HEADER: _sha256(local_file),
        }
        with open(local_file, "rb") as body:
            response = http_request(
                credentials(self.host),
                self._endpoint(relative),
                "PUT",
                extra_headers=headers,
                data=body,
            )
        if response.status_code not in (200, 201):
            verify_rest_response(response, self._endpoint(relative))
        self._manifest = None

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Every file below ``local_dir`` in one bundle; the server's answer (what it
        stored, as it hashed it) must be what was sent."""
        files: list[tuple[BundleEntry, str]] = []
        for root, dirs, names in os.walk(local_dir):
            dirs.sort()
            below = os.path.relpath(root, local_dir)
            target = artifact_path or ""
            if below != ".":
                target = posixpath.join(target, *below.split(os.sep))
            for name in sorted(names):
                local = os.path.join(root, name)
                remote = posixpath.join(target, name) if target else name
                files.append((BundleEntry(remote, os.path.getsize(local), _sha256(local)), local))
        if not files:
            return
        entries = [entry for entry, _local in files]
        body: bytes | Iterator[bytes]
        if sum(e.size for e in entries) <= _BUNDLE_IN_MEMORY:
            parts = [manifest_line(entries)]
            for _entry, local in files:
                with open(local, "rb") as source:
                    parts.append(source.read())
            body = b"".join(parts)
        else:
            body = _streamed(manifest_line(entries), [local for _entry, local in files])
        response = http_request(
            credentials(self.host),
            self.bundle,
            "PUT",
            extra_headers={"Content-Type": BUNDLE_MEDIA_TYPE},
            data=body,
        )
        if response.status_code != 200:
            verify_rest_response(response, self.bundle)
        stored = {(f["path"], f["size"], f["sha256"]) for f in response.json().get("files", [])}
        sent = {(e.path, e.size, e.sha256) for e in entries}
        if stored != sent:
            raise MlflowException(
                f"Steward stored {sorted(stored - sent)[:3]} where {sorted(sent - stored)[:3]} "
                "was sent: the upload was damaged",
                DATA_LOSS,
            )
        self._manifest = None

    # -- listing ---------------------------------------------------------------------

    def _files(self) -> list[dict[str, Any]]:
        """The version's files (path, size, sha256), read once per repository."""
        if self._manifest is None:
            response = http_request(credentials(self.host), self.prefix, "GET")
            if response.status_code != 200:
                verify_rest_response(response, self.prefix)
            self._manifest = list(response.json().get("files", []))
        return self._manifest

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """The entries directly below ``path``: files, and directories made of the paths
        that go deeper. A file's own path lists nothing (MLflow's contract)."""
        below = (path or "").strip("/")
        found: dict[str, FileInfo] = {}
        for entry in self._files():
            name = entry["path"]
            if below and not name.startswith(below + "/"):
                continue
            rest = name[len(below) + 1 :] if below else name
            head, _, deeper = rest.partition("/")
            full = posixpath.join(below, head) if below else head
            found[full] = (
                FileInfo(full, True, None) if deeper else FileInfo(full, False, entry["size"])
            )
        return sorted(found.values(), key=lambda info: info.path)

    # -- download --------------------------------------------------------------------

    def download_artifacts(self, artifact_path: str | None, dst_path: str | None = None) -> str:
        """All of the version's files (``artifact_path`` empty: what loading a model asks
        for) come down as one bundle, each checked against its SHA-256; anything narrower
        goes file by file, as MLflow's repositories do."""
        if artifact_path not in ("", None):
            return str(super().download_artifacts(artifact_path, dst_path))
        if dst_path:
            if not os.path.isdir(dst_path):
                return str(super().download_artifacts(artifact_path, dst_path))  # its errors
            destination = os.path.abspath(dst_path)
        else:
            destination = create_tmp_dir()
        response = http_request(credentials(self.host), self.bundle, "GET", stream=True)
        if response.status_code != 200:
            verify_rest_response(response, self.bundle)
        with response:
            _unbundle(response.iter_content(_CHUNK), destination)
        return destination

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        endpoint = self._endpoint(remote_file_path)
        response = http_request(credentials(self.host), endpoint, "GET", stream=True)
        if response.status_code != 200:
            verify_rest_response(response, endpoint)
        digest = hashlib.sha256()
        with response, open(local_path, "wb") as out:
            for chunk in response.iter_content(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        announced = response.headers.get(CHECKSUM_HEADER)
        listed = next((e["sha256"] for e in self._files() if e["path"] == remote_file_path), None)
        for expected in (announced, listed):
            if expected is not None and expected != digest.hexdigest():
                os.remove(local_path)
                raise MlflowException(
                    f"{remote_file_path} arrived with SHA-256 {digest.hexdigest()}, but the "
                    f"server recorded {expected}: the download was damaged or the file changed",
                    DATA_LOSS,
                )

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        raise MlflowException(
            "a registered version's files are not deleted one by one: delete the version",
            NOT_IMPLEMENTED,
        )


def _streamed(head: bytes, paths: list[str]) -> Iterator[bytes]:
    yield head
    for path in paths:
        with open(path, "rb") as source:
            while chunk := source.read(_CHUNK):
                yield chunk


def _unbundle(chunks: Iterator[bytes], destination: str) -> None:
    """Write a bundle's files below ``destination``, each checked against its manifest
    entry (paths as the server allows them: relative, no ``..``, no links)."""
    reader = _Bytes(chunks)
    head = reader.line(MAX_MANIFEST_BYTES)
    try:
        entries = parse_manifest(head)
    except InvalidParameter as exc:
        raise MlflowException(
            f"Steward sent a bundle this client cannot read: {exc}", DATA_LOSS
        ) from exc
    root = os.path.realpath(destination)
    for entry in entries:
        local = os.path.join(root, *entry.path.split("/"))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        if os.path.commonpath([root, os.path.realpath(os.path.dirname(local))]) != root:
            raise MlflowException(f"'{entry.path}' would leave {destination}", DATA_LOSS)
        digest = hashlib.sha256()
        with open(local, "wb") as out:
            for chunk in reader.take(entry.size):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != entry.sha256:
            os.remove(local)
            raise MlflowException(
                f"{entry.path} arrived with SHA-256 {digest.hexdigest()}, but the server "
                f"recorded {entry.sha256}: the download was damaged or the file changed",
                DATA_LOSS,
            )
    if reader.more():
        raise MlflowException("Steward sent bytes after the bundle's last file", DATA_LOSS)


class _Bytes:
    """A stream of chunks read as a line, then exact counts of bytes (read from an offset
    into the current chunk: many small files in one chunk cost no copying of the rest)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = iter(chunks)
        self.buffer = b""
        self.offset = 0

    def _fill(self) -> bool:
        for chunk in self.chunks:
            if chunk:
                self.buffer = self.buffer[self.offset :] + chunk
                self.offset = 0
                return True
        return False

    def line(self, limit: int) -> bytes:
        while (end := self.buffer.find(b"\n", self.offset)) < 0:
            if len(self.buffer) - self.offset > limit or not self._fill():
                raise MlflowException("Steward's bundle has no manifest line", DATA_LOSS)
        line = self.buffer[self.offset : end]
        self.offset = end + 1
        return line

    def take(self, count: int) -> Iterator[bytes]:
        while count:
            if self.offset >= len(self.buffer) and not self._fill():
                raise MlflowException("Steward's bundle ended inside a file", DATA_LOSS)
            end = min(len(self.buffer), self.offset + count)
            piece = self.buffer[self.offset : end]
            count -= end - self.offset
            self.offset = end
            yield piece

    def more(self) -> bool:
        return self.offset < len(self.buffer) or self._fill()


def artifact_uri(base: str, name: str, version: int | str) -> str:
    """Where a version's files are, as this repository's URI."""
    try:
        number = int(version)
    except ValueError:
        raise MlflowException(
            f"'{version}' is not a version number", INVALID_PARAMETER_VALUE
        ) from None
    return (
        f"steward:{base}/api/2.1/steward/models/{quote(name, safe='')}/versions/{number}/artifacts"
    )
