"""The audit log over HTTP (docs/audit.md): one event per request, in the change's transaction,
for successes, denials and failures alike; queried by REST and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import create_engine, text
from starlette.routing import compile_path

from catalog.audit.verify import verify
from catalog.http.app import CATALOG_ROUTERS
from catalog.http.guards import route_requirement
from catalog.persistence.engine import Database
from catalog.sql.executor import _ACTIONS, HANDLERS
from common.artifacts import BUNDLE_MEDIA_TYPE, BundleEntry, manifest_line
from policy import dialect as d
from policy import statement_reading as reading
from policy.requirements import Access
from policy.securables import SecurableType
from policy.statement_reading import StatementKind as K
from steward.app import REGISTRY_ROUTERS
from tests.bad_input_support import table_body
from tests.support import (
    MLMODEL_TEXT,
    ROOT,
    ServerHandle,
    start_server,
    unique,
    write_mlmodel,
)

UC = "/api/2.1/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"
PERMISSIONS = "/api/2.0/permissions"
AUDIT = "/api/2.1/steward/audit"
SQL = "/api/2.0/sql/statements"


def events_of(server: ServerHandle, response: httpx.Response) -> list[dict[str, Any]]:
    """The audit events written for the request that produced ``response``."""
    request_id = response.headers["x-request-id"]
    listed = server.admin.get(AUDIT, params={"request_id": request_id})
    assert listed.status_code == 200, listed.text
    return listed.json()["events"]


def one_event(
    server: ServerHandle,
    response: httpx.Response,
    action: str,
    user: str | None,
    status: int,
    service: str | None = None,
) -> dict[str, Any]:
    events = events_of(server, response)
    assert len(events) == 1, (action, response.status_code, response.text, events)
    event = events[0]
    assert event["action_name"] == action, (event, response.text)
    assert event["user_identity"].get("email") == user, event
    assert event["response"]["status_code"] == status, (event, response.text)
    if status >= 400:
        assert event["response"]["error_message"], event
    if service is not None:
        assert event["service_name"] == service, event
    assert event["request_id"] == response.headers["x-request-id"]
    return event


# -- every mutating route --------------------------------------------------------------------


@dataclass
class World:
    """Names created along the way by the mutation walk."""

    catalog: str
    schema: str
    table: str
    model: str
    user: str = ""
    user_id: str = ""
    sp_id: str = ""
    group_id: str = ""
    token_id: str = ""
    obo_token_id: str = ""
    version: int = 0

    @property
    def endpoint(self) -> str:
        return f"{self.catalog}_ep"

    @property
    def gone(self) -> str:
        """A three-part name in the walk's schema that never exists (for 404s)."""
        return f"{self.schema}.gone"


Call = Callable[[httpx.Client, World], httpx.Response]


def same(c: httpx.Client, w: World) -> httpx.Response:
    """Marks a denied attempt that is the success call itself, sent by the unprivileged user."""
    raise AssertionError("a marker, never called")


@dataclass(frozen=True)
class Mutation:
    """One mutating route: the admin's call that succeeds, and attempts that must not.

    ``denied`` is sent by a user who holds no privileges (``same``: the success call itself)
    and is refused with 403; it is None only for routes any authenticated caller may use.
    ``failed`` is sent by the admin and fails with ``failed_status`` (a missing object, bad
    input). With an anonymous attempt (401) that makes four attempts per route, each of which
    must write exactly one event naming the route's action, the caller and the status.
    """

    method: str
    path: str
    action: str
    status: int
    call: Call
    denied: Call | None
    failed: Call
    failed_status: int = 404


def _bundle(files: dict[str, bytes]) -> bytes:
    """An artifact bundle of ``files`` (common/artifacts.py)."""
    entries = [BundleEntry(p, len(b), hashlib.sha256(b).hexdigest()) for p, b in files.items()]
    return manifest_line(entries) + b"".join(files.values())


def _lineage(output: str, namespace: str = "steward") -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-23T10:00:00Z",
        "run": {"runId": unique("run")},
        "job": {"namespace": "etl", "name": "nightly"},
        "inputs": [{"namespace": "s3", "name": "raw/orders"}],
        "outputs": [{"namespace": namespace, "name": output}],
    }


def _served(w: World, version: int | None = None) -> dict[str, Any]:
    return {"served_entities": [{"entity_name": w.model, "entity_version": version or w.version}]}


def _statement_id(client: httpx.Client) -> str:
    """The id of a statement ``client`` has just run (any id for a caller who may run
    none: the route refuses it before looking)."""
    ran = client.post(SQL, json={"statement": "SELECT 1"})
    return str(ran.json()["statement_id"]) if ran.status_code == 200 else "none"


