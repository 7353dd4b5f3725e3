"""Consistent copies of the live database with SQLite's online backup API.

The copy is taken inside one read transaction, so it is a snapshot of committed data even
while the bot keeps writing (WAL readers do not block the writer). It is written to a
temporary file, checked, made owner-only and only then renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 10.0


class BackupError(RuntimeError):
    """The backup could not be written or did not check out; the message is for the operator."""


def backup_database(source: Path, target: Path) -> int:
    """Copy the database at `source` to `target` (mode 0600); return the copy's size in bytes."""
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    try:
        _copy(source, partial)
        os.replace(partial, target)
    except sqlite3.Error as error:
        raise BackupError(f"backup failed: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
    os.chmod(target, 0o600)
    return target.stat().st_size


def _copy(source: Path, target: Path) -> None:
    """Back up every page in one step (one snapshot), then check the copy's integrity."""
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_SECONDS)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        # A standalone file: no -wal/-shm companions needed to restore it.
        dst.execute("PRAGMA journal_mode = DELETE")
        result = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"the copy failed its integrity check: {result}")
    finally:
        with contextlib.suppress(sqlite3.Error):
            dst.close()
        src.close()
