"""Per-user state in SQLite: one read and one write per update, writes committed in groups.

Everything the bot remembers about a user lives in this one database and goes through this
package. The file is created owner-only (0600): what people tell the bot about their
marriage is among the most private things they have.

- `schema.py`: the file, its settings, the migrations, and the read path for the rest (`rows`).
- `users.py`: an update's one read (`load_state`) and write (`commit`), plain cursors;
  erasure, export, operator stats, processed ids.
- `checkins.py`: the queue of due check-ins the sweep claims and takes.
- `writer.py`: the one thread every write runs on, off the event loop; it commits the writes
  waiting together, in one transaction with a savepoint each (group commit), and only then
  answers their callers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.store.checkins import (
    CLAIM_DUE_SQL,
    CheckinClaim,
    CheckinDecisionLike,
    CheckinQueue,
    ClaimedCheckin,
    DueCheckin,
)
from bot.store.schema import BUSY_TIMEOUT_MS, connect, migrations, open_reader
from bot.store.users import CONTACT_HISTORY, UserRows
from bot.store.writer import Writer

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CLAIM_DUE_SQL",
    "CONTACT_HISTORY",
    "ClaimedCheckin",
    "DueCheckin",
    "CheckinClaim",
    "CheckinDecisionLike",
    "Store",
    "connect",
    "migrations",
]


class Store(UserRows, CheckinQueue):
    """All reads and writes of user state.

    Writes run on one writer thread that owns the write connection (`writer.py`), in the
    order they were asked for; a caller waits for its write's result. Reads run on the
    calling thread's own read-only connection, so they never wait for a write (WAL) and
    never touch the writer's transaction.
    """

    def __init__(self, path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.db = connect(path, busy_timeout_ms)
        self.writer = Writer(self.db.conn)
        self._local = threading.local()
        self._readers: list[Database] = []
        self._readers_lock = threading.Lock()

    @property
    def read_db(self) -> Database:
        """This thread's read connection (the write connection for an in-memory database)."""
        if str(self.path) == ":memory:" or self.writer.on_thread():
            return self.db
        reader = getattr(self._local, "db", None)
        if reader is None:
            reader = open_reader(self.path, self.busy_timeout_ms)
            self._local.db = reader
            with self._readers_lock:
                self._readers.append(reader)
        return reader

    def close(self) -> None:
        """Finish queued writes, close every connection (the last one checkpoints the WAL)."""
        self.writer.close()
        with self._readers_lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
        self.db.close()

    # --- every write goes through the writer thread ---------------------------------------

    def commit(self, *args: Any, **kwargs: Any) -> bool:
        """See UserRows.commit: one update's writes in one transaction (False: a duplicate)."""
        return self.writer.call(lambda: UserRows.commit(self, *args, **kwargs))

    def commit_later(self, *args: Any, **kwargs: Any) -> Future[bool]:
        """Queue a write without waiting for it (for writes no reply depends on)."""
        job: Callable[[], Any] = lambda: UserRows.commit(self, *args, **kwargs)  # noqa: E731
        return self.writer.submit(job)

    def erase_user(self, user_id: int) -> None:
        """See UserRows.erase_user."""
        return self.writer.call(lambda: UserRows.erase_user(self, user_id))

    def mark_processed(self, *args: Any) -> bool:
        """See UserRows.mark_processed."""
        return self.writer.call(lambda: UserRows.mark_processed(self, *args))

    def mark_read_only(self, update_id: int, user_id: int, now: datetime) -> Future[None]:
        """Remember an update that changed nothing, and that its user is active; no waiting."""

        return self.writer.submit(lambda: UserRows.record_read_only(self, update_id, user_id, now))

    def prune_processed(self, before: datetime) -> int:
        """See UserRows.prune_processed."""
        return self.writer.call(lambda: UserRows.prune_processed(self, before))

    def prune_processed_later(self, before: datetime) -> Future[int]:
        """See UserRows.prune_processed; queued, not waited for."""
        return self.writer.submit(lambda: UserRows.prune_processed(self, before))

    def reactivate(self, user_id: int) -> None:
        """See UserRows.reactivate."""
        return self.writer.call(lambda: UserRows.reactivate(self, user_id))

    def claim_due_checkins(self, now: datetime, limit: int) -> list[CheckinClaim]:
        """See CheckinQueue.claim_due_checkins."""
        return self.writer.call(lambda: CheckinQueue.claim_due_checkins(self, now, limit))

    def take_checkin(self, *args: Any) -> ClaimedCheckin | None:
        """See CheckinQueue.take_checkin (the decision runs inside the write transaction)."""
        return self.writer.call(lambda: CheckinQueue.take_checkin(self, *args))

    def release_checkin(self, *args: Any) -> None:
        """See CheckinQueue.release_checkin."""
        return self.writer.call(lambda: CheckinQueue.release_checkin(self, *args))

    def mark_inactive(self, user_id: int) -> None:
        """See CheckinQueue.mark_inactive."""
        return self.writer.call(lambda: CheckinQueue.mark_inactive(self, user_id))

    def flush(self) -> None:
        """Wait until every write queued so far is done."""
        self.writer.call(lambda: None)
