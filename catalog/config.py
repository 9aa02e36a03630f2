"""Server settings: read from the ``STEWARD_*`` environment and validated here, in one place
(docs/running.md), with command-line flags over the environment.

A value that is not valid stops the server (or ``steward db``, ``steward audit verify``)
before it does anything: :meth:`Settings.from_env` raises :class:`SettingsError`, one
line naming the variable (or flag) and the form it accepts, which every entry point prints
as is and exits with code 2. Nothing deeper down parses a setting, so nothing deeper down
can fail with a traceback on one.

Constructed directly (``Settings(storage_root=…)``, as tests and the defaults of other
modules do), settings are their arguments and defaults only: the environment is read by
:meth:`Settings.from_env` alone, so a variable set in a shell cannot leak into them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "STEWARD_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_MAX_ARTIFACT_BYTES = 1 << 30
DEFAULT_MAX_VERSION_ARTIFACT_BYTES = 4 << 30
#: Most workers started when ``--workers`` is not given. Each worker holds its own policy
#: engine and caches in memory (at a million grants, hundreds of megabytes each), and on
#: SQLite all of them share one writer: past a few processes a machine gains little and
#: pays memory for each. More are one flag away.
MAX_DEFAULT_WORKERS = 4
#: The spellings of a boolean setting, either case.
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
#: ``PRAGMA synchronous`` levels a SQLite server may run with (see :class:`Settings`).
SQLITE_SYNCHRONOUS = ("full", "normal")
#: Settings whose value is never shown in an error: tokens, keys, and a database URL (it
#: may carry a password).
SECRET_FIELDS = frozenset({"admin_token", "audit_key", "database_url"})
#: Longest part of a bad value an error repeats (a value can be anything a shell holds).
_SHOWN_CHARS = 60
_TYPE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


class SettingsError(ValueError):
    """A setting that is not valid. Its message is one line naming the variable (or the
    flag) and the form it accepts, never a secret's value: entry points print it as is
    and exit with code 2."""


# -- parsing of one value: each raises ValueError("expected …"), the accepted form --------


def default_workers() -> int:
    """One worker per core this process may use, at most :data:`MAX_DEFAULT_WORKERS`.

    "May use": the CPU set it is pinned to and, in a container limited with ``--cpus``
    (cgroup v2 ``cpu.max``), that quota rounded up, not the host's count of cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota(Path("/sys/fs/cgroup/cpu.max"))
    if quota is not None:
        cores = min(cores, quota)
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


def _cgroup_cpu_quota(path: Path) -> int | None:
    """Whole CPUs a cgroup v2 ``cpu.max`` file allows ("200000 100000" → 2), None when it
    is unlimited ("max …"), absent or unreadable."""
    try:
        quota, period = path.read_text().split()[:2]
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _whole_number(minimum: int, maximum: int | None, expected: str) -> BeforeValidator:
    """A whole number within bounds, from an ``int`` or its text (``10000``, ``10_000``)."""

    def parse(value: object) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                number = None
        if number is None or number < minimum or (maximum is not None and number > maximum):
            raise ValueError(expected)
        return number

    return BeforeValidator(parse)


def _seconds(value: object) -> float:
    """A finite number of seconds, 0 or more (``60``, ``0.5``)."""
    expected = "expected a number of seconds, 0 or more (e.g. 60 or 0.5)"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(expected)
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(expected) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(expected)
    return seconds


