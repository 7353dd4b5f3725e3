"""Stored users generated straight into the database: realistic rows, in seconds, not hours."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.engine import Engine
from bot.model import Command, Press, Session
from bot.store import Store

# Finished users whose index ends in this digit were sent a check-in 1-11 hours ago and are
# not due: typed text from them answers it (bench/updates.py's `checkin_answer`).
CHECKED_IN = 6
# The benchmark's clock: fixed, so a cached database stays valid between runs.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
FIRST_USER_ID = 10_000_000
GENERATOR_VERSION = 3
BATCH = 50_000
CHECKIN_SETTINGS = json.dumps(
    {"tz": "Europe/London", "frequency": "daily", "hour": 19, "weekday": 6,
     "quiet_start": "22:00", "quiet_end": "08:00", "paused_until": None}
)  # fmt: skip


@dataclass(frozen=True)
class Template:
    """A session seen while walking the real engine, copied onto many stored users."""

    state: str
    answers: str
    plan: str | None
    completed: bool


def iso(moment: datetime) -> str:
    """ISO-8601 UTC, as the store writes it."""
    return moment.astimezone(UTC).isoformat()


def walk_templates(engine: Engine, walkers: int = 40, seed: int = 7) -> list[Template]:
    """Walk the real flows with random taps and keep every session passed on the way."""
    rng = random.Random(seed)
    seen: dict[tuple[str, str], Template] = {}
    for _ in range(walkers):
        outcome = engine.handle(None, Command("start"), NOW)
        session: Session = outcome.session
        for _ in range(60):
            choices = [b.data for b in outcome.replies[-1].buttons if b.data]
            if not choices:
                break
            outcome = engine.handle(session, Press(rng.choice(choices)), NOW)
            session = outcome.session
            answers = json.dumps(session.answers, sort_keys=True)
            plan = json.dumps(session.plan, sort_keys=True) if session.plan else None
            template = Template(session.state, answers, plan, session.completed_at is not None)
            seen.setdefault((template.state, template.answers), template)
            if session.state.startswith("hub:") and rng.random() < 0.3:
                break
    return sorted(seen.values(), key=lambda t: (t.state, t.answers))


def database_path(workdir: Path, users: int) -> Path:
    """Where the cached database with `users` stored users lives."""
    return workdir / f"users-{users}-v{GENERATOR_VERSION}.db"


def generate(path: Path, users: int, engine: Engine, due: int = 10_000) -> dict[str, Any]:
    """Create `path` with `users` users (sessions, contacts, check-ins; `due` of them due)."""
    started = time.perf_counter()
    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = Store(path)  # creates the schema through the bot's own migrations
    conn = store.db.conn
    conn.execute("PRAGMA synchronous = OFF")
    templates = walk_templates(engine)
    completed = [t for t in templates if t.completed and t.state == "hub:menu"]
    walking = [t for t in templates if not t.completed]
    # Due check-ins are spread evenly over the other finished users, as real due times would be.
    due_every = max(1, (users * 6 // 10) // max(1, due))
    due_left = due
    for start in range(0, users, BATCH):
        indexes = range(start, min(users, start + BATCH))
        rows = _rows(indexes, completed, walking, due_left, due_every)
        due_left -= rows["due"]
        with conn:
            conn.executemany("INSERT INTO users VALUES (?, ?, ?, 'en', 1)", rows["users"])
            conn.executemany(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, NULL, ?, ?, 1)", rows["sessions"]
            )
            conn.executemany(
                "INSERT INTO contacts (user_id, at, initiator, kind, outcome, note)"
                " VALUES (?, ?, 'me', 'text', ?, NULL)",
                rows["contacts"],
            )
            conn.executemany(
                "INSERT INTO checkins VALUES (?, ?, ?, 'checkin', ?, NULL)", rows["checkins"]
            )
    store.close()
    return {"users": users, "templates": len(templates), "seconds": time.perf_counter() - started}


def _rows(
    indexes: range,
    completed: list[Template],
    walking: list[Template],
    due_left: int,
    due_every: int,
) -> dict[str, Any]:
    """One batch of rows: seven in ten users finished the walk-through, the rest are in it;
    one in ten was sent a check-in within the last 12 hours (CHECKED_IN)."""
    rows: dict[str, Any] = {"users": [], "sessions": [], "contacts": [], "checkins": [], "due": 0}
    for index in indexes:
        user_id = FIRST_USER_ID + index
        finished = index % 10 < 7
        pool = completed if finished else walking
        template = pool[index % len(pool)]
        joined = NOW - timedelta(days=1 + index % 90)
        rows["users"].append((user_id, iso(joined), iso(NOW - timedelta(hours=index % 300))))
        rows["sessions"].append(
            (user_id, template.state, template.answers, template.plan,
             iso(joined + timedelta(hours=1)) if template.completed else None, iso(joined))
        )  # fmt: skip
        if not finished:
            continue
        if index % 5 == 0:
            for days in (3, 10):
                rows["contacts"].append((user_id, iso(NOW - timedelta(days=days)), "warm"))
        last_sent = None
        if index % 10 == CHECKED_IN:
            last_sent = iso(NOW - timedelta(hours=1 + index // 10 % 11))
            due_at = NOW + timedelta(hours=12 + index % 12)
        elif due_left > rows["due"] and (index // 10 * 6 + index % 10) % due_every == 0:
            due_at = NOW - timedelta(minutes=1 + rows["due"] % 50)
            rows["due"] += 1
        else:
            due_at = NOW + timedelta(minutes=1 + index % 10_080)
        rows["checkins"].append((user_id, CHECKIN_SETTINGS, iso(due_at), last_sent))
    return rows
