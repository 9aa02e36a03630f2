"""Settings are read and checked in one place (catalog/config.py).

A bad value is one line naming the variable (or flag) and the form it accepts, never a
secret's value, and every entry point (``steward server``, ``steward db``, ``steward audit
verify``, the app factory under uvicorn) exits with code 2 on it, without a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from catalog.config import MAX_DEFAULT_WORKERS, Settings, SettingsError, _cgroup_cpu_quota
from tests.support import ROOT


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No STEWARD_* variable of the shell running the tests, and a private working
    directory (the default storage root is relative to it)."""
    for name in list(os.environ):
        if name.startswith("STEWARD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def error_of(monkeypatch: pytest.MonkeyPatch, **variables: str) -> str:
    """The message of the SettingsError that ``variables`` cause; asserts it is one line."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        Settings.from_env()
    message = str(raised.value)
    assert "\n" not in message
    return message


# -- reading ------------------------------------------------------------------------------


def test_from_env_without_variables_is_the_defaults(tmp_path: Path) -> None:
    assert Settings.from_env() == Settings()
    assert Settings().storage_root == tmp_path / ".steward"
    assert Settings().resolved_database_url == f"sqlite:///{tmp_path / '.steward' / 'steward.db'}"


def test_constructing_settings_directly_never_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEWARD_PORT", "9000")
    monkeypatch.setenv("STEWARD_AUDIT_CHECKPOINT_SECONDS", "1m")  # not even to fail
    assert Settings().port == 8080
    assert Settings(port=9001).port == 9001


@pytest.mark.parametrize(
    ("variable", "text", "field", "value"),
    [
        ("STEWARD_HOST", "0.0.0.0", "host", "0.0.0.0"),
        ("STEWARD_PORT", "9000", "port", 9000),
        ("STEWARD_PORT", "0", "port", 0),
        ("STEWARD_DATABASE_URL", "postgresql+psycopg://u@h:5432/db", "database_url", None),
        ("STEWARD_ADMIN_TOKEN", "dapi-chosen", "admin_token", "dapi-chosen"),
        ("STEWARD_MAX_BODY_BYTES", " 2097152 ", "max_body_bytes", 2 << 20),
        ("STEWARD_MAX_HEADER_BYTES", "32_768", "max_header_bytes", 32 << 10),
        ("STEWARD_LOG_FORMAT", "JSON", "log_format", "json"),
        ("STEWARD_LOG_LEVEL", "Warning", "log_level", "warning"),
        ("STEWARD_AUDIT_METADATA_READS", "off", "audit_metadata_reads", False),
        ("STEWARD_AUDIT_METADATA_READS", "YES", "audit_metadata_reads", True),
        ("STEWARD_AUDIT_CHECKPOINT_SECONDS", "0.5", "audit_checkpoint_seconds", 0.5),
        ("STEWARD_AUDIT_CHECKPOINT_SECONDS", "0", "audit_checkpoint_seconds", 0.0),
        ("STEWARD_ALLOW_PICKLE", "1", "allow_pickle", True),
        ("STEWARD_ALLOW_PICKLE", "false", "allow_pickle", False),
        ("STEWARD_TRUSTED_TYPES", "a.B, c.d.E ,", "trusted_types", ("a.B", "c.d.E")),
        ("STEWARD_SQL_MAX_CHARS", "100", "sql_max_chars", 100),
        ("STEWARD_LINEAGE_MAX_EDGES", "5", "lineage_max_edges", 5),
        ("STEWARD_SQLITE_SYNCHRONOUS", "NORMAL", "sqlite_synchronous", "normal"),
        ("STEWARD_SQLITE_SYNCHRONOUS", "full", "sqlite_synchronous", "full"),
        ("STEWARD_MAX_ROWS_PER_WRITE", "500", "max_rows_per_write", 500),
    ],
)
def test_good_values_parse(
    monkeypatch: pytest.MonkeyPatch, variable: str, text: str, field: str, value: Any
) -> None:
    monkeypatch.setenv(variable, text)
    expected = text if value is None else value
    assert getattr(Settings.from_env(), field) == expected


def test_the_new_settings_have_their_defaults() -> None:
    assert Settings().sqlite_synchronous == "full"
    assert Settings().max_rows_per_write == 10_000


def test_workers_default_to_the_cores_this_process_may_use_capped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Not the host's count: the CPU set the process is pinned to, within the cap."""
    cores = len(os.sched_getaffinity(0))
    assert Settings().workers == min(cores, MAX_DEFAULT_WORKERS)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(64)))
    assert Settings().workers == MAX_DEFAULT_WORKERS
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert Settings().workers == 1
    monkeypatch.setenv("STEWARD_WORKERS", "6")
    assert Settings.from_env().workers == 6  # the cap is only the default's


@pytest.mark.parametrize(
    ("content", "quota"),
    [
        ("200000 100000\n", 2),
        ("150000 100000", 2),
        ("50000 100000", 1),
        ("max 100000", None),
        ("", None),
        ("garbage", None),
    ],
)
def test_a_containers_cpu_quota_is_read_from_cgroup_v2(
    tmp_path: Path, content: str, quota: int | None
) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(content)
    assert _cgroup_cpu_quota(cpu_max) == quota
    assert _cgroup_cpu_quota(tmp_path / "absent") is None