#: Every mutating route, in an order where later calls use what earlier ones created;
#: deletes come last.
MUTATIONS: list[Mutation] = [
    Mutation(
        "POST",
        f"{UC}/catalogs",
        "createCatalog",
        200,
        lambda c, w: c.post(f"{UC}/catalogs", json={"name": w.catalog}),
        denied=same,
        failed=lambda c, w: c.post(f"{UC}/catalogs", json={"comment": "no name"}),
        failed_status=400,
    ),
    Mutation(
        "PATCH",
        f"{UC}/catalogs/{{name}}",
        "updateCatalog",
        200,
        lambda c, w: c.patch(f"{UC}/catalogs/{w.catalog}", json={"comment": "x"}),
        denied=same,
        failed=lambda c, w: c.patch(f"{UC}/catalogs/{w.catalog}_gone", json={"comment": "x"}),
    ),
    Mutation(
        "POST",
        f"{UC}/schemas",
        "createSchema",
        200,
        lambda c, w: c.post(f"{UC}/schemas", json={"name": "s", "catalog_name": w.catalog}),
        denied=same,
        failed=lambda c, w: c.post(
            f"{UC}/schemas", json={"name": "s", "catalog_name": f"{w.catalog}_gone"}
        ),
    ),
    Mutation(
        "PATCH",
        f"{UC}/schemas/{{full_name}}",
        "updateSchema",
        200,
        lambda c, w: c.patch(f"{UC}/schemas/{w.schema}", json={"comment": "x"}),
        denied=same,
        failed=lambda c, w: c.patch(f"{UC}/schemas/{w.catalog}.gone", json={"comment": "x"}),
    ),
    Mutation(
        "POST",
        f"{UC}/tables",
        "createTable",
        200,
        lambda c, w: c.post(
            f"{UC}/tables",
            json=table_body(
                *w.table.split("."),
                table_constraints=[
                    {"primary_key_constraint": {"name": "pk", "child_columns": ["id"]}}
                ],
            ),
        ),
        denied=same,
        failed=lambda c, w: c.post(f"{UC}/tables", json=table_body(w.catalog, "gone", "t")),
    ),
    Mutation(
        "PATCH",
        f"{UC}/tables/{{full_name}}",
        "updateTable",
        200,
        lambda c, w: c.patch(f"{UC}/tables/{w.table}", json={"comment": "x"}),
        denied=same,
        failed=lambda c, w: c.patch(f"{UC}/tables/{w.gone}", json={"comment": "x"}),
    ),
    Mutation(
        "POST",
        "/api/2.1/steward/tables/{full_name}/rows",
        "writeTableRows",
        200,
        lambda c, w: c.post(
            f"/api/2.1/steward/tables/{w.table}/rows", json={"rows": [{"id": 1}, {"id": 2}]}
        ),
        denied=same,
        failed=lambda c, w: c.post(
            f"/api/2.1/steward/tables/{w.table}/rows", json={"rows": [{"id": "one"}]}
        ),
        failed_status=400,
    ),
    Mutation(
        "POST",
        "/api/2.1/steward/tables/{full_name}/lookup",
        "lookupTableRows",
        200,
        lambda c, w: c.post(
            f"/api/2.1/steward/tables/{w.table}/lookup", json={"keys": [{"id": 1}]}
        ),
        denied=same,
        failed=lambda c, w: c.post(
            f"/api/2.1/steward/tables/{w.gone}/lookup", json={"keys": [{"id": 1}]}
        ),
    ),
    Mutation(
        "POST",
        f"{UC}/entity-tag-assignments",
        "createEntityTagAssignment",
        200,
        lambda c, w: c.post(
            f"{UC}/entity-tag-assignments",
            json={
                "entity_type": "tables",
                "entity_name": w.table,
                "tag_key": "k",
                "tag_value": "v",
            },
        ),
        denied=same,
        failed=lambda c, w: c.post(
            f"{UC}/entity-tag-assignments",
            json={"entity_type": "tables", "entity_name": w.gone, "tag_key": "k"},
        ),
    ),
    Mutation(
        "PATCH",
        f"{UC}/entity-tag-assignments/{{entity_type}}/{{entity_name}}/tags/{{tag_key}}",
        "updateEntityTagAssignment",
        200,
        lambda c, w: c.patch(
            f"{UC}/entity-tag-assignments/tables/{w.table}/tags/k", json={"tag_value": "w"}
        ),
        denied=same,
        failed=lambda c, w: c.patch(
            f"{UC}/entity-tag-assignments/tables/{w.table}/tags/missing", json={"tag_value": "w"}
        ),
    ),
    Mutation(
        "DELETE",
        f"{UC}/entity-tag-assignments/{{entity_type}}/{{entity_name}}/tags/{{tag_key}}",
        "deleteEntityTagAssignment",
        200,
        lambda c, w: c.delete(f"{UC}/entity-tag-assignments/tables/{w.table}/tags/k"),
        denied=same,
        failed=lambda c, w: c.delete(f"{UC}/entity-tag-assignments/tables/{w.table}/tags/missing"),
    ),
    Mutation(
        "PATCH",
        f"{UC}/permissions/{{securable_type}}/{{full_name}}",
        "updatePermissions",
        200,
        lambda c, w: c.patch(
            f"{UC}/permissions/table/{w.table}",
            json={"changes": [{"principal": "admin", "add": ["SELECT"]}]},
        ),
        denied=same,
        failed=lambda c, w: c.patch(
            f"{UC}/permissions/table/{w.gone}",
            json={"changes": [{"principal": "admin", "add": ["SELECT"]}]},
        ),
    ),
    Mutation(
        "POST",
        f"{UC}/models",
        "createRegisteredModel",
        200,
        lambda c, w: c.post(
            f"{UC}/models",
            json={"catalog_name": w.catalog, "schema_name": "s", "name": w.model.split(".")[2]},
        ),
        denied=same,
        failed=lambda c, w: c.post(
            f"{UC}/models", json={"catalog_name": w.catalog, "schema_name": "gone", "name": "m"}
        ),
    ),
    Mutation(
        "PATCH",
        f"{UC}/models/{{full_name}}",
        "updateRegisteredModel",
        200,
        lambda c, w: c.patch(f"{UC}/models/{w.model}", json={"comment": "x"}),
        denied=same,
        failed=lambda c, w: c.patch(f"{UC}/models/{w.gone}", json={"comment": "x"}),
    ),
    Mutation(
        "POST",
        f"{UC}/models/versions",
        "createModelVersion",
        200,
        lambda c, w: c.post(
            f"{UC}/models/versions",
            json={
                "catalog_name": w.catalog,
                "schema_name": "s",
                "model_name": w.model.split(".")[2],
                "source": "file:/tmp/m",
            },
        ),
        denied=same,
        failed=lambda c, w: c.post(
            f"{UC}/models/versions",
            json={"catalog_name": w.catalog, "schema_name": "s", "model_name": "gone"},
        ),
    ),
    Mutation(
        "PATCH",
        f"{UC}/models/{{full_name}}/versions/{{version}}",
        "updateModelVersion",
        200,
        lambda c, w: c.patch(f"{UC}/models/{w.model}/versions/{w.version}", json={"comment": "x"}),
        denied=same,
        failed=lambda c, w: c.patch(f"{UC}/models/{w.model}/versions/999", json={"comment": "x"}),
    ),
    Mutation(
        "PUT",
        "/api/2.1/steward/models/{full_name}/versions/{version}/artifacts/{path:path}",
        "uploadModelVersionArtifact",
        200,
        # The MLmodel the walk wrote, uploaded again: finalize checks the files against
        # their uploads, and a version's files either all come over HTTP or none do.
        lambda c, w: c.put(
            f"/api/2.1/steward/models/{w.model}/versions/{w.version}/artifacts/MLmodel",
            content=MLMODEL_TEXT.encode(),
        ),
        denied=same,
        failed=lambda c, w: c.put(
            f"/api/2.1/steward/models/{w.model}/versions/999/artifacts/notes.txt",
            content=b"uploaded",
        ),
    ),
    Mutation(
        "PUT",
        "/api/2.1/steward/models/{full_name}/versions/{version}/artifact-bundle",
        "uploadModelVersionArtifactBundle",
        200,
        # The same MLmodel again, as a bundle of one file.
        lambda c, w: c.put(
            f"/api/2.1/steward/models/{w.model}/versions/{w.version}/artifact-bundle",
            content=_bundle({"MLmodel": MLMODEL_TEXT.encode()}),
            headers={"Content-Type": BUNDLE_MEDIA_TYPE},
        ),
        denied=same,
        failed=lambda c, w: c.put(
            f"/api/2.1/steward/models/{w.model}/versions/999/artifact-bundle",
            content=_bundle({"notes.txt": b"uploaded"}),
            headers={"Content-Type": BUNDLE_MEDIA_TYPE},
        ),
    ),
    Mutation(
        "PATCH",
        f"{UC}/models/{{full_name}}/versions/{{version}}/finalize",
        "finalizeModelVersion",
        200,
        lambda c, w: c.patch(
            f"{UC}/models/{w.model}/versions/{w.version}/finalize",
            json={"full_name": w.model, "version": w.version},
        ),
        denied=same,
        failed=lambda c, w: c.patch(
            f"{UC}/models/{w.model}/versions/999/finalize",
            json={"full_name": w.model, "version": 999},
        ),
    ),
    Mutation(
        # Always refused (Steward hands out no cloud credentials), and audited as such.
        "POST",
        f"{UC}/temporary-model-version-credentials",
        "generateTemporaryModelVersionCredentials",
        400,
        lambda c, w: c.post(f"{UC}/temporary-model-version-credentials", json={}),
        denied=None,
        failed=lambda c, w: c.post(f"{UC}/temporary-model-version-credentials", json={}),
        failed_status=400,
    ),
    Mutation(
        "POST",
        f"{SCIM}/Users",
        "createUser",
        201,
        lambda c, w: c.post(f"{SCIM}/Users", json={"userName": w.user}),
        denied=same,
        failed=lambda c, w: c.post(f"{SCIM}/Users", json={"displayName": "no user name"}),
        failed_status=400,
    ),
    Mutation(
        "PUT",
        f"{SCIM}/Users/{{user_id}}",
        "updateUser",
        200,
        lambda c, w: c.put(
            f"{SCIM}/Users/{w.user_id}", json={"userName": w.user, "displayName": "x"}
        ),
        denied=same,
        failed=lambda c, w: c.put(f"{SCIM}/Users/{w.user_id}0", json={"displayName": "x"}),
    ),
    Mutation(
        "PATCH",
        f"{SCIM}/Users/{{user_id}}",
        "patchUser",
        200,
        lambda c, w: c.patch(
            f"{SCIM}/Users/{w.user_id}",
            json={"Operations": [{"op": "replace", "path": "displayName", "value": "y"}]},
        ),
        denied=same,
        failed=lambda c, w: c.patch(
            f"{SCIM}/Users/{w.user_id}0",
            json={"Operations": [{"op": "replace", "path": "displayName", "value": "y"}]},
        ),
    ),
    Mutation(
        "POST",
        f"{SCIM}/ServicePrincipals",
        "createServicePrincipal",
        201,
        lambda c, w: c.post(f"{SCIM}/ServicePrincipals", json={"applicationId": unique("app")}),
        denied=same,
        failed=lambda c, w: c.post(f"{SCIM}/ServicePrincipals", json={"displayName": "no id"}),
        failed_status=400,
    ),
    Mutation(
        "PUT",
        f"{SCIM}/ServicePrincipals/{{sp_id}}",
        "updateServicePrincipal",
        200,
        lambda c, w: c.put(f"{SCIM}/ServicePrincipals/{w.sp_id}", json={"displayName": "etl"}),
        denied=same,
        failed=lambda c, w: c.put(
            f"{SCIM}/ServicePrincipals/{w.sp_id}0", json={"displayName": "etl"}
        ),
    ),
    Mutation(
        "PATCH",
        f"{SCIM}/ServicePrincipals/{{sp_id}}",
        "patchServicePrincipal",
        200,
        lambda c, w: c.patch(
            f"{SCIM}/ServicePrincipals/{w.sp_id}",
            json={"Operations": [{"op": "replace", "value": {"active": True}}]},
        ),
        denied=same,
        failed=lambda c, w: c.patch(
            f"{SCIM}/ServicePrincipals/{w.sp_id}0",
            json={"Operations": [{"op": "replace", "value": {"active": True}}]},
        ),
    ),
    Mutation(
        "POST",
        f"{SCIM}/Groups",
        "createGroup",
        201,
        lambda c, w: c.post(f"{SCIM}/Groups", json={"displayName": unique("grp")}),
        denied=same,
        failed=lambda c, w: c.post(f"{SCIM}/Groups", json={"members": []}),
        failed_status=400,
    ),
    Mutation(
        "PATCH",
        f"{SCIM}/Groups/{{group_id}}",
        "patchGroup",
        200,
        lambda c, w: c.patch(
            f"{SCIM}/Groups/{w.group_id}",
            json={"Operations": [{"op": "add", "value": {"members": [{"value": w.user_id}]}}]},
        ),
        denied=same,
        failed=lambda c, w: c.patch(
            f"{SCIM}/Groups/{w.group_id}0",
            json={"Operations": [{"op": "add", "value": {"members": [{"value": w.user_id}]}}]},
        ),
    ),
    Mutation(
        "PUT",
        f"{SCIM}/Groups/{{group_id}}",
        "updateGroup",
        200,
        lambda c, w: c.put(f"{SCIM}/Groups/{w.group_id}", json={"members": [{"value": w.user_id}]}),
        denied=same,
        failed=lambda c, w: c.put(f"{SCIM}/Groups/{w.group_id}0", json={"members": []}),
    ),
    Mutation(
        "POST",
        "/api/2.0/token/create",
        "createToken",
        200,
        lambda c, w: c.post("/api/2.0/token/create", json={"comment": "audit test"}),
        denied=None,  # every caller may create its own tokens
        failed=lambda c, w: c.post("/api/2.0/token/create", json={"lifetime_seconds": -5}),
        failed_status=400,
    ),
    Mutation(
        "PATCH",
        "/api/2.0/token/{token_id}",
        "updateToken",
        200,
        lambda c, w: c.patch(
            f"/api/2.0/token/{w.token_id}",
            json={"token": {"comment": "changed"}, "update_mask": "comment"},
        ),
        denied=None,  # every caller may change its own tokens' comments
        failed=lambda c, w: c.patch(
            "/api/2.0/token/gone", json={"token": {"comment": "x"}, "update_mask": "comment"}
        ),
    ),
    Mutation(
        "POST",
        "/api/2.0/token/delete",
        "revokeToken",
        200,
        lambda c, w: c.post("/api/2.0/token/delete", json={"token_id": w.token_id}),
        denied=None,  # every caller may revoke its own tokens
        failed=lambda c, w: c.post("/api/2.0/token/delete", json={"token_id": "gone"}),
    ),
    Mutation(
        "POST",
        "/api/2.0/token-management/on-behalf-of/tokens",
        "createOboToken",
        200,
        lambda c, w: c.post(
            "/api/2.0/token-management/on-behalf-of/tokens",
            json={"user_name": w.user, "comment": "obo"},
        ),
        denied=same,
        failed=lambda c, w: c.post(
            "/api/2.0/token-management/on-behalf-of/tokens",
            json={"user_name": f"gone-{w.user}", "comment": "obo"},
        ),
    ),
    Mutation(
        "PATCH",
        "/api/2.0/token-management/tokens/{token_id}",
        "updateAnyToken",
        200,
        lambda c, w: c.patch(
            f"/api/2.0/token-management/tokens/{w.obo_token_id}",
            json={"token": {"comment": "changed"}, "update_mask": "comment"},
        ),
        denied=same,
        failed=lambda c, w: c.patch(
            "/api/2.0/token-management/tokens/gone",
            json={"token": {"comment": "x"}, "update_mask": "comment"},
        ),
    ),
    Mutation(
        "DELETE",
        "/api/2.0/token-management/tokens/{token_id}",
        "deleteAnyToken",
        200,
        lambda c, w: c.delete(f"/api/2.0/token-management/tokens/{w.obo_token_id}"),
        denied=same,
        failed=lambda c, w: c.delete("/api/2.0/token-management/tokens/gone"),
    ),
    Mutation(
        "POST",
        SQL,
        "createSchema",  # the statement's action, not the route's (executeStatement)
        200,
        lambda c, w: c.post(SQL, json={"statement": f"CREATE SCHEMA {w.catalog}.{unique('q')}"}),
        denied=same,
        failed=lambda c, w: c.post(SQL, json={"statement": f"CREATE SCHEMA {w.catalog}_gone.q"}),
    ),
    Mutation(
        "POST",
        f"{SQL}/{{statement_id}}/cancel",
        "cancelStatement",
        200,
        lambda c, w: c.post(f"{SQL}/{_statement_id(c)}/cancel"),
        denied=None,  # every caller may cancel its own statements
        failed=lambda c, w: c.post(f"{SQL}/gone/cancel"),
    ),
    Mutation(
        "POST",
        "/api/v1/lineage",
        "postLineageEvent",
        201,
        lambda c, w: c.post("/api/v1/lineage", json=_lineage("clean/orders", "s3")),
        denied=lambda c, w: c.post("/api/v1/lineage", json=_lineage(w.table)),  # MODIFY
        failed=lambda c, w: c.post("/api/v1/lineage", json=_lineage(w.gone)),
    ),
    Mutation(
        "PUT",
        f"{UC}/models/{{full_name}}/aliases/{{alias}}",
        "setRegisteredModelAlias",
        200,
        lambda c, w: c.put(f"{UC}/models/{w.model}/aliases/champion", json={"version_num": 1}),
        denied=same,
        failed=lambda c, w: c.put(
            f"{UC}/models/{w.model}/aliases/champion", json={"version_num": 999}
        ),
    ),
    Mutation(
        "DELETE",
        f"{UC}/models/{{full_name}}/aliases/{{alias}}",
        "deleteRegisteredModelAlias",
        200,
        lambda c, w: c.delete(f"{UC}/models/{w.model}/aliases/champion"),
        denied=same,
        failed=lambda c, w: c.delete(f"{UC}/models/{w.model}/aliases/challenger"),
    ),
    Mutation(
        "POST",
        "/api/2.0/serving-endpoints",
        "createServingEndpoint",
        200,
        lambda c, w: c.post(
            "/api/2.0/serving-endpoints", json={"name": w.endpoint, "config": _served(w)}
        ),
        denied=same,  # EXECUTE on the served model
        failed=lambda c, w: c.post(
            "/api/2.0/serving-endpoints", json={"name": w.endpoint, "config": _served(w, 999)}
        ),
    ),
    Mutation(
        "PUT",
        "/api/2.0/serving-endpoints/{name}/config",
        "updateServingEndpointConfig",
        200,
        lambda c, w: c.put(f"/api/2.0/serving-endpoints/{w.endpoint}/config", json=_served(w)),
        denied=same,
        failed=lambda c, w: c.put(
            f"/api/2.0/serving-endpoints/{w.endpoint}_gone/config", json=_served(w)
        ),
    ),
    Mutation(
        "PATCH",
        "/api/2.0/serving-endpoints/{name}/tags",
        "patchServingEndpointTags",
        200,
        lambda c, w: c.patch(
            f"/api/2.0/serving-endpoints/{w.endpoint}/tags",
            json={"add_tags": [{"key": "team", "value": "ml"}]},
        ),
        denied=same,
        failed=lambda c, w: c.patch(
            f"/api/2.0/serving-endpoints/{w.endpoint}_gone/tags", json={"delete_tags": ["team"]}
        ),
    ),
    Mutation(
        "PUT",
        f"{PERMISSIONS}/{{request_object_type}}/{{request_object_id}}",
        "setObjectPermissions",
        200,
        lambda c, w: c.put(
            f"{PERMISSIONS}/serving-endpoints/{w.endpoint}",
            json={"access_control_list": [{"user_name": "admin", "permission_level": "CAN_QUERY"}]},
        ),
        denied=same,  # ownership of the endpoint, checked by the handler (it takes ids)
        failed=lambda c, w: c.put(
            f"{PERMISSIONS}/serving-endpoints/{w.endpoint}_gone", json={"access_control_list": []}
        ),
    ),
    Mutation(
        "PATCH",
        f"{PERMISSIONS}/{{request_object_type}}/{{request_object_id}}",
        "updateObjectPermissions",
        200,
        lambda c, w: c.patch(
            f"{PERMISSIONS}/serving-endpoints/{w.endpoint}",
            json={"access_control_list": [{"user_name": "admin", "permission_level": "CAN_QUERY"}]},
        ),
        denied=same,
        failed=lambda c, w: c.patch(
            f"{PERMISSIONS}/serving-endpoints/{w.endpoint}_gone", json={"access_control_list": []}
        ),
    ),
    Mutation(
        "POST",
        "/serving-endpoints/{name}/invocations",
        "queryServingEndpoint",
        400,  # no rows to score: a refused invocation still writes its one event
        lambda c, w: c.post(f"/serving-endpoints/{w.endpoint}/invocations", json={"inputs": []}),
        denied=same,
        failed=lambda c, w: c.post(
            f"/serving-endpoints/{w.endpoint}_gone/invocations", json={"inputs": [[1.0]]}
        ),
    ),
    Mutation(
        "DELETE",
        "/api/2.0/serving-endpoints/{name}",
        "deleteServingEndpoint",
        200,
        lambda c, w: c.delete(f"/api/2.0/serving-endpoints/{w.endpoint}"),
        denied=same,
        failed=lambda c, w: c.delete(f"/api/2.0/serving-endpoints/{w.endpoint}_gone"),
    ),
    Mutation(
        "DELETE",
        f"{UC}/models/{{full_name}}/versions/{{version}}",
        "deleteModelVersion",
        200,
        lambda c, w: c.delete(f"{UC}/models/{w.model}/versions/{w.version}"),
        denied=same,
        failed=lambda c, w: c.delete(f"{UC}/models/{w.model}/versions/999"),
    ),
    Mutation(
        "DELETE",
        f"{UC}/models/{{full_name}}",
        "deleteRegisteredModel",
        200,
        lambda c, w: c.delete(f"{UC}/models/{w.model}"),
        denied=same,
        failed=lambda c, w: c.delete(f"{UC}/models/{w.gone}"),
    ),
    Mutation(
        "DELETE",
        f"{UC}/tables/{{full_name}}",
        "deleteTable",
        200,
        lambda c, w: c.delete(f"{UC}/tables/{w.table}"),
        denied=same,
        failed=lambda c, w: c.delete(f"{UC}/tables/{w.gone}"),
    ),
    Mutation(
        "DELETE",
        f"{UC}/schemas/{{full_name}}",
        "deleteSchema",
        200,
        lambda c, w: c.delete(f"{UC}/schemas/{w.schema}"),
        denied=same,
        failed=lambda c, w: c.delete(f"{UC}/schemas/{w.catalog}.gone"),
    ),
    Mutation(
        "DELETE",
        f"{UC}/catalogs/{{name}}",
        "deleteCatalog",
        200,
        lambda c, w: c.delete(f"{UC}/catalogs/{w.catalog}", params={"force": "true"}),
        denied=same,
        failed=lambda c, w: c.delete(f"{UC}/catalogs/{w.catalog}_gone"),
    ),
    Mutation(
        "DELETE",
        f"{SCIM}/Groups/{{group_id}}",
        "deleteGroup",
        204,
        lambda c, w: c.delete(f"{SCIM}/Groups/{w.group_id}"),
        denied=same,
        failed=lambda c, w: c.delete(f"{SCIM}/Groups/{w.group_id}0"),
    ),
    Mutation(
        "DELETE",
        f"{SCIM}/ServicePrincipals/{{sp_id}}",
        "deleteServicePrincipal",
        204,
        lambda c, w: c.delete(f"{SCIM}/ServicePrincipals/{w.sp_id}"),
        denied=same,
        failed=lambda c, w: c.delete(f"{SCIM}/ServicePrincipals/{w.sp_id}0"),
    ),
    Mutation(
        "DELETE",
        f"{SCIM}/Users/{{user_id}}",
        "deleteUser",
        204,
        lambda c, w: c.delete(f"{SCIM}/Users/{w.user_id}"),
        denied=same,
        failed=lambda c, w: c.delete(f"{SCIM}/Users/{w.user_id}0"),
    ),
]


