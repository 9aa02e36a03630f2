"""Model version artifacts over HTTP (docs/registry.md): streamed uploads into a pending
version with size limits, checksums and safe paths; downloads that need EXECUTE, are
audited, and serve exactly what finalize recorded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.artifact_files import manifest_digest
from tests.registry_support import (
    FILE_LIMIT,
    LIMITED_ENV,
    MLMODEL,
    UC,
    VERSION_LIMIT,
    error_of,
    events_for,
    make_model,
    one_event,
    sha256,
    sql,
)
from tests.support import ServerHandle, server_fixture

CHECKSUM = "X-Checksum-SHA256"


#: A server with small artifact limits, and metadata reads not audited.
limited = server_fixture("limited", LIMITED_ENV)


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def staged(server: ServerHandle) -> list[Path]:
    """Temporary upload files left behind (there must never be any between requests)."""
    staging = server.storage_root / ".uploads"
    return list(staging.iterdir()) if staging.is_dir() else []


def test_upload_list_finalize_download_round_trip(server: ServerHandle) -> None:
    m = make_model(server)
    admin = server.admin
    info = m.new_version()
    version = info["version"]
    weights = os.urandom(300_000)
    files = {"MLmodel": MLMODEL, "data/weights.bin": weights, "notes.txt": b"trained on Monday"}
    up = admin.put(
        m.artifacts(version, "MLmodel"), content=MLMODEL, headers={CHECKSUM: sha256(MLMODEL)}
    )
    assert up.status_code == 200, up.text
    assert up.json() == {"path": "MLmodel", "size": len(MLMODEL), "sha256": sha256(MLMODEL)}
    # Chunked (no Content-Length), no checksum header: still hashed and reported.
    up = admin.put(m.artifacts(version, "data/weights.bin"), content=chunks(weights))
    assert up.status_code == 200 and up.json()["sha256"] == sha256(weights), up.text
    up = admin.put(m.artifacts(version, "notes.txt"), content=files["notes.txt"])
    assert up.status_code == 200, up.text
    assert staged(server) == []

    pending = admin.get(m.artifacts(version))
    assert pending.status_code == 200, pending.text
    assert pending.json()["status"] == "PENDING_REGISTRATION"
    expected = sorted([p, len(b), sha256(b)] for p, b in files.items())
    assert sorted([f["path"], f["size"], f["sha256"]] for f in pending.json()["files"]) == expected

    final = m.finalize(version)
    assert final["status"] == "READY", final
    listed = admin.get(m.artifacts(version)).json()
    assert listed["status"] == "READY"
    assert listed["artifact_digest"] == final["artifact_digest"]
    entries = [(f["path"], f["size"], f["sha256"]) for f in listed["files"]]
    # The digest finalize recorded is over exactly what downloads serve.
    assert manifest_digest(entries) == final["artifact_digest"]
    for path, content in files.items():
        got = admin.get(m.artifacts(version, path))
        assert got.status_code == 200, got.text
        assert got.content == content
        assert got.headers[CHECKSUM] == sha256(content)
        assert got.headers["content-length"] == str(len(content))

    # After finalize nothing more lands.
    late = admin.put(m.artifacts(version, "late.txt"), content=b"late")
    error_of(late, 409, "INVALID_STATE", "READY", "PENDING_REGISTRATION")
    assert not (m.version_dir(info) / "late.txt").exists()
    error_of(admin.get(m.artifacts(version, "nope.txt")), 404, "RESOURCE_DOES_NOT_EXIST")
    error_of(admin.get(m.artifacts(version + 5)), 404, "RESOURCE_DOES_NOT_EXIST")


def test_finalize_checks_the_files_against_their_uploads(server: ServerHandle) -> None:
    """What was uploaded over HTTP is what gets registered: a file changed on disk after
    its upload, one that appeared beside the upload routes, or one that went missing fails
    the registration naming it; a file uploaded twice counts as its last upload."""
    m = make_model(server)
    admin = server.admin

    def uploaded_version() -> tuple[int, Path]:
        info = m.new_version()
        version = info["version"]
        for path, content in (("MLmodel", MLMODEL), ("data/w.bin", b"v1"), ("data/w.bin", b"v2")):
            up = admin.put(m.artifacts(version, path), content=content)
            assert up.status_code == 200, up.text
        return version, m.version_dir(info)

    version, directory = uploaded_version()
    assert m.finalize(version)["status"] == "READY"  # the second upload of w.bin counts

    version, directory = uploaded_version()
    (directory / "data" / "w.bin").write_bytes(b"v3")
    failed = m.finalize(version)
    assert failed["status"] == "FAILED_REGISTRATION", failed
    assert "'data/w.bin' changed after its upload" in failed["status_message"]
    assert f"SHA-256 {sha256(b'v3')}" in failed["status_message"]
    assert f"uploaded 2 bytes, SHA-256 {sha256(b'v2')}" in failed["status_message"]

    version, directory = uploaded_version()
    (directory / "extra.py").write_text("print('not uploaded')\n")
    (directory / "data" / "w.bin").unlink()
    failed = m.finalize(version)
    assert failed["status"] == "FAILED_REGISTRATION", failed
    message = failed["status_message"]
    assert "'extra.py' was not uploaded through the artifact routes" in message, message
    assert "'data/w.bin' was uploaded but is no longer there" in message, message


def test_uploads_stream_past_the_request_body_limit(server: ServerHandle) -> None:
    """The 1 MiB JSON body limit does not apply: the upload goes to disk in pieces."""
    m = make_model(server)
    version = m.new_version()["version"]
    big = os.urandom(3 << 20)
    up = server.admin.put(
        m.artifacts(version, "big.bin"), content=chunks(big), headers={CHECKSUM: sha256(big)}
    )
    assert up.status_code == 200, up.text
    assert up.json()["size"] == len(big)


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM line")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_uploads_are_never_held_whole_in_memory(server: ServerHandle) -> None:
    """64 MiB through the server moves its peak resident size by a few MiB at most."""
    m = make_model(server)
    version = m.new_version()["version"]
    block = os.urandom(1 << 20)
    before = peak_rss_kib(server.process.pid)
    up = server.admin.put(m.artifacts(version, "big.bin"), content=(block for _ in range(64)))
    assert up.status_code == 200 and up.json()["size"] == 64 << 20, up.text
    grown_mib = (peak_rss_kib(server.process.pid) - before) / 1024
    assert grown_mib < 24, f"the server's peak memory grew by {grown_mib:.0f} MiB"


def test_upload_needs_create_model_version_or_ownership_and_the_versions_creator(
    server: ServerHandle,
) -> None:
    m = make_model(server)
    admin = server.admin
    user, token = server.create_user()
    as_user = server.client(token)
    sql(admin, f"GRANT USE CATALOG ON CATALOG {m.catalog} TO `{user}`")
    sql(admin, f"GRANT USE SCHEMA ON SCHEMA {m.schema} TO `{user}`")
    info = m.new_version()
    version = info["version"]

    # The usage gates do not show the model: answered as missing, recorded as the denial.
    hidden = as_user.put(m.artifacts(version, "MLmodel"), content=MLMODEL)
    error_of(hidden, 404, "RESOURCE_DOES_NOT_EXIST", m.name)
    event = one_event(server, hidden, "uploadModelVersionArtifact", user, 403)
    assert "CREATE MODEL VERSION" in event["response"]["error_message"]
    # Seen (BROWSE) but not writable: a denial naming the privilege.
    sql(admin, f"GRANT BROWSE ON MODEL {m.name} TO `{user}`")
    denied = as_user.put(m.artifacts(version, "MLmodel"), content=MLMODEL)
    error_of(denied, 403, "PERMISSION_DENIED", "CREATE MODEL VERSION")
    event = one_event(server, denied, "uploadModelVersionArtifact", user, 403)
    assert event["response"]["error_message"]
    assert not (m.version_dir(info) / "MLmodel").exists()
    assert staged(server) == []

    # With the privilege, still not into a version someone else created: a pending
    # version's files are its creator's to write.
    sql(admin, f"GRANT CREATE MODEL VERSION ON MODEL {m.name} TO `{user}`")
    others = as_user.put(m.artifacts(version, "MLmodel"), content=MLMODEL)
    error_of(others, 403, "PERMISSION_DENIED", "only its creator uploads")
    one_event(server, others, "uploadModelVersionArtifact", user, 403)
    assert not (m.version_dir(info) / "MLmodel").exists()
    mine = as_user.post(
        f"{UC}/models/versions",
        json={
            "catalog_name": m.catalog,
            "schema_name": "ml",
            "model_name": m.name.split(".")[2],
            "source": "x",
        },
    )
    assert mine.status_code == 200, mine.text
    allowed = as_user.put(m.artifacts(mine.json()["version"], "MLmodel"), content=MLMODEL)
    assert allowed.status_code == 200, allowed.text
    one_event(server, allowed, "uploadModelVersionArtifact", user, 200)

    # An owner needs no grant: the user's own model in a schema it may create models in.
    sql(admin, f"GRANT CREATE MODEL ON SCHEMA {m.schema} TO `{user}`")
    body = {"catalog_name": m.catalog, "schema_name": "ml", "name": "own"}
    assert as_user.post(f"{UC}/models", json=body).status_code == 200
    own = as_user.post(
        f"{UC}/models/versions",
        json={"catalog_name": m.catalog, "schema_name": "ml", "model_name": "own", "source": "x"},
    )
    assert own.status_code == 200, own.text
    path = f"/api/2.1/steward/models/{m.catalog}.ml.own/versions/1/artifacts/MLmodel"
    assert as_user.put(path, content=MLMODEL).status_code == 200


def test_download_needs_execute_and_is_audited(server: ServerHandle) -> None:
    m = make_model(server)
    admin = server.admin
    info = m.new_version()
    version = info["version"]
    assert admin.put(m.artifacts(version, "MLmodel"), content=MLMODEL).status_code == 200
    assert m.finalize(version)["status"] == "READY"
    user, token = server.create_user()
    as_user = server.client(token)
    sql(admin, f"GRANT USE CATALOG ON CATALOG {m.catalog} TO `{user}`")
    sql(admin, f"GRANT USE SCHEMA ON SCHEMA {m.schema} TO `{user}`")
    sql(admin, f"GRANT BROWSE ON MODEL {m.name} TO `{user}`")

    # Seeing the model is not loading it.
    assert as_user.get(f"{UC}/models/{m.name}/versions/{version}").status_code == 200
    for action, url in (
        ("listModelVersionArtifacts", m.artifacts(version)),
        ("getModelVersionArtifact", m.artifacts(version, "MLmodel")),
    ):
        denied = as_user.get(url)
        error_of(denied, 403, "PERMISSION_DENIED", "EXECUTE", m.name)
        one_event(server, denied, action, user, 403)

    # EXECUTE through a group.
    group = f"readers_{m.catalog}"
    sql(admin, f"CREATE GROUP `{group}`")
    sql(admin, f"ALTER GROUP `{group}` ADD USER `{user}`")
    sql(admin, f"GRANT EXECUTE ON MODEL {m.name} TO `{group}`")
    got = as_user.get(m.artifacts(version, "MLmodel"))
    assert got.status_code == 200 and got.content == MLMODEL, got.text
    event = one_event(server, got, "getModelVersionArtifact", user, 200)
    assert event["service_name"] == "steward"
    listed = as_user.get(m.artifacts(version))
    assert listed.status_code == 200
    one_event(server, listed, "listModelVersionArtifacts", user, 200)

    # EXECUTE alone is not enough: loading needs the usage gates too.
    sql(admin, f"REVOKE USE SCHEMA ON SCHEMA {m.schema} FROM `{user}`")
    error_of(as_user.get(m.artifacts(version, "MLmodel")), 403, "PERMISSION_DENIED")


def test_checksum_mismatch_is_400_and_discards_the_file(server: ServerHandle) -> None:
    m = make_model(server)
    admin = server.admin
    info = m.new_version()
    version = info["version"]
    target = m.version_dir(info) / "MLmodel"
    bad = admin.put(m.artifacts(version, "MLmodel"), content=MLMODEL, headers={CHECKSUM: "0" * 64})
    error_of(bad, 400, "INVALID_PARAMETER_VALUE", "checksum mismatch", "discarded")
    assert not target.exists()
    # A failed re-upload leaves the earlier file as it was.
    assert admin.put(m.artifacts(version, "MLmodel"), content=MLMODEL).status_code == 200
    bad = admin.put(
        m.artifacts(version, "MLmodel"), content=chunks(b"x" * 1000), headers={CHECKSUM: "a" * 64}
    )
    error_of(bad, 400, "INVALID_PARAMETER_VALUE", "checksum mismatch")
    assert target.read_bytes() == MLMODEL
    malformed = admin.put(
        m.artifacts(version, "MLmodel"), content=MLMODEL, headers={CHECKSUM: "not-a-digest"}
    )
    error_of(malformed, 400, "INVALID_PARAMETER_VALUE", CHECKSUM)
    assert staged(server) == []


@pytest.mark.parametrize(
    "raw_path",
    [
        pytest.param("%2E%2E/escape.txt", id="dot-dot"),
        pytest.param("a/%2E%2E/%2E%2E/escape.txt", id="nested-dot-dot"),
        pytest.param("..%2Fescape.txt", id="encoded-slash"),
        pytest.param("%2Fetc/escape.txt", id="absolute"),
        pytest.param("a%5C..%5Cescape.txt", id="backslash"),
        pytest.param("a%00b", id="nul"),
        pytest.param("a//b", id="empty-segment"),
        pytest.param("%2E/x", id="dot"),
        pytest.param("a%01b", id="control"),
        # Starlette's path converter never matches a newline: no route, nothing written.
        pytest.param("a%0Ab", id="newline"),
    ],
)
def test_unsafe_paths_are_400_and_write_nothing(server: ServerHandle, raw_path: str) -> None:
    m = make_model(server)
    info = m.new_version()
    url = m.artifacts(info["version"]) + "/" + raw_path
    response = server.admin.put(url, content=b"payload")
    if "%0A" in raw_path:
        error_of(response, 404, "ENDPOINT_NOT_FOUND")
    else:
        error_of(response, 400, "INVALID_PARAMETER_VALUE", "artifact path")
    model_dir = m.version_dir(info).parent.parent
    written = [p for p in model_dir.rglob("*") if p.is_file()]
    assert written == [], written
    assert not (server.storage_root / "escape.txt").exists()
    assert staged(server) == []


def test_uploads_never_follow_symbolic_links(server: ServerHandle, tmp_path: Path) -> None:
    m = make_model(server)
    info = m.new_version()
    directory = m.version_dir(info)
    directory.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (directory / "link").symlink_to(outside, target_is_directory=True)
    response = server.admin.put(m.artifacts(info["version"], "link/x.txt"), content=b"x")
    error_of(response, 400, "INVALID_PARAMETER_VALUE", "symbolic link")
    response = server.admin.put(m.artifacts(info["version"], "link/new/x.txt"), content=b"x")
    error_of(response, 400, "INVALID_PARAMETER_VALUE", "symbolic link")
    assert list(outside.iterdir()) == []


def test_size_limits_are_413_and_leave_nothing_half_written(limited: ServerHandle) -> None:
    m = make_model(limited)
    admin = limited.admin
    info = m.new_version()
    version = info["version"]
    directory = m.version_dir(info)
    too_big = b"x" * (FILE_LIMIT + 1)

    announced = admin.put(m.artifacts(version, "big.bin"), content=too_big)
    error_of(announced, 413, "REQUEST_LIMIT_EXCEEDED", "STEWARD_MAX_ARTIFACT_BYTES", "big.bin")
    streamed = admin.put(m.artifacts(version, "big.bin"), content=chunks(too_big, 1000))
    error_of(streamed, 413, "REQUEST_LIMIT_EXCEEDED", "STEWARD_MAX_ARTIFACT_BYTES")
    assert not (directory / "big.bin").exists()
    assert staged(limited) == []

    # Exactly the limit is fine; the version's total has its own limit.
    for index in range(3):
        ok = admin.put(m.artifacts(version, f"part{index}.bin"), content=b"y" * 3000)
        assert ok.status_code == 200, ok.text
    over = admin.put(m.artifacts(version, "part3.bin"), content=b"y" * 3000)
    error_of(over, 413, "REQUEST_LIMIT_EXCEEDED", "STEWARD_MAX_VERSION_ARTIFACT_BYTES")
    over = admin.put(m.artifacts(version, "part3.bin"), content=chunks(b"y" * 3000, 500))
    error_of(over, 413, "REQUEST_LIMIT_EXCEEDED", "STEWARD_MAX_VERSION_ARTIFACT_BYTES")
    assert not (directory / "part3.bin").exists()
    # Replacing a file counts its new size, not both.
    replaced = admin.put(m.artifacts(version, "part2.bin"), content=b"z" * 3000)
    assert replaced.status_code == 200, replaced.text
    exact = admin.put(m.artifacts(version, "MLmodel"), content=MLMODEL)
    assert exact.status_code == 200, exact.text
    assert staged(limited) == []
    assert m.finalize(version)["status"] == "READY"

    # Files written straight to the file: location are held to the total at finalize.
    info = m.new_version()
    directory = m.version_dir(info)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "MLmodel").write_bytes(MLMODEL)
    (directory / "huge.bin").write_bytes(b"h" * (VERSION_LIMIT + 1))
    final = m.finalize(info["version"])
    assert final["status"] == "FAILED_REGISTRATION"
    assert "STEWARD_MAX_VERSION_ARTIFACT_BYTES" in final["status_message"]


def test_download_of_a_file_changed_since_registration_is_refused(
    server: ServerHandle, tmp_path: Path
) -> None:
    m = make_model(server)
    admin = server.admin
    info = m.new_version()
    version = info["version"]
    weights = os.urandom(10_000)
    assert admin.put(m.artifacts(version, "MLmodel"), content=MLMODEL).status_code == 200
    assert admin.put(m.artifacts(version, "weights.bin"), content=weights).status_code == 200
    assert m.finalize(version)["status"] == "READY"
    path = m.version_dir(info) / "weights.bin"

    # Same size, one byte flipped.
    tampered = bytearray(weights)
    tampered[0] ^= 0xFF
    path.write_bytes(bytes(tampered))
    refused = admin.get(m.artifacts(version, "weights.bin"))
    error_of(refused, 409, "INVALID_STATE", "changed since registration")
    assert events_for(server, refused)[0]["response"]["status_code"] == 409
    # Untouched files still download; the recorded manifest is still what is listed.
    assert admin.get(m.artifacts(version, "MLmodel")).content == MLMODEL
    listed = admin.get(m.artifacts(version)).json()["files"]
    assert {f["path"]: f["sha256"] for f in listed}["weights.bin"] == sha256(weights)

    path.write_bytes(weights)  # restored: served again
    assert admin.get(m.artifacts(version, "weights.bin")).content == weights

    copy = tmp_path / "copy.bin"
    copy.write_bytes(weights)
    path.unlink()
    path.symlink_to(copy)  # identical bytes, but through a link
    error_of(admin.get(m.artifacts(version, "weights.bin")), 409, "INVALID_STATE")
    path.unlink()  # gone
    error_of(admin.get(m.artifacts(version, "weights.bin")), 409, "INVALID_STATE")
    # A file added after registration is not part of the version.
    (m.version_dir(info) / "added.bin").write_bytes(b"added")
    error_of(admin.get(m.artifacts(version, "added.bin")), 404, "RESOURCE_DOES_NOT_EXIST")


def test_downloads_are_audited_even_when_metadata_reads_are_not(limited: ServerHandle) -> None:
    m = make_model(limited)
    admin = limited.admin
    version = m.new_version()["version"]
    assert admin.put(m.artifacts(version, "MLmodel"), content=MLMODEL).status_code == 200
    assert m.finalize(version)["status"] == "READY"
    metadata = admin.get(f"{UC}/models/{m.name}/versions/{version}")
    assert metadata.status_code == 200
    assert events_for(limited, metadata) == []  # STEWARD_AUDIT_METADATA_READS=0
    download = admin.get(m.artifacts(version, "MLmodel"))
    assert download.status_code == 200
    event = one_event(limited, download, "getModelVersionArtifact", "admin", 200)
    assert event["request_params"]["path"] == "MLmodel"
    assert event["request_params"]["full_name"] == m.name


def test_pending_and_failed_versions_serve_no_files(server: ServerHandle) -> None:
    m = make_model(server)
    admin = server.admin
    version = m.new_version()["version"]
    assert admin.put(m.artifacts(version, "notes.txt"), content=b"n").status_code == 200
    error_of(admin.get(m.artifacts(version, "notes.txt")), 409, "INVALID_STATE", "READY")
    final = m.finalize(version)  # no MLmodel: fails
    assert final["status"] == "FAILED_REGISTRATION"
    error_of(admin.get(m.artifacts(version, "notes.txt")), 409, "INVALID_STATE")
    late = admin.put(m.artifacts(version, "MLmodel"), content=MLMODEL)
    error_of(late, 409, "INVALID_STATE", "FAILED_REGISTRATION")


def test_temporary_files_of_crashed_uploads_are_swept(tmp_path: Path) -> None:
    from registry.artifact_service import UPLOADS_DIR, ArtifactService

    staging = tmp_path / UPLOADS_DIR
    staging.mkdir()
    (staging / "crashed.part").write_bytes(b"x")
    (staging / "in-flight.part").write_bytes(b"y")
    day_old = (staging / "crashed.part").stat().st_mtime - 2 * 86400
    os.utime(staging / "crashed.part", (day_old, day_old))
    ArtifactService(None, tmp_path, 1, 1)  # type: ignore[arg-type]
    assert [p.name for p in staging.iterdir()] == ["in-flight.part"]
