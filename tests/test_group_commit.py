"""Issue 14 item 1: the writer commits the jobs of a group in one transaction, a savepoint
each; a caller's future resolves only once the transaction that holds its write is committed."""

import sqlite3
import threading
from concurrent.futures import Future

import pytest

from bot.store.schema import open_database
from bot.store.writer import Writer


@pytest.fixture
def db(tmp_path):
    db = open_database(tmp_path / "w.db")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    yield db
    db.close()


@pytest.fixture
def writer(db):
    writer = Writer(db.conn)
    yield writer
    writer.close()


def committed(db, sql="SELECT id FROM t ORDER BY id"):
    """What another connection sees: only committed rows."""
    other = sqlite3.connect(db.conn.execute("PRAGMA database_list").fetchone()[2])
    try:
        return [row[0] for row in other.execute(sql)]
    finally:
        other.close()


def insert(db, id_, fail=False):
    def job():
        db.execute("INSERT INTO t (id, v) VALUES (?, 'x')", [id_])
        if fail:
            raise ValueError("this job fails after writing")
        return id_

    return job


def hold(writer):
    """Keep the writer busy until the returned event is set, so jobs queue up behind it."""
    release, started = threading.Event(), threading.Event()

    def job():
        started.set()
        release.wait(5)

    writer.submit(job)
    started.wait(5)
    return release


def test_jobs_queued_together_commit_in_one_transaction(db, writer):
    release = hold(writer)
    before = writer.commits
    futures = [writer.submit(insert(db, i)) for i in range(1, 6)]
    release.set()
    assert [f.result(5) for f in futures] == [1, 2, 3, 4, 5]
    assert writer.commits - before == 2  # the holding job's group, then all five at once
    assert committed(db) == [1, 2, 3, 4, 5]


def test_a_future_resolves_only_after_its_commit(db, writer):
    seen: list[list[int]] = []
    called = threading.Event()
    release = hold(writer)
    future = writer.submit(insert(db, 7))

    def resolved(_: Future[int]) -> None:  # runs on the writer thread as the future resolves
        seen.append(committed(db))
        called.set()

    future.add_done_callback(resolved)
    release.set()
    assert called.wait(5)
    assert seen == [[7]]  # another connection already sees the row: it was committed first


def test_a_failing_job_rolls_back_only_its_own_writes(db, writer):
    release = hold(writer)
    ok_before = writer.submit(insert(db, 1))
    failing = writer.submit(insert(db, 2, fail=True))
    ok_after = writer.submit(insert(db, 3))
    release.set()
    assert ok_before.result(5) == 1 and ok_after.result(5) == 3
    with pytest.raises(ValueError):
        failing.result(5)
    assert committed(db) == [1, 3]


def test_jobs_using_atomic_and_nested_calls_work_inside_a_group(db, writer):
    def job():
        with db.atomic():  # a savepoint inside the group's transaction, not a new one
            db.execute("INSERT INTO t (id, v) VALUES (10, 'x')")
        writer.call(insert(db, 11))  # on the writer thread: runs directly
        db["t"].insert({"id": 12, "v": "y"})  # sqlite-utils' own write helpers
        return "done"

    assert writer.call(job) == "done"
    assert committed(db) == [10, 11, 12]


def test_a_failed_commit_fails_every_future_of_the_group(db, writer):
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY,"
        " parent INTEGER REFERENCES t(id) DEFERRABLE INITIALLY DEFERRED)"
    )
    release = hold(writer)
    fine = writer.submit(insert(db, 1))
    # A deferred foreign key is checked only at COMMIT: the whole group's COMMIT fails.
    orphan = writer.submit(lambda: db.execute("INSERT INTO child (id, parent) VALUES (1, 99)"))
    release.set()
    for future in (fine, orphan):
        with pytest.raises(sqlite3.IntegrityError):
            future.result(5)
    assert committed(db) == [] and committed(db, "SELECT id FROM child") == []
    assert writer.call(insert(db, 2)) == 2  # the writer goes on with the next group
    assert committed(db) == [2]


def test_a_locked_database_fails_the_group_with_a_storage_error(db, writer):
    db.execute("PRAGMA busy_timeout = 50")
    path = db.conn.execute("PRAGMA database_list").fetchone()[2]
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        future: Future[int] = writer.submit(insert(db, 1))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            future.result(5)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert writer.call(insert(db, 1)) == 1 and committed(db) == [1]


def test_a_job_that_ends_the_transaction_itself_fails_like_a_lost_one(db, writer):
    release = hold(writer)
    first = writer.submit(insert(db, 1))
    rogue = writer.submit(lambda: db.execute("COMMIT"))
    after = writer.submit(insert(db, 3))
    release.set()
    with pytest.raises(RuntimeError):
        first.result(5)  # not known to be saved as a group: the caller is told it failed
    with pytest.raises(RuntimeError):
        rogue.result(5)
    assert after.result(5) == 3  # the rest of the group runs in a fresh transaction


async def test_updates_of_several_users_are_committed_together(tmp_path):
    import asyncio
    from datetime import UTC, datetime

    from bot.engine import Command
    from bot.service import Service, build_engine
    from bot.store import Store

    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    store = Store(tmp_path / "bot.db")
    service = Service(store, build_engine(), clock=lambda: now)
    service._pruned_at = now  # no pruning job in between: only the updates' writes count
    try:
        release = hold(store.writer)
        before = store.writer.commits
        handled = [
            asyncio.ensure_future(service.handle_async(user, Command("start", ""), "en", user))
            for user in range(1, 6)
        ]
        while store.writer.pending() < 5:  # every update read, decided, its write queued
            await asyncio.sleep(0.01)
        assert not any(task.done() for task in handled)  # no reply before the commit
        release.set()
        results = await asyncio.gather(*handled)
        assert all(result.replies and not result.failed for result in results)
        assert store.writer.commits - before == 2  # the holding job's group, then all five
        assert all(store.load_session(user) is not None for user in range(1, 6))
    finally:
        store.close()


def test_the_writer_survives_a_failure_of_its_own_statements(db, writer, monkeypatch):
    from bot.store import writer as writer_module

    calls = []
    real = writer_module.Writer._run_group

    def broken(self, jobs):
        calls.append(len(jobs))
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")  # as if SAVEPOINT had failed
        return real(self, jobs)

    monkeypatch.setattr(writer_module.Writer, "_run_group", broken)
    with pytest.raises(sqlite3.OperationalError):
        writer.call(insert(db, 1))
    assert writer.call(insert(db, 2)) == 2  # the thread goes on
    assert committed(db) == [2]