@dataclass(frozen=True)
class Route:
    """A mutating route as the app serves it."""

    pattern: re.Pattern[str]
    operation_id: str
    #: Whether the route's guard asks for more than a token (a privilege, or an admin).
    guarded: bool
    #: Whether its guard is about the metastore (an admin, or CREATE CATALOG), which every
    #: caller sees: a denial there is a 403, never answered as a missing object.
    on_metastore: bool = False


def route_table() -> dict[tuple[str, str], Route]:
    """(method, path template) → route, for every route that is not a GET or HEAD."""
    table: dict[tuple[str, str], Route] = {}
    for router in (*CATALOG_ROUTERS, *REGISTRY_ROUTERS):
        for context in iter_route_contexts(router.routes):
            route = getattr(context, "original_route", context)
            if not isinstance(route, APIRoute):
                continue
            requirement = route_requirement(list(context.dependencies))
            guarded = requirement is not None and requirement.access is not Access.AUTHENTICATED
            on_metastore = requirement is not None and (
                requirement.access is Access.METASTORE_ADMIN
                or requirement.securable_type is SecurableType.METASTORE
            )
            for method in context.methods:
                if method not in ("GET", "HEAD"):
                    table[(method, context.path)] = Route(
                        compile_path(context.path)[0],
                        route.operation_id or route.name,
                        guarded,
                        on_metastore,
                    )
    return table


