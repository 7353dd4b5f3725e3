"""Per-user state in SQLite, through sqlite-utils: migrations, and one transaction per update.

Everything the bot remembers about a user lives in this one file's tables and goes through
this module. The database file is created owner-only (0600): what people tell the bot
about their marriage is among the most private things they have.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database, Migrations

from bot.engine import Session

BUSY_TIMEOUT_MS = 5000

migrations = Migrations("reconnect")


@migrations()
def m001_users_and_sessions(db: Database) -> None:
    """Users (who talks to the bot) and sessions (where each one is in the conversation)."""
    db["users"].create(
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
    db["sessions"].create(
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


def connect(path: Path | str) -> Database:
    """Open (creating owner-only if new) the database at `path` and apply pending migrations."""
    if str(path) == ":memory:":
        conn = sqlite3.connect(":memory:", check_same_thread=False)
    else:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Create the file ourselves so it is never, even briefly, readable by others.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(path, 0o600)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    db = Database(conn)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.query("PRAGMA journal_mode = WAL")  # returns a row, so query(), not execute()
    db.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable across process crashes
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db)
    return db


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Store:
    """All reads and writes of user state."""

    def __init__(self, path: Path | str):
        self.path = path
        self.db = connect(path)

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.db.close()

    def load_session(self, user_id: int) -> Session | None:
        """Return the user's session, or None for someone new."""
        rows = list(self.db.query("SELECT * FROM sessions WHERE user_id = ?", [user_id]))
        if not rows:
            return None
        row = rows[0]
        return Session(
            state=row["state"],
            answers=json.loads(row["answers"]),
            plan=json.loads(row["plan"]) if row["plan"] else None,
            pending=row["pending"],
            completed_at=_parse(row["completed_at"]),
        )

    def save_session(
        self, user_id: int, session: Session, now: datetime, language: str | None = None
    ) -> None:
        """Write the user's new session (and their user row) in one transaction."""
        with self.db.atomic():
            self._touch_user(user_id, now, language)
            self.db.execute(
                """
                INSERT INTO sessions
                    (user_id, state, answers, plan, pending, completed_at, updated_at, revision)
                VALUES (:user_id, :state, :answers, :plan, :pending, :completed_at, :now, 1)
                ON CONFLICT(user_id) DO UPDATE SET
                    state = excluded.state, answers = excluded.answers, plan = excluded.plan,
                    pending = excluded.pending, completed_at = excluded.completed_at,
                    updated_at = excluded.updated_at, revision = sessions.revision + 1
                """,
                {
                    "user_id": user_id,
                    "state": session.state,
                    "answers": json.dumps(session.answers, sort_keys=True),
                    "plan": json.dumps(session.plan, sort_keys=True) if session.plan else None,
                    "pending": session.pending,
                    "completed_at": _iso(session.completed_at),
                    "now": _iso(now),
                },
            )

    def _touch_user(self, user_id: int, now: datetime, language: str | None) -> None:
        self.db.execute(
            """
            INSERT INTO users (id, created_at, last_seen_at, language, active)
            VALUES (:id, :now, :now, :language, 1)
            ON CONFLICT(id) DO UPDATE SET
                last_seen_at = excluded.last_seen_at,
                language = coalesce(excluded.language, users.language),
                active = 1
            """,
            {"id": user_id, "now": _iso(now), "language": language},
        )

    def user_row(self, user_id: int) -> dict[str, Any] | None:
        """Return the user's row, or None."""
        rows = list(self.db.query("SELECT * FROM users WHERE id = ?", [user_id]))
        return rows[0] if rows else None
