"""The README's front door, run as a newcomer pastes it.

Every ```sh block after the first (the two commands, ``make run`` and ``make test``,
which start the server and this suite) runs in order with bash, from a folder laid out
like a fresh clone after ``make run``: ``.venv`` beside it and the server's storage in
``.steward``. The server is a real one on SQLite, the default store, with a generated
admin token written to ``.steward/admin-token`` as on a first start. Each block must exit
0 with ``set -e -o pipefail``: a failing line fails the block. The one thing that
differs from a terminal is the port: ``STEWARD_URL`` names the test's server, and the
README's commands read it (the CLI always does; the curl block defaults to port 8080).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, ServerHandle, start_server

README = ROOT / "README.md"
FRONT_DOOR = ["make run", "make test"]
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def sh_blocks(text: str) -> list[str]:
    return [m.group(1) for m in _BLOCK.finditer(text)]


def commands(block: str) -> list[str]:
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ServerHandle]]:
    """A folder like a fresh clone after ``make run``, and the server ``make run`` starts."""
    folder = tmp_path_factory.mktemp("clone")
    (folder / ".venv").symlink_to(Path(sys.prefix))
    storage = folder / ".steward"
    server = start_server(
        f"sqlite:///{storage / 'steward.db'}", storage, {"STEWARD_ADMIN_TOKEN": ""}
    )
    try:
        assert (storage / "admin-token").is_file(), "the first start wrote no admin token"
        yield folder, server
    finally:
        server.stop()


def test_the_readme_opens_with_the_two_commands() -> None:
    blocks = sh_blocks(README.read_text())
    assert blocks, "the README has no sh block"
    assert commands(blocks[0]) == FRONT_DOOR
    assert README.read_text().index("```sh") < 40, "the two commands are not at the top"


def test_every_readme_snippet_runs_as_pasted(clone: tuple[Path, ServerHandle]) -> None:
    folder, server = clone
    blocks = sh_blocks(README.read_text())[1:]
    assert len(blocks) >= 3, "the README lost its first steps"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),
        "STEWARD_URL": server.url,
        "LANG": "C.UTF-8",
    }
    for number, block in enumerate(blocks, start=2):
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, (
            f"README sh block {number} exited {result.returncode}:\n{block}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )


def test_a_failing_snippet_fails_the_runner(clone: tuple[Path, ServerHandle]) -> None:
    """The runner's own check: a README line that fails is seen, not swallowed."""
    folder, server = clone
    block = ".venv/bin/steward catalogs get no_such_catalog_anywhere\necho after\n"
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block],
        cwd=folder,
        env={"PATH": os.environ["PATH"], "STEWARD_URL": server.url, "STEWARD_TOKEN": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "after" not in result.stdout