ROUTES = route_table()


def test_the_walk_covers_every_mutating_route() -> None:
    covered = [(m.method, m.path) for m in MUTATIONS]
    assert len(covered) == len(set(covered)), "a route is walked twice"
    missing = set(ROUTES) - set(covered)
    assert not missing, f"mutating routes without an audit check: {sorted(missing)}"
    unknown = set(covered) - set(ROUTES)
    assert not unknown, f"walked routes the app does not serve: {sorted(unknown)}"


def test_every_guarded_route_has_a_denied_attempt() -> None:
    """Only routes any authenticated caller may use go without a denial in the walk."""
    undenied = [
        m.path for m in MUTATIONS if m.denied is None and ROUTES[(m.method, m.path)].guarded
    ]
    assert not undenied, f"routes that need a privilege but are never denied: {undenied}"


def test_the_walks_actions_are_the_routes_operation_ids() -> None:
    """The action each event must name is the route's (a statement's, for the SQL route)."""
    wrong = [
        (m.path, m.action, ROUTES[(m.method, m.path)].operation_id)
        for m in MUTATIONS
        if m.path != SQL and m.action != ROUTES[(m.method, m.path)].operation_id
    ]
    assert not wrong, wrong


def assert_route(response: httpx.Response, mutation: Mutation) -> None:
    """The request a walk entry sent is the route it is labelled with, and only that one."""
    request = response.request
    assert request.method == mutation.method, (mutation.path, request.method)
    matched = {
        key
        for key, route in ROUTES.items()
        if key[0] == request.method and route.pattern.match(request.url.path)
    }
    assert matched == {(mutation.method, mutation.path)}, (request.url.path, matched)


def _learn(world: World, action: str, body: Any) -> None:
    """Keep the ids later calls need."""
    if action == "createModelVersion":
        world.version = body["version"]
        write_mlmodel(body["storage_location"])
    elif action == "createUser":
        world.user_id = body["id"]
    elif action == "createServicePrincipal":
        world.sp_id = body["id"]
    elif action == "createGroup":
        world.group_id = body["id"]
    elif action == "createToken":
        world.token_id = body["token_info"]["token_id"]
    elif action == "createOboToken":
        world.obo_token_id = body["token_info"]["token_id"]


def test_every_mutation_writes_exactly_one_event(server: ServerHandle) -> None:
    """Per route: anonymous (401), denied (403), failed (4xx) and successful attempts.

    The user who holds no privileges may not see the walk's objects: a denial on one of them
    is answered 404, exactly as for a missing object, and recorded as the 403 it was
    (docs/privileges.md, visibility); a denial of an admin-only route stays 403 for both."""
    c = unique("c")
    world = World(c, f"{c}.s", f"{c}.s.t", f"{c}.s.m", user=f"{unique('u')}@example.com")
    admin, anonymous = server.admin, server.client()
    user_name, token = server.create_user()
    user = server.client(token)

    def attempt(
        m: Mutation,
        client: httpx.Client,
        call: Call,
        who: str | None,
        action: str,
        status: int,
        answered: int | None = None,
    ) -> tuple[httpx.Response, dict[str, Any]]:
        response = call(client, world)
        assert_route(response, m)
        # A statement's outcome is in its body; the HTTP status is 200 once it was run.
        http_status = 200 if m.path == SQL and status != 401 else answered or status
        assert response.status_code == http_status, (m.path, who, response.text)
        event = one_event(server, response, action, who, status)
        assert "token_value" not in json.dumps(event)  # secrets never reach the log
        return response, event

    for m in MUTATIONS:
        operation = ROUTES[(m.method, m.path)].operation_id
        attempt(m, anonymous, m.call, None, operation, 401)
        if m.denied is not None:
            call = m.call if m.denied is same else m.denied
            answered = 403 if ROUTES[(m.method, m.path)].on_metastore else 404
            response, denied = attempt(m, user, call, user_name, m.action, 403, answered)
            assert "PERMISSION_DENIED" in denied["response"]["error_message"], denied
            if answered == 404:
                body = response.json()
                error = body["status"]["error"] if m.path == SQL else body
                assert error["error_code"] == "RESOURCE_DOES_NOT_EXIST", response.text
        attempt(m, admin, m.failed, "admin", m.action, m.failed_status)
        response, _ = attempt(m, admin, m.call, "admin", m.action, m.status)
        if response.content:
            _learn(world, m.action, response.json())


def test_denied_and_failed_attempts_are_recorded(server: ServerHandle) -> None:
    """The messages of a denial and a duplicate, and a bad token (the walk covers the rest)."""
    admin = server.admin
    name, token = server.create_user()
    user = server.client(token)
    catalog = unique("c")
    denied = user.post(f"{UC}/catalogs", json={"name": catalog})
    assert denied.status_code == 403
    event = one_event(server, denied, "createCatalog", name, 403, "unityCatalog")
    assert "CREATE CATALOG" in event["response"]["error_message"]
    assert admin.get(f"{UC}/catalogs/{catalog}").status_code == 404
    assert admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
    duplicate = admin.post(f"{UC}/catalogs", json={"name": catalog})
    assert duplicate.status_code == 409
    one_event(server, duplicate, "createCatalog", "admin", 409)
    bad_token = server.client("dapi-not-a-token").delete(f"{UC}/catalogs/{catalog}")
    assert bad_token.status_code == 401
    one_event(server, bad_token, "deleteCatalog", None, 401)