def _boolean(value: object) -> bool:
    """``1``/``0``, ``true``/``false``, ``yes``/``no``, ``on``/``off``, any case; not the
    looser spellings (``t``, ``y``) pydantic would take, so that what the docs list is all
    there is."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("expected 1, 0, true, false, yes, no, on or off")


def _one_of(choices: tuple[str, ...]) -> BeforeValidator:
    """One of ``choices``, any case, kept in lower case."""
    expected = f"expected {', '.join(choices[:-1])} or {choices[-1]}"

    def parse(value: object) -> str:
        word = str(value).strip().lower() if isinstance(value, str) else None
        if word not in choices:
            raise ValueError(expected)
        return word

    return BeforeValidator(parse)


def _type_names(value: object) -> tuple[str, ...]:
    """Comma-separated dotted type names (``pkg.module.Type,other.Type``); blanks dropped."""
    expected = "expected comma-separated dotted type names such as mypkg.models.Scaler"
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple | set | frozenset):
        raise ValueError(expected)
    names = tuple(str(part).strip() for part in parts if str(part).strip())
    for name in names:
        if not _TYPE_NAME.fullmatch(name):
            raise ValueError(f"{expected} ({_shown(name)} is not one)")
    return names


def _public_url(value: object) -> str | None:
    """The server's address as clients reach it: http(s)://host[:port][/prefix]."""
    if value is None or value == "":
        return None
    text = str(value).strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
        raise ValueError(
            f"expected http(s)://host[:port], the address clients use (got {_shown(value)})"
        )
    return text


def _database_url(value: object) -> str | None:
    """A URL SQLAlchemy can parse; empty means SQLite under the storage root."""
    if value is None or value == "":
        return None
    from sqlalchemy.engine import make_url  # the server's library, imported only to check
    from sqlalchemy.exc import ArgumentError

    expected = (
        "expected a SQLAlchemy URL such as postgresql+psycopg://user@host:5432/db "
        "or sqlite:////path/steward.db"
    )
    if not isinstance(value, str):
        raise ValueError(expected)
    try:
        make_url(value)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ValueError(expected) from None
    return value


def _none_if_empty(value: object) -> object:
    """An empty secret is no secret: the same as not setting it."""
    return None if value in ("", b"") else value


Bytes = Annotated[
    int, _whole_number(1, None, "expected a whole number of bytes, 1 or more (e.g. 1048576)")
]
Count = Annotated[int, _whole_number(1, None, "expected a whole number, 1 or more (e.g. 100)")]
Port = Annotated[
    int, _whole_number(0, 65535, "expected a port number from 1 to 65535 (0: any free port)")
]
Boolean = Annotated[bool, BeforeValidator(_boolean)]
Seconds = Annotated[float, BeforeValidator(_seconds)]
TypeNames = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_type_names)]
Secret = Annotated[str | None, BeforeValidator(_none_if_empty)]
#: A relative root is anchored to the working directory at start: a later change of
#: directory cannot move it.
AbsolutePath = Annotated[Path, AfterValidator(Path.resolve)]


