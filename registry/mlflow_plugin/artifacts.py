"""A model version's files over Steward's artifact routes, as an MLflow artifact repository.

``steward:http://host:8080/api/2.1/steward/models/<name>/versions/<n>/artifacts`` is where
the registry store (:mod:`.store`) says a version's files are. Uploads (``PUT`` a file,
while the version is pending, by whoever may create versions) and downloads (``GET``,
with EXECUTE) are each authorized and audited by the server; both carry the file's SHA-256
(``X-Checksum-SHA256``), which the server checks on upload and this repository checks on
download. Steward lists a version's files flat (path, size, sha256); MLflow walks
directories, so :meth:`list_artifacts` answers one level of that list at a time.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from typing import Any
from urllib.parse import quote, urlsplit

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import DATA_LOSS, INVALID_PARAMETER_VALUE, NOT_IMPLEMENTED
from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.utils.rest_utils import http_request, verify_rest_response

from registry.mlflow_plugin.rest import base_url, credentials

CHECKSUM_HEADER = "X-Checksum-SHA256"
_CHUNK = 1 << 20


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
        for root, _dirs, files in os.walk(local_dir):
            below = os.path.relpath(root, local_dir)
            target = artifact_path or ""
            if below != ".":
                target = posixpath.join(target, *below.split(os.sep))
            for name in sorted(files):
                self.log_artifact(os.path.join(root, name), target or None)

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
