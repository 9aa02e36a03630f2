"""examples/churn_registry.py runs as a newcomer would run it: with
``--start-server`` and nothing else running, and twice against one server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, ServerHandle

SCRIPT = ROOT / "examples" / "churn_registry.py"
FEATURE_SCRIPT = ROOT / "examples" / "feature_serving.py"
pytestmark = pytest.mark.slow


def run_example(*args: str, env: dict[str, str] | None = None, script: Path = SCRIPT) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    environment.update(env or {})
    result = subprocess.run(
        [sys.executable, str(script), *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, (
        f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result.stdout


def lines_in_order(output: str, *patterns: str) -> None:
    """Each regular expression matches a line, in this order."""
    lines = output.splitlines()
    at = 0
    for pattern in patterns:
        for i in range(at, len(lines)):
            if re.search(pattern, lines[i]):
                at = i + 1
                break
        else:
            pytest.fail(f"no line matching {pattern!r} after line {at}:\n{output}")


def check_flow(output: str, older: int, newer: int) -> None:
    lines_in_order(
        output,
        r"^1\. Catalog, schema and training table",
        r"ok\s+CREATE CATALOG IF NOT EXISTS main\b",
        r"ok\s+CREATE TABLE IF NOT EXISTS main\.ml\.churn_features",
        r"^2\. Train a churn classifier",
        r"^\s+logistic_regression\s+0\.\d{3}$",
        r"^\s+gradient_boosting\s+0\.\d{3}$",
        r"^3\. Register two versions of main\.ml\.churn",
        rf"version {older}\s+READY\s+logistic_regression\s+trained on main\.ml\.churn_features",
        rf"version {newer}\s+READY\s+gradient_boosting\s+trained on main\.ml\.churn_features",
        r"^4\. A consumer: analyst@example\.com in group ml-consumers",
        r"ALTER GROUP `ml-consumers` ADD USER `analyst@example\.com`",
        r"ok\s+GRANT USE CATALOG ON CATALOG main TO `ml-consumers`",
        r"ok\s+GRANT USE SCHEMA ON SCHEMA main\.ml TO `ml-consumers`",
        r"ok\s+GRANT EXECUTE ON MODEL main\.ml\.churn TO `ml-consumers`",
        r"ok\s+token for analyst@example\.com",
        r"^5\. Aliases",
        rf"champion\s+-> version {newer}\s+\(client\.set_alias\)",
        rf"ok\s+ALTER MODEL main\.ml\.churn SET ALIAS challenger = {older}$",
        rf"challenger -> version {older}\s+\(SQL",
        r"^6\. As analyst@example\.com",
        rf"loaded models:/main\.ml\.churn@champion -> version {newer}\b",
        r"^\s+2\s+95\.00\s+4\s+yes\s+0\.\d\d\s+(churn|stays)$",
        rf"moving champion to version {older}: refused, HTTP 403",
        r"PERMISSION_DENIED: MANAGE on MODEL 'main\.ml\.churn' is required",
        rf"champion still -> version {newer}$",
        r"^7\. Audit events of main\.ml\.churn",
        rf"admin\s+finalizeModelVersion\s+200\s+v{older} READY",
        rf"admin\s+uploadModelVersionArtifact\s+200\s+v{newer}: \d+ files",
        r"admin\s+updatePermissions\s+200\s+GRANT EXECUTE ON MODEL main\.ml\.churn",
        rf"admin\s+setRegisteredModelAlias\s+200\s+champion -> v{newer}",
        rf"admin\s+setRegisteredModelAlias\s+200\s+ALTER MODEL .* challenger = {older}",
        r"analyst@example\.com\s+getModelVersionByAlias\s+200\s+champion",
        rf"analyst@example\.com\s+getModelVersionArtifact\s+200\s+v{newer}: \d+ files",
        r"analyst@example\.com\s+setRegisteredModelAlias\s+403\s+PERMISSION_DENIED",
        r"GET /api/2\.1/steward/lineage\?full_name=main\.ml\.churn_features",
        r"^\s+main\.ml\.churn_features \(FEATURE_TABLE\)$",
        r"└── downstream$",
        rf"main\.ml\.churn v{older} \(MODEL_VERSION\)\s+\[training",
        rf"main\.ml\.churn v{newer} \(MODEL_VERSION\)\s+\[training",
        rf"^Done: main\.ml\.churn@champion is version {newer}, @challenger is version {older}\.$",
    )


def test_the_example_runs_with_a_throwaway_server() -> None:
    output = run_example("--start-server")
    started = re.search(
        r"Started a throw-away server at http://127\.0\.0\.1:\d+ \(SQLite under (.+)\)", output
    )
    assert started, output
    check_flow(output, older=1, newer=2)
    # The first run's audit table starts with the model's creation.
    lines_in_order(output, r"admin\s+createRegisteredModel\s+200")
    # The throw-away server's directory (database, artifacts, log) is gone.
    assert not Path(started.group(1)).exists()


def test_the_example_runs_twice_against_one_server(server: ServerHandle) -> None:
    env = {"STEWARD_URL": server.url, "STEWARD_TOKEN": server.admin_token}
    check_flow(run_example(env=env), older=1, newer=2)
    again = run_example(env=env)
    check_flow(again, older=3, newer=4)
    lines_in_order(
        again,
        r"exists\s+user analyst@example\.com",
        r"exists\s+CREATE GROUP `ml-consumers`",
    )
    lines_in_order(
        again,
        r"exists\s+main\.ml\.churn: new versions follow the existing ones",
    )
    lines_in_order(
        again,
        r"setRegisteredModelAlias\s+200\s+champion -> v4 \(was v2\)",
        r"challenger = 3 \(was v1\)",
    )
    assert "createRegisteredModel" not in again


def test_the_example_explains_a_missing_token() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "STEWARD_TOKEN" in result.stderr and "--start-server" in result.stderr


def check_feature_flow(output: str, version: int) -> None:
    lines_in_order(
        output,
        r"^1\. Catalog, schema and feature table",
        r"CREATE TABLE IF NOT EXISTS main\.ml\.customer_features",
        r"^2\. Feature history",
        r"900 rows written to main\.ml\.customer_features",
        r"^3\. Training set: point-in-time",
        r"300 rows: customer_id, tenure_months, monthly_charges, support_calls, churned",
        r"^4\. Register main\.ml\.churn_live",
        rf"version {version} looks up tenure_months, monthly_charges, support_calls from "
        r"main\.ml\.customer_features by customer_id",
        r"^5\. Serve main\.ml\.churn_live@champion",
        r"inference table main\.ml\.churn_live_payload",
        r"GRANT QUERY ON SERVING ENDPOINT `churn-live` TO `crm-app@example\.com`",
        r"^6\. As crm-app@example\.com",
        r"^\s+\d+\s+\d+\.0\s+[\d.]+\s+[0-2]\.0\s+0$",
        r"^\s+\d+\s+\d+\.0\s+[\d.]+\s+\d+\.0\s+1$",
        r"with support_calls overridden to 9 in the request: prediction 1$",
        r"unknown customer 10000: 400 INVALID_PARAMETER_VALUE: .*customer_id=10000",
        r"creating an endpoint over a model it may not see: 404 RESOURCE_DOES_NOT_EXIST",
        r"^7\. The inference table",
        r"crm-app@example\.com\s+400\s+",
        rf"crm-app@example\.com\s+200\s+{version}\s+",
        r"main\.ml\.customer_features\s+--feature_lookup--> main\.ml\.churn_live v\d",
        r"--serving--> churn-live",
        r"churn-live\s+--serving--> main\.ml\.churn_live_payload",
        rf"^Done: endpoint churn-live serves main\.ml\.churn_live version {version}",
    )


def test_the_feature_serving_example_runs_with_a_throwaway_server() -> None:
    check_feature_flow(run_example("--start-server", script=FEATURE_SCRIPT), version=1)


def test_the_feature_serving_example_runs_twice_against_one_server(server: ServerHandle) -> None:
    env = {"STEWARD_URL": server.url, "STEWARD_TOKEN": server.admin_token}
    check_feature_flow(run_example(env=env, script=FEATURE_SCRIPT), version=1)
    again = run_example(env=env, script=FEATURE_SCRIPT)
    check_feature_flow(again, version=2)
    lines_in_order(
        again,
        r"900 rows written .* \(0 inserted, 900 updated\)",
        r"exists\s+endpoint churn-live: config updated",
    )
