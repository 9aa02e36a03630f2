"""The Python client installs and imports on a laptop without the server's libraries.

Checked in a fresh interpreter, since this test process has long imported the server:
importing the client, building one and using its helpers must not load FastAPI,
SQLAlchemy, psycopg, Casbin, uvicorn, or any server module of Steward's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_LIBRARIES = ("fastapi", "starlette", "sqlalchemy", "alembic", "psycopg", "casbin", "uvicorn")
PROBE = """
import json, sys
import registry.client
from registry import Client, FeatureLookup, StewardError, TrainingSet
from registry.client.http import RestClient
client = Client("http://127.0.0.1:9", "token")
client.close()
print(json.dumps(sorted(sys.modules)))
"""


def imported_modules(probe: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def server_modules(modules: list[str]) -> list[str]:
    steward_server = ("catalog", "policy", "steward")
    return [
        name
        for name in modules
        if name.split(".")[0] in SERVER_LIBRARIES
        or name.split(".")[0] in steward_server
        or (name.startswith("registry.") and not name.startswith("registry.client"))
    ]


def test_the_client_imports_no_server_module() -> None:
    modules = imported_modules(PROBE)
    assert "registry.client.client" in modules, "the probe did not import the client"
    assert server_modules(modules) == []


def test_the_probe_would_see_a_server_import() -> None:
    """The same probe with one server import added reports it: the check can fail."""
    modules = imported_modules(
        PROBE.replace("client.close()", "client.close()\nimport catalog.runtime")
    )
    found = server_modules(modules)
    assert "catalog.runtime" in found
    assert "sqlalchemy" in {name.split(".")[0] for name in found}
