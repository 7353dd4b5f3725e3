"""Users' own rows: sessions, the effects of an update, erasure, export, stats, processed ids.

The hot path of an update is two calls: `load_state` (ONE SELECT: whether the update was
already handled, the session, the user row, check-in settings and recent contacts) and
`commit` (the update's id first, `INSERT ... ON CONFLICT DO NOTHING`: a redelivered update
writes nothing else; then the session, user row and effects). Both use plain cursors with
constant SQL and positional parameters, so SQLite's statement cache reuses each prepared
statement. The rest (export, stats, erasure) reads through `schema.rows` and writes with
sqlite-utils.

Writes are transaction-agnostic: on the writer thread every job already runs inside the
group's transaction, in its own savepoint (see writer.py), so they add none of their own;
called with no transaction open they open one (`transaction`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot.model import (
    AddContact,
    ChangeContact,
    CountHeard,
    Effect,
    EraseUser,
    RecordDraftCheck,
    SaveCheckins,
    Session,
    UserData,
)
from bot.policy.contacts import Contact
from bot.store.schema import OWN_TABLES, Connections, iso, parse, rows

log = logging.getLogger(__name__)

# How far back a user's contacts are loaded with each update: enough for the chart (six
# weeks) and the plan adjustment (four), and bounded so one update reads a bounded amount.
CONTACT_HISTORY = timedelta(days=56)


# The one read of an update: ?1 the user, ?2 the update id, ?3 the oldest contact to load.
# The anchor row (SELECT ?1) makes a user with no rows yet still give one row.
LOAD_STATE_SQL = """
SELECT
    EXISTS (SELECT 1 FROM processed_updates WHERE update_id = ?2),
    s.state, s.answers, s.plan, s.pending, s.completed_at,
    u.language, c.settings, c.last_sent_at,
    (SELECT json_group_array(json_array(at, initiator, kind, outcome)) FROM contacts
        WHERE user_id = ?1 AND at >= ?3)
FROM (SELECT ?1 AS id) AS k
LEFT JOIN sessions s ON s.user_id = k.id
LEFT JOIN users u ON u.id = k.id
LEFT JOIN checkins c ON c.user_id = k.id
"""
INSERT_PROCESSED_SQL = (
    "INSERT INTO processed_updates (update_id, user_id, at) VALUES (?, ?, ?)"
    " ON CONFLICT (update_id) DO NOTHING"
)
TOUCH_USER_SQL = """
INSERT INTO users (id, created_at, last_seen_at, language, active) VALUES (?1, ?2, ?2, ?3, 1)
ON CONFLICT (id) DO UPDATE SET
    last_seen_at = excluded.last_seen_at,
    language = coalesce(excluded.language, users.language),
    active = 1
"""
WRITE_SESSION_SQL = """
INSERT INTO sessions
    (user_id, state, answers, plan, pending, completed_at, updated_at, revision)
VALUES (?, ?, ?, ?, ?, ?, ?, 1)
ON CONFLICT (user_id) DO UPDATE SET
    state = excluded.state, answers = excluded.answers, plan = excluded.plan,
    pending = excluded.pending, completed_at = excluded.completed_at,
    updated_at = excluded.updated_at, revision = sessions.revision + 1
