"""The team topology, run as processes the way compose.yaml describes it (docs/running.md).

The suite's PostgreSQL; two replicas, each ``steward server --workers 2`` configured by the
image's and compose's environment (one shared storage root for the artifacts volume); and
HAProxy with deploy/haproxy.cfg in front, its addresses turned into loopback ports.
Through the balancer:

- the replicas serve one metastore and one artifact volume, and HAProxy's checks of
  ``/health/ready`` take a stopped replica out and put it back;
- several clients at once (the Python client, SQL statements) are served by both;
- a REVOKE sent through the balancer holds on every worker of every replica within a
  second;
- ``kill -9`` of one replica's processes (as a container dies) in the middle of writes:
  every acknowledged write is there afterwards with exactly one audit event, and the audit
  chain verifies;
- a rolling restart (SIGTERM one replica, start it again, then the other) under load
  answers every request: a stopping replica first leaves the rotation
  (``STEWARD_SHUTDOWN_DELAY_SECONDS``), then drains.

Without HAProxy or Compose these skip, except in CI, where they fail (.ci/run installs both).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.client import Client
from tests.e2e.deployment import (
    FILLED,
    FINAL,
    IMPLEMENTATIONS,
    REPLICAS,
    UC,
    haproxy,
    image_env,
    missing,
    rendered_with,
    tool_env,
)
from tests.registry_support import MLMODEL
from tests.support import (
    POSTGRES_URL_ENV,
    REQUIRE_POSTGRES_ENV,
    free_port,
    haproxy_stats,
    loopback_haproxy_config,
    postgres_database,
    run_steward,
    unique,
)

SQL = "/api/2.0/sql/statements"
#: Each replica runs this many worker processes, as the issue's CI topology asks.
WORKERS_PER_REPLICA = 2


@dataclass
class Replica:
    """One ``steward server`` process and its workers: what one replica container runs."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """``steward server``, the image's ENTRYPOINT and CMD, with its environment; in a
        session of its own, so that :meth:`kill` reaches every process of it at once."""
        script = Path(sys.executable).with_name("steward")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "steward"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "server", "--workers", str(WORKERS_PER_REPLICA)],
                env=self.env,
                cwd=self.log.parent,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.process and self.process.poll() is None, self.tail()
            try:
                return httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 120, f"{self.name} ready:\n{self.tail()}")

    def terminate(self) -> int:
        """SIGTERM, as ``docker compose stop`` sends it; the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL to every process of the replica at once, as when its container dies."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.terminate()
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Balancer:
    """The haproxy process: its address and its admin socket."""

    url: str
    socket_path: Path

    def servers(self) -> dict[str, dict[str, str]]:
        """HAProxy's own view of the replicas."""
        return haproxy_stats(self.socket_path)

    def status(self, name: str) -> str:
        return self.servers()[name]["status"]

    def sessions(self) -> dict[str, int]:
        """Requests sent to each replica so far (HAProxy's cumulative session count)."""
        return {name: int(self.servers()[name]["stot"]) for name in REPLICAS}


def checked_up(balancer: Balancer, name: str) -> bool:
    """UP after a real check of /health/ready that answered 200 (not just the start state)."""
    row = balancer.servers()[name]
    return row["status"] == "UP" and row["check_status"] == "L7OK" and row["check_code"] == "200"


