"""Per-user state in SQLite, through sqlite-utils: migrations, and one transaction per update.

Everything the bot remembers about a user lives in this one file's tables and goes through
this module. The database file is created owner-only (0600): what people tell the bot
about their marriage is among the most private things they have.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlite_utils import Database, Migrations

from bot.model import (
    AddContact,
    ChangeContact,
    Effect,
    EraseUser,
    RecordDraftCheck,
    SaveCheckins,
    Session,
    UserData,
)
from bot.policy.contacts import Contact

BUSY_TIMEOUT_MS = 5000
# How far back a user's contacts are loaded with each update: enough for the chart (six
# weeks) and the plan adjustment (four), and bounded so one update reads a bounded amount.
CONTACT_HISTORY = timedelta(days=56)

migrations = Migrations("reconnect")
# The sweep's claim (see Store.claim_due_checkins): reads only the checkins(due_at) index, whose
# entries carry user_id (the rowid), and writes only the small checkin_claims table.
CLAIM_DUE_SQL = """
INSERT INTO checkin_claims (user_id, due_at, claimed_at)
SELECT n.user_id, n.due_at, :now FROM checkins n
WHERE n.due_at <= :now
    AND NOT EXISTS (SELECT 1 FROM checkin_claims c WHERE c.user_id = n.user_id)
