"""The dependency rule, checked on the source: ``common`` ← ``policy`` ← ``catalog`` ←
``registry`` ← ``steward``, the Python client apart from the server, and no service looked
up by a string key.

Every ``import`` counts, also those inside functions and under ``TYPE_CHECKING``: a lazy
import still ties the packages together. Each rule is also run on a small piece of
offending code, so a checker that stopped seeing violations would fail here too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "policy", "catalog", "registry", "steward")
#: What each layer may import of Steward's own packages (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "common": frozenset(),
    "policy": frozenset({"common"}),
    "catalog": frozenset({"common", "policy"}),
    "registry": frozenset({"common", "policy", "catalog"}),
    "steward": frozenset({"common", "policy", "catalog", "registry"}),
}
#: The client talks REST; none of these may be imported by it.
SERVER_LIBRARIES = frozenset(
    {"fastapi", "starlette", "sqlalchemy", "alembic", "psycopg", "casbin", "uvicorn"}
)
CLIENT = "registry.client"
#: Names under which services would be looked up by a string key. (``request.state``
#: holds per-request values — request id, caller, audit scope — not services.)
SERVICE_HOLDERS = frozenset({"extensions", "services", "runtime", "rt", "registry"})


@dataclass(frozen=True)
class Violation:
    where: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.what}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, module: str) -> Iterator[tuple[int, str]]:
    """Every module an import statement names (relative imports resolved)."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                )
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def layer_violations(source: str, module: str) -> list[Violation]:
    tree = ast.parse(source)
    layer = module.split(".")[0]
    in_client = module == CLIENT or module.startswith(CLIENT + ".")
    found: list[Violation] = []
    for line, name in imported(tree, module):
        top = name.split(".")[0]
        if in_client:
            own = name == CLIENT or name.startswith(CLIENT + ".")
            if top in SERVER_LIBRARIES:
                found.append(Violation(module, line, f"the client imports {name}"))
            elif top in PACKAGES and top != "common" and not own and name != "registry":
                found.append(Violation(module, line, f"the client imports server module {name}"))
        elif top in PACKAGES and top != layer and top not in ALLOWED[layer]:
            found.append(Violation(module, line, f"{layer} imports {name}"))
    return found


def _holder(node: ast.expr) -> str | None:
    """What a key is looked up in: ``app_state`` for the application's state (where the
    composition root puts services), else the holder's own name."""
    if isinstance(node, ast.Attribute):
        if node.attr == "state" and _names_app(node.value):
            return "app_state"
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _names_app(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "app"
    if isinstance(node, ast.Name):
        return node.id == "app"
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Constant)
        and node.slice.value == "app"
    )


def _service_holder(node: ast.expr) -> bool:
    holder = _holder(node)
    return holder == "app_state" or holder in SERVICE_HOLDERS


def string_lookups(source: str, module: str) -> list[Violation]:
    """``x.extensions[...]``, ``state["registry"]``, ``getattr(app.state, "registry")``…"""
    found: list[Violation] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "extensions":
            found.append(Violation(module, node.lineno, "a service looked up in 'extensions'"))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
            and _service_holder(node.value)
        ):
            found.append(
                Violation(
                    module, node.lineno, f"a service looked up by the key {node.slice.value!r}"
                )
            )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and node.args
            and _service_holder(node.args[0])
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
        ):
            found.append(Violation(module, node.lineno, "a service looked up with getattr"))
    return found


def sources() -> Iterator[tuple[str, str]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield module_name(path), path.read_text()


def test_every_layer_imports_only_the_layers_below_it() -> None:
    violations = [str(v) for name, text in sources() for v in layer_violations(text, name)]
    assert violations == []


def test_no_service_is_looked_up_by_a_string_key() -> None:
    violations = [str(v) for name, text in sources() for v in string_lookups(text, name)]
    assert violations == []


def test_the_source_tree_holds_every_package() -> None:
    """A renamed package would make the checks above vacuous."""
    counts = {package: sum(1 for _ in (ROOT / package).rglob("*.py")) for package in PACKAGES}
    assert all(count >= 3 for count in counts.values()), counts
    assert (ROOT / "registry" / "client" / "__init__.py").is_file()


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("policy.x", "from catalog.names import join", "policy imports catalog.names"),
        ("policy.x", "def f():\n    import registry.client\n", "policy imports registry.client"),
        ("common.x", "from policy import securables", "common imports policy"),
        (
            "catalog.x",
            "from registry.model_registry import ModelRegistry",
            "catalog imports registry",
        ),
        ("catalog.x", "import steward.app", "catalog imports steward.app"),
        ("registry.client.x", "import sqlalchemy", "the client imports sqlalchemy"),
        ("registry.client.x", "from fastapi import Request", "the client imports fastapi"),
        ("registry.client.x", "from catalog.errors import X", "server module catalog.errors"),
        (
            "registry.client.x",
            "from registry.model_store import X",
            "server module registry.model_store",
        ),
        ("registry.client.x", "from policy import dialect", "server module policy"),
    ],
)
def test_the_layer_check_sees_each_kind_of_violation(
    module: str, source: str, expected: str
) -> None:
    assert any(expected in str(v) for v in layer_violations(source, module)), expected


@pytest.mark.parametrize(
    "source",
    [
        "registry = runtime.extensions['registry']",
        "serving = request.app.state['serving']",
        "registry = getattr(request.app.state, 'registry')",
        "runtime = getattr(scope['app'].state, 'runtime', None)",
        "x = rt.services['models']",
    ],
)
def test_the_lookup_check_sees_each_kind_of_string_key(source: str) -> None:
    assert string_lookups(source, "catalog.x")


def test_allowed_imports_pass_both_checks() -> None:
    client = (
        "from common.errors import StewardError\n"
        "from registry.client.http import RestClient\n"
        "import httpx\n"
    )
    assert layer_violations(client, "registry.client.x") == []
    server = "from catalog.runtime import Runtime\nfrom policy.securables import Privilege\n"
    assert layer_violations(server, "registry.model_registry") == []
    allowed = (
        "services = request.app.state.registry\n"
        "caller = getattr(request.state, 'caller', None)\n"
        "state['audit'] = scope\n"
    )
    assert string_lookups(allowed, "registry.x") == []
