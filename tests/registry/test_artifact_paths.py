"""Artifact paths that collide with what a version already holds (docs/registry.md): a file
cannot become a directory (``f1`` then ``f1/g``) nor a directory a file (``d/x`` then ``d``).
Both are a 400 INVALID_PARAMETER_VALUE naming the path and the existing one, audited, with
nothing written, never a 500 or a dropped connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.registry_support import Model, error_of, make_model, one_event, sha256
from tests.support import ServerHandle

UPLOAD = "uploadModelVersionArtifact"


def files_of(m: Model, version: int) -> list[tuple[str, int, str]]:
    listed = m.server.admin.get(m.artifacts(version))
    assert listed.status_code == 200, listed.text
    return sorted((f["path"], f["size"], f["sha256"]) for f in listed.json()["files"])


def on_disk(info: dict[str, Any], m: Model) -> list[str]:
    directory = m.version_dir(info)
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*"))


def staged(server: ServerHandle) -> list[Path]:
    staging = server.storage_root / ".uploads"
    return list(staging.iterdir()) if staging.is_dir() else []


def upload(m: Model, version: int, path: str, content: bytes) -> None:
    done = m.server.admin.put(m.artifacts(version, path), content=content)
    assert done.status_code == 200, done.text
    assert done.json() == {"path": path, "size": len(content), "sha256": sha256(content)}


@pytest.mark.parametrize(
    ("existing", "refused", "named"),
    [
        pytest.param(["f1"], "f1/g", "f1", id="file-then-below-it"),
        pytest.param(["f1"], "f1/g/h.bin", "f1", id="file-then-deeper-below-it"),
        pytest.param(["a/f1"], "a/f1/g", "a/f1", id="nested-file-then-below-it"),
        pytest.param(["d/x"], "d", "d/x", id="directory-then-file"),
        pytest.param(["d/e/x", "d/e/y"], "d/e", "d/e/x", id="nested-directory-then-file"),
        pytest.param(["d/e/x"], "d", "d/e/x", id="deep-directory-then-file"),
    ],
)
def test_a_path_that_collides_is_400_audited_and_writes_nothing(
    server: ServerHandle, existing: list[str], refused: str, named: str
) -> None:
    m = make_model(server)
    info = m.new_version()
    version = info["version"]
    for path in existing:
        upload(m, version, path, f"content of {path}".encode())
    listed, files = files_of(m, version), on_disk(info, m)

    response = server.admin.put(m.artifacts(version, refused), content=b"conflicting bytes")
    message = error_of(response, 400, "INVALID_PARAMETER_VALUE", f"'{refused}'", f"'{named}'")
    assert "nothing was written" in message
    event = one_event(server, response, UPLOAD, "admin", 400)
    assert event["response"]["error_message"]
    assert files_of(m, version) == listed
    assert on_disk(info, m) == files
    assert staged(server) == []

    # Streamed without a Content-Length, the same answer.
    streamed = server.admin.put(
        m.artifacts(version, refused), content=iter([b"conflicting ", b"bytes"])
    )
    error_of(streamed, 400, "INVALID_PARAMETER_VALUE", f"'{refused}'", f"'{named}'")
    assert files_of(m, version) == listed
    assert on_disk(info, m) == files
    assert staged(server) == []

    # The connection and the version are fine: the existing paths still take new content,
    # and a path beside them is stored.
    upload(m, version, existing[0], b"replaced")
    upload(m, version, "beside.txt", b"beside")
    assert {p for p, _, _ in files_of(m, version)} == {*existing, "beside.txt"}


def test_the_collision_checks_every_directory_of_the_path(server: ServerHandle) -> None:
    """Prefixes that are directories pass; the first one that is a file is named."""
    m = make_model(server)
    info = m.new_version()
    version = info["version"]
    upload(m, version, "data/part-0.bin", b"0")
    upload(m, version, "data/part-1.bin", b"1")
    upload(m, version, "data/part-0.bin", b"again")  # a file replaced by a file: fine
    refused = server.admin.put(m.artifacts(version, "data/part-1.bin/x/y"), content=b"z")
    error_of(refused, 400, "INVALID_PARAMETER_VALUE", "'data/part-1.bin/x/y'", "'data/part-1.bin'")
    one_event(server, refused, UPLOAD, "admin", 400)
    assert {p for p, _, _ in files_of(m, version)} == {"data/part-0.bin", "data/part-1.bin"}
    assert (m.version_dir(info) / "data" / "part-1.bin").read_bytes() == b"1"