ORDER BY n.due_at LIMIT :limit
RETURNING user_id, due_at
"""


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


@migrations()
def m002_contacts_nudges_checks(db: Database) -> None:
    """The contact log, nudge settings with an indexed due time, draft verdicts, counters."""
    db["contacts"].create(
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
    db["contacts"].create_index(["user_id", "at"])
    db["nudges"].create(
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
    db["nudges"].create_index(["due_at"])
    db["draft_checks"].create(
        {"id": int, "user_id": int, "at": str, "verdict": str},
        pk="id",
        foreign_keys=[("user_id", "users", "id")],
        not_null={"user_id", "at", "verdict"},
    )
    db["draft_checks"].create_index(["user_id"])
    # Operator counts that must not name anyone (for example nudges sent, all time).
    db["counters"].create({"name": str, "value": int}, pk="name", not_null={"value"})


@migrations()
def m003d_processed_updates(db: Database) -> None:
    """Telegram update ids already handled, so a redelivered update changes nothing."""
    db["processed_updates"].create(
        {"update_id": int, "user_id": int, "at": str}, pk="update_id", not_null={"at"}
    )
    db["processed_updates"].create_index(["at"])
    db["processed_updates"].create_index(["user_id"])


@migrations()
def m004a_nudge_claims(db: Database) -> None:
    """Due nudges claimed by the sweep but not yet taken for sending (see claim_due_nudges).

    Kept small and without a foreign key, so claiming writes only this table's few pages;
    it has user_id, so /delete (erase_user) covers it.
    """
    db["nudge_claims"].create(
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
    db["checkins"].create_index(["due_at"], index_name="idx_checkins_due_at")
    db.execute("UPDATE counters SET name = 'checkins_sent' WHERE name = 'nudges_sent'")
    db.execute(
        "UPDATE sessions SET state = 'checkins:' || substr(state, 8) WHERE state LIKE 'nudges:%'"
    )
    rows = db.execute("SELECT user_id, answers FROM sessions WHERE answers LIKE '%nudge_%'")
    for user_id, answers in rows.fetchall():
        renamed = {
            key.replace("nudge_", "checkin_", 1) if key.startswith("nudge_") else key: value
            for key, value in json.loads(answers).items()
        }
        db.execute(
            "UPDATE sessions SET answers = ? WHERE user_id = ?",
            [json.dumps(renamed, sort_keys=True), user_id],
        )


def connect(path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Database:
    """Open (creating owner-only if new) the database at `path` and apply pending migrations."""
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

    def __init__(self, path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        self.path = path
        self.db = connect(path, busy_timeout_ms)

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.db.close()

    def _rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """Run a plain SELECT on the hot path and return its rows as dicts.

        sqlite-utils' `query()` wraps every statement in a SAVEPOINT and RELEASE (so that it
        can refuse writes), tripling the statements each update runs; these are reads only.
        """
        cursor = self.db.conn.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def load_session(self, user_id: int) -> Session | None:
        """Return the user's session, or None for someone new."""
        rows = self._rows("SELECT * FROM sessions WHERE user_id = ?", [user_id])
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

    def load_user_data(self, user_id: int, now: datetime, is_admin: bool = False) -> UserData:
        """Return the rest of one user's rows: recent contacts, check-in settings, language."""
        profile = self._rows(
            "SELECT u.language, n.settings, n.last_sent_at FROM users u"
            " LEFT JOIN checkins n ON n.user_id = u.id WHERE u.id = ?",
            [user_id],
        )
        found = profile[0] if profile else {}
        contacts = tuple(
            Contact(
                at=datetime.fromisoformat(row["at"]),
                initiator=row["initiator"],
                kind=row["kind"],
                outcome=row["outcome"],
            )
            for row in self._rows(
                "SELECT at, initiator, kind, outcome FROM contacts"
                " WHERE user_id = ? AND at >= ? ORDER BY at",
                [user_id, _iso(now - CONTACT_HISTORY)],
            )
        )
        return UserData(
            user_id=user_id,
            language=found.get("language"),
            contacts=contacts,
            checkins=json.loads(found["settings"]) if found.get("settings") else None,
            last_checkin_at=_parse(found.get("last_sent_at")),
            is_admin=is_admin,
        )

    def commit(
        self,
        user_id: int,
        session: Session | None,
        effects: list[Effect],
        now: datetime,
        language: str | None = None,
        update_id: int | None = None,
    ) -> None:
        """Write a user's new session, every effect and the update's id in one transaction."""
        with self.db.atomic():
            erased = any(isinstance(effect, EraseUser) for effect in effects)
            if erased:
                self.erase_user(user_id)
            else:
                if session is not None:
                    self._write_session(user_id, session, now, language)
                for effect in effects:
                    self._apply(user_id, effect, now)
            if update_id is not None:
                # After an erase nothing may name the user, not even this update's row.
                self._insert_processed(update_id, None if erased else user_id, now)

    def _apply(self, user_id: int, effect: Effect, now: datetime) -> None:
        if isinstance(effect, AddContact):
            contact = effect.contact
            self.db.execute(
                "INSERT INTO contacts (user_id, at, initiator, kind, outcome, note)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [user_id, _iso(contact.at), contact.initiator, contact.kind, contact.outcome,
                 effect.note],
            )  # fmt: skip
        elif isinstance(effect, ChangeContact):
            where = "user_id = ? AND at = ? AND initiator = ? AND kind = ?"
            found = effect.contact
            keys = [user_id, _iso(found.at), found.initiator, found.kind]
            if effect.outcome is None:
                self.db.execute(f"DELETE FROM contacts WHERE {where}", keys)
            else:
                self.db.execute(
                    f"UPDATE contacts SET outcome = ? WHERE {where}", [effect.outcome, *keys]
                )
        elif isinstance(effect, SaveCheckins):
            self.db.execute(
                """
                INSERT INTO checkins (user_id, settings, due_at, due_kind)
                VALUES (:user_id, :settings, :due_at, :due_kind)
                ON CONFLICT(user_id) DO UPDATE SET settings = excluded.settings,
                    due_at = excluded.due_at, due_kind = excluded.due_kind
                """,
                {
                    "user_id": user_id,
                    "settings": json.dumps(effect.settings) if effect.settings else None,
                    "due_at": _iso(effect.due_at),
                    "due_kind": effect.due_kind,
                },
            )
        elif isinstance(effect, RecordDraftCheck):
            self.db.execute(
                "INSERT INTO draft_checks (user_id, at, verdict) VALUES (?, ?, ?)",
                [user_id, _iso(now), effect.verdict],
            )

    def user_tables(self) -> list[str]:
        """Every table that holds rows about a user (all but migrations and counters)."""
        return [t for t in self.db.table_names() if t not in ("_sqlite_migrations", "counters")]

    def erase_user(self, user_id: int) -> None:
        """Delete every row about the user, in every table (children before the user row)."""
        with self.db.atomic():
            for table in self.user_tables():
                if table == "users":
                    continue
                column = "user_id" if "user_id" in self.db[table].columns_dict else None
                if column is None:
                    raise RuntimeError(f"table {table} has no user_id: erase cannot cover it")
                self.db.execute(f"DELETE FROM [{table}] WHERE user_id = ?", [user_id])
            self.db.execute("DELETE FROM users WHERE id = ?", [user_id])

    def save_session(
        self, user_id: int, session: Session, now: datetime, language: str | None = None
    ) -> None:
        """Write the user's new session (and their user row) in one transaction."""
        with self.db.atomic():
            self._write_session(user_id, session, now, language)

    def _write_session(
        self, user_id: int, session: Session, now: datetime, language: str | None
    ) -> None:
        """The writes of save_session, inside the caller's transaction."""
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
        rows = self._rows("SELECT * FROM users WHERE id = ?", [user_id])
        return rows[0] if rows else None

    def export_user(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Return every stored row about the user, table by table (JSON columns decoded)."""
        export: dict[str, list[dict[str, Any]]] = {}
        for table in self.user_tables():
            column = "id" if table == "users" else "user_id"
            rows = self.db.query(f"SELECT * FROM [{table}] WHERE [{column}] = ?", [user_id])
            export[table] = [{k: _decoded(v) for k, v in row.items()} for row in rows]
        return export

    def operator_stats(self, now: datetime) -> dict[str, int]:
        """Aggregate counts for the operator; nobody's content, nobody named."""

        def count(sql: str, params: list[Any] | None = None) -> int:
            return next(iter(self.db.query(sql, params or [])))["n"]

        counted = list(self.db.query("SELECT value FROM counters WHERE name = 'checkins_sent'"))
        checkins_sent = (
            counted[0]["value"]
            if counted
            else count("SELECT count(*) AS n FROM checkins WHERE last_sent_at IS NOT NULL")
        )
        return {
            "users": count("SELECT count(*) AS n FROM users"),
            "active_week": count(
                "SELECT count(*) AS n FROM users WHERE last_seen_at >= ?",
                [_iso(now - timedelta(days=7))],
            ),
            "completed": count("SELECT count(*) AS n FROM sessions WHERE completed_at IS NOT NULL"),
            "checkins_sent": checkins_sent,
            "blocked": count("SELECT count(*) AS n FROM users WHERE active = 0"),
        }

    # --- the check-in sweep --------------------------------------------------------------------
    #
    # Claiming and sending are two steps, so that claiming thousands of due check-ins stays cheap:
    #
    # 1. `claim_due_checkins` copies the (user_id, due_at) of the oldest due check-ins into the
    #    small `checkin_claims` table in ONE statement. It reads only the `checkins(due_at)`
    #    index (which holds user_id: it is the rowid) and writes only `checkin_claims`, a few
    #    hundred pages, instead of rewriting one random page of `checkins` per claimed user. A
    #    check-in with a
    #    pending claim is never claimed again.
    # 2. `take_checkin`, just before the message is sent (sending is rate-limited to ~28/s, so
    #    this per-row work is off the critical path), deletes the claim and, in the SAME
    #    transaction, decides (at most one a local day, quiet hours, pause/off, follow-ups,
    #    eligibility) and marks the check-in sent and plans the next one. Only the caller whose
    #    DELETE removed the claim may send, so two sweepers never send the same check-in.
    #
    # Crash safety: a crash after step 1 leaves claims that were never sent; the next sweep
    # takes them (`pending_claims`). A crash after step 2 leaves the check-in marked sent: it is
    # never sent twice (at most once, as before: a crash mid-send can lose that one message).

    def claim_due_checkins(self, now: datetime, limit: int) -> list[CheckinClaim]:
        """Claim up to `limit` check-ins due by `now` that have no pending claim, oldest first."""
        with self.db.atomic():
            rows = self.db.execute(CLAIM_DUE_SQL, {"now": _iso(now), "limit": limit}).fetchall()
        claims = [CheckinClaim(user_id, due_at) for user_id, due_at in rows]
        return sorted(claims, key=lambda claim: (claim.due_at, claim.user_id))

    def pending_claims(self, limit: int) -> list[CheckinClaim]:
        """Claims not taken yet: left by a sweep that crashed or failed part-way, oldest first."""
        rows = self.db.query(
            "SELECT user_id, due_at FROM checkin_claims ORDER BY due_at, user_id LIMIT ?", [limit]
        )
        return [CheckinClaim(row["user_id"], row["due_at"]) for row in rows]

    def take_checkin(
        self,
        claim: CheckinClaim,
        now: datetime,
        decide: Callable[[DueCheckin], CheckinDecisionLike],
    ) -> ClaimedCheckin | None:
        """Take a claim: decide, and if it is to be sent, mark it sent in the same transaction.

        Returns the check-in to send, or None (someone else took the claim, the user changed
        their schedule meanwhile, or `decide` says not now). `decide` (pure) also says when
        the next one is due; that is stored whatever it decides.
        """
        with self.db.atomic():
            taken = self.db.execute(
                "DELETE FROM checkin_claims WHERE user_id = ? AND due_at = ?",
                [claim.user_id, claim.due_at],
            )
            if taken.rowcount != 1:
                return None  # another sweeper took it: only one may send
            due = self._due_checkin(claim)
            if due is None:
                return None  # rescheduled or stopped since the claim: the new due time rules
            decision = decide(due)
            sent_at = now if decision.send else due.last_sent_at
            self.db.execute(
                """
                UPDATE checkins SET due_at = ?, due_kind = ?, last_sent_at = ?, claimed_at = ?
                WHERE user_id = ?
                """,
                [_iso(decision.next_due), decision.next_kind, _iso(sent_at),
                 _iso(now) if decision.send else None, due.user_id],
            )  # fmt: skip
            if not decision.send:
                return None
            self._count("checkins_sent", 1)
            return ClaimedCheckin(due, now, decision.next_due, decision.next_kind)

    def _due_checkin(self, claim: CheckinClaim) -> DueCheckin | None:
        """The claimed user's check-in as the decision needs it, if still due as claimed."""
        rows = list(
            self.db.query(
                """
                SELECT n.user_id, n.settings, n.due_at, n.due_kind, n.last_sent_at, u.active,
                    s.completed_at, json_extract(s.answers, '$.safety') AS safety
                FROM checkins n
                JOIN users u ON u.id = n.user_id
                LEFT JOIN sessions s ON s.user_id = n.user_id
                WHERE n.user_id = ? AND n.due_at = ?
                """,
                [claim.user_id, claim.due_at],
            )
        )
        if not rows:
            return None
        row = rows[0]
        return DueCheckin(
            user_id=row["user_id"],
            settings=json.loads(row["settings"]) if row["settings"] else None,
            due_at=datetime.fromisoformat(row["due_at"]),
            due_kind=row["due_kind"] or "checkin",
            last_sent_at=_parse(row["last_sent_at"]),
            eligible=bool(row["active"]),  # setting check-ins is enough, wherever one stops
            mode=(
                "safety"
                if row["safety"] == "concern"
                else "coaching"
                if row["completed_at"]
                else "walkthrough"
            ),
        )

    def release_checkin(self, claim: ClaimedCheckin, retry_at: datetime) -> None:
        """Put a claimed check-in that could not be delivered back as due at `retry_at`."""
        with self.db.atomic():
            updated = self.db.execute(
                """
                UPDATE checkins SET due_at = ?, due_kind = ?, last_sent_at = ?, claimed_at = NULL
                WHERE user_id = ? AND claimed_at = ? AND due_at IS ? AND due_kind IS ?
                """,
                [_iso(retry_at), claim.due.due_kind, _iso(claim.due.last_sent_at),
                 claim.due.user_id, _iso(claim.claimed_at), _iso(claim.next_due),
                 claim.next_kind],
            )  # fmt: skip
            if updated.rowcount == 1:  # else the user changed their settings meanwhile
                self._count("checkins_sent", -1)

    def mark_inactive(self, user_id: int) -> None:
        """The user blocked the bot: mark them inactive and stop their check-ins."""
        with self.db.atomic():
            self.db.execute("UPDATE users SET active = 0 WHERE id = ?", [user_id])
            self.db.execute("DELETE FROM checkin_claims WHERE user_id = ?", [user_id])
            self.db.execute(
                """
                UPDATE checkins SET due_at = NULL, due_kind = NULL, claimed_at = NULL,
                    settings = CASE WHEN settings IS NULL THEN NULL
                        ELSE json_set(settings, '$.frequency', 'off') END
                WHERE user_id = ?
                """,
                [user_id],
            )

    def checkin_row(self, user_id: int) -> dict[str, Any] | None:
        """Return the user's check-ins row, or None."""
        rows = list(self.db.query("SELECT * FROM checkins WHERE user_id = ?", [user_id]))
        return rows[0] if rows else None

    def counter(self, name: str) -> int:
        """Return an operator counter's value (0 if never counted)."""
        rows = list(self.db.query("SELECT value FROM counters WHERE name = ?", [name]))
        return rows[0]["value"] if rows else 0

    def _count(self, name: str, delta: int) -> None:
        self.db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            [name, delta],
        )

    # --- reliability: processed updates, blocked users ----------------------------------------

    def is_processed(self, update_id: int) -> bool:
        """Whether this Telegram update was already handled (and its effects committed)."""
        return bool(self._rows("SELECT 1 FROM processed_updates WHERE update_id = ?", [update_id]))

    def mark_processed(self, update_id: int, user_id: int | None, now: datetime) -> None:
        """Remember an update as handled (commit() does this with an update's changes)."""
        with self.db.atomic():
            self._insert_processed(update_id, user_id, now)

    def _insert_processed(self, update_id: int, user_id: int | None, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO processed_updates (update_id, user_id, at) VALUES (?, ?, ?)",
            [update_id, user_id, _iso(now)],
        )

    def prune_processed(self, before: datetime) -> int:
        """Forget processed update ids older than `before`; return how many were dropped."""
        with self.db.atomic():
            cursor = self.db.execute("DELETE FROM processed_updates WHERE at < ?", [_iso(before)])
        return cursor.rowcount

    def reactivate(self, user_id: int) -> None:
        """A user marked inactive wrote again: count them as active (no-op otherwise)."""
        with self.db.atomic():
            self.db.execute("UPDATE users SET active = 1 WHERE id = ? AND active = 0", [user_id])


def _decoded(value: Any) -> Any:
    """Return a JSON column's value as data, anything else unchanged."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass(frozen=True)
class DueCheckin:
    """A checkins row whose time has come, as the sweep's decision needs it."""

    user_id: int
    settings: dict[str, Any] | None
    due_at: datetime
    due_kind: str
    last_sent_at: datetime | None
    eligible: bool  # the user has not blocked the bot
    mode: str = "coaching"  # "coaching", "walkthrough" (no plan yet) or "safety" (self-care)


@dataclass(frozen=True)
class CheckinClaim:
    """A due check-in claimed for sending: the user and the due time it was claimed at."""

    user_id: int
    due_at: str  # as stored, so taking it can check the schedule did not change meanwhile


class CheckinDecisionLike(Protocol):
    """What the sweep's decision gives back (bot.features.checkins.CheckinDecision)."""

    send: bool
    next_due: datetime | None
    next_kind: str | None


@dataclass(frozen=True)
class ClaimedCheckin:
    """A check-in claimed and marked sent; enough to put it back if delivery fails."""

    due: DueCheckin
    claimed_at: datetime
    next_due: datetime | None
    next_kind: str | None
