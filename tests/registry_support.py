"""Helpers for the registry's artifact, safe-loading and client tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import ServerHandle, unique

UC = "/api/2.1/unity-catalog"
STEWARD = "/api/2.1/steward"
#: The small artifact limits of the artifact tests' ``limited`` servers.
FILE_LIMIT = 4096
VERSION_LIMIT = 10_000
#: Their settings: those limits, and metadata reads not audited.
LIMITED_ENV = {
    "STEWARD_MAX_ARTIFACT_BYTES": str(FILE_LIMIT),
    "STEWARD_MAX_VERSION_ARTIFACT_BYTES": str(VERSION_LIMIT),
    "STEWARD_AUDIT_METADATA_READS": "0",
}
AUDIT = f"{STEWARD}/audit"
SQL = "/api/2.0/sql/statements"
MLMODEL = (
    b"flavors: {}\n"
    b"signature:\n"
    b'  inputs: \'[{"type": "double", "name": "x"}]\'\n'
    b'  outputs: \'[{"type": "long"}]\'\n'
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sql(client: httpx.Client, statement: str) -> dict[str, Any]:
    answer = client.post(SQL, json={"statement": statement})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    return body


@dataclass
class Model:
    """A catalog, schema ``ml`` and model ``churn`` created by the admin for one test."""

    server: ServerHandle
    catalog: str

    @property
    def schema(self) -> str:
        return f"{self.catalog}.ml"

    @property
    def name(self) -> str:
        return f"{self.catalog}.ml.churn"

    def new_version(self, client: httpx.Client | None = None, **extra: Any) -> dict[str, Any]:
        client = client or self.server.admin
        created = client.post(
            f"{UC}/models/versions",
            json={
                "catalog_name": self.catalog,
                "schema_name": "ml",
                "model_name": "churn",
                "source": "test",
                **extra,
            },
        )
        assert created.status_code == 200, created.text
        return created.json()

    def artifacts(self, version: int, path: str = "") -> str:
        base = f"{STEWARD}/models/{self.name}/versions/{version}/artifacts"
        return f"{base}/{path}" if path else base

    def finalize(self, version: int, client: httpx.Client | None = None) -> dict[str, Any]:
        client = client or self.server.admin
        done = client.patch(f"{UC}/models/{self.name}/versions/{version}/finalize")
        assert done.status_code == 200, done.text
        return done.json()

    def version_dir(self, info: dict[str, Any]) -> Path:
        return Path(info["storage_location"].removeprefix("file://"))


def make_model(server: ServerHandle) -> Model:
    catalog = unique("c")
    admin = server.admin
    assert admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
    created = admin.post(f"{UC}/schemas", json={"name": "ml", "catalog_name": catalog})
    assert created.status_code == 200, created.text
    body = {"catalog_name": catalog, "schema_name": "ml", "name": "churn"}
    assert admin.post(f"{UC}/models", json=body).status_code == 200
    return Model(server, catalog)


def events_for(server: ServerHandle, response: httpx.Response) -> list[dict[str, Any]]:
    listed = server.admin.get(AUDIT, params={"request_id": response.headers["x-request-id"]})
    assert listed.status_code == 200, listed.text
    return listed.json()["events"]


def one_event(
    server: ServerHandle, response: httpx.Response, action: str, user: str, status: int
) -> dict[str, Any]:
    events = events_for(server, response)
    assert len(events) == 1, (action, response.text, events)
    event = events[0]
    assert event["action_name"] == action, event
    assert event["user_identity"].get("email") == user, event
    assert event["response"]["status_code"] == status, event
    return event


def error_of(response: httpx.Response, status: int, code: str, *needles: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["error_code"] == code, body
    for needle in needles:
        assert needle in body["message"], (needle, body["message"])
    return str(body["message"])
