"""A file sent again to a pending version replaces the earlier one only if the new upload
is recorded (registry/artifact_service.py ``Upload._keep_previous``): when the recording
transaction fails after the file was moved into place, the earlier file — acknowledged,
and still the one the manifest lists — is put back, for a single upload and for a bundle.

The failure is injected in the database itself: a trigger that refuses any update of
``model_versions`` (the recording transaction's update of the version's manifest), on
the test's own server and dropped before the module's next test."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from common.artifacts import BUNDLE_MEDIA_TYPE, BundleEntry, manifest_line
from tests.registry_support import MLMODEL, STEWARD, make_model
from tests.support import ServerHandle, server_fixture

server = server_fixture("artifact_replacement")

_SQLITE_TRIGGER = (
    "CREATE TRIGGER steward_test_refuse BEFORE UPDATE ON model_versions "
    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
)
_POSTGRES_FUNCTION = (
    "CREATE FUNCTION steward_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
)
_POSTGRES_TRIGGER = (
    "CREATE TRIGGER steward_test_refuse BEFORE UPDATE ON model_versions "
    "FOR EACH ROW EXECUTE FUNCTION steward_test_refuse()"
)


@contextmanager
def recording_fails(handle: ServerHandle) -> Iterator[None]:
    engine = create_engine(handle.database_url)
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.begin() as connection:
            if postgres:
                connection.execute(text(_POSTGRES_FUNCTION))
                connection.execute(text(_POSTGRES_TRIGGER))
            else:
                connection.execute(text(_SQLITE_TRIGGER))
        yield
    finally:
        with engine.begin() as connection:
            if postgres:
                connection.execute(text("DROP TRIGGER steward_test_refuse ON model_versions"))
                connection.execute(text("DROP FUNCTION steward_test_refuse()"))
            else:
                connection.execute(text("DROP TRIGGER steward_test_refuse"))
        engine.dispose()


def bundle_of(files: dict[str, bytes]) -> bytes:
    entries = [BundleEntry(p, len(b), hashlib.sha256(b).hexdigest()) for p, b in files.items()]
    return manifest_line(entries) + b"".join(files.values())


def test_a_failed_recording_puts_the_replaced_file_back(server: ServerHandle) -> None:
    m = make_model(server)
    admin = server.admin
    info = m.new_version()
    version, directory = info["version"], m.version_dir(info)
    for path, content in (("MLmodel", MLMODEL), ("model.bin", b"first")):
        assert admin.put(m.artifacts(version, path), content=content).status_code == 200

    with recording_fails(server):
        single = admin.put(m.artifacts(version, "model.bin"), content=b"second")
        assert single.status_code == 500, single.text
        # A fresh connection: the server closes the one that got its 500.
        bundled = server.client(server.admin_token).put(
            f"{STEWARD}/models/{m.name}/versions/{version}/artifact-bundle",
            content=bundle_of({"model.bin": b"third", "extra.bin": b"new"}),
            headers={"Content-Type": BUNDLE_MEDIA_TYPE},
        )
        assert bundled.status_code == 500, bundled.text

    assert (directory / "model.bin").read_bytes() == b"first"
    assert not (directory / "extra.bin").exists()
    staging = server.storage_root / ".uploads"
    assert not staging.is_dir() or list(staging.iterdir()) == []
    admin = server.client(server.admin_token)
    assert m.finalize(version, admin)["status"] == "READY"  # the manifest and files agree
    served = admin.get(m.artifacts(version, "model.bin"))
    assert served.status_code == 200 and served.content == b"first"


def test_a_recorded_replacement_keeps_only_the_new_file(server: ServerHandle) -> None:
    m = make_model(server)
    admin = server.admin
    version = m.new_version()["version"]
    for content in (MLMODEL, MLMODEL + b"\n"):
        assert admin.put(m.artifacts(version, "MLmodel"), content=content).status_code == 200
    assert admin.put(m.artifacts(version, "w.bin"), content=b"one").status_code == 200
    replaced = admin.put(
        f"{STEWARD}/models/{m.name}/versions/{version}/artifact-bundle",
        content=bundle_of({"w.bin": b"two"}),
        headers={"Content-Type": BUNDLE_MEDIA_TYPE},
    )
    assert replaced.status_code == 200, replaced.text
    staging = server.storage_root / ".uploads"
    assert not staging.is_dir() or list(staging.iterdir()) == []
    assert m.finalize(version)["status"] == "READY"
    assert admin.get(m.artifacts(version, "w.bin")).content == b"two"