def test_an_empty_variable_is_one_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STEWARD_DATABASE_URL", "STEWARD_PORT", "STEWARD_ADMIN_TOKEN"):
        monkeypatch.setenv(name, "")
    settings = Settings.from_env()
    assert (settings.database_url, settings.port, settings.admin_token) == (None, 8080, None)


def test_storage_root_is_made_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STEWARD_STORAGE_ROOT", "relative/root")
    assert Settings.from_env().storage_root == tmp_path / "relative" / "root"
    assert Settings.from_env(storage_root=Path("flag")).storage_root == tmp_path / "flag"


def test_flags_win_over_variables_and_none_is_a_flag_not_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEWARD_PORT", "9000")
    monkeypatch.setenv("STEWARD_LOG_FORMAT", "console")
    settings = Settings.from_env(port=9100, log_format=None, host="::1")
    assert (settings.port, settings.log_format, settings.host) == (9100, "console", "::1")


def test_an_unknown_override_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="no field colour"):
        Settings.from_env(colour="blue")


def test_settings_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        Settings().port = 1  # type: ignore[misc]


# -- refusing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "text", "expected"),
    [
        (
            "STEWARD_AUDIT_CHECKPOINT_SECONDS",
            "1m",
            "expected a number of seconds, 0 or more (e.g. 60 or 0.5)",
        ),
        (
            "STEWARD_AUDIT_CHECKPOINT_SECONDS",
            "-1",
            "expected a number of seconds, 0 or more (e.g. 60 or 0.5)",
        ),
        (
            "STEWARD_AUDIT_CHECKPOINT_SECONDS",
            "nan",
            "expected a number of seconds, 0 or more (e.g. 60 or 0.5)",
        ),
        ("STEWARD_PORT", "http", "expected a port number from 1 to 65535 (0: any free port)"),
        ("STEWARD_PORT", "65536", "expected a port number from 1 to 65535 (0: any free port)"),
        ("STEWARD_PORT", "-1", "expected a port number from 1 to 65535 (0: any free port)"),
        (
            "STEWARD_MAX_BODY_BYTES",
            "1MB",
            "expected a whole number of bytes, 1 or more (e.g. 1048576)",
        ),
        ("STEWARD_MAX_HEADER_BYTES", "0", "expected a whole number of bytes, 1 or more"),
        ("STEWARD_MAX_ARTIFACT_BYTES", "1e9", "expected a whole number of bytes, 1 or more"),
        ("STEWARD_MAX_VERSION_ARTIFACT_BYTES", "-5", "expected a whole number of bytes"),
        ("STEWARD_SQL_MAX_CHARS", "lots", "expected a whole number, 1 or more (e.g. 100)"),
        ("STEWARD_SQL_MAX_SELECT_ITEMS", "0", "expected a whole number, 1 or more"),
        ("STEWARD_SQL_MAX_QUERY_NODES", "2.5", "expected a whole number, 1 or more"),
        ("STEWARD_LINEAGE_MAX_INPUTS", "0", "expected a whole number, 1 or more"),
        ("STEWARD_LINEAGE_MAX_OUTPUTS", "x", "expected a whole number, 1 or more"),
        ("STEWARD_LINEAGE_MAX_COLUMN_FIELDS", "-1", "expected a whole number, 1 or more"),
        ("STEWARD_LINEAGE_MAX_EDGES", "many", "expected a whole number, 1 or more"),
        ("STEWARD_MAX_ROWS_PER_WRITE", "0", "expected a whole number, 1 or more"),
        ("STEWARD_LOG_FORMAT", "xml", "expected auto, json or console"),
        ("STEWARD_LOG_LEVEL", "loud", "expected debug, info, warning, error or critical"),
        ("STEWARD_SQLITE_SYNCHRONOUS", "off", "expected full or normal"),
        (
            "STEWARD_AUDIT_METADATA_READS",
            "maybe",
            "expected 1, 0, true, false, yes, no, on or off",
        ),
        ("STEWARD_ALLOW_PICKLE", "t", "expected 1, 0, true, false, yes, no, on or off"),
        (
            "STEWARD_TRUSTED_TYPES",
            "a.B, Scaler",
            "expected comma-separated dotted type names such as mypkg.models.Scaler "
            "('Scaler' is not one)",
        ),
    ],
)
def test_a_bad_value_names_the_variable_and_the_accepted_form(
    monkeypatch: pytest.MonkeyPatch, variable: str, text: str, expected: str
) -> None:
    message = error_of(monkeypatch, **{variable: text})
    assert message.startswith(f"{variable}={text!r} is not valid: {expected}"), message


def test_a_bad_flag_is_named_as_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_LOG_FORMAT", "json")
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(log_format="xml", port=70000)
    assert str(raised.value) == (
        "--port '70000' is not valid: expected a port number from 1 to 65535 (0: any free "
        "port) (also not valid: --log-format)"
    )


