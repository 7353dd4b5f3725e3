"""The database file, its settings and its schema: every migration, in order.

A migration's name says what it does. Databases made before the names were chosen carry the
old names in `_sqlite_migrations`; `connect` renames those records first, so nothing runs
twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlite_utils import Database, Migrations

BUSY_TIMEOUT_MS = 5000
MIGRATION_SET = "reconnect"

migrations = Migrations(MIGRATION_SET)


@migrations()
def m001_create_users_and_sessions(db: Database) -> None:
    """Users (who talks to the bot) and sessions (where each one is in the conversation)."""
    db.table("users").create(
        {
            "id": int,
            "created_at": str,
            "last_seen_at": str,
            "language": str,
            "active": int,
        },
        pk="id",
        not_null={"created_at", "last_seen_at", "active"},
        defaults={"active": 1},
    )
    db.table("sessions").create(
        {
            "user_id": int,
            "state": str,
            "answers": str,
            "plan": str,
            "pending": str,
            "completed_at": str,
            "updated_at": str,
            "revision": int,
        },
        pk="user_id",
        foreign_keys=[("user_id", "users", "id")],
        not_null={"state", "answers", "updated_at", "revision"},
    )


@migrations()
def m002_create_contacts_checkins_draft_checks_counters(db: Database) -> None:
    """The contact log, check-in settings with an indexed due time, draft verdicts, counters."""
    db.table("contacts").create(
        {
            "id": int,
            "user_id": int,
            "at": str,
            "initiator": str,
            "kind": str,
            "outcome": str,
            "note": str,
        },
        pk="id",
        foreign_keys=[("user_id", "users", "id")],
        not_null={"user_id", "at", "initiator", "kind", "outcome"},
    )
    db.table("contacts").create_index(["user_id", "at"])
    db.table("nudges").create(
        {
            "user_id": int,
            "settings": str,
            "due_at": str,
            "due_kind": str,
            "last_sent_at": str,
            "claimed_at": str,
        },
        pk="user_id",
        foreign_keys=[("user_id", "users", "id")],
    )
    db.table("nudges").create_index(["due_at"])
    db.table("draft_checks").create(
        {"id": int, "user_id": int, "at": str, "verdict": str},
        pk="id",
        foreign_keys=[("user_id", "users", "id")],
        not_null={"user_id", "at", "verdict"},
    )
    db.table("draft_checks").create_index(["user_id"])
    # Operator counts that must not name anyone (for example check-ins sent, all time).
    db.table("counters").create({"name": str, "value": int}, pk="name", not_null={"value"})


@migrations()
def m003_create_processed_updates(db: Database) -> None:
    """Telegram update ids already handled, so a redelivered update changes nothing."""
    db.table("processed_updates").create(
        {"update_id": int, "user_id": int, "at": str}, pk="update_id", not_null={"at"}
    )
    db.table("processed_updates").create_index(["at"])
    db.table("processed_updates").create_index(["user_id"])


@migrations()
def m004_create_checkin_claims(db: Database) -> None:
    """Due check-ins claimed by the sweep but not yet taken for sending (see checkins.py).

    Kept small and without a foreign key, so claiming writes only this table's few pages;
    it has user_id, so /delete covers it.
    """
    db.table("nudge_claims").create(
        {"user_id": int, "due_at": str, "claimed_at": str},
        pk="user_id",
        not_null={"due_at", "claimed_at"},
    )


@migrations()
def m005_rename_nudges_to_checkins(db: Database) -> None:
    """One word for one thing: the nudges tables become check-ins, and so do stored names.

    Renames the tables nudges and nudge_claims (and the due-time index), the counter
    nudges_sent, stored steps of the old "nudges" flow, and pending settings answers.
    """
    db.execute("ALTER TABLE nudges RENAME TO checkins")
    db.execute("ALTER TABLE nudge_claims RENAME TO checkin_claims")
    db.execute("DROP INDEX IF EXISTS idx_nudges_due_at")
    db.table("checkins").create_index(["due_at"], index_name="idx_checkins_due_at")
    db.execute("UPDATE counters SET name = 'checkins_sent' WHERE name = 'nudges_sent'")
    db.execute(
        "UPDATE sessions SET state = 'checkins:' || substr(state, 8) WHERE state LIKE 'nudges:%'"
    )
    found = db.execute("SELECT user_id, answers FROM sessions WHERE answers LIKE '%nudge_%'")
    for user_id, answers in found.fetchall():
        renamed = {
            key.replace("nudge_", "checkin_", 1) if key.startswith("nudge_") else key: value
            for key, value in json.loads(answers).items()
        }
        db.execute(
            "UPDATE sessions SET answers = ? WHERE user_id = ?",
            [json.dumps(renamed, sort_keys=True), user_id],
        )


@dataclass(frozen=True)
class OwnTable:
    """How one of the project's tables names a user, and what /delete does to its rows."""

    key: str | None  # the column holding the user's id; None: the table names nobody
    on_erase: Literal["delete", "forget", "keep"]  # forget: keep the row, drop the user's id


