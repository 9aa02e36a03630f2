"""A version left PENDING_REGISTRATION is deleted after STEWARD_PENDING_VERSION_SECONDS, with
its files, and the audit log says the system did it (registry/pending_versions.py)."""

from __future__ import annotations

import time

from tests.registry_support import MLMODEL, make_model
from tests.support import ServerHandle, server_fixture

UC = "/api/2.1/unity-catalog"
AUDIT = "/api/2.1/steward/audit"

server = server_fixture("pending_versions", {"STEWARD_PENDING_VERSION_SECONDS": "2"})


def test_an_abandoned_version_is_deleted_with_its_files_and_audited(
    server: ServerHandle,
) -> None:
    m = make_model(server)
    ready = m.new_version()
    assert (
        server.admin.put(m.artifacts(ready["version"], "MLmodel"), content=MLMODEL).status_code
        == 200
    )
    assert m.finalize(ready["version"])["status"] == "READY"
    abandoned = m.new_version()
    upload = server.admin.put(m.artifacts(abandoned["version"], "MLmodel"), content=MLMODEL)
    assert upload.status_code == 200, upload.text
    assert (m.version_dir(abandoned) / "MLmodel").exists()

    path = f"{UC}/models/{m.name}/versions/{abandoned['version']}"
    deadline = time.monotonic() + 15
    while server.admin.get(path).status_code != 404:
        assert time.monotonic() < deadline, "the abandoned version is still there"
        time.sleep(0.25)
    assert not m.version_dir(abandoned).exists()
    # The finalized version stays.
    kept = server.admin.get(f"{UC}/models/{m.name}/versions/{ready['version']}")
    assert kept.status_code == 200 and kept.json()["status"] == "READY"

    events = server.admin.get(
        AUDIT, params={"action": "expirePendingModelVersion", "object": m.name}
    ).json()["events"]
    assert len(events) == 1, events
    (event,) = events
    assert event["user_identity"]["email"] == "system", event
    assert event["response"]["status_code"] == 200, event
    assert event["request_params"]["version"] == abandoned["version"]
    assert event["request_params"]["created_by"] == "admin"
