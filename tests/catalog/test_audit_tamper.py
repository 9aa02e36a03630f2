"""Tamper evidence (docs/audit.md): change the log behind Steward's back, directly in the database,
and ``verify`` (the code behind ``steward audit verify``) names the first bad event."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from catalog.access.authorizer import Caller
from catalog.audit import log as chain
from catalog.audit.checkpointer import checkpoint_now
from catalog.audit.events import event_hash, from_row, utc
from catalog.audit.recorder import AuditScope, enter_scope, leave_scope
from catalog.audit.shared_walks import REUSE_SECONDS
from catalog.audit.verify import Report, verify
from catalog.namespace import NewSecurable
from catalog.persistence import schema as t
from catalog.persistence.engine import Database
from catalog.runtime import Runtime
from policy.securables import SecurableType
from tests.support import backends, database_url_for, start_server
from tests.support import run_steward as steward

KEY = b"audit-key-kept-outside-the-database"
VERIFICATION = "/api/2.1/steward/audit/verification"


def make_events(rt: Runtime, count: int) -> list[str]:
    """``count`` real audited changes (catalog creations), each through the recorder."""
    admin = rt.identity.authenticate("dapi-admin")
    names = []
    for _ in range(count):
        name = f"c_{uuid.uuid4().hex[:8]}"
        create(rt, admin, name)
        names.append(name)
    return names


def create(rt: Runtime, caller: Caller, name: str) -> None:
    scope = AuditScope(
        request_id=uuid.uuid4().hex,
        user_name=caller.name,
        service_name="unityCatalog",
        action_name="createCatalog",
        object_name=name,
        params={"name": name},
    )
    token = enter_scope(scope)
    try:
        rt.namespace.create(caller, NewSecurable(SecurableType.CATALOG, name))
    finally:
        leave_scope(token)
    assert scope.written


def check(rt: Runtime, key: bytes | None = None) -> Report:
    with rt.db.read() as session:
        return verify(session, key)


def event_ids(rt: Runtime) -> list[tuple[int, str, int]]:
    """(id, event_id, seq) in chain order (one lane on SQLite; ordered by lane, seq)."""
    with rt.db.read() as session:
        rows = session.execute(
            text("SELECT id, event_id, seq, lane FROM audit_events ORDER BY lane, seq")
        ).all()
    return [(r.id, r.event_id, r.seq) for r in rows]


def run(rt: Runtime, sql: str, **params: object) -> None:
    with rt.db.engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.fixture
def rt(runtime: Runtime) -> Iterator[Runtime]:
    """A log with at least 12 events, one lane holding 6 or more (PostgreSQL spreads events
    over lanes, SQLite uses one)."""
    make_events(runtime, 12)
    while len(busiest_lane(runtime)) < 6:
        make_events(runtime, 4)
    yield runtime


def busiest_lane(rt: Runtime) -> list[tuple[int, str, int]]:
    """(id, event_id, seq) of the lane with the most events, in chain order."""
    with rt.db.read() as session:
        rows = session.execute(
            text("SELECT id, event_id, seq, lane FROM audit_events ORDER BY lane, seq")
        ).all()
    lanes: dict[int, list[tuple[int, str, int]]] = {}
    for r in rows:
        lanes.setdefault(r.lane, []).append((r.id, r.event_id, r.seq))
    return max(lanes.values(), key=len)


def test_an_untouched_log_verifies(rt: Runtime) -> None:
    before = check(rt).events
    checkpoint_now(rt.db, KEY)
    make_events(rt, 3)
    report = check(rt, KEY)
    assert report.ok, report.problems
    assert report.events == before + 3
    assert report.checkpoints == 1 and report.signed_checkpoints == 1


def test_modified_event_is_named(rt: Runtime) -> None:
    victim = event_ids(rt)[5]
    run(rt, "UPDATE audit_events SET user_name = 'mallory' WHERE id = :id", id=victim[0])
    report = check(rt)
    assert report.first is not None and report.first.event_id == victim[1]
    assert report.first.kind == "modified"
    assert victim[1] in report.first.message


def test_the_cli_verify_exits_1_and_names_the_first_bad_event(
    rt: Runtime, database_url: str, tmp_path: Path
) -> None:
    """``steward audit verify`` is what an auditor runs: on a tampered log it must fail
    (exit 1, for scripts) and name the event (for people), in text and in JSON."""
    args = ["audit", "verify", "--database-url", database_url]
    args += ["--storage-root", str(tmp_path / "cli")]
    clean = steward(*args)
    assert "audit log OK" in clean.stdout  # so the exit 1 below is the tampering's doing
    with rt.db.read() as session:
        by_time = session.execute(
            text("SELECT id, event_id FROM audit_events ORDER BY event_time, id")
        ).all()
    first, later = by_time[3], by_time[8]
    for victim in (later, first):  # the order of tampering does not matter, time does
        run(rt, "UPDATE audit_events SET object_name = 'elsewhere' WHERE id = :id", id=victim.id)
    as_text = steward(*args, check=False)
    assert as_text.returncode == 1, as_text.stdout + as_text.stderr
    head, *rest = as_text.stderr.splitlines()
    assert head.startswith("audit log BAD: first bad event:"), as_text.stderr
    assert first.event_id in head and later.event_id not in head
    assert any(line.strip().startswith("also:") and later.event_id in line for line in rest)
    as_json = steward(*args, "--json", check=False)
    assert as_json.returncode == 1, as_json.stderr
    summary = json.loads(as_json.stdout)
    assert summary["ok"] is False and first.event_id in summary["first_bad"]


def test_modified_time_or_date_is_named(rt: Runtime) -> None:
    victim = event_ids(rt)[3]
    run(rt, "UPDATE audit_events SET event_date = :d WHERE id = :id", d="2001-01-01", id=victim[0])
    report = check(rt)
    assert report.first is not None and report.first.event_id == victim[1]


def test_deleted_event_names_the_one_after_the_gap(rt: Runtime) -> None:
    ids = busiest_lane(rt)
    run(rt, "DELETE FROM audit_events WHERE id = :id", id=ids[4][0])
    report = check(rt)
    assert report.first is not None and report.first.event_id == ids[5][1]
    assert report.first.kind == "deleted" and f"seq {ids[4][2]}" in report.first.message


def test_inserted_event_is_named(rt: Runtime) -> None:
    """A forged event slipped in at position 6 (later events renumbered to make room)."""
    lane_ids = busiest_lane(rt)
    at = lane_ids[len(lane_ids) // 2]
    with rt.db.engine.begin() as conn:
        for row_id, _, seq in sorted(lane_ids, key=lambda x: -x[2]):
            if seq >= at[2]:
                conn.execute(
                    text("UPDATE audit_events SET seq = seq + 1 WHERE id = :id"), {"id": row_id}
                )
        template = (
            conn.execute(t.AuditEvent.__table__.select().where(t.AuditEvent.id == at[0]))
            .mappings()
            .one()
        )
        forged = dict(template)
        forged.pop("id")
        forged.update(event_id=str(uuid.uuid4()), seq=at[2], user_name="mallory")
        conn.execute(t.AuditEvent.__table__.insert().values(**forged))
    report = check(rt)
    assert report.first is not None and report.first.event_id == forged["event_id"]


def test_forged_event_with_a_correct_hash_is_caught_where_it_joins(rt: Runtime) -> None:
    """An attacker who knows the hashing can make the forged event consistent with the one
    before it, but not the next one: the chain breaks right after the forgery."""
    with rt.db.read() as session:
        last = session.execute(
            t.AuditEvent.__table__.select().order_by(t.AuditEvent.id.desc()).limit(1)
        ).one()
    forged = from_row(last)
    forged = replace(
        forged,
        event=replace(forged.event, event_id=str(uuid.uuid4()), user_name="mallory"),
        seq=last.seq + 1,
        prev_hash=last.hash,
    ).sealed()
    assert forged.hash == event_hash(forged)
    with rt.db.engine.begin() as conn:
        conn.execute(t.AuditEvent.__table__.insert().values(**forged.row()))
    report = check(rt)
    assert not report.ok
    assert any(p.kind == "inserted" for p in report.problems), report.problems


def test_reordered_events_are_named(rt: Runtime) -> None:
    same = busiest_lane(rt)
    first, second = same[1], same[3]
    with rt.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET seq = -1 WHERE id = :id"), {"id": first[0]})
        conn.execute(
            text("UPDATE audit_events SET seq = :s WHERE id = :id"),
            {"s": first[2], "id": second[0]},
        )
        conn.execute(
            text("UPDATE audit_events SET seq = :s WHERE id = :id"),
            {"s": second[2], "id": first[0]},
        )
    report = check(rt)
    assert report.first is not None and report.first.event_id == first[1]
    assert {p.event_id for p in report.problems} >= {first[1], second[1]}


def test_truncation_after_a_checkpoint_is_caught(rt: Runtime) -> None:
    """The tail is cut and the lane's head moved back to match: only the checkpoint knows."""
    checkpoint_now(rt.db, KEY)
    same = busiest_lane(rt)
    lane = _lane_of(rt, same[0][0])
    keep = same[: len(same) - 2]
    with rt.db.engine.begin() as conn:
        for row_id, _, _ in same[len(keep) :]:
            conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": row_id})
        head = conn.execute(
            text("SELECT hash FROM audit_events WHERE id = :id"), {"id": keep[-1][0]}
        ).scalar_one()
        conn.execute(
            text("UPDATE audit_lanes SET seq = :s, head = :h WHERE lane = :l"),
            {"s": keep[-1][2], "h": head, "l": lane},
        )
    report = check(rt, KEY)
    assert not report.ok
    assert report.first is not None and report.first.kind == "truncated"
    assert "checkpoint" in report.first.message


