"""SQLite writers queue on the writer gate (catalog/persistence/writer_gate.py): threads on
a lock, processes on an flock of a file beside the database, handed over by the kernel."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from catalog.persistence.engine import Database
from catalog.persistence.writer_gate import WriterGate


@contextmanager
def held_elsewhere(lock_file: Path) -> Iterator[None]:
    """The gate's file locked through a descriptor of its own, as another process would."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def is_free(lock_file: Path) -> bool:
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_writer_waits_for_another_process_and_enters_when_it_is_done(tmp_path: Path) -> None:
    gate = WriterGate(tmp_path / "steward.db")
    lock_file = tmp_path / "steward.db.writer-lock"
    entered = threading.Event()

    def writer() -> None:
        with gate.held():
            entered.set()

    with held_elsewhere(lock_file):
        thread = threading.Thread(target=writer)
        thread.start()
        assert not entered.wait(0.3), "entered while another process held the gate"
        released = time.monotonic()
    assert entered.wait(5)
    assert time.monotonic() - released < 0.1  # handed over at once, not after a poll
    thread.join()


def test_the_gate_is_reentrant_and_held_until_the_outermost_block_ends(tmp_path: Path) -> None:
    gate = WriterGate(tmp_path / "steward.db")
    lock_file = tmp_path / "steward.db.writer-lock"
    with gate.held():
        with gate.held():
            assert not is_free(lock_file)
        assert not is_free(lock_file), "the inner block released the outer one's lock"
    assert is_free(lock_file)


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    gate = WriterGate(tmp_path / "steward.db")
    inside = 0
    most = 0
    lock = threading.Lock()

    def writer() -> None:
        nonlocal inside, most
        for _ in range(20):
            with gate.held():
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


def test_an_in_memory_database_needs_no_file(tmp_path: Path) -> None:
    with WriterGate(None).held():
        pass
    assert list(tmp_path.iterdir()) == []


def test_sqlite_transactions_and_exclusive_blocks_hold_the_gate(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'steward.db'}")
    lock_file = tmp_path / "steward.db.writer-lock"
    try:
        with db.transaction() as session:
            session.execute(text("SELECT 1"))
            assert not is_free(lock_file)
        assert is_free(lock_file)
        with db.exclusive(1):
            assert not is_free(lock_file)
            with db.transaction() as session:  # the block's own writes go on
                session.execute(text("SELECT 1"))
            assert not is_free(lock_file)
        assert is_free(lock_file)
        with held_elsewhere(lock_file), db.read() as session:  # readers never queue
            session.execute(text("SELECT 1"))
    finally:
        db.dispose()