# -- every statement kind ---------------------------------------------------------------------


class Stmt(NamedTuple):
    """One statement of the walk, run by the admin or (``by_user``) by a user without
    privileges; ``status`` is the one its event records."""

    sql: str
    kind: K | None
    action: str
    status: int = 200
    by_user: bool = False


DENIED, USER = 403, True
FN = (K.CREATE_FUNCTION, "createFunction")
SET_RF = (K.SET_ROW_FILTER, "updateTable")
SET_M = (K.SET_COLUMN_MASK, "updateTable")
DROP_M = (K.DROP_COLUMN_MASK, "updateTable")
TAGS = (K.SET_TAGS, "updateTable")
ADD = (K.ADD_COLUMNS, "updateTable")
VIEW = (K.CREATE_VIEW, "createTable")
PROPS = (K.SET_TBLPROPERTIES, "updateTable")
UNPROPS = (K.UNSET_TBLPROPERTIES, "updateTable")
UNTAG = (K.UNSET_TAGS, "updateSchema")
POLICY = (
    "CREATE POLICY p ON TABLE {c}.s.t COLUMN MASK {c}.s.m TO `account users` FOR TABLES "
    "MATCH COLUMNS has_tag('pii') AS a ON COLUMN a"
)
#: Statements any caller may run (the catalogs it may see, every principal's name): nothing
#: to deny; the walk runs them as the user too, which still writes its event.
NOT_DENIABLE = frozenset({K.SHOW_CATALOGS, K.SHOW_GROUPS, K.SHOW_USERS, K.SHOW_GRANTS_TO})
#: Statements that name nothing that could be missing or malformed: nothing to fail.
CANNOT_FAIL = frozenset({K.SHOW_CATALOGS, K.SHOW_GROUPS, K.SHOW_USERS})

