"""The writer: one thread that owns the database's write connection and commits in groups.

SQLite allows one writer at a time, and a call that waits for a lock (or the disk) blocks
its thread. So no write runs on the event loop: async code hands a job (a function of no
arguments that uses the write connection) to `submit`, gets a `concurrent.futures.Future`
and awaits it (`asyncio.wrap_future`); sync code calls `call`, which waits. Jobs run one
after another, in submission order, on the one thread. Reads never come here: each reading
thread has its own connection (see Store.read_db), and in WAL mode they never wait for us.

Group commit: the thread takes every job already queued (up to MAX_BATCH), opens ONE
transaction (`BEGIN IMMEDIATE`), runs each job inside its own SAVEPOINT, commits once
(with `PRAGMA synchronous = FULL`, one fsync of the WAL for the whole group) and only then
resolves the futures. So a caller that waits for its future knows its write is on disk: an
update's replies go out after the commit that holds it, never before.

- A job that raises rolls back only its own savepoint; its future gets the exception, the
  others of the group still commit.
- A storage error that ends the whole transaction (SQLite rolls back on some disk-full,
  I/O and lock errors) fails the job that hit it and every job before it in the group
  (their writes went with the transaction); the jobs after it run in a fresh transaction.
- A failed BEGIN (the database locked past the busy timeout, read-only) or a failed COMMIT
  fails every future of the group: nothing of it was saved.

Jobs need not know about any of this: they use `db.atomic()` (sqlite-utils opens a
savepoint inside an open transaction) and plain `execute`, never COMMIT themselves. A job
that ends the transaction anyway fails like a lost transaction.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_STOP = object()
MAX_BATCH = 256  # jobs per transaction: bounds how long the first of a group waits
Job = tuple[Callable[[], Any], "Future[Any]"]


class TransactionLost(RuntimeError):
    """A job ended the group's transaction itself (a COMMIT or ROLLBACK of its own)."""


class Writer:
    """One thread, one queue, jobs run in order and committed in groups; see the docstring."""

    def __init__(self, conn: sqlite3.Connection, name: str = "store-writer") -> None:
        self.conn = conn
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self.commits = 0  # transactions committed (groups), for the benchmark and tests
        self.committed_jobs = 0  # jobs those transactions held
        self.commit_seconds = 0.0  # wall time spent in COMMIT (the WAL's sync, mostly)
        self._thread.start()

    def on_thread(self) -> bool:
        """Whether the caller is the writer thread itself (a job calling another write)."""
        return threading.current_thread() is self._thread

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Queue `job`; its result (or exception) arrives in the returned future, once the
        transaction holding it is committed."""
        future: Future[T] = Future()
        if self._closed:
            future.set_exception(RuntimeError("the store is closed"))
            return future
        self._jobs.put((job, future))
        return future

    def call(self, job: Callable[[], T]) -> T:
        """Run `job` on the writer thread and wait until it is committed (a job calling
        another write runs it directly, inside its own savepoint)."""
        if self.on_thread():
            return job()
        return self.submit(job).result()

    def pending(self) -> int:
        """Jobs queued and not started yet (approximate)."""
        return self._jobs.qsize()

    def close(self) -> None:
        """Run the jobs already queued, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(_STOP)
        if not self.on_thread():
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._jobs.get()
            if item is _STOP:
                return
            batch: list[Job] = [item]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            live = [(job, future) for job, future in batch if future.set_running_or_notify_cancel()]
            while live:
                try:
                    live = self._run_group(live)
                except BaseException as error:  # the group's own statements failed
                    log.error("a group of writes failed: %s", type(error).__name__)
                    self._abandon(live, error)
                    live = []

    def _abandon(self, jobs: list[Job], error: BaseException) -> None:
        """After an unexpected failure of SAVEPOINT or RELEASE: roll back whatever is open and
        fail every future not yet resolved, so no caller waits forever and the thread goes on."""
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
        for _, future in jobs:
            if not future.done():
                future.set_exception(error)

    def _run_group(self, jobs: list[Job]) -> list[Job]:
        """Run `jobs` in one transaction; return those still to run (after a lost one)."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as error:  # locked past the busy timeout, read-only, I/O
            _fail(jobs, error)
            return []
        done: list[tuple[Future[Any], BaseException | None, Any]] = []
        for index, (job, future) in enumerate(jobs):
            conn.execute("SAVEPOINT job")
            try:
                result = job()
            except BaseException as error:  # handed to the caller, who decides what to say
                if not conn.in_transaction:  # the error took the whole transaction with it
                    _fail(jobs[:index], error, done)
                    future.set_exception(error)
                    return jobs[index + 1 :]
                # (If the error destroyed the savepoint, the transaction still stands.)
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                done.append((future, error, None))
                continue
            if not conn.in_transaction:
                lost = TransactionLost("a job ended the group's transaction")
                _fail(jobs[: index + 1], lost, done)
                return jobs[index + 1 :]
            conn.execute("RELEASE job")
            done.append((future, None, result))
        started = time.perf_counter()
        try:
            conn.execute("COMMIT")
        except BaseException as error:
            log.error("a group of %d writes could not be committed: %s", len(jobs),
                      type(error).__name__)  # fmt: skip
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            _fail(jobs, error, done)
            return []
        self.commit_seconds += time.perf_counter() - started
        self.commits += 1
        self.committed_jobs += len(done)
        for future, failure, result in done:
            if failure is not None:
                future.set_exception(failure)
            else:
                future.set_result(result)
        return []


def _fail(
    jobs: list[Job],
    error: BaseException,
    done: list[tuple[Future[Any], BaseException | None, Any]] | None = None,
) -> None:
    """Fail every job's future with `error` (one that already failed keeps its own error)."""
    own = {id(future): own for future, own, _ in done or [] if own is not None}
    for _, future in jobs:
        future.set_exception(own.get(id(future), error))
