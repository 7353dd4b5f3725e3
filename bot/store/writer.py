"""The writer: one thread that owns the database's write connection and runs jobs in order.

SQLite allows one writer at a time, and a call that waits for a lock (or the disk) blocks
its thread. So no write runs on the event loop: async code hands a job (a function of no
arguments that uses the write connection) to `submit`, gets a `concurrent.futures.Future`
and awaits it (`asyncio.wrap_future`); sync code calls `call`, which waits. Jobs run one
after another, in submission order, on the one thread. Reads never come here: each reading
thread has its own connection (see Store.read_db), and in WAL mode they never wait for us.

Extending it (for example group commit): `_run` takes jobs off the queue one at a time and
runs each in its own transaction (the job opens it). A batching writer would take every
job already queued in `_run`, run them inside one transaction with a savepoint each,
commit once, and then resolve the futures; the interface (`submit`, `call`, `close`,
`on_thread`) can stay as it is.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
_STOP = object()


class Writer:
    """One thread, one queue, jobs run in order; see the module docstring."""

    def __init__(self, name: str = "store-writer") -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self._thread.start()

    def on_thread(self) -> bool:
        """Whether the caller is the writer thread itself (a job calling another write)."""
        return threading.current_thread() is self._thread

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Queue `job`; its result (or exception) arrives in the returned future."""
        future: Future[T] = Future()
        if self._closed:
            future.set_exception(RuntimeError("the store is closed"))
            return future
        self._jobs.put((job, future))
        return future

    def call(self, job: Callable[[], T]) -> T:
        """Run `job` on the writer thread and wait for its result (directly if already there)."""
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
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = job()
            except BaseException as error:  # handed to the caller, who decides what to say
                future.set_exception(error)
            else:
                future.set_result(result)