#: Per kind: denied (as the user), failed (as the admin), succeeded. ``{c}`` is a catalog the
#: walk creates, ``{m}`` a model with a ready version 1 made over REST, ``{u}`` a user to grant
#: to, ``{d}`` the user the denied statements run as, ``{g}`` a group. Order matters: later
#: statements use what earlier ones created.
STATEMENTS: list[Stmt] = [
    Stmt("CREATE CATALOG {c}", K.CREATE_CATALOG, "createCatalog", DENIED, USER),
    Stmt("CREATE CATALOG {c}", K.CREATE_CATALOG, "createCatalog"),
    Stmt("CREATE CATALOG {c}", K.CREATE_CATALOG, "createCatalog", 409),
    Stmt("CREATE SCHEMA {c}.s", K.CREATE_SCHEMA, "createSchema", DENIED, USER),
    Stmt("CREATE SCHEMA {c}_gone.s", K.CREATE_SCHEMA, "createSchema", 404),
    Stmt("CREATE SCHEMA {c}.s", K.CREATE_SCHEMA, "createSchema"),
    Stmt("CREATE TABLE {c}.s.t (id BIGINT)", K.CREATE_TABLE, "createTable", DENIED, USER),
    Stmt("CREATE TABLE {c}.gone.t (id BIGINT)", K.CREATE_TABLE, "createTable", 404),
    Stmt("CREATE TABLE {c}.s.t (id BIGINT)", K.CREATE_TABLE, "createTable"),
    Stmt(
        "CREATE TABLE {c}.s.k (id BIGINT NOT NULL, CONSTRAINT pk PRIMARY KEY (id))",
        K.CREATE_TABLE,
        "createTable",
    ),
    Stmt("COMMENT ON TABLE {c}.s.t IS 'x'", K.COMMENT_ON, "updateTable", DENIED, USER),
    Stmt("COMMENT ON TABLE {c}.s.gone IS 'x'", K.COMMENT_ON, "updateTable", 404),
    Stmt("COMMENT ON TABLE {c}.s.t IS 'x'", K.COMMENT_ON, "updateTable"),
    Stmt("COMMENT ON CATALOG {c} IS 'x'", K.COMMENT_ON, "updateCatalog"),
    Stmt("COMMENT ON SCHEMA {c}.s IS 'x'", K.COMMENT_ON, "updateSchema"),
    Stmt("COMMENT ON MODEL {m} IS 'x'", K.COMMENT_ON, "updateRegisteredModel"),
    Stmt("GRANT SELECT ON TABLE {c}.s.t TO `{u}`", K.GRANT, "updatePermissions", DENIED, USER),
    Stmt("GRANT SELECT ON TABLE {c}.s.gone TO `{u}`", K.GRANT, "updatePermissions", 404),
    Stmt("GRANT SELECT ON TABLE {c}.s.t TO `{u}`", K.GRANT, "updatePermissions"),
    Stmt("SHOW POLICIES ON TABLE {c}.s.t", K.SHOW_POLICIES, "listPolicies", DENIED, USER),
    Stmt("SHOW POLICIES ON TABLE {c}.s.gone", K.SHOW_POLICIES, "listPolicies", 404),
    Stmt("SHOW POLICIES ON TABLE {c}.s.t", K.SHOW_POLICIES, "listPolicies"),
    Stmt("SHOW GRANTS TO `{u}_gone`", K.SHOW_GRANTS_TO, "getPermissions", 404),
    Stmt("SHOW GRANTS TO `{u}`", K.SHOW_GRANTS_TO, "getPermissions"),
    Stmt("SHOW GRANTS ON TABLE {c}.s.t", K.SHOW_GRANTS, "getPermissions", DENIED, USER),
    Stmt("SHOW GRANTS ON TABLE {c}.s.gone", K.SHOW_GRANTS, "getPermissions", 404),
    Stmt("SHOW GRANTS ON TABLE {c}.s.t", K.SHOW_GRANTS, "getPermissions"),
    Stmt("REVOKE SELECT ON TABLE {c}.s.t FROM `{u}`", K.REVOKE, "updatePermissions", DENIED, USER),
    Stmt("REVOKE SELECT ON TABLE {c}.s.gone FROM `{u}`", K.REVOKE, "updatePermissions", 404),
    Stmt("REVOKE SELECT ON TABLE {c}.s.t FROM `{u}`", K.REVOKE, "updatePermissions"),
    Stmt("ALTER SCHEMA {c}.s OWNER TO `{u}`", K.ALTER_OWNER, "updateSchema", DENIED, USER),
    Stmt("ALTER SCHEMA {c}.gone OWNER TO `{u}`", K.ALTER_OWNER, "updateSchema", 404),
    Stmt("ALTER SCHEMA {c}.s OWNER TO `{u}`", K.ALTER_OWNER, "updateSchema"),
    Stmt("ALTER MODEL {m} OWNER TO `{u}`", K.ALTER_OWNER, "updateRegisteredModel"),
    Stmt("SHOW CATALOGS", K.SHOW_CATALOGS, "listCatalogs", 200, USER),
    Stmt("SHOW CATALOGS", K.SHOW_CATALOGS, "listCatalogs"),
    # Listing in a catalog the user may not see: answered as missing, recorded as denied.
    Stmt("SHOW SCHEMAS IN {c}", K.SHOW_SCHEMAS, "listSchemas", DENIED, USER),
    Stmt("SHOW SCHEMAS IN {c}_gone", K.SHOW_SCHEMAS, "listSchemas", 404),
    Stmt("SHOW SCHEMAS IN {c}", K.SHOW_SCHEMAS, "listSchemas"),
    Stmt("SHOW TABLES IN {c}.s", K.SHOW_TABLES, "listTables", DENIED, USER),
    Stmt("SHOW TABLES IN {c}.gone", K.SHOW_TABLES, "listTables", 404),
    Stmt("SHOW TABLES IN {c}.s", K.SHOW_TABLES, "listTables"),
    Stmt("SHOW MODELS IN {ms}", K.SHOW_MODELS, "listRegisteredModels", DENIED, USER),
    Stmt("SHOW MODELS IN {c}.gone", K.SHOW_MODELS, "listRegisteredModels", 404),
    Stmt("SHOW MODELS IN {ms}", K.SHOW_MODELS, "listRegisteredModels"),
    Stmt("DESCRIBE CATALOG {c}", K.DESCRIBE_CATALOG, "getCatalog", DENIED, USER),
    Stmt("DESCRIBE CATALOG {c}_gone", K.DESCRIBE_CATALOG, "getCatalog", 404),
    Stmt("DESCRIBE CATALOG {c}", K.DESCRIBE_CATALOG, "getCatalog"),
    Stmt("DESCRIBE SCHEMA {c}.s", K.DESCRIBE_SCHEMA, "getSchema", DENIED, USER),
    Stmt("DESCRIBE SCHEMA {c}.gone", K.DESCRIBE_SCHEMA, "getSchema", 404),
    Stmt("DESCRIBE SCHEMA {c}.s", K.DESCRIBE_SCHEMA, "getSchema"),
    Stmt("DESCRIBE TABLE {c}.s.t", K.DESCRIBE_TABLE, "getTable", DENIED, USER),
    Stmt("DESCRIBE TABLE {c}.nope.t", K.DESCRIBE_TABLE, "getTable", 404),
    Stmt("DESCRIBE TABLE {c}.s.t", K.DESCRIBE_TABLE, "getTable"),
    Stmt("DESCRIBE MODEL {m}", K.DESCRIBE_MODEL, "getRegisteredModel", DENIED, USER),
    Stmt("DESCRIBE MODEL {ms}.gone", K.DESCRIBE_MODEL, "getRegisteredModel", 404),
    Stmt("DESCRIBE MODEL {m}", K.DESCRIBE_MODEL, "getRegisteredModel"),
    # Reads and writes of table data: databrickssql executeStatement, always recorded. A table
    # the user may not see is answered as not found, and recorded as the denial it is
    # (docs/privileges.md, visibility); one it may see (BROWSE) without SELECT or MODIFY is
    # denied in both.
    Stmt("SELECT * FROM {c}.s.t", K.SELECT, "executeStatement", DENIED, USER),
    Stmt("GRANT BROWSE ON TABLE {c}.s.t TO `{d}`", K.GRANT, "updatePermissions"),
    Stmt("GRANT BROWSE ON TABLE {c}.s.k TO `{d}`", K.GRANT, "updatePermissions"),
    Stmt("INSERT INTO {c}.s.t VALUES (1), (2)", K.INSERT, "executeStatement", DENIED, USER),
    Stmt("INSERT INTO {c}.s.t VALUES ('one')", K.INSERT, "executeStatement", 400),
    Stmt("INSERT INTO {c}.s.t VALUES (1), (2)", K.INSERT, "executeStatement"),
    Stmt("INSERT INTO {c}.s.t (id) SELECT id + 10 FROM {c}.s.t", K.INSERT, "executeStatement"),
    Stmt("SELECT * FROM {c}.s.t WHERE id > 1", K.SELECT, "executeStatement", DENIED, USER),
    Stmt("SELECT * FROM {c}.s.gone", K.SELECT, "executeStatement", 404),
    Stmt("SELECT * FROM {c}.s.t WHERE id > 1", K.SELECT, "executeStatement"),
    Stmt(
        "MERGE INTO {c}.s.k t USING {c}.s.t s ON t.id = s.id WHEN NOT MATCHED THEN INSERT *",
        K.MERGE,
        "executeStatement",
        DENIED,
        USER,
    ),
    Stmt(
        "MERGE INTO {c}.s.t t USING {c}.s.t s ON t.id = s.id WHEN MATCHED THEN UPDATE SET no = 1",
        K.MERGE,
        "executeStatement",
        400,
    ),  # no such column
    Stmt(
        "MERGE INTO {c}.s.k t USING {c}.s.t s ON t.id = s.id WHEN NOT MATCHED THEN INSERT *",
        K.MERGE,
        "executeStatement",
    ),
    Stmt("UPDATE {c}.s.k SET id = id WHERE id = 1", K.UPDATE, "executeStatement", DENIED, USER),
    Stmt("UPDATE {c}.s.t SET nope = 3", K.UPDATE, "executeStatement", 400),  # no such column
    Stmt("UPDATE {c}.s.t SET id = 3", K.UPDATE, "executeStatement"),  # no key: by row identity
    Stmt("UPDATE {c}.s.k SET id = id WHERE id = 1", K.UPDATE, "executeStatement", 400),
    Stmt(
        "CREATE TABLE {c}.s.u (id BIGINT NOT NULL, v STRING, CONSTRAINT u PRIMARY KEY (id))",
        K.CREATE_TABLE,
        "createTable",
    ),
    Stmt("UPDATE {c}.s.u AS u SET v = 'x' WHERE u.id > 0", K.UPDATE, "executeStatement"),
    Stmt("DELETE FROM {c}.s.k WHERE id = 1", K.DELETE, "executeStatement", DENIED, USER),
    Stmt("DELETE FROM {c}.s.gone", K.DELETE, "executeStatement", 404),
    Stmt("DELETE FROM {c}.s.k WHERE id = 1", K.DELETE, "executeStatement"),
    Stmt("CREATE GROUP `{g}`", K.CREATE_GROUP, "createGroup", DENIED, USER),
    Stmt("CREATE GROUP `{g}`", K.CREATE_GROUP, "createGroup"),
    Stmt("CREATE GROUP `{g}`", K.CREATE_GROUP, "createGroup", 409),
    Stmt("ALTER GROUP `{g}` ADD USER `{u}`", K.ALTER_GROUP, "patchGroup", DENIED, USER),
    Stmt("ALTER GROUP `{g}_gone` ADD USER `{u}`", K.ALTER_GROUP, "patchGroup", 404),
    Stmt("ALTER GROUP `{g}` ADD USER `{u}`", K.ALTER_GROUP, "patchGroup"),
    Stmt("SHOW GROUPS", K.SHOW_GROUPS, "listGroups", 200, USER),
    Stmt("SHOW GROUPS", K.SHOW_GROUPS, "listGroups"),
    Stmt("SHOW USERS", K.SHOW_USERS, "listUsers", 200, USER),
    Stmt("SHOW USERS", K.SHOW_USERS, "listUsers"),
    Stmt("DROP GROUP `{g}`", K.DROP_GROUP, "deleteGroup", DENIED, USER),
    Stmt("DROP GROUP `{g}_gone`", K.DROP_GROUP, "deleteGroup", 404),
    Stmt("DROP GROUP `{g}`", K.DROP_GROUP, "deleteGroup"),
    Stmt(
        "ALTER MODEL {m} SET ALIAS champion = 1",
        K.SET_ALIAS,
        "setRegisteredModelAlias",
        DENIED,
        USER,
    ),
    Stmt("ALTER MODEL {m} SET ALIAS champion = 999", K.SET_ALIAS, "setRegisteredModelAlias", 404),
    Stmt("ALTER MODEL {m} SET ALIAS champion = 1", K.SET_ALIAS, "setRegisteredModelAlias"),
    Stmt(
        "ALTER MODEL {m} DROP ALIAS champion",
        K.DROP_ALIAS,
        "deleteRegisteredModelAlias",
        DENIED,
        USER,
    ),
    Stmt("ALTER MODEL {m} DROP ALIAS challenger", K.DROP_ALIAS, "deleteRegisteredModelAlias", 404),
    Stmt("ALTER MODEL {m} DROP ALIAS champion", K.DROP_ALIAS, "deleteRegisteredModelAlias"),
    # Functions, row filters, column masks, USE (docs/row-access.md).
    Stmt("CREATE FUNCTION {c}.s.f(r BIGINT) RETURN r > 1", *FN, DENIED, USER),
    Stmt("CREATE FUNCTION {c}.gone.f(r BIGINT) RETURN r > 1", *FN, 404),
    Stmt("CREATE FUNCTION {c}.s.f(r BIGINT) RETURN r > 1", *FN),
    Stmt("CREATE FUNCTION {c}.s.m(v BIGINT) RETURN v * 0", *FN),
    Stmt("SHOW FUNCTIONS IN {c}.s", K.SHOW_FUNCTIONS, "listFunctions", DENIED, USER),
    Stmt("SHOW FUNCTIONS IN {c}.gone", K.SHOW_FUNCTIONS, "listFunctions", 404),
    Stmt("SHOW FUNCTIONS IN {c}.s", K.SHOW_FUNCTIONS, "listFunctions"),
    Stmt("DESCRIBE FUNCTION {c}.s.f", K.DESCRIBE_FUNCTION, "getFunction", DENIED, USER),
    Stmt("DESCRIBE FUNCTION {c}.s.gone", K.DESCRIBE_FUNCTION, "getFunction", 404),
    Stmt("DESCRIBE FUNCTION {c}.s.f", K.DESCRIBE_FUNCTION, "getFunction"),
    Stmt("ALTER TABLE {c}.s.t SET ROW FILTER {c}.s.f ON (id)", *SET_RF, DENIED, USER),
    Stmt("ALTER TABLE {c}.s.t SET ROW FILTER {c}.s.gone ON (id)", *SET_RF, 404),
    Stmt("ALTER TABLE {c}.s.t SET ROW FILTER {c}.s.f ON (id)", *SET_RF),
    Stmt("ALTER TABLE {c}.s.t DROP ROW FILTER", K.DROP_ROW_FILTER, "updateTable", DENIED, USER),
    Stmt("ALTER TABLE {c}.s.gone DROP ROW FILTER", K.DROP_ROW_FILTER, "updateTable", 404),
    Stmt("ALTER TABLE {c}.s.t DROP ROW FILTER", K.DROP_ROW_FILTER, "updateTable"),
    Stmt("ALTER TABLE {c}.s.t ALTER COLUMN id SET MASK {c}.s.m", *SET_M, DENIED, USER),
    Stmt("ALTER TABLE {c}.s.t ALTER COLUMN gone SET MASK {c}.s.m", *SET_M, 400),
    Stmt("ALTER TABLE {c}.s.t ALTER COLUMN id SET MASK {c}.s.m", *SET_M),
    Stmt("ALTER TABLE {c}.s.t ALTER COLUMN id DROP MASK", *DROP_M, DENIED, USER),
    Stmt("ALTER TABLE {c}.s.t ALTER COLUMN gone DROP MASK", *DROP_M, 400),
    Stmt("ALTER TABLE {c}.s.t ALTER COLUMN id DROP MASK", *DROP_M),
    Stmt("CREATE VIEW {c}.s.v AS SELECT id FROM {c}.s.t", *VIEW, DENIED, USER),
    Stmt("CREATE VIEW {c}.s.v AS SELECT id FROM {c}.s.gone", *VIEW, 404),
    Stmt("CREATE VIEW {c}.s.v AS SELECT id FROM {c}.s.t", *VIEW),
    Stmt("DROP VIEW {c}.s.v", K.DROP_VIEW, "deleteTable", DENIED, USER),
    Stmt("DROP VIEW {c}.s.t", K.DROP_VIEW, "deleteTable", 400),
    Stmt("DROP VIEW {c}.s.v", K.DROP_VIEW, "deleteTable"),
    Stmt("ALTER TABLE {c}.s.t ADD COLUMNS (v STRING)", *ADD, DENIED, USER),
    Stmt("ALTER TABLE {c}.s.t ADD COLUMNS (id STRING)", *ADD, 409),
    Stmt("ALTER TABLE {c}.s.t ADD COLUMN v STRING", *ADD),
    Stmt("ALTER TABLE {c}.s.t SET TBLPROPERTIES ('a' = 'b')", *PROPS, DENIED, USER),
    Stmt("ALTER TABLE {c}.s.gone SET TBLPROPERTIES ('a' = 'b')", *PROPS, 404),
    Stmt("ALTER TABLE {c}.s.t SET TBLPROPERTIES ('a' = 'b')", *PROPS),
    Stmt("ALTER TABLE {c}.s.t UNSET TBLPROPERTIES ('a')", *UNPROPS, DENIED, USER),
    Stmt("ALTER TABLE {c}.s.t UNSET TBLPROPERTIES ('zz')", *UNPROPS, 400),
    Stmt("ALTER TABLE {c}.s.t UNSET TBLPROPERTIES ('a')", *UNPROPS),
    Stmt("ALTER TABLE {c}.s.t SET TAGS ('pii' = 'id')", *TAGS, DENIED, USER),
    Stmt("ALTER TABLE {c}.s.gone SET TAGS ('pii' = 'id')", *TAGS, 404),
    Stmt("SET TAG ON COLUMN {c}.s.t.id pii = id", *TAGS),
    Stmt("UNSET TAG ON SCHEMA {c}.s pii", *UNTAG, DENIED, USER),
    Stmt("ALTER SCHEMA {c}.gone UNSET TAGS ('pii')", *UNTAG, 404),
    Stmt("ALTER SCHEMA {c}.s UNSET TAGS ('pii')", *UNTAG),
    Stmt(POLICY, K.CREATE_POLICY, "createPolicy", DENIED, USER),
    Stmt(POLICY.replace("{c}.s.m", "{c}.s.gone"), K.CREATE_POLICY, "createPolicy", 404),
    Stmt(POLICY, K.CREATE_POLICY, "createPolicy"),
    Stmt("DROP POLICY p ON TABLE {c}.s.t", K.DROP_POLICY, "deletePolicy", DENIED, USER),
    Stmt("DROP POLICY gone ON TABLE {c}.s.t", K.DROP_POLICY, "deletePolicy", 404),
    Stmt("DROP POLICY p ON TABLE {c}.s.t", K.DROP_POLICY, "deletePolicy"),
    Stmt("USE CATALOG {c}", K.USE_CATALOG, "getCatalog", DENIED, USER),
    Stmt("USE CATALOG {c}_gone", K.USE_CATALOG, "getCatalog", 404),
    Stmt("USE CATALOG {c}", K.USE_CATALOG, "getCatalog"),
    Stmt("USE SCHEMA {c}.s", K.USE_SCHEMA, "getSchema", DENIED, USER),
    Stmt("USE SCHEMA {c}.gone", K.USE_SCHEMA, "getSchema", 404),
    Stmt("USE SCHEMA {c}.s", K.USE_SCHEMA, "getSchema"),
    Stmt("DROP FUNCTION {c}.s.f", K.DROP_FUNCTION, "deleteFunction", DENIED, USER),
    Stmt("DROP FUNCTION {c}.s.gone", K.DROP_FUNCTION, "deleteFunction", 404),
    Stmt("DROP FUNCTION {c}.s.f", K.DROP_FUNCTION, "deleteFunction"),
    Stmt("DROP TABLE {c}.s.t", K.DROP_TABLE, "deleteTable", DENIED, USER),
    Stmt("DROP TABLE {c}.s.gone", K.DROP_TABLE, "deleteTable", 404),
    Stmt("DROP TABLE {c}.s.t", K.DROP_TABLE, "deleteTable"),
    Stmt("DROP MODEL {m}", K.DROP_MODEL, "deleteRegisteredModel", DENIED, USER),
    Stmt("DROP MODEL {ms}.gone", K.DROP_MODEL, "deleteRegisteredModel", 404),
    Stmt("DROP MODEL {m}", K.DROP_MODEL, "deleteRegisteredModel"),
    Stmt("DROP MODEL IF EXISTS {m}", K.DROP_MODEL, "deleteRegisteredModel"),
    Stmt("DROP SCHEMA {c}.s CASCADE", K.DROP_SCHEMA, "deleteSchema", DENIED, USER),
    Stmt("DROP SCHEMA {c}.gone", K.DROP_SCHEMA, "deleteSchema", 404),
    Stmt("DROP SCHEMA {c}.s CASCADE", K.DROP_SCHEMA, "deleteSchema"),
    Stmt("DROP CATALOG {c} CASCADE", K.DROP_CATALOG, "deleteCatalog", DENIED, USER),
    Stmt("DROP CATALOG {c}_gone", K.DROP_CATALOG, "deleteCatalog", 404),
    Stmt("DROP CATALOG {c} CASCADE", K.DROP_CATALOG, "deleteCatalog"),
    # A statement that does not parse has no kind: the route's own action.
    Stmt("SELEC 1", None, "executeStatement", 400),
]