class Settings(BaseSettings):
    """Every setting of the server; ``STEWARD_<FIELD NAME>`` sets each (docs/running.md)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="forbid",
        # An empty variable is one not set: `STEWARD_DATABASE_URL= steward server` is SQLite.
        env_ignore_empty=True,
    )

    storage_root: AbsolutePath = Field(default_factory=lambda: Path(".steward").resolve())
    database_url: Annotated[str | None, BeforeValidator(_database_url)] = Field(
        default=None, repr=False
    )
    host: str = DEFAULT_HOST
    port: Port = DEFAULT_PORT
    admin_token: Secret = Field(default=None, repr=False)
    #: Largest request body accepted, in bytes.
    max_body_bytes: Bytes = 1 << 20
    #: "json": one JSON object per line; "console": for people; "auto": console on a terminal.
    log_format: Annotated[str, _one_of(LOG_FORMATS)] = "auto"
    log_level: Annotated[str, _one_of(LOG_LEVELS)] = "info"
    #: Whether reads of metadata (GET routes, SHOW/DESCRIBE) write audit events; reads of
    #: data and models, changes, denials and failures always do.
    audit_metadata_reads: Boolean = True
    #: HMAC key that signs audit checkpoints; kept outside the database on purpose
    #: (``STEWARD_AUDIT_KEY``, or a file named by ``STEWARD_AUDIT_KEY_FILE``).
    audit_key: Annotated[bytes | None, BeforeValidator(_none_if_empty)] = Field(
        default=None, repr=False
    )
    #: Seconds between automatic checkpoints of the audit chain (0: only on shutdown).
    audit_checkpoint_seconds: Seconds = 60.0
    #: Server processes on one port (``steward server --workers``): by default one per
    #: core this process may run on, at most :data:`MAX_DEFAULT_WORKERS`. Above 1 they are
    #: replicas of one another that follow each other's changes.
    workers: Count = Field(default_factory=lambda: default_workers())
    #: Seconds a stopping server (SIGTERM) waits for requests in flight before it closes
    #: their connections; then it writes the audit checkpoint and exits.
    shutdown_seconds: Seconds = 30.0
    #: Seconds a server that got SIGTERM goes on serving while ``/health/ready`` answers
    #: 503, before it stops listening: time for a load balancer's checks to take it out of
    #: rotation, so that no request is sent to it as it closes (compose.yaml sets 5).
    shutdown_delay_seconds: Seconds = 0.0
    #: Largest total size of a request's headers, in bytes (431 above it, before the token
    #: is looked at).
    max_header_bytes: Bytes = 16 << 10
    #: The address clients reach this server at (behind a balancer, the balancer's). When
    #: set, a model version's ``storage_location`` is its files' URL under it (Steward's
    #: artifact routes) rather than a ``file:`` path only the server's machine can use.
    public_url: Annotated[str | None, BeforeValidator(_public_url)] = None
    #: Seconds a model version may stay PENDING_REGISTRATION (created, never finalized)
    #: before the server deletes it and its files (registry/pending_versions.py).
    pending_version_seconds: Seconds = 86_400.0
    #: Largest model artifact file accepted by upload, in bytes.
    max_artifact_bytes: Bytes = DEFAULT_MAX_ARTIFACT_BYTES
    #: Largest total of one model version's artifacts, in bytes (checked on upload and at
    #: finalize).
    max_version_artifact_bytes: Bytes = DEFAULT_MAX_VERSION_ARTIFACT_BYTES
    #: Budgets of one SQL statement (docs/sql.md, limits), checked before the expensive
    #: work: characters of text, select items of a query (stars counted as the columns they
    #: stand for), and nodes of a query's syntax tree.
    sql_max_chars: Count = 32_768
    sql_max_select_items: Count = 256
    sql_max_query_nodes: Count = 2_000
    #: Seconds planning, and then compiling, one query may take (checked between steps).
    sql_max_compile_seconds: Seconds = 2.0
    #: SQL statements one user may have in flight on one server process; more fail at once.
    sql_max_statements_per_user: Count = 4
    #: How long a statement's answer can be read again by id (``GET
    #: /api/2.0/sql/statements/{id}``, by the caller who ran it), in seconds.
    statement_result_seconds: Seconds = 3600.0
    #: Accept pickle/cloudpickle model artifacts at finalize (they run code when loaded).
    allow_pickle: Boolean = False
    #: Types trusted in skops files beyond Steward's built-in allow-list.
    trusted_types: TypeNames = ()
    #: Budgets of one OpenLineage event (docs/lineage.md), checked before any work: inputs
    #: and outputs listed, column-lineage input fields, and edges (inputs × outputs plus
    #: column-lineage input fields).
    lineage_max_inputs: Count = 100
    lineage_max_outputs: Count = 100
    lineage_max_column_fields: Count = 1000
    lineage_max_edges: Count = 2000
    #: SQLite's ``PRAGMA synchronous``. "full": every acknowledged commit is on disk before
    #: the answer, surviving power loss; "normal": WAL commits are not fsynced, a power cut
    #: can lose the last acknowledged changes (a process crash loses nothing). PostgreSQL
    #: ignores it.
    sqlite_synchronous: Annotated[str, _one_of(SQLITE_SYNCHRONOUS)] = "full"
    #: Most rows one request may write (rows API, SQL INSERT and MERGE): a larger request
    #: is refused with 413 before any work, as one transaction holds SQLite's one writer
    #: for its whole length; within it, rows are written in bounded statements.
    max_rows_per_write: Count = 10_000

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.storage_root / 'steward.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the arguments: the environment is read by :meth:`from_env`, the one place
        that reads it, and never by a plain ``Settings(…)``."""
        return (init_settings,)

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of ``field``: ``port`` is ``STEWARD_PORT``."""
        return ENV_PREFIX + field.upper()

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """The ``STEWARD_*`` environment, with ``overrides`` (command-line flags, named as
        the fields; ``None`` is a flag not given) over it.

        Raises :class:`SettingsError` on the first value that is not valid, naming the
        variable, or the flag (``--log-format``) when the value came from one."""
        unknown = sorted(set(overrides) - set(cls.model_fields))
        if unknown:
            raise TypeError(f"Settings has no field {', '.join(unknown)}")
        given = {name: value for name, value in overrides.items() if value is not None}
        values: dict[str, Any] = EnvSettingsSource(cls)()
        if "audit_key" not in values:
            key = audit_key_from_env(os.environ)
            if key is not None:
                values["audit_key"] = key
        values.update(given)
        try:
            return cls(**values)
        except ValidationError as exc:
            raise _settings_error(exc, flags=set(given)) from None


def audit_key_from_env(env: Mapping[str, str]) -> bytes | None:
    """``STEWARD_AUDIT_KEY`` (the key itself) or else ``STEWARD_AUDIT_KEY_FILE`` (a file
    holding it); ``None`` when neither is set. A key file that cannot be read, or is empty,
    is a :class:`SettingsError`: an operator who named a key expects signed checkpoints,
    not a server that silently signs nothing."""
    if env.get("STEWARD_AUDIT_KEY"):
        return env["STEWARD_AUDIT_KEY"].encode()
    if env.get("STEWARD_AUDIT_KEY_FILE"):
        return read_key_file(Path(env["STEWARD_AUDIT_KEY_FILE"]), "STEWARD_AUDIT_KEY_FILE")
    return None


def read_key_file(path: Path, name: str) -> bytes:
    """The key held by ``path`` (surrounding whitespace dropped), which ``name`` (the
    variable or flag) gave; a :class:`SettingsError` naming both when it cannot be read."""
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise SettingsError(
            f"{name}={str(path)!r} is not valid: cannot read it ({reason}); "
            "expected a file holding the audit key"
        ) from None
    if not key:
        raise SettingsError(
            f"{name}={str(path)!r} is not valid: the file is empty; "
            "expected a file holding the audit key"
        )
    return key


def _flag_name(field: str) -> str:
    """The command-line flag of ``field``: ``log_format`` is ``--log-format``."""
    return "--" + field.replace("_", "-")


def _settings_error(exc: ValidationError, flags: set[str]) -> SettingsError:
    """One line from pydantic's errors: the first in full (name, value unless secret, the
    accepted form), the names of any others after it. A field in ``flags`` came from a
    command-line flag and is named as one."""
    names: list[str] = []
    first = ""
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = _flag_name(field) if field in flags else Settings.variable(field)
        if first:
            names.append(name)
            continue
        context = error.get("ctx") or {}
        expected = str(context["error"]) if "error" in context else error["msg"]
        if field in SECRET_FIELDS:
            first = f"{name} is not valid: {expected}"
        else:
            shown = _shown(error.get("input"))
            separator = " " if name.startswith("--") else "="
            first = f"{name}{separator}{shown} is not valid: {expected}"
    if names:
        first += f" (also not valid: {', '.join(names)})"
    return SettingsError(first)


def _shown(value: object) -> str:
    """A bad value as the error repeats it: quoted, on one line, and cut when long."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return repr(text)
