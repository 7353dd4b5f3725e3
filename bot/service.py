"""The transport-free core of one update: load the user's state, run the engine, commit.

Both adapters (Telegram and the terminal) call `Service.handle` and only send what it
returns, so the state change is always committed before any reply leaves.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from bot.engine import Engine
from bot.features.checkins import command_from_press, decide_due_nudge, nudge_reply, settings_from
from bot.features.texts import feature_texts
from bot.flows import FLOWS_DIR, load_flows, load_messages
from bot.model import Event, Press, Reply, UserData
from bot.policy import Policy
from bot.store import ClaimedNudge, DueNudge, Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock; tests pass their own."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Result:
    """Replies to send, and an optional short pop-up for a button press."""

    replies: list[Reply]
    notice: str | None = None


def build_engine(flows_dir: Path = FLOWS_DIR) -> Engine:
    """Load and validate all content and build the engine."""
    return Engine(load_flows(flows_dir), load_messages(flows_dir), Policy.load())


class Service:
    """One user's update: load, decide, commit, then hand back the replies."""

    def __init__(
        self,
        store: Store,
        engine: Engine,
        clock: Clock = utc_now,
        admin_ids: frozenset[int] = frozenset(),
    ):
        self.store = store
        self.engine = engine
        self.clock = clock
        self.admin_ids = admin_ids

    def handle(self, user_id: int, event: Event, language: str | None = None) -> Result:
        """Handle one input from `user_id` and return what to send."""
        now = self.clock()
        if isinstance(event, Press) and (command := command_from_press(event.data)):
            event = command  # a button under a nudge runs a command, whatever the step
        try:
            session = self.store.load_session(user_id)
            data = self.store.load_user_data(user_id, now, is_admin=user_id in self.admin_ids)
            if language and data.language != language:
                data = replace(data, language=language)
            data = self._with_reads(user_id, data, now)
            outcome = self.engine.handle(session, event, now, data)
            if outcome.changed:
                self.store.commit(user_id, outcome.session, outcome.effects, now, language)
        except sqlite3.Error as error:
            # Nothing was committed: say so kindly and let the user try again.
            log.error("storage error for an update (%s): %s", type(error).__name__, error)
            return Result([Reply(self.engine.messages["try_again"])])
        return Result(outcome.replies, outcome.notice)

    def _with_reads(self, user_id: int, data: UserData, now: datetime) -> UserData:
        """Give the engine read access for /export (own rows) and /stats (admins only)."""
        stats = partial(self.store.operator_stats, now) if data.is_admin else None
        return replace(data, read_all=partial(self.store.export_user, user_id), read_stats=stats)

    # --- the nudge sweep (the Telegram job sends what this returns) ---------------------------

    def claim_due_nudges(self, limit: int = 200) -> list[DueMessage]:
        """Claim due nudges (marked sent in the same transaction) and build their messages."""
        now = self.clock()

        def decide(due: DueNudge):
            settings = settings_from(due.settings)
            return decide_due_nudge(
                settings, due.due_at, due.last_sent_at, now, due.eligible, due.due_kind
            )

        claims = self.store.claim_due_nudges(now, limit, decide)
        policy, texts = self.engine.policy.nudge_texts, feature_texts()
        messages = []
        for claim in claims:
            tz = settings_from(claim.due.settings).tz
            reply = nudge_reply(claim.due.due_kind, claim.due.user_id, tz, now, policy, texts)
            messages.append(DueMessage(claim.due.user_id, reply, claim))
        return messages

    def release_nudge(self, message: DueMessage, after_seconds: float = 0) -> None:
        """Delivery failed for a passing reason: make the nudge due again, not lost."""
        retry_at = self.clock() + timedelta(seconds=after_seconds)
        self.store.release_nudge(message.claim, retry_at)

    def nudge_blocked(self, user_id: int) -> None:
        """The user blocked the bot: no more nudges for them."""
        self.store.mark_inactive(user_id)


@dataclass(frozen=True)
class DueMessage:
    """A claimed nudge and the message to send for it."""

    user_id: int
    reply: Reply
    claim: ClaimedNudge
