"""The check-in queue: due check-ins (table `checkins`), claimed and taken by the sweep.

Claiming and sending are two steps, so that claiming thousands of due check-ins stays cheap:

1. `claim_due_checkins` copies the (user_id, due_at) of the oldest due check-ins into the small
   `checkin_claims` table in ONE statement. It reads only the `checkins(due_at)` index (which
   holds user_id: it is the rowid) and writes only `checkin_claims`, a few hundred pages,
   instead of rewriting one random page of `checkins` per claimed user. A check-in with a
   pending claim is never claimed again.
2. `take_checkin`, just before the message is sent (sending is rate-limited to ~28/s, so this
   per-row work is off the critical path), deletes the claim and, in the SAME transaction,
   decides (at most one a local day, quiet hours, pause/off, follow-ups, eligibility) and
   marks the check-in sent and plans the next one. Only the caller whose DELETE removed the
   claim may send, so two sweepers never send the same check-in.

Crash safety: a crash after step 1 leaves claims that were never sent; the next sweep takes
them (`pending_claims`). A crash after step 2 leaves the check-in marked sent: it is never
sent twice (at most once: a crash mid-send can lose that one message).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.store.schema import Connections, iso, parse, rows
from bot.store.users import BadRow, json_object, session_from_row, transaction

CLAIM_DUE_SQL = """
INSERT INTO checkin_claims (user_id, due_at, claimed_at)
SELECT n.user_id, n.due_at, :now FROM checkins n
WHERE n.due_at <= :now
    AND NOT EXISTS (SELECT 1 FROM checkin_claims c WHERE c.user_id = n.user_id)
ORDER BY n.due_at LIMIT :limit
RETURNING user_id, due_at
"""


class CheckinQueue(Connections):
    """Claim, take and release due check-ins (mixed into Store, which owns `db`)."""

    def claim_due_checkins(self, now: datetime, limit: int) -> list[CheckinClaim]:
        """Claim up to `limit` check-ins due by `now` that have no pending claim, oldest first."""
        with transaction(self.db):
            found = self.db.execute(CLAIM_DUE_SQL, {"now": iso(now), "limit": limit}).fetchall()
        claims = [CheckinClaim(user_id, due_at) for user_id, due_at in found]
        return sorted(claims, key=lambda claim: (claim.due_at, claim.user_id))

    def pending_claims(self, limit: int) -> list[CheckinClaim]:
        """Claims not taken yet: left by a sweep that crashed or failed part-way, oldest first."""
        found = rows(
            self.read_db,
            "SELECT user_id, due_at FROM checkin_claims ORDER BY due_at, user_id LIMIT ?",
            [limit],
        )
        return [CheckinClaim(row["user_id"], row["due_at"]) for row in found]

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
        with transaction(self.db):
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
                [iso(decision.next_due), decision.next_kind, iso(sent_at),
                 iso(now) if decision.send else None, due.user_id],
            )  # fmt: skip
            if not decision.send:
                return None
            self._count("checkins_sent", 1)
            return ClaimedCheckin(due, now, decision.next_due, decision.next_kind)

    def _due_checkin(self, claim: CheckinClaim) -> DueCheckin | None:
        """The claimed user's check-in as the decision needs it, if still due as claimed."""
        found = rows(
            self.db,
            """
            SELECT n.user_id, n.settings, n.due_at, n.due_kind, n.last_sent_at, u.active,
                s.state, s.answers, s.plan, s.pending, s.completed_at
            FROM checkins n
            JOIN users u ON u.id = n.user_id
            LEFT JOIN sessions s ON s.user_id = n.user_id
            WHERE n.user_id = ? AND n.due_at = ?
            """,
            [claim.user_id, claim.due_at],
        )
        if not found:
            return None
        row = found[0]
        try:
            session = session_from_row(row) if row["state"] is not None else None
        except BadRow:
            session = None  # unreadable: no check-ins until the user's next message mends it
        return DueCheckin(
            user_id=row["user_id"],
            settings=json_object(row["settings"]),
            due_at=datetime.fromisoformat(row["due_at"]),
            due_kind=row["due_kind"] or "checkin",
            last_sent_at=parse(row["last_sent_at"]),
            # Setting check-ins is enough, wherever the user stops; what they say and offer
            # fits the mode (no contact talk in safety mode, no logging before a plan).
            eligible=bool(row["active"]) and session is not None,
            mode=(
                "safety"
                if session is not None and session.coaching_off
                else "walkthrough"
                if session is None or session.completed_at is None
                else "together"
                if session.answers.get("living") == "together"
                else "coaching"
            ),
        )

    def release_checkin(self, claim: ClaimedCheckin, retry_at: datetime) -> None:
        """Put a claimed check-in that could not be delivered back as due at `retry_at`."""
        with transaction(self.db):
            updated = self.db.execute(
                """
                UPDATE checkins SET due_at = ?, due_kind = ?, last_sent_at = ?, claimed_at = NULL
                WHERE user_id = ? AND claimed_at = ? AND due_at IS ? AND due_kind IS ?
                """,
                [iso(retry_at), claim.due.due_kind, iso(claim.due.last_sent_at),
                 claim.due.user_id, iso(claim.claimed_at), iso(claim.next_due),
                 claim.next_kind],
            )  # fmt: skip
            if updated.rowcount == 1:  # else the user changed their settings meanwhile
                self._count("checkins_sent", -1)

    def mark_inactive(self, user_id: int) -> None:
        """The user blocked the bot: mark them inactive and stop their check-ins."""
        with transaction(self.db):
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

    def _count(self, name: str, delta: int) -> None:
        self.db.conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, delta),
        )


@dataclass(frozen=True)
class DueCheckin:
    """A check-in whose time has come, as the sweep's decision needs it."""

    user_id: int
    settings: dict[str, Any] | None
    due_at: datetime
    due_kind: str
    last_sent_at: datetime | None
    eligible: bool  # active, with a readable session
    # "coaching", "together" (living together), "walkthrough" (no plan yet), "safety" (self-care)
    mode: str = "coaching"


@dataclass(frozen=True)
class CheckinClaim:
    """A due check-in claimed for sending: the user and the due time it was claimed at."""

    user_id: int
    due_at: str  # as stored, so taking it can check the schedule did not change meanwhile


class CheckinDecisionLike(Protocol):
    """What the sweep's decision gives back (bot.features.checkins.CheckinDecision)."""

    @property
    def send(self) -> bool: ...

    @property
    def next_due(self) -> datetime | None: ...

    @property
    def next_kind(self) -> str | None: ...


@dataclass(frozen=True)
class ClaimedCheckin:
    """A check-in claimed and marked sent; enough to put it back if delivery fails."""

    due: DueCheckin
    claimed_at: datetime
    next_due: datetime | None
    next_kind: str | None