@dataclass
class Topology:
    balancer: Balancer
    replicas: list[Replica]
    database_url: str
    admin_token: str
    #: A catalog and schema made for the module, and a table of it that SQL writes into.
    schema: str = ""

    @property
    def table(self) -> str:
        return f"{self.schema}.events"

    def client(self, token: str | None = None, base: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=base or self.balancer.url,
            headers={"Authorization": f"Bearer {token or self.admin_token}"},
            timeout=60,
        )

    def restore(self) -> None:
        """Every replica running and checked UP again: what each test starts from."""
        for replica in self.replicas:
            if replica.process is None:
                replica.start()
        for replica in self.replicas:
            replica.wait_ready()
            wait_for(lambda r=replica: checked_up(self.balancer, r.name), 30, f"{replica.name} UP")


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """PostgreSQL, two replicas on one storage root and HAProxy, each its own process."""
    if not (os.environ.get(POSTGRES_URL_ENV) or os.environ.get(REQUIRE_POSTGRES_ENV)):
        pytest.skip(f"the replicas need PostgreSQL: set {POSTGRES_URL_ENV}")
    binary = haproxy()
    if not IMPLEMENTATIONS:
        missing("a Compose implementation (docker-compose or docker compose)")
    folder = tmp_path_factory.mktemp("topology")
    rendered = rendered_with(IMPLEMENTATIONS[0], folder / "project")
    shared = folder / "artifacts"  # the volume both replicas mount
    with postgres_database() as database_url:
        replicas = []
        for name in REPLICAS:
            env = {
                **tool_env(),
                **{k: v for k, v in image_env(FINAL).items() if k.startswith("STEWARD_")},
                **rendered["services"][name]["environment"],
                # Only what differs outside Docker: addresses and the volume's path.
                "STEWARD_HOST": "127.0.0.1",
                "STEWARD_PORT": str(free_port()),
                "STEWARD_DATABASE_URL": database_url,
                "STEWARD_STORAGE_ROOT": str(shared),
            }
            (folder / name).mkdir()
            replicas.append(Replica(name, int(env["STEWARD_PORT"]), env, folder / name / "log"))
        balancer = Balancer(f"http://127.0.0.1:{free_port()}", folder / "haproxy.sock")
        config = folder / "haproxy.cfg"
        config.write_text(
            loopback_haproxy_config(
                int(balancer.url.rsplit(":", 1)[1]),
                {replica.name: replica.port for replica in replicas},
                balancer.socket_path,
            )
        )
        lb_log = folder / "haproxy.log"
        process: subprocess.Popen[bytes] | None = None
        token = replicas[0].env["STEWARD_ADMIN_TOKEN"]
        topology = Topology(balancer, replicas, database_url, token)
        try:
            for replica in replicas:  # together, as compose starts them
                replica.start()
            for replica in replicas:
                replica.wait_ready()
            with lb_log.open("wb") as log:
                process = subprocess.Popen(
                    [binary, "-W", "-db", "-f", str(config)], stdout=log, stderr=log
                )
            wait_for(balancer.socket_path.exists, 30, f"haproxy:\n{lb_log.read_text()}")
            topology.restore()
            topology.schema = f"{unique('team')}.s"
            with topology.client() as admin:
                for statement in (
                    f"CREATE CATALOG {topology.schema.split('.')[0]}",
                    f"CREATE SCHEMA {topology.schema}",
                    f"CREATE TABLE {topology.table} (id BIGINT, writer STRING)",
                ):
                    succeeded(admin, statement)
            yield topology
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
            for replica in replicas:
                replica.stop()


def succeeded(client: httpx.Client, statement: str) -> dict[str, Any]:
    """Run one SQL statement; assert it succeeded; its answer."""
    answer = client.post(SQL, json={"statement": statement})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["status"]["state"] == "SUCCEEDED", body
    return body


# -- load: clients that keep sending until told to stop --------------------------------


@dataclass
class Outcome:
    """What one client saw: answered requests (by their request id) and failures."""

    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (what, request id)
    failures: list[str] = field(default_factory=list)
    count: int = 0


class Load:
    """Client threads through the balancer, each calling its ``step`` until :meth:`stop`.

    A step returns ``(what, response)``: a success (:func:`succeeded_answer`) is
    acknowledged, kept with its request id; anything else, or an exception, is a failure
    the test may or may not accept."""

    def __init__(self, steps: list[Callable[[int], tuple[str, httpx.Response]]]) -> None:
        self.outcomes = [Outcome() for _ in steps]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(step, outcome), daemon=True)
            for step, outcome in zip(steps, self.outcomes, strict=True)
        ]

    def _run(self, step: Callable[[int], tuple[str, httpx.Response]], out: Outcome) -> None:
        while not self._stop.is_set():
            out.count += 1
            try:
                what, answer = step(out.count)
            except Exception as exc:  # every failure is recorded
                out.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            if succeeded_answer(answer):
                out.acknowledged.append((what, answer.headers["x-request-id"]))
            else:
                out.failures.append(f"{what}: {answer.status_code} {answer.text[:200]}")

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    @property
    def acknowledged(self) -> list[tuple[str, str]]:
        return [ack for outcome in self.outcomes for ack in outcome.acknowledged]

    @property
    def failures(self) -> list[str]:
        return [failure for outcome in self.outcomes for failure in outcome.failures]

    @property
    def sent(self) -> int:
        return sum(outcome.count for outcome in self.outcomes)


