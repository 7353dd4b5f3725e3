"""Reads and writes only tests need, on a Store's connection (the bot never calls these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.model import Session
from bot.store import Store
from bot.store.schema import rows


def save_session(
    store: Store, user_id: int, session: Session, now: datetime, language: str | None = None
) -> None:
    """Write a user's session (and their user row) in one transaction, as commit() would."""
    store.commit(user_id, session, [], now, language)


def user_row(store: Store, user_id: int) -> dict[str, Any] | None:
    """The user's users row, or None."""
    found = rows(store.read_db, "SELECT * FROM users WHERE id = ?", [user_id])
    return found[0] if found else None


def checkin_row(store: Store, user_id: int) -> dict[str, Any] | None:
    """The user's check-in (checkins) row, or None."""
    found = rows(store.read_db, "SELECT * FROM checkins WHERE user_id = ?", [user_id])
    return found[0] if found else None


def counter(store: Store, name: str) -> int:
    """An operator counter's value (0 if never counted)."""
    found = rows(store.db, "SELECT value FROM counters WHERE name = ?", [name])
    return int(found[0]["value"]) if found else 0
