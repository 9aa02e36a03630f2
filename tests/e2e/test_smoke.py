"""The server starts on each backend, bootstraps admin and the system catalog."""

from __future__ import annotations

from tests.support import ServerHandle


def test_server_bootstraps_admin_and_system_catalog(server: ServerHandle) -> None:
    response = server.admin.get("/api/2.1/unity-catalog/catalogs")
    assert response.status_code == 200
    names = [c["name"] for c in response.json()["catalogs"]]
    assert "system" in names
    me = server.admin.get("/api/2.0/preview/scim/v2/Me").json()
    assert me["userName"] == "admin"