def _kinds_the_executor_knows() -> set[K]:
    """Every statement kind the dialect defines, the executor dispatches or names an action
    for: a kind added to any of them must get a line in ``STATEMENTS``."""
    return set(K) | set(HANDLERS) | set(_ACTIONS)


def test_the_statement_walk_covers_every_kind() -> None:
    walked = [s for s in STATEMENTS if s.kind is not None]
    kinds = _kinds_the_executor_knows()
    succeeded = {s.kind for s in walked if s.status == 200}
    denied = {s.kind for s in walked if s.status == DENIED and s.by_user}
    failed = {s.kind for s in walked if s.status not in (200, DENIED) and not s.by_user}
    assert kinds - succeeded == set(), f"kinds never run successfully: {kinds - succeeded}"
    assert kinds - NOT_DENIABLE - denied == set(), f"never denied: {kinds - NOT_DENIABLE - denied}"
    assert kinds - CANNOT_FAIL - failed == set(), f"never failed: {kinds - CANNOT_FAIL - failed}"


def test_each_walk_statement_is_of_its_kind() -> None:
    """The kind a line is labelled with is the kind the dialect parses it as."""
    names = {"c": "c", "ms": "c.s", "m": "c.s.m", "u": "u@x.com", "d": "d@x.com", "g": "g"}
    for statement in STATEMENTS:
        if statement.kind is not None:
            node = d.parse_statement(statement.sql.format(**names))
            assert reading.statement_kind(node) is statement.kind, statement.sql


def test_every_statement_kind_writes_exactly_one_event(server: ServerHandle) -> None:
    admin = server.admin
    grantee, _ = server.create_user()
    denied_name, token = server.create_user()
    user = server.client(token)
    names = {"c": unique("c"), "u": grantee, "d": denied_name, "g": unique("g")}
    names.update(_model_with_a_version(server))
    for statement in STATEMENTS:
        sql = statement.sql.format(**names)
        response = (user if statement.by_user else admin).post(SQL, json={"statement": sql})
        assert response.status_code == 200, (sql, response.text)
        state = response.json()["status"]["state"]
        assert state == ("SUCCEEDED" if statement.status == 200 else "FAILED"), (
            sql,
            response.json(),
        )
        who = denied_name if statement.by_user else "admin"
        event = one_event(server, response, statement.action, who, statement.status)
        params = event["request_params"]
        assert params["statement"] == sql
        # The server says which kind it parsed: the walk's label must be that kind.
        assert params.get("statement_kind") == (statement.kind and statement.kind.value), sql
        if statement.status == DENIED:
            assert "PERMISSION_DENIED" in event["response"]["error_message"], event