def test_every_bad_value_is_named_on_the_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    message = error_of(
        monkeypatch,
        STEWARD_PORT="x",
        STEWARD_LOG_LEVEL="loud",
        STEWARD_MAX_ROWS_PER_WRITE="0",
    )
    assert message.startswith("STEWARD_PORT='x' is not valid: expected a port number")
    assert message.endswith(" (also not valid: STEWARD_LOG_LEVEL, STEWARD_MAX_ROWS_PER_WRITE)"), (
        message
    )


def test_a_long_value_is_cut_and_a_multiline_one_stays_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = error_of(monkeypatch, STEWARD_LOG_LEVEL="loud\n" + "x" * 500)
    assert message.startswith("STEWARD_LOG_LEVEL='loud\\nxxx")
    assert "..." in message and len(message) < 200


def test_secrets_are_named_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    message = error_of(monkeypatch, STEWARD_DATABASE_URL="postgresql://u:hunter2@h:port/db")
    assert message == (
        "STEWARD_DATABASE_URL is not valid: expected a SQLAlchemy URL such as "
        "postgresql+psycopg://user@host:5432/db or sqlite:////path/steward.db"
    )
    monkeypatch.delenv("STEWARD_DATABASE_URL")
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(admin_token=12345678)
    assert str(raised.value).startswith("--admin-token is not valid: ")
    assert "12345678" not in str(raised.value)
    settings = Settings(admin_token="dapi-Zq9", audit_key=b"k-Zq9", database_url="sqlite://")
    assert "Zq9" not in repr(settings) and "sqlite://" not in repr(settings)


# -- the audit key ------------------------------------------------------------------------


def test_the_audit_key_comes_from_the_variable_or_else_its_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(b"from-file\n")
    monkeypatch.setenv("STEWARD_AUDIT_KEY_FILE", str(key_file))
    assert Settings.from_env().audit_key == b"from-file"
    monkeypatch.setenv("STEWARD_AUDIT_KEY", "from-variable")
    assert Settings.from_env().audit_key == b"from-variable"


def test_a_key_file_that_cannot_be_read_names_the_variable_and_the_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "audit.key"
    assert error_of(monkeypatch, STEWARD_AUDIT_KEY_FILE=str(missing)) == (
        f"STEWARD_AUDIT_KEY_FILE={str(missing)!r} is not valid: cannot read it (No such "
        "file or directory); expected a file holding the audit key"
    )
    empty = tmp_path / "empty.key"
    empty.write_bytes(b"\n")
    assert "the file is empty" in error_of(monkeypatch, STEWARD_AUDIT_KEY_FILE=str(empty))


# -- the documentation --------------------------------------------------------------------


def test_docs_list_every_setting() -> None:
    """docs/running.md's table names every variable (the audit key's two ways included)."""
    text = (ROOT / "docs" / "running.md").read_text()
    missing = [
        Settings.variable(field)
        for field in Settings.model_fields
        if f"`{Settings.variable(field)}`" not in text
    ]
    assert missing == []
    assert "`STEWARD_AUDIT_KEY_FILE`" in text


# -- the entry points, as a user runs them ------------------------------------------------


def run(
    command: list[str], variables: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``command`` in a fresh interpreter, with only ``variables`` of the STEWARD_* kind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, *command],
        env={**env, **variables},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], line: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [line]


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "steward", "server"],
        ["-m", "steward", "db", "upgrade"],
        ["-m", "steward", "audit", "verify"],
        ["-m", "steward", "audit", "checkpoint"],
        ["-m", "uvicorn", "--factory", "steward.app:create_app"],
    ],
    ids=["server", "db-upgrade", "audit-verify", "audit-checkpoint", "uvicorn-factory"],
)
def test_every_entry_point_stops_on_a_bad_setting_with_one_line_and_code_2(
    command: list[str], tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    result = run(
        command,
        {"STEWARD_AUDIT_CHECKPOINT_SECONDS": "1m", "STEWARD_STORAGE_ROOT": str(storage)},
        tmp_path,
    )
    assert_one_line_exit_2(
        result,
        "error: STEWARD_AUDIT_CHECKPOINT_SECONDS='1m' is not valid: expected a number of "
        "seconds, 0 or more (e.g. 60 or 0.5)",
    )
    assert not storage.exists(), "nothing is created before the settings are checked"


def test_audit_verify_with_a_missing_key_file_is_one_line_and_code_2(tmp_path: Path) -> None:
    missing = tmp_path / "audit.key"
    result = run(
        ["-m", "steward", "audit", "verify", "--storage-root", str(tmp_path)],
        {"STEWARD_AUDIT_KEY_FILE": str(missing)},
        tmp_path,
    )
    assert_one_line_exit_2(
        result,
        f"error: STEWARD_AUDIT_KEY_FILE={str(missing)!r} is not valid: cannot read it (No "
        "such file or directory); expected a file holding the audit key",
    )


def test_a_bad_server_flag_is_one_line_and_code_2(tmp_path: Path) -> None:
    result = run(["-m", "steward", "server", "--log-format", "xml"], {}, tmp_path)
    assert_one_line_exit_2(
        result, "error: --log-format 'xml' is not valid: expected auto, json or console"
    )
