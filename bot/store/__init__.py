"""Per-user state in SQLite, through sqlite-utils: one transaction per update.

Everything the bot remembers about a user lives in this one database and goes through this
package. The file is created owner-only (0600): what people tell the bot about their
marriage is among the most private things they have.

- `schema.py`: the file, its settings, the migrations, and the one read path (`rows`).
- `users.py`: sessions, an update's effects, erasure, export, operator stats, processed ids.
- `checkins.py`: the queue of due check-ins the sweep claims and takes.
"""

from __future__ import annotations

from pathlib import Path

from bot.store.checkins import (
    CLAIM_DUE_SQL,
    CheckinClaim,
    CheckinDecisionLike,
    CheckinQueue,
    ClaimedCheckin,
    DueCheckin,
)
from bot.store.schema import BUSY_TIMEOUT_MS, connect, migrations
from bot.store.users import CONTACT_HISTORY, UserRows

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
    """All reads and writes of user state, on one connection."""

    def __init__(self, path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        self.path = path
        self.db = connect(path, busy_timeout_ms)

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.db.close()