def test_a_truncation_that_removed_its_checkpoints_too_is_caught_by_an_anchor(
    rt: Runtime, database_url: str, tmp_path: Path
) -> None:
    """The attacker cuts every event after the first checkpoint, moves the heads back to
    it and deletes the later checkpoint as well: the log left is consistent, so only the
    later checkpoint's anchor, kept outside the database, contradicts it."""
    first = checkpoint_now(rt.db, KEY)
    assert first is not None
    with rt.db.read() as session:
        last_id = session.execute(text("SELECT max(id) FROM audit_events")).scalar_one()
        heads = session.execute(text("SELECT lane, seq, head FROM audit_lanes")).all()
    make_events(rt, 4)
    second = checkpoint_now(rt.db, KEY)
    assert second is not None and second.id > first.id
    assert check(rt, KEY).ok
    with rt.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id > :id"), {"id": last_id})
        conn.execute(text("DELETE FROM audit_checkpoints WHERE id = :id"), {"id": second.id})
        for lane, seq, head in heads:
            conn.execute(
                text("UPDATE audit_lanes SET seq = :s, head = :h WHERE lane = :l"),
                {"s": seq, "h": head, "l": lane},
            )
    assert check(rt, KEY).ok  # what no check inside the database can see
    with rt.db.read() as session:
        assert verify(session, KEY, [first]).ok
        report = verify(session, KEY, [first, second])
        forged = verify(session, KEY, [first._replace(digest="0" * 64)])
    assert report.first is not None and report.first.kind == "truncated"
    assert f"checkpoint {second.id} is not in the log" in report.first.message
    assert forged.first is not None and "differs" in forged.first.message
    args = ["audit", "verify", "--database-url", database_url]
    args += ["--storage-root", str(tmp_path / "cli"), "--expect", str(second)]
    cli = steward(*args, check=False)
    assert cli.returncode == 1 and f"checkpoint {second.id}" in cli.stderr, cli.stderr
    bad = steward("audit", "verify", "--database-url", database_url, "--expect", "7:x", check=False)
    assert bad.returncode == 1 and "not a checkpoint anchor" in bad.stderr, bad.stderr


