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
    """Server libraries, and Steward's server side: ``policy``, ``catalog``, the registry
    outside its client, and the composition root (the CLI in ``steward.cli`` is a client)."""
    found = []
    for name in modules:
        top = name.split(".")[0]
        if (
            top in SERVER_LIBRARIES
            or top in ("catalog", "policy")
            or (top == "registry" and name != "registry" and not name.startswith("registry.client"))
            or (
                top == "steward"
                and name not in ("steward", "steward.cli")
                and not name.startswith("steward.cli.")
            )
        ):
            found.append(name)
    return found


def test_the_client_imports_no_server_module() -> None:
    modules = imported_modules(PROBE)
    assert "registry.client.client" in modules, "the probe did not import the client"
    assert server_modules(modules) == []


CLI_PROBE = """
import json, sys
from steward.cli.main import build_cli
build_cli()
print(json.dumps(sorted(sys.modules)))
"""


def test_the_command_line_imports_no_server_module() -> None:
    """``steward catalogs list`` on a laptop: the CLI is a client too (``server`` and ``db``
    import the server only when they run)."""
    modules = imported_modules(CLI_PROBE)
    assert "steward.cli.catalog_commands" in modules
    assert server_modules(modules) == []


def test_the_probe_would_see_a_server_import() -> None:
    """The same probe with one server import added reports it: the check can fail."""
    probe = PROBE.replace("client.close()", "client.close()\nimport steward.app")
    found = server_modules(imported_modules(probe))
    assert {"steward.app", "catalog.runtime", "registry.model_registry"} <= set(found)
    assert "sqlalchemy" in {name.split(".")[0] for name in found}