def _model_with_a_version(server: ServerHandle) -> dict[str, str]:
    """A model with a ready version 1 (models are made over REST, not SQL)."""
    admin = server.admin
    catalog = unique("mc")
    assert admin.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
    created = admin.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog})
    assert created.status_code == 200, created.text
    model = admin.post(
        f"{UC}/models", json={"catalog_name": catalog, "schema_name": "s", "name": "m"}
    )
    assert model.status_code == 200, model.text
    version = admin.post(
        f"{UC}/models/versions",
        json={"catalog_name": catalog, "schema_name": "s", "model_name": "m", "source": "x"},
    )
    assert version.status_code == 200, version.text
    write_mlmodel(version.json()["storage_location"])
    done = admin.patch(
        f"{UC}/models/{catalog}.s.m/versions/1/finalize",
        json={"full_name": f"{catalog}.s.m", "version": 1},
    )
    assert done.status_code == 200, done.text
    return {"ms": f"{catalog}.s", "m": f"{catalog}.s.m"}


def test_metadata_reads_are_recorded(server: ServerHandle) -> None:
    response = server.admin.get(f"{UC}/catalogs")
    one_event(server, response, "listCatalogs", "admin", 200)


# -- reading the log --------------------------------------------------------------------------


def test_filters_and_paging(server: ServerHandle) -> None:
    admin = server.admin
    catalog = unique("c")
    for i in range(5):
        admin.post(f"{UC}/catalogs", json={"name": f"{catalog}_{i}"})
    admin.post(f"{UC}/schemas", json={"name": "s", "catalog_name": f"{catalog}_0"})
    by_action = admin.get(AUDIT, params={"action": "createCatalog", "max_results": 2})
    body = by_action.json()
    assert len(body["events"]) == 2 and body["next_page_token"]
    assert all(e["action_name"] == "createCatalog" for e in body["events"])
    seen = [e["event_id"] for e in body["events"]]
    token = body["next_page_token"]
    while token:
        page = admin.get(
            AUDIT, params={"action": "createCatalog", "max_results": 2, "page_token": token}
        ).json()
        seen += [e["event_id"] for e in page["events"]]
        token = page.get("next_page_token")
    assert len(seen) == len(set(seen)) >= 5
    # Object: the catalog and what is inside it.
    inside = admin.get(AUDIT, params={"object": f"{catalog}_0"}).json()["events"]
    assert {e["action_name"] for e in inside} >= {"createCatalog", "createSchema"}
    assert {e.get("object_name") for e in inside} == {f"{catalog}_0", f"{catalog}_0.s"}
    # Newest first; time window.
    times = [e["event_time"] for e in inside]
    assert times == sorted(times, reverse=True)
    recent = admin.get(AUDIT, params={"since": "1h", "user": "admin", "max_results": 5})
    assert recent.status_code == 200 and recent.json()["events"]
    future = admin.get(AUDIT, params={"since": "2999-01-01"}).json()["events"]
    assert future == []
    failed = admin.get(AUDIT, params={"failed": "true", "max_results": 50}).json()["events"]
    assert all(e["response"]["status_code"] >= 400 for e in failed)
    bad = admin.get(AUDIT, params={"since": "yesterday-ish"})
    assert bad.status_code == 400 and "since" in bad.json()["message"]
    bad_token = admin.get(AUDIT, params={"page_token": "garbage!"})
    assert bad_token.status_code == 400


def test_reading_the_log_needs_select_on_the_audit_table(server: ServerHandle) -> None:
    name, token = server.create_user()
    user = server.client(token)
    denied = user.get(AUDIT)
    assert denied.status_code == 403
    assert "SELECT on table 'system.access.audit'" in denied.json()["message"]
    group = unique("auditors")
    admin = server.admin
    for statement in (
        f"CREATE GROUP `{group}`",
        f"ALTER GROUP `{group}` ADD USER `{name}`",
        f"GRANT SELECT ON TABLE system.access.audit TO `{group}`",
    ):
        assert admin.post(SQL, json={"statement": statement}).json()["status"]["state"] == (
            "SUCCEEDED"
        ), statement
    allowed = user.get(AUDIT, params={"max_results": 3})
    assert allowed.status_code == 200 and allowed.json()["events"]


def test_the_chain_is_verified_over_http_for_those_who_may_read_the_log(
    server: ServerHandle,
) -> None:
    """``GET …/audit/verification`` walks the chain as ``steward audit verify`` does (the
    console's chain status); reading it needs what reading the log needs."""
    _, token = server.create_user()
    denied = server.client(token).get(f"{AUDIT}/verification")
    assert denied.status_code == 403
    assert "SELECT on table 'system.access.audit'" in denied.json()["message"]
    report = server.admin.get(f"{AUDIT}/verification")
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["ok"] is True and body["problems"] == [] and body["first_bad"] is None
    assert body["events"] > 0 and body["lanes"] >= 1
    assert body["verified_at"].endswith("Z")
    checkpoint = body["last_checkpoint"]
    assert checkpoint is None or (checkpoint["id"] >= 1 and checkpoint["created_at"].endswith("Z"))
    # Callers asking together share one walk (a walk holds the CPU as long as the log).
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda _: server.admin.get(f"{AUDIT}/verification").json(), range(4))
        )
    assert len({answer["verified_at"] for answer in answers}) == 1


def test_follow_token_lists_what_comes_next(server: ServerHandle) -> None:
    admin = server.admin
    head = admin.get(AUDIT, params={"max_results": 1}).json()
    token = head["follow_page_token"]
    catalog = unique("c")
    admin.post(f"{UC}/catalogs", json={"name": catalog})
    after = admin.get(AUDIT, params={"order": "asc", "page_token": token}).json()
    assert catalog in [e.get("object_name") for e in after["events"]]
    assert after["next_page_token"]


def test_cli_lists_and_verifies(server: ServerHandle) -> None:
    env = {
        **os.environ,
        "STEWARD_URL": server.url,
        "STEWARD_TOKEN": server.admin_token,
        "STEWARD_DATABASE_URL": server.database_url,
    }
    catalog = unique("c")
    server.admin.post(f"{UC}/catalogs", json={"name": catalog})
    listed = subprocess.run(
        [sys.executable, "-m", "steward", "audit", "--object", catalog, "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert [e["action_name"] for e in json.loads(listed.stdout)] == ["createCatalog"]
    verified = subprocess.run(
        [sys.executable, "-m", "steward", "audit", "verify"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit log OK" in verified.stdout


def test_log_of_the_server_verifies(server: ServerHandle) -> None:
    for _ in range(11):  # its own events, whichever tests ran on this server before
        server.admin.get(f"{UC}/catalogs")
    db = Database(server.database_url)
    try:
        with db.read() as session:
            report = verify(session)
    finally:
        db.dispose()
    assert report.ok, report.problems[:5]
    assert report.events > 10


def test_events_are_also_log_lines(server: ServerHandle) -> None:
    catalog = unique("c")
    response = server.admin.post(f"{UC}/catalogs", json={"name": catalog})
    request_id = response.headers["x-request-id"]
    lines = server.log_records()
    audit_lines = [
        line
        for line in lines
        if line.get("event") == "audit" and line.get("audit_request_id") == request_id
    ]
    assert len(audit_lines) == 1
    assert audit_lines[0]["action_name"] == "createCatalog"
    assert server.admin_token not in server.logs()


def test_events_commit_with_their_change(server: ServerHandle) -> None:
    """Every committed catalog has its createCatalog event: same transaction."""
    admin = server.admin
    names = [unique("c") for _ in range(5)]
    for name in names:
        assert admin.post(f"{UC}/catalogs", json={"name": name}).status_code == 200
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = (
                conn.execute(
                    text(
                        "SELECT object_name FROM audit_events WHERE action_name = 'createCatalog' "
                        "AND status_code = 200"
                    )
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert set(names) <= set(rows)


def test_metadata_reads_can_be_switched_off(tmp_path: Path) -> None:
    server = start_server(
        f"sqlite:///{tmp_path / 's.db'}",
        tmp_path / "storage",
        {"STEWARD_AUDIT_METADATA_READS": "0"},
    )
    try:
        admin = server.admin
        catalog = unique("c")
        created = admin.post(f"{UC}/catalogs", json={"name": catalog})
        one_event(server, created, "createCatalog", "admin", 200)
        read = admin.get(f"{UC}/catalogs/{catalog}")
        assert read.status_code == 200 and events_of(server, read) == []
        shown = admin.post(SQL, json={"statement": "SHOW CATALOGS"})
        assert events_of(server, shown) == []
        _, token = server.create_user()
        denied = server.client(token).get(f"{UC}/catalogs/{catalog}")
        # Answered as missing (the user may not see it), recorded as the denial it was.
        assert denied.status_code == 404
        one_event(server, denied, "getCatalog", denied_user(server, token), 403)
        audit_read = admin.get(AUDIT, params={"max_results": 1})
        assert audit_read.status_code == 200
    finally:
        server.stop()


def denied_user(server: ServerHandle, token: str) -> str:
    me = server.client(token).get(f"{SCIM}/Me")
    return str(me.json()["userName"])