def test_truncation_without_a_checkpoint_is_caught_by_the_head(rt: Runtime) -> None:
    ids = event_ids(rt)
    run(rt, "DELETE FROM audit_events WHERE id = :id", id=ids[-1][0])
    report = check(rt)
    assert report.first is not None and report.first.kind == "truncated"


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(rt: Runtime) -> None:
    """The attacker edits an event and recomputes every hash after it, the lane head and even
    the checkpoint's digest — but cannot sign it without the key kept outside the database."""
    checkpoint_now(rt.db, KEY)
    ids = event_ids(rt)
    victim = ids[2]
    lane = _lane_of(rt, victim[0])
    with rt.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET user_name = 'mallory' WHERE id = :id"), {"id": victim[0]}
        )
        rows = conn.execute(
            t.AuditEvent.__table__.select()
            .where(t.AuditEvent.lane == lane)
            .order_by(t.AuditEvent.seq)
        ).all()
        prev = "0" * 64
        for row in rows:
            fixed = replace(from_row(row), prev_hash=prev).sealed()
            conn.execute(
                text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :id"),
                {"p": prev, "h": fixed.hash, "id": row.id},
            )
            prev = fixed.hash
        conn.execute(
            text("UPDATE audit_lanes SET head = :h WHERE lane = :l"), {"h": prev, "l": lane}
        )
        cp = conn.execute(t.AuditCheckpoint.__table__.select()).mappings().one()
        lanes = orjson.loads(cp["lanes"])
        lanes[str(lane)][1] = prev
        stamp = utc(cp["created_at"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        digest = chain.checkpoint_digest(lanes, cp["prev_digest"], stamp)
        conn.execute(
            text("UPDATE audit_checkpoints SET lanes = :l, digest = :d WHERE id = :id"),
            {
                "l": orjson.dumps(lanes, option=orjson.OPT_SORT_KEYS).decode(),
                "d": digest,
                "id": cp["id"],
            },
        )
    assert check(rt).ok  # without the key the rewrite is consistent: this is what keys are for
    report = check(rt, KEY)
    assert not report.ok
    assert any("signature" in p.message for p in report.problems)


def test_events_in_an_unknown_lane_are_named(rt: Runtime) -> None:
    ids = event_ids(rt)
    run(rt, "UPDATE audit_events SET lane = 99 WHERE id = :id", id=ids[0][0])
    report = check(rt)
    assert report.first is not None and report.first.event_id == ids[0][1]


def _lane_of(rt: Runtime, row_id: int) -> int:
    with rt.db.read() as session:
        return int(
            session.execute(
                text("SELECT lane FROM audit_events WHERE id = :id"), {"id": row_id}
            ).scalar_one()
        )


def test_a_back_dated_forgery_after_a_signed_checkpoint_is_named(rt: Runtime) -> None:
    """With write access to the database, append a correctly hashed event at a lane's head,
    dated before the last signed checkpoint, and move the head: every hash and link holds,
    but the event could not have been appended after the checkpoint with that date."""
    checkpoint = checkpoint_now(rt.db, KEY)
    assert checkpoint is not None
    make_events(rt, 2)  # honest events after the checkpoint stay fine
    assert check(rt, KEY).ok
    with rt.db.read() as session:
        last = session.execute(
            t.AuditEvent.__table__.select().order_by(t.AuditEvent.id.desc()).limit(1)
        ).one()
    forged = from_row(last)
    back_then = utc(last.event_time) - timedelta(hours=1)
    forged = replace(
        forged,
        event=replace(
            forged.event, event_id=str(uuid.uuid4()), user_name="mallory", event_time=back_then
        ),
        seq=last.seq + 1,
        prev_hash=last.hash,
    ).sealed()
    with rt.db.engine.begin() as conn:
        conn.execute(t.AuditEvent.__table__.insert().values(**forged.row()))
        conn.execute(
            text("UPDATE audit_lanes SET seq = :seq, head = :head WHERE lane = :lane"),
            {"seq": forged.seq, "head": forged.hash, "lane": last.lane},
        )
    report = check(rt, KEY)
    assert not report.ok
    assert [p.kind for p in report.problems] == ["backdated"], report.problems
    message = report.problems[0].message
    assert f"lane {last.lane}, seq {forged.seq}" in message
    assert f"checkpoint {checkpoint.id}" in message and "back-dated" in message


def test_verify_finds_the_database_as_the_server_does_and_never_creates_one(
    rt: Runtime, tmp_path: Path
) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    missing = steward("audit", "verify", "--storage-root", str(empty), check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        f"error: no Steward database at {empty / 'steward.db'}: give --storage-root or "
        "--database-url (or STEWARD_STORAGE_ROOT / STEWARD_DATABASE_URL) as the server has them"
    ]
    assert list(empty.iterdir()) == []
    found = steward("audit", "verify", "--database-url", rt.db.url, check=False)
    assert found.returncode == 0 and "audit log OK" in found.stdout, found.stderr
    no_key = steward(
        "audit",
        "verify",
        "--database-url",
        rt.db.url,
        "--key-file",
        str(empty / "k"),
        check=False,
    )
    assert no_key.returncode == 1
    assert (
        no_key.stderr.strip()
        == f"error: cannot read --key-file {empty / 'k'}: No such file or directory"
    )


@pytest.mark.parametrize("backend", backends())
def test_the_verification_route_names_a_modified_event_and_the_last_checkpoint(
    backend: str, tmp_path: Path
) -> None:
    """The console shows the chain's status from ``GET …/audit/verification``: after
    tampering it must say so, naming the event, and name the newest checkpoint."""
    with database_url_for(backend, tmp_path) as url:
        server = start_server(url, tmp_path / "storage", {"STEWARD_AUDIT_KEY": KEY.decode()})
        try:
            admin = server.admin
            for name in ("a", "b", "c"):
                assert admin.post("/api/2.1/unity-catalog/catalogs", json={"name": name}).is_success
            steward(
                "audit",
                "checkpoint",
                "--database-url",
                url,
                "--storage-root",
                str(tmp_path / "storage"),
                extra_env={"STEWARD_AUDIT_KEY": KEY.decode()},
            )
            clean = admin.get(VERIFICATION).json()
            assert clean["ok"] is True and clean["signed_checkpoints_checked"] >= 1
            assert clean["last_checkpoint"]["signed"] is True
            db = Database(url)
            try:
                with db.transaction() as session:
                    victim = session.execute(
                        text("SELECT id, event_id FROM audit_events ORDER BY id LIMIT 1 OFFSET 2")
                    ).one()
                    session.execute(
                        text("UPDATE audit_events SET user_name = 'mallory' WHERE id = :id"),
                        {"id": victim.id},
                    )
            finally:
                db.dispose()
            time.sleep(REUSE_SECONDS)  # a walk that recent would answer for this one
            bad = admin.get(VERIFICATION).json()
            assert bad["ok"] is False and victim.event_id in bad["first_bad"]
            assert "modified" in bad["first_bad"]
        finally:
            server.stop()