"""
REACTIVATE_SQL = "UPDATE users SET active = 1 WHERE id = ? AND active = 0"


@contextmanager
def transaction(db: Database) -> Iterator[None]:
    """Inside an open transaction (a writer job's savepoint), nothing to add: a failure rolls
    back the job's savepoint. With none open (a caller off the writer), one transaction."""
    if db.conn.in_transaction:
        yield
    else:
        with db.atomic():
            yield


@dataclass(frozen=True)
class UserState:
    """What one SELECT says about a user as an update arrives."""

    seen: bool  # the update was already handled (its id is stored)
    session: Session | None  # None: someone new, or `unreadable`
    unreadable: bool  # the stored session could not be read (BadRow)
    data: UserData


class BadRow(ValueError):
    """A stored row that cannot be read back (hand-edited, or written by a broken version)."""


def session_from_row(row: dict[str, Any]) -> Session:
    """A sessions row as the engine's Session; BadRow if any field is malformed."""
    try:
        answers = json.loads(row["answers"])
        plan = json.loads(row["plan"]) if row["plan"] else None
        completed_at = parse(row["completed_at"])
    except (TypeError, ValueError) as error:
        raise BadRow(f"sessions: {type(error).__name__}") from None
    if not isinstance(row["state"], str) or not isinstance(answers, dict):
        raise BadRow("sessions: state or answers of the wrong type")
    if plan is not None and not isinstance(plan, dict):
        raise BadRow("sessions: plan of the wrong type")
    if row["pending"] is not None and not isinstance(row["pending"], str):
        raise BadRow("sessions: pending of the wrong type")
    return Session(
        state=row["state"],
        answers=answers,
        plan=plan,
        pending=row["pending"],
        completed_at=completed_at,
    )


def _contact(row: dict[str, Any]) -> Contact | None:
    """A contacts row, or None if malformed (skipped: one bad row must not lock anyone out)."""
    return _contact_of(row["at"], row["initiator"], row["kind"], row["outcome"])


def _contact_of(at: Any, initiator: Any, kind: Any, outcome: Any) -> Contact | None:
    try:
        return Contact(
            at=datetime.fromisoformat(at), initiator=initiator, kind=kind, outcome=outcome
        )
    except (TypeError, ValueError):
        return None


def _contacts(text: str | None) -> tuple[Contact, ...]:
    """The JSON array of [at, initiator, kind, outcome] LOAD_STATE_SQL gives, oldest first."""
    try:
        found = json.loads(text) if text else []
    except (TypeError, ValueError):
        return ()
    contacts = [
        contact
        for item in found
        if isinstance(item, list) and len(item) == 4 and (contact := _contact_of(*item)) is not None
    ]
    contacts.sort(key=lambda contact: contact.at)
    return tuple(contacts)


def json_object(text: Any) -> dict[str, Any] | None:
    """A JSON object column, or None if empty or malformed."""
    try:
        value = json.loads(text) if text else None
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _moment(text: Any) -> datetime | None:
    try:
        return parse(text)
    except (TypeError, ValueError):
        return None


class UserRows(Connections):
    """Reads and writes of one user's rows (mixed into Store, which owns `db`)."""

    _count: Callable[[str, int], None]  # adds to a named counter (CheckinQueue, in Store)

    def load_state(
        self, user_id: int, update_id: int | None, now: datetime, is_admin: bool = False
    ) -> UserState:
        """Everything an update needs to know about its user, in one SELECT (see the module
        docstring); `seen` says the update was already handled."""
        row = self.read_db.conn.execute(
            LOAD_STATE_SQL, (user_id, update_id, iso(now - CONTACT_HISTORY))
        ).fetchone()
        seen, state, answers, plan, pending, completed_at, language, settings, last, contacts = row
        session, unreadable = None, False
        if state is not None:
            try:
                session = session_from_row(
                    {"state": state, "answers": answers, "plan": plan, "pending": pending,
                     "completed_at": completed_at}
                )  # fmt: skip
            except BadRow as error:
                log.error("a stored session could not be read (%s); the user starts afresh", error)
                unreadable = True
        data = UserData(
            user_id=user_id,
            language=language,
            contacts=_contacts(contacts),
            checkins=json_object(settings),
            last_checkin_at=_moment(last),
            is_admin=is_admin,
        )
        return UserState(bool(seen), session, unreadable, data)

    def load_session(self, user_id: int) -> Session | None:
        """Return the user's session, or None for someone new."""
        found = rows(self.read_db, "SELECT * FROM sessions WHERE user_id = ?", [user_id])
        return session_from_row(found[0]) if found else None

    def load_user_data(self, user_id: int, now: datetime, is_admin: bool = False) -> UserData:
        """Return the rest of one user's rows: recent contacts, check-in settings, language."""
        profile = rows(
            self.read_db,
            "SELECT u.language, n.settings, n.last_sent_at FROM users u"
            " LEFT JOIN checkins n ON n.user_id = u.id WHERE u.id = ?",
            [user_id],
        )
        found = profile[0] if profile else {}
        contacts = tuple(
            contact
            for row in rows(
                self.read_db,
                "SELECT at, initiator, kind, outcome FROM contacts"
                " WHERE user_id = ? AND at >= ? ORDER BY at",
                [user_id, iso(now - CONTACT_HISTORY)],
            )
            if (contact := _contact(row)) is not None
        )
        return UserData(
            user_id=user_id,
            language=found.get("language"),
            contacts=contacts,
            checkins=json_object(found.get("settings")),
            last_checkin_at=_moment(found.get("last_sent_at")),
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
    ) -> bool:
        """Write the update's id, the user's new session and every effect in one transaction.

        The id goes first (ON CONFLICT DO NOTHING): if it is already there the update was
        handled before, nothing else is written and the answer is False.
        """
        conn = self.db.conn
        at = iso(now)
        with transaction(self.db):
            erased = any(isinstance(effect, EraseUser) for effect in effects)
            if update_id is not None:
                # After an erase nothing may name the user, not even this update's row.
                marked = conn.execute(
                    INSERT_PROCESSED_SQL, (update_id, None if erased else user_id, at)
                )
                if marked.rowcount == 0:
                    return False
            if erased:
                self.erase_user(user_id)
                return True
            if session is not None:
                self._write_session(user_id, session, at, language)
            for effect in effects:
                self._apply(user_id, effect, now)
        return True

    def _apply(self, user_id: int, effect: Effect, now: datetime) -> None:
        if isinstance(effect, AddContact):
            contact = effect.contact
            self.db.execute(
                "INSERT INTO contacts (user_id, at, initiator, kind, outcome, note)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [user_id, iso(contact.at), contact.initiator, contact.kind, contact.outcome,
                 effect.note],
            )  # fmt: skip
        elif isinstance(effect, ChangeContact):
            # One row: two identical contacts are changed one at a time, as the user sees them.
            found, to = effect.contact, effect.to
            one = (
                "id = (SELECT id FROM contacts WHERE user_id = ? AND at = ? AND initiator = ?"
                " AND kind = ? AND outcome = ? ORDER BY id DESC LIMIT 1)"
            )
            keys = [user_id, iso(found.at), found.initiator, found.kind, found.outcome]
            if to is None:
                self.db.execute(f"DELETE FROM contacts WHERE {one}", keys)
            else:
                self.db.execute(
                    f"UPDATE contacts SET at = ?, initiator = ?, kind = ?, outcome = ? WHERE {one}",
                    [iso(to.at), to.initiator, to.kind, to.outcome, *keys],
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
                    "due_at": iso(effect.due_at),
                    "due_kind": effect.due_kind,
                },
            )
        elif isinstance(effect, RecordDraftCheck):
            self.db.execute(
                "INSERT INTO draft_checks (user_id, at, verdict) VALUES (?, ?, ?)",
                [user_id, iso(now), effect.verdict],
            )
        elif isinstance(effect, CountHeard):
            self._count(f"heard_{effect.name}", 1)  # a count by intent; no user, no text

    def user_tables(self) -> list[str]:
        """The project's tables that can hold rows about a user (see schema.OWN_TABLES)."""
        return [name for name, table in OWN_TABLES.items() if table.key is not None]

    def erase_user(self, user_id: int) -> None:
        """Delete every row about the user in the project's own tables (the user row last).

        Processed update ids are kept without the user's id, so a redelivered update stays
        a duplicate instead of bringing the user back.
        """
        with transaction(self.db):
            for name, table in OWN_TABLES.items():
                if table.on_erase == "delete":
                    self.db.execute(f"DELETE FROM [{name}] WHERE [{table.key}] = ?", [user_id])
                elif table.on_erase == "forget":
                    self.db.execute(
                        f"UPDATE [{name}] SET [{table.key}] = NULL WHERE [{table.key}] = ?",
                        [user_id],
                    )

    def _write_session(
        self, user_id: int, session: Session, at: str | None, language: str | None
    ) -> None:
        """Write the user's new session and user row, inside the caller's transaction."""
        conn = self.db.conn
        conn.execute(TOUCH_USER_SQL, (user_id, at, language))
        conn.execute(
            WRITE_SESSION_SQL,
            (
                user_id,
                session.state,
                json.dumps(session.answers, sort_keys=True),
                json.dumps(session.plan, sort_keys=True) if session.plan else None,
                session.pending,
                iso(session.completed_at),
                at,
            ),
        )

    def export_user(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Return every stored row about the user, table by table (JSON columns decoded)."""
        export: dict[str, list[dict[str, Any]]] = {}
        for name in self.user_tables():
            key = OWN_TABLES[name].key
            found = rows(self.read_db, f"SELECT * FROM [{name}] WHERE [{key}] = ?", [user_id])
            export[name] = [{k: _decoded(v) for k, v in row.items()} for row in found]
        return export

    def operator_stats(self, now: datetime) -> dict[str, int]:
        """Aggregate counts for the operator; nobody's content, nobody named."""

        def count(sql: str, params: list[Any] | None = None) -> int:
            return int(rows(self.read_db, sql, params or [])[0]["n"])

        counted = rows(self.read_db, "SELECT value FROM counters WHERE name = 'checkins_sent'", [])
        checkins_sent = (
            counted[0]["value"]
            if counted
            else count("SELECT count(*) AS n FROM checkins WHERE last_sent_at IS NOT NULL")
        )
        return {
            "users": count("SELECT count(*) AS n FROM users"),
            "active_week": count(
                "SELECT count(*) AS n FROM users WHERE last_seen_at >= ?",
                [iso(now - timedelta(days=7))],
            ),
            "completed": count("SELECT count(*) AS n FROM sessions WHERE completed_at IS NOT NULL"),
            "checkins_sent": checkins_sent,
            "blocked": count("SELECT count(*) AS n FROM users WHERE active = 0"),
        }

    # --- processed updates, returning users ---------------------------------------------------

    def is_processed(self, update_id: int) -> bool:
        """Whether this Telegram update was already handled (and its effects committed)."""
        return bool(
            rows(self.read_db, "SELECT 1 FROM processed_updates WHERE update_id = ?", [update_id])
        )

    def mark_processed(self, update_id: int, user_id: int | None, now: datetime) -> bool:
        """Remember an update as handled (commit() does this with an update's changes);
        False if it already was."""
        with transaction(self.db):
            marked = self.db.conn.execute(INSERT_PROCESSED_SQL, (update_id, user_id, iso(now)))
        return marked.rowcount == 1

    def record_read_only(self, update_id: int, user_id: int, now: datetime) -> None:
        """An update that changed nothing: remember its id, and that its user is active."""
        with transaction(self.db):
            conn = self.db.conn
            conn.execute(INSERT_PROCESSED_SQL, (update_id, user_id, iso(now)))
            conn.execute(REACTIVATE_SQL, (user_id,))

    def prune_processed(self, before: datetime) -> int:
        """Forget processed update ids older than `before`; return how many were dropped."""
        with transaction(self.db):
            cursor = self.db.execute("DELETE FROM processed_updates WHERE at < ?", [iso(before)])
        return cursor.rowcount

    def reactivate(self, user_id: int) -> None:
        """A user marked inactive wrote again: count them as active (no-op otherwise)."""
        with transaction(self.db):
            self.db.conn.execute(REACTIVATE_SQL, (user_id,))


def _decoded(value: Any) -> Any:
    """Return a JSON column's value as data, anything else unchanged."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
