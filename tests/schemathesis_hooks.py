"""Schemathesis hooks of ``tests/e2e/test_schemathesis.py``, loaded by the ``st run`` it
starts (``SCHEMATHESIS_HOOKS``).

Generated names seldom name anything, so an operation's path parameters are sometimes those
of objects the test seeded: ``STEWARD_FUZZ_PATH_PARAMETERS`` maps an operation's label
(``GET /api/2.1/unity-catalog/tables/{full_name}``) to the path parameters to choose from.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

SEEDED: dict[str, list[dict[str, Any]]] = json.loads(
    os.environ.get("STEWARD_FUZZ_PATH_PARAMETERS", "{}")
)


@schemathesis.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """The generated parameters, or one of the seeded objects' (as often as each)."""
    assert context.operation is not None
    seeded = SEEDED.get(context.operation.label, [])
    return st.sampled_from([path_parameters, *seeded])
