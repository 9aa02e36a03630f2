"""Artifact bundles (common/artifacts.py, docs/registry.md): all of a version's files in one
request each way, checked, authorized and audited as single files are, and all-or-nothing:
a bundle that is refused for any of its files writes none of them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from common.artifacts import (
    BUNDLE_MEDIA_TYPE,
    MAX_BUNDLE_FILES,
    BundleEntry,
    manifest_line,
    parse_manifest,
)
from common.errors import InvalidParameter
from tests.registry_support import (
    FILE_LIMIT,
    LIMITED_ENV,
    MLMODEL,
    STEWARD,
    error_of,
    make_model,
    one_event,
    sql,
)
from tests.support import ServerHandle, server_fixture

HEADERS = {"Content-Type": BUNDLE_MEDIA_TYPE}
UPLOAD = "uploadModelVersionArtifactBundle"
DOWNLOAD = "getModelVersionArtifactBundle"


#: A server with small artifact limits, and metadata reads not audited.
limited = server_fixture("limited_bundles", LIMITED_ENV)


def bundle_of(files: dict[str, bytes]) -> bytes:
    entries = [BundleEntry(p, len(b), hashlib.sha256(b).hexdigest()) for p, b in files.items()]
    return manifest_line(entries) + b"".join(files.values())


def bundle_url(name: str, version: int) -> str:
    return f"{STEWARD}/models/{name}/versions/{version}/artifact-bundle"


def on_disk(directory: Path) -> dict[str, bytes]:
    if not directory.is_dir():
        return {}
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def staged(server: ServerHandle) -> list[Path]:
    staging = server.storage_root / ".uploads"
    return list(staging.iterdir()) if staging.is_dir() else []


FILES = {
    "MLmodel": MLMODEL,
    "data/weights.bin": bytes(range(256)) * 40,
    "data/nested/empty.txt": b"",
    "requirements.txt": b"scikit-learn\n",
}


def test_a_bundle_goes_up_and_comes_down_whole_checked_and_audited(server: ServerHandle) -> None:
    m = make_model(server)
    admin = server.admin
    info = m.new_version()
    version = info["version"]
    # A file uploaded on its own first: the bundle's file of the same path replaces it.
    assert admin.put(m.artifacts(version, "MLmodel"), content=b"old").status_code == 200

    up = admin.put(bundle_url(m.name, version), content=bundle_of(FILES), headers=HEADERS)
    assert up.status_code == 200, up.text
    expected = sorted((p, len(b), hashlib.sha256(b).hexdigest()) for p, b in FILES.items())
    assert sorted((f["path"], f["size"], f["sha256"]) for f in up.json()["files"]) == expected
    assert on_disk(m.version_dir(info)) == FILES
    assert staged(server) == []
    event = one_event(server, up, UPLOAD, "admin", 200)
    named = event["request_params"]["files"]
    assert sorted((f["path"], f["size"], f["sha256"]) for f in named) == expected

    assert m.finalize(version)["status"] == "READY"
    down = admin.get(bundle_url(m.name, version))
    assert down.status_code == 200, down.text
    assert down.headers["content-type"] == BUNDLE_MEDIA_TYPE
    head, _, rest = down.content.partition(b"\n")
    entries = parse_manifest(head)
    assert sorted((e.path, e.size, e.sha256) for e in entries) == expected
    offset = 0
    for entry in entries:
        assert rest[offset : offset + entry.size] == FILES[entry.path]
        offset += entry.size
    assert offset == len(rest)
    event = one_event(server, down, DOWNLOAD, "admin", 200)
    assert sorted(f["path"] for f in event["request_params"]["files"]) == sorted(FILES)
    # Single files still come down on their own.
    single = admin.get(m.artifacts(version, "data/weights.bin"))
    assert single.status_code == 200 and single.content == FILES["data/weights.bin"]


def _manifest(files: list[dict[str, object]]) -> bytes:
    return json.dumps({"files": files}).encode() + b"\n"


SHA_OF_ABC = hashlib.sha256(b"abc").hexdigest()
BAD_BUNDLES = {
    "not-json": (b"this is not a manifest\nabc", "manifest"),
    "no-newline": (b'{"files": []}', "manifest line"),
    "not-a-list": (_manifest({"a": 1}), "files"),  # type: ignore[arg-type]
    "parent-segment": (
        _manifest([{"path": "../x", "size": 3, "sha256": SHA_OF_ABC}]) + b"abc",
        "'..' segment",
    ),
    "absolute": (
        _manifest([{"path": "/etc/x", "size": 3, "sha256": SHA_OF_ABC}]) + b"abc",
        "relative",
    ),
    "twice": (
        _manifest([{"path": "a", "size": 3, "sha256": SHA_OF_ABC}] * 2) + b"abcabc",
        "appears twice",
    ),
    "file-and-directory": (
        _manifest(
            [
                {"path": "a", "size": 3, "sha256": SHA_OF_ABC},
                {"path": "a/b", "size": 3, "sha256": SHA_OF_ABC},
            ]
        )
        + b"abcabc",
        "below the file 'a'",
    ),
    "negative-size": (_manifest([{"path": "a", "size": -1, "sha256": SHA_OF_ABC}]), "size"),
    "bad-digest": (_manifest([{"path": "a", "size": 3, "sha256": "xyz"}]) + b"abc", "sha256"),
    "wrong-bytes": (
        _manifest(
            [
                {"path": "ok", "size": 3, "sha256": SHA_OF_ABC},
                {"path": "bad", "size": 3, "sha256": SHA_OF_ABC},
            ]
        )
        + b"abcabd",
        "checksum mismatch for 'bad'",
    ),
    "cut-short": (
        _manifest([{"path": "a", "size": 3, "sha256": SHA_OF_ABC}]) + b"ab",
        "ended inside 'a'",
    ),
    "bytes-after": (
        _manifest([{"path": "a", "size": 3, "sha256": SHA_OF_ABC}]) + b"abcd",
        "after its last file",
    ),
    "too-many": (
        _manifest(
            [
                {"path": f"f{i}", "size": 0, "sha256": hashlib.sha256(b"").hexdigest()}
                for i in range(MAX_BUNDLE_FILES + 1)
            ]
        ),
        f"at most {MAX_BUNDLE_FILES}",
    ),
}


@pytest.mark.parametrize("case", list(BAD_BUNDLES))
def test_a_bad_bundle_is_400_and_writes_nothing(server: ServerHandle, case: str) -> None:
    m = make_model(server)
    info = m.new_version()
    version = info["version"]
    assert server.admin.put(m.artifacts(version, "keep"), content=b"kept").status_code == 200
    body, needle = BAD_BUNDLES[case]
    refused = server.admin.put(bundle_url(m.name, version), content=body, headers=HEADERS)
    error_of(refused, 400, "INVALID_PARAMETER_VALUE", needle)
    one_event(server, refused, UPLOAD, "admin", 400)
    assert on_disk(m.version_dir(info)) == {"keep": b"kept"}
    assert staged(server) == []
    listed = server.admin.get(m.artifacts(version)).json()["files"]
    assert [f["path"] for f in listed] == ["keep"]


def test_a_bundle_colliding_with_stored_files_or_links_writes_nothing(
    server: ServerHandle, tmp_path: Path
) -> None:
    m = make_model(server)
    info = m.new_version()
    version = info["version"]
    assert server.admin.put(m.artifacts(version, "f1"), content=b"one").status_code == 200
    collides = bundle_of({"ok.txt": b"fine", "f1/g": b"below a file"})
    refused = server.admin.put(bundle_url(m.name, version), content=collides, headers=HEADERS)
    error_of(refused, 400, "INVALID_PARAMETER_VALUE", "f1/g", "f1")
    (m.version_dir(info) / "link").symlink_to(tmp_path)
    through = bundle_of({"ok.txt": b"fine", "link/x": b"out"})
    refused = server.admin.put(bundle_url(m.name, version), content=through, headers=HEADERS)
    error_of(refused, 400, "INVALID_PARAMETER_VALUE", "symbolic link")
    assert list(tmp_path.iterdir()) == []
    assert not (m.version_dir(info) / "ok.txt").exists()
    assert staged(server) == []


def test_size_limits_hold_for_each_file_and_the_version(limited: ServerHandle) -> None:
    m = make_model(limited)
    info = m.new_version()
    version = info["version"]
    big = bundle_of({"small": b"s" * 10, "big.bin": b"b" * (FILE_LIMIT + 1)})
    refused = limited.admin.put(bundle_url(m.name, version), content=big, headers=HEADERS)
    error_of(refused, 413, "REQUEST_LIMIT_EXCEEDED", "big.bin", "STEWARD_MAX_ARTIFACT_BYTES")
    files = {f"part{i}": b"p" * 3000 for i in range(4)}  # 12,000 bytes over 10,000
    refused = limited.admin.put(
        bundle_url(m.name, version), content=bundle_of(files), headers=HEADERS
    )
    error_of(refused, 413, "REQUEST_LIMIT_EXCEEDED", "STEWARD_MAX_VERSION_ARTIFACT_BYTES")
    assert on_disk(m.version_dir(info)) == {}
    assert staged(limited) == []
    # Within the limits, sent in pieces (no Content-Length): stored.
    fits = bundle_of({"MLmodel": MLMODEL, **{f"part{i}": b"p" * 3000 for i in range(3)}})
    pieces = (fits[i : i + 1000] for i in range(0, len(fits), 1000))
    stored = limited.admin.put(bundle_url(m.name, version), content=pieces, headers=HEADERS)
    assert stored.status_code == 200, stored.text
    assert len(on_disk(m.version_dir(info))) == 4
    # A download is a data read: audited even with metadata reads not audited.
    m.finalize(version)
    down = limited.admin.get(bundle_url(m.name, version))
    assert down.status_code == 200 and down.content == fits
    one_event(limited, down, DOWNLOAD, "admin", 200)


def test_bundles_need_the_same_rights_as_single_files(server: ServerHandle) -> None:
    m = make_model(server)
    admin = server.admin
    user, token = server.create_user()
    as_user = server.client(token)
    info = m.new_version()
    version = info["version"]
    body = bundle_of({"MLmodel": MLMODEL})

    hidden = as_user.put(bundle_url(m.name, version), content=body, headers=HEADERS)
    error_of(hidden, 404, "RESOURCE_DOES_NOT_EXIST", m.catalog, "does not exist")
    sql(admin, f"GRANT USE CATALOG ON CATALOG {m.catalog} TO `{user}`")
    sql(admin, f"GRANT USE SCHEMA ON SCHEMA {m.schema} TO `{user}`")
    sql(admin, f"GRANT CREATE MODEL VERSION ON MODEL {m.name} TO `{user}`")
    others = as_user.put(bundle_url(m.name, version), content=body, headers=HEADERS)
    error_of(others, 403, "PERMISSION_DENIED", "only its creator uploads")
    one_event(server, others, UPLOAD, user, 403)
    assert on_disk(m.version_dir(info)) == {}

    # Downloads: EXECUTE, and only of a READY version.
    assert admin.put(bundle_url(m.name, version), content=body, headers=HEADERS).is_success
    pending = admin.get(bundle_url(m.name, version))
    error_of(pending, 409, "INVALID_STATE", "PENDING_REGISTRATION")
    m.finalize(version)
    denied = as_user.get(bundle_url(m.name, version))
    error_of(denied, 403, "PERMISSION_DENIED", "EXECUTE")
    one_event(server, denied, DOWNLOAD, user, 403)
    sql(admin, f"GRANT EXECUTE ON MODEL {m.name} TO `{user}`")
    allowed = as_user.get(bundle_url(m.name, version))
    assert allowed.status_code == 200 and allowed.content == body
    # A READY version takes no more files.
    late = admin.put(bundle_url(m.name, version), content=body, headers=HEADERS)
    error_of(late, 409, "INVALID_STATE", "READY")


def test_a_file_changed_since_registration_stops_the_bundle(server: ServerHandle) -> None:
    m = make_model(server)
    info = m.new_version()
    version = info["version"]
    body = bundle_of({"MLmodel": MLMODEL, "w.bin": b"weights"})
    assert server.admin.put(bundle_url(m.name, version), content=body, headers=HEADERS).is_success
    m.finalize(version)
    (m.version_dir(info) / "w.bin").write_bytes(b"tampered")
    changed = server.admin.get(bundle_url(m.name, version))
    error_of(changed, 409, "INVALID_STATE", "w.bin", "changed since registration")


def test_large_bundles_stream_both_ways(server: ServerHandle) -> None:
    m = make_model(server)
    info = m.new_version()
    version = info["version"]
    large = {"MLmodel": MLMODEL, "weights.bin": bytes(range(256)) * (40 * 1024)}  # 10 MiB
    body = bundle_of(large)
    pieces = (body[i : i + 300_000] for i in range(0, len(body), 300_000))
    up = server.admin.put(bundle_url(m.name, version), content=pieces, headers=HEADERS)
    assert up.status_code == 200, up.text
    m.finalize(version)
    with server.admin.stream("GET", bundle_url(m.name, version)) as down:
        assert down.status_code == 200
        assert b"".join(down.iter_bytes()) == body


def _line(*files: object) -> bytes:
    return json.dumps({"files": list(files)}).encode()


def _file(path: str, size: object = 1, sha256: str = SHA_OF_ABC) -> dict[str, object]:
    return {"path": path, "size": size, "sha256": sha256}


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        (b"", "manifest"),
        (b"[]", '{"files"'),
        (_line(_file("a\\b")), "backslash"),
        (_line(_file("a", size=True)), "size"),
        (_line(_file("a", sha256=SHA_OF_ABC.upper())), "sha256"),
        (_line("a"), "not an object"),
        (_line(_file("d/x"), _file("d")), "'d/x' of the same bundle"),
    ],
)
def test_the_manifest_parser_names_what_is_wrong(line: bytes, needle: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        parse_manifest(line)
    assert needle in str(refused.value)
