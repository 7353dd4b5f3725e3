"""Start-up checks, `python -m bot doctor` and `python -m bot health` (the container check).

- `damage(path)`: a cheap look before start-up (is it SQLite at all, is it cut short?).
- `doctor(path)`: SQLite's full integrity check, and what to do when it fails.
- `health(path)`: the database takes a write lock, and the bot polled (or was reached by
  Telegram through its webhook) recently: the bot touches a heartbeat file beside the
  database after each successful poll and webhook update.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

HEADER = b"SQLite format 3\x00"
HEALTH_MAX_AGE_SECONDS = 180.0  # polls return within ~10 s; webhook mode touches every 60 s
RESTORE_HINT = (
    "stop the bot and restore the latest backup (docs/operations.md: `litestream restore`, "
    "or copy a `python -m bot backup` file to BOT_DB_PATH)"
)


def heartbeat_path(db_path: Path | str) -> Path:
    """The file whose modification time says when the bot last heard from Telegram."""
    path = Path(db_path)
    return path.with_name(path.name + ".alive")


def touch_heartbeat(db_path: Path | str) -> None:
    """Record that Telegram answered just now (best effort: never fails the caller)."""
    if str(db_path) == ":memory:":
        return
    try:
        heartbeat_path(db_path).touch(mode=0o600)
        os.utime(heartbeat_path(db_path))
    except OSError:
        pass


def damage(path: Path | str) -> str | None:
    """A one-line reason the database file is not usable, or None if it looks fine.

    Cheap (reads the 100-byte header): not SQLite at all, or shorter than its header says.
    """
    path = Path(path)
    if str(path) == ":memory:" or not path.exists() or path.stat().st_size == 0:
        return None
    with path.open("rb") as file:
        header = file.read(100)
    if len(header) < 100 or not header.startswith(HEADER):
        return "the file is not an SQLite database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_valid = header[24:28] == header[92:96]
    if header_valid and pages * page_size > path.stat().st_size:
        return "the file is shorter than its header says (truncated)"
    return None


def doctor(path: Path | str) -> tuple[bool, list[str]]:
    """Check the database thoroughly; (healthy, lines to print)."""
    path = Path(path)
    if not path.exists():
        return True, [f"no database at {path} yet: one is created on first start"]
    if problem := damage(path):
        return False, [f"{path}: {problem}", f"what to do: {RESTORE_HINT}"]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            found = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        return False, [f"{path}: {error}", f"what to do: {RESTORE_HINT}"]
    if found != ["ok"]:
        return False, [f"{path}: integrity check failed ({len(found)} problems, first: "
                       f"{found[0]})", f"what to do: {RESTORE_HINT}"]  # fmt: skip
    return True, [f"{path}: integrity ok"]


def health(path: Path | str, now: float | None = None) -> tuple[bool, str]:
    """Whether the running bot looks healthy; (healthy, one line)."""
    now = time.time() if now is None else now
    try:
        conn = sqlite3.connect(path, timeout=1, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")  # takes the write lock, writes nothing
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.Error as error:
        return False, f"unhealthy: the database is not writable ({error})"
    beat = heartbeat_path(path)
    if not beat.exists():
        return False, "unhealthy: no successful poll or webhook update yet"
    age = now - beat.stat().st_mtime
    if age > HEALTH_MAX_AGE_SECONDS:
        return False, f"unhealthy: last successful poll or webhook update {age:.0f}s ago"
    return True, f"healthy: database writable, Telegram heard from {age:.0f}s ago"