def succeeded_answer(answer: httpx.Response) -> bool:
    """A 2xx, and for a SQL statement one that succeeded (a failed one is answered 200)."""
    if not 200 <= answer.status_code < 300:
        return False
    if answer.request.url.path == SQL:
        return bool(answer.json()["status"]["state"] == "SUCCEEDED")
    return True


def table_creator(topology: Topology, prefix: str) -> Callable[[int], tuple[str, httpx.Response]]:
    """A client creating tables through the REST API, one new name per step."""
    client = topology.client()
    catalog, schema = topology.schema.split(".")

    def step(n: int) -> tuple[str, httpx.Response]:
        name = f"{prefix}_{n}"
        body = {
            "name": name,
            "catalog_name": catalog,
            "schema_name": schema,
            "table_type": "MANAGED",
            "data_source_format": "DELTA",
            "columns": [{"name": "id", "type_name": "LONG", "type_text": "bigint", "position": 0}],
        }
        return f"{topology.schema}.{name}", client.post(f"{UC}/tables", json=body)

    return step


def row_inserter(topology: Topology, writer: int) -> Callable[[int], tuple[str, httpx.Response]]:
    """A client inserting one row per step through SQL; the row's id says which."""
    client = topology.client()

    def step(n: int) -> tuple[str, httpx.Response]:
        row_id = writer * 1_000_000 + n
        statement = f"INSERT INTO {topology.table} VALUES ({row_id}, 'w{writer}')"
        return str(row_id), client.post(SQL, json={"statement": statement})

    return step


def reader(topology: Topology) -> Callable[[int], tuple[str, httpx.Response]]:
    """A client reading: the table's metadata, then a SQL count, by turns."""
    client = topology.client()

    def step(n: int) -> tuple[str, httpx.Response]:
        if n % 2:
            return "get", client.get(f"{UC}/tables/{topology.table}")
        return "count", client.post(
            SQL, json={"statement": f"SELECT count(*) FROM {topology.table}"}
        )

    return step


def audit_successes(topology: Topology, action: str) -> Counter[str]:
    """Request id → successful audit events of ``action``, over the whole log."""
    found: Counter[str] = Counter()
    with topology.client() as admin:
        token = None
        while True:
            params = {
                "action": action,
                "max_results": 1000,
                **({"page_token": token} if token else {}),
            }
            page = admin.get("/api/2.1/steward/audit", params=params).json()
            for event in page["events"]:
                if event["response"]["status_code"] == 200:
                    found[event["request_id"]] += 1
            token = page.get("next_page_token")
            if not token:
                return found


# -- the tests, in the order they run on the one topology --------------------------------


@pytest.mark.slow
def test_two_replicas_behind_haproxy_share_database_and_artifacts(topology: Topology) -> None:
    """Both replicas pass HAProxy's readiness check and serve one metastore: an object
    made through one is seen by the other, and an artifact uploaded through one is
    finalized and served by the other (the shared volume), also through the balancer."""
    one, two = topology.replicas
    catalog = unique("team")
    with (
        topology.client() as lb,
        topology.client(base=one.url) as first,
        topology.client(base=two.url) as second,
    ):
        # The admin token of .env works on both replicas; one database behind them.
        assert first.post(f"{UC}/catalogs", json={"name": catalog}).status_code == 200
        assert second.get(f"{UC}/catalogs/{catalog}").status_code == 200
        schema = {"name": "ml", "catalog_name": catalog}
        assert lb.post(f"{UC}/schemas", json=schema).status_code == 200
        model = {"catalog_name": catalog, "schema_name": "ml", "name": "churn"}
        assert lb.post(f"{UC}/models", json=model).status_code == 200
        version = {**{k: model[k] for k in model if k != "name"}, "model_name": "churn"}
        created = first.post(f"{UC}/models/versions", json={**version, "source": "compose"})
        assert created.status_code == 200, created.text

        # An artifact written through one replica is read, and registered, by the other.
        files = f"/api/2.1/steward/models/{catalog}.ml.churn/versions/1/artifacts"
        body = MLMODEL
        assert first.put(f"{files}/MLmodel", content=body).status_code in (200, 201, 204)
        finalized = second.patch(f"{UC}/models/{catalog}.ml.churn/versions/1/finalize")
        assert finalized.status_code == 200, finalized.text
        assert finalized.json()["status"] == "READY", finalized.text
        for client in (second, lb, lb):  # round robin: the balancer asks each replica
            answer = client.get(f"{files}/MLmodel")
            assert answer.status_code == 200 and answer.content == body, answer.text