# Every table the migrations create, and nothing else: erase and export cover exactly these
# and ignore foreign ones (Litestream's _litestream_seq, ANALYZE's sqlite_stat1, ...). A new
# table must join this registry; tests/test_hardening.py fails until it does. Children come
# before `users`, which is erased last.
OWN_TABLES: dict[str, OwnTable] = {
    "sessions": OwnTable("user_id", "delete"),
    "contacts": OwnTable("user_id", "delete"),
    "checkins": OwnTable("user_id", "delete"),
    "checkin_claims": OwnTable("user_id", "delete"),
    "draft_checks": OwnTable("user_id", "delete"),
    # Update ids hold no content and must outlive an erasure, or a redelivered update would
    # bring the user back; they expire with PROCESSED_KEEP (bot/service.py).
    "processed_updates": OwnTable("user_id", "forget"),
    "counters": OwnTable(None, "keep"),  # operator counts that name nobody
    "users": OwnTable("id", "delete"),
}


# Names the migrations had before they said what they do: renamed in place on connect.
RENAMED_MIGRATIONS = {
    "m001_users_and_sessions": "m001_create_users_and_sessions",
    "m002_contacts_nudges_checks": "m002_create_contacts_checkins_draft_checks_counters",
    "m003d_processed_updates": "m003_create_processed_updates",
    "m004a_nudge_claims": "m004_create_checkin_claims",
}


def _rename_old_migrations(db: Database) -> None:
    if not db[Migrations.migrations_table].exists():
        return
    with db.atomic():
        for old, new in RENAMED_MIGRATIONS.items():
            db.execute(
                f"UPDATE [{Migrations.migrations_table}] SET name = ?"
                " WHERE migration_set = ? AND name = ?",
                [new, MIGRATION_SET, old],
            )


def connect(path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Database:
    """Open (creating owner-only if new) the database at `path` and apply pending migrations."""
    db = open_database(path, busy_timeout_ms)
    _rename_old_migrations(db)
    migrations.apply(db)
    return db


def open_database(path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Database:
    """Open (creating owner-only if new) the database at `path` with the bot's settings."""
    if str(path) == ":memory:":
        conn = sqlite3.connect(":memory:", check_same_thread=False)
    else:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Create the file ourselves so it is never, even briefly, readable by others.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(path, 0o600)
        conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, check_same_thread=False)
    db = Database(conn)
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    db.query("PRAGMA journal_mode = WAL")  # returns a row, so query(), not execute()
    # With WAL, FULL syncs the WAL at every commit: a committed update survives a power cut or
    # a kernel panic, not only a crash of the process (NORMAL). The writer commits in groups
    # (writer.py), so one sync covers every update of a group.
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    # Erased rows are overwritten with zeros, whatever the SQLite build's default.
    db.execute("PRAGMA secure_delete = ON")
    return db


class Connections:
    """What the store's parts share: the write connection and this thread's read connection."""

    db: Database  # the write connection: used only on the writer thread

    @property
    def read_db(self) -> Database:
        """This thread's read connection (the Store opens one per thread)."""
        return self.db


def open_reader(path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Database:
    """A read-only connection to an existing database (one per reading thread).

    Never opens the file with os.open as `open_database` does: closing any other descriptor
    of the database file drops every POSIX lock this process holds on it, after which
    another process may delete the WAL under the open connections (SQLITE_IOERR_SHORT_READ).
    """
    conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, check_same_thread=False)
    db = Database(conn)
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    db.execute("PRAGMA query_only = ON")
    return db


def rows(db: Database, sql: str, params: list[Any] | dict[str, Any]) -> list[dict[str, Any]]:
    """The one read path: run a SELECT and return its rows as dicts.

    sqlite-utils' `query()` wraps every statement in a SAVEPOINT and RELEASE (so that it can
    refuse writes), tripling the statements each update runs; these are reads only.
    """
    cursor = db.conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def iso(moment: datetime | None) -> str | None:
    """A moment as stored: ISO 8601 in UTC (None stays None)."""
    return moment.astimezone(UTC).isoformat() if moment else None


def parse(text: str | None) -> datetime | None:
    """A stored moment back as a datetime (None stays None)."""
    return datetime.fromisoformat(text) if text else None