@pytest.mark.slow
def test_several_clients_are_served_by_both_replicas(topology: Topology) -> None:
    """The Python client and SQL statements from several threads at once: every request
    answered, both replicas used, and each SQL writer reads its own rows back through
    the balancer (one database behind every replica)."""
    before = topology.balancer.sessions()
    failures: list[str] = []

    def python_client(k: int) -> None:
        with Client(url=topology.balancer.url, token=topology.admin_token) as client:
            for i in range(8):
                name = f"{topology.schema}.m_{k}_{i}"
                client.create_model(name, comment="through the balancer")
                assert client.get_model(name)["name"] == f"m_{k}_{i}"
                assert client.get_table(topology.table)["name"] == "events"

    def sql_client(k: int) -> None:
        with topology.client() as sql:
            for i in range(8):
                succeeded(sql, f"INSERT INTO {topology.table} VALUES ({k * 100 + i}, 'sql{k}')")
                count = succeeded(
                    sql, f"SELECT count(*) FROM {topology.table} WHERE writer = 'sql{k}'"
                )["result"]["data_array"][0][0]
                assert int(count) == i + 1, (k, i, count)

    def guarded(target: Callable[[int], None], k: int) -> None:
        try:
            target(k)
        except Exception as exc:  # reported below
            failures.append(f"{target.__name__} {k}: {type(exc).__name__}: {exc}")

    threads = [
        threading.Thread(target=guarded, args=(target, k))
        for k, target in enumerate([python_client, python_client, sql_client, sql_client])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert failures == []
    after = topology.balancer.sessions()
    assert all(after[name] > before[name] for name in REPLICAS), (before, after)


def select_states(replica: Replica, token: str, table: str, times: int) -> Counter[str]:
    """The outcome of ``times`` SELECTs sent straight to ``replica``, each on a connection
    of its own, so that its workers take turns."""
    states: Counter[str] = Counter()
    for _ in range(times):
        answer = httpx.post(
            f"{replica.url}{SQL}",
            json={"statement": f"SELECT count(*) FROM {table}"},
            headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        states[answer.json()["status"]["state"]] += 1
    return states


@pytest.mark.slow
def test_a_revoke_through_the_balancer_holds_on_every_worker_within_a_second(
    topology: Topology,
) -> None:
    """GRANT and REVOKE go through the balancer to whichever replica; a second after the
    REVOKE was answered, none of the four workers lets the user read any more."""
    catalog = topology.schema.split(".")[0]
    user = f"{unique('analyst')}@example.com"
    with topology.client() as admin:
        created = admin.post("/api/2.0/preview/scim/v2/Users", json={"userName": user})
        assert created.status_code == 201, created.text
        issued = admin.post(
            "/api/2.0/token-management/on-behalf-of/tokens",
            json={"user_name": user, "comment": "topology"},
        )
        assert issued.status_code == 200, issued.text
        token = issued.json()["token_value"]
        for statement in (
            f"GRANT USE CATALOG ON CATALOG {catalog} TO `{user}`",
            f"GRANT USE SCHEMA ON SCHEMA {topology.schema} TO `{user}`",
            f"GRANT SELECT ON TABLE {topology.table} TO `{user}`",
        ):
            succeeded(admin, statement)
        time.sleep(1)
        for replica in topology.replicas:  # before: every worker lets the user read
            assert select_states(replica, token, topology.table, 12) == {"SUCCEEDED": 12}

        succeeded(admin, f"REVOKE SELECT ON TABLE {topology.table} FROM `{user}`")
        revoked = time.monotonic()
    time.sleep(max(0.0, 1.0 - (time.monotonic() - revoked)))
    for replica in topology.replicas:
        assert select_states(replica, token, topology.table, 12) == {"FAILED": 12}, replica.name


@pytest.mark.slow
def test_haproxy_takes_a_stopped_replica_out_and_back(topology: Topology) -> None:
    """The active checks at work: a stopped replica goes DOWN and requests keep
    succeeding through the other; started again, it is checked back UP."""
    balancer, (one, _two) = topology.balancer, topology.replicas
    with topology.client() as lb:
        assert one.terminate() == 0, one.tail()
        wait_for(lambda: balancer.status(one.name).startswith("DOWN"), 30, "steward-1 DOWN")
        for _ in range(6):
            assert lb.get("/health/ready").status_code == 200
            assert lb.get(f"{UC}/catalogs").status_code == 200
        topology.restore()
        assert lb.get(f"{UC}/catalogs").status_code == 200


@pytest.mark.slow
def test_kill_9_mid_writes_loses_no_acknowledged_write(topology: Topology) -> None:
    """Writers through the balancer (tables by REST, rows by SQL) while one replica is
    killed outright: requests it was serving fail unanswered, and the balancer sends the
    rest to the other replica. Every write that was answered is there afterwards, once,
    with exactly one audit event, and the audit chain verifies."""
    one = topology.replicas[0]
    prefix = unique("k")
    steps = [
        table_creator(topology, f"{prefix}_a"),
        table_creator(topology, f"{prefix}_b"),
        row_inserter(topology, 7),
        row_inserter(topology, 8),
    ]
    with Load(steps) as load:
        time.sleep(3)
        acknowledged_before_kill = len(load.acknowledged)
        one.kill()
        wait_for(lambda: topology.balancer.status(one.name).startswith("DOWN"), 30, "DOWN")
        time.sleep(2)
    assert acknowledged_before_kill > 0
    tables = [what for what, _ in load.outcomes[0].acknowledged + load.outcomes[1].acknowledged]
    rows = [int(what) for what, _ in load.outcomes[2].acknowledged + load.outcomes[3].acknowledged]
    assert tables and rows, load.failures

    topology.restore()
    catalog, schema = topology.schema.split(".")
    with topology.client() as admin:
        listed: set[str] = set()
        token = None
        while True:
            params = {"catalog_name": catalog, "schema_name": schema, "max_results": 1000}
            page = admin.get(
                f"{UC}/tables", params={**params, **({"page_token": token} if token else {})}
            ).json()
            listed |= {t["full_name"] for t in page.get("tables", [])}
            token = page.get("next_page_token")
            if not token:
                break
        assert set(tables) <= listed, sorted(set(tables) - listed)[:5]
        ids = succeeded(admin, f"SELECT id FROM {topology.table} WHERE writer IN ('w7', 'w8')")[
            "result"
        ]["data_array"]
        stored = Counter(int(row[0]) for row in ids)
        assert all(stored[row_id] == 1 for row_id in rows), [r for r in rows if stored[r] != 1]

    created = audit_successes(topology, "createTable")
    statements = audit_successes(topology, "executeStatement")
    for outcome, events in zip(
        load.outcomes, (created, created, statements, statements), strict=True
    ):
        for what, request_id in outcome.acknowledged:
            assert events[request_id] == 1, (what, request_id, events[request_id])
    verified = run_steward(
        "audit",
        "verify",
        "--database-url",
        topology.database_url,
        extra_env={"STEWARD_AUDIT_KEY": FILLED["STEWARD_AUDIT_KEY"]},
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.slow
def test_a_rolling_restart_under_load_answers_every_request(topology: Topology) -> None:
    """SIGTERM one replica, start it again once it is out, wait until HAProxy has it back,
    then the other: readers and writers through the balancer all the while, and not one
    request fails. Each replica exits 0."""
    prefix = unique("r")
    steps = [
        reader(topology),
        reader(topology),
        table_creator(topology, prefix),
        row_inserter(topology, 9),
    ]
    with Load(steps) as load:
        for replica in topology.replicas:
            time.sleep(1)
            assert replica.terminate() == 0, replica.tail()
            topology.restore()
        time.sleep(1)
    assert load.failures == [], load.failures[:10]
    assert len(load.acknowledged) == load.sent, (len(load.acknowledged), load.sent)
    assert len(load.acknowledged) > 50
