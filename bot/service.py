"""The transport-free core of one update: load the user's state, run the engine, commit.

Both adapters (Telegram and the terminal) call `Service.handle` and only send what it
returns, so the state change is always committed before any reply leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from bot.content import CONTENT_ROOT, Content
from bot.engine import Engine
from bot.features.checkins import (
    CheckinDecision,
    checkin_reply,
    command_from_press,
    decide_due_checkin,
    settings_from,
)
from bot.features.texts import FEATURE_TEXTS
from bot.locks import UserLocks
from bot.model import (
    DEFAULT_BACKUP_RETENTION_HOURS,
    Command,
    Event,
    Media,
    Outcome,
    Press,
    Reply,
    Session,
    Text,
    UserData,
)
from bot.policy import timezones
from bot.store import CheckinClaim, ClaimedCheckin, DueCheckin, Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
# Telegram redelivers an update only until its offset is confirmed (minutes at most); a week
# of processed ids is a wide margin and stays small. Pruned at most once per PRUNE_EVERY.
PROCESSED_KEEP = timedelta(days=7)
PRUNE_EVERY = timedelta(hours=1)


def utc_now() -> datetime:
    """The real clock; tests pass their own."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Result:
    """Replies to send, and an optional short pop-up for a button press."""

    replies: list[Reply]
    notice: str | None = None
    duplicate: bool = False  # a redelivered update, already handled: send nothing
    failed: bool = False  # storage failed, nothing saved: the user is asked to try again
    # A read-only update's record, still being written: the replies need not wait for it,
    # but Telegram should be told the update is handled only once it is written.
    written: Future[None] | None = field(default=None, compare=False)


def build_engine(root: Path = CONTENT_ROOT) -> Engine:
    """Load and check all content under `root` (ContentError lists every problem), then
    build the engine on it."""
    engine = Engine(Content.load(root))
    timezones.warm()
    return engine


def compile_rules_in_background(engine: Engine) -> threading.Thread:
    """Compile the crisis rules' pattern groups in a background thread (each is otherwise
    compiled on first use: a fresh bot's first long message would hold every update up)."""
    rules = engine.policy.listener.crisis_rules
    thread = threading.Thread(target=rules.compile_all, name="compile-rules", daemon=True)
    thread.start()
    return thread


class Service:
    """One user's update: load, decide, commit, then hand back the replies."""

    def __init__(
        self,
        store: Store,
        engine: Engine,
        clock: Clock = utc_now,
        admin_ids: frozenset[int] = frozenset(),
        backup_retention_hours: int = DEFAULT_BACKUP_RETENTION_HOURS,
    ):
        self.store = store
        self.backup_retention_hours = backup_retention_hours
        self.engine = engine
        self.clock = clock
        self.admin_ids = admin_ids
        self.locks = UserLocks()  # shared by the update processor and jobs: see user_lock
        self._pruned_at: datetime | None = None
        # Read-only updates answered whose record is not committed yet (a synced group
        # commit takes a moment): a redelivery meanwhile is a duplicate, not answered twice.
        self._recording: set[int] = set()

    def handle(
        self,
        user_id: int,
        event: Event,
        language: str | None = None,
        update_id: int | None = None,
    ) -> Result:
        """Handle one input from `user_id` and return what to send (once it is committed).

        With an `update_id` (Telegram's), the update is handled at most once: its id is
        committed in the same transaction as its state change, and a redelivery gets nothing.
        """
        decided = self.decide(user_id, event, language, update_id)
        return decided if isinstance(decided, Result) else self.finish(decided, wait=True)

    async def handle_async(
        self,
        user_id: int,
        event: Event,
        language: str | None = None,
        update_id: int | None = None,
    ) -> Result:
        """`handle` for the event loop: the read and the engine run on a worker thread (a
        long message or a slow disk holds up only this user), then the commit is awaited
        without holding any thread, so the worker takes the next user's update meanwhile and
        the writer commits the waiting updates together (group commit)."""
        decided = await asyncio.to_thread(self.decide, user_id, event, language, update_id)
        if isinstance(decided, Result):
            return decided
        if decided.committed is not None:
            with contextlib.suppress(BaseException):  # finish() reads the outcome
                await asyncio.wrap_future(decided.committed)
        return self.finish(decided, wait=False)

    def decide(
        self,
        user_id: int,
        event: Event,
        language: str | None = None,
        update_id: int | None = None,
    ) -> Result | Decided:
        """Read the user's state, run the engine and queue the write (if any): a Decided to
        `finish` once the write is committed, or at once a Result (duplicate, failed)."""
        now = self.clock()
        event = storable(event)
        if isinstance(event, Press) and (command := command_from_press(event.data)):
            event = command  # a button under a check-in runs a command, whatever the step
        try:
            # One SELECT: whether the update was handled before, the session, the user's rows.
            state = self.store.load_state(user_id, update_id, now, user_id in self.admin_ids)
            if state.seen or update_id in self._recording:
                return self._duplicate(update_id)
            # An unreadable session: say so kindly and start afresh; /delete and /export work.
            session = Session() if state.unreadable else state.session
            data = state.data
            if language and data.language != language:
                data = replace(data, language=language)
            data = self._with_reads(user_id, data, now)
            outcome = self.engine.handle(session, event, now, data)
        except sqlite3.Error as error:
            return self._failed(error)
        if state.unreadable:
            outcome.replies.insert(0, Reply(self.engine.messages["unreadable_row"]))
        committed = None
        if outcome.changed:
            committed = self.store.commit_later(
                user_id, outcome.session, outcome.effects, now, language, update_id
            )
        return Decided(user_id, update_id, now, type(event).__name__, outcome, committed)

    def finish(self, decided: Decided, wait: bool = True) -> Result:
        """The Result of a decided update, once its write is committed (waits for it)."""
        written = None
        if decided.committed is not None:
            try:
                if not decided.committed.result():
                    return self._duplicate(decided.update_id)  # handled meanwhile
            except sqlite3.Error as error:
                return self._failed(error)
        else:
            written = self._mark_read_only(decided.update_id, decided.user_id, decided.now)
        self._prune(decided.now, wait)
        outcome = decided.outcome
        log.debug("handled a %s (%s)", decided.event, "changed" if outcome.changed else "read")
        return Result(outcome.replies, outcome.notice, written=written)

    def _failed(self, error: sqlite3.Error) -> Result:
        # Nothing was committed: say so kindly and let the user try again.
        log.error(
            "storage error, nothing was saved and the user was asked to try again: %s (%s)",
            describe_storage_error(error),
            type(error).__name__,
        )
        return Result([Reply(self.engine.messages["try_again"])], failed=True)

    def _duplicate(self, update_id: int | None) -> Result:
        log.info("update %s was already handled; skipped", update_id)
        return Result([], duplicate=True)

    def _with_reads(self, user_id: int, data: UserData, now: datetime) -> UserData:
        """Give the engine read access for /export (own rows) and /stats (admins only)."""
        stats = partial(self.store.operator_stats, now) if data.is_admin else None
        return replace(
            data,
            read_all=partial(self.store.export_user, user_id),
            read_stats=stats,
            backup_retention_hours=self.backup_retention_hours,
        )

    # --- the check-in sweep (the Telegram job sends what this returns) ---------------------------

    def claim_due_checkins(self, limit: int = 200) -> list[CheckinClaim]:
        """Claim up to `limit` due check-ins (cheap: Store.claim_due_checkins); nothing sent yet.

        Claims a crashed or failed sweep left behind come first, so none is forgotten.
        """
        claims = self.store.pending_claims(limit)
        if len(claims) < limit:
            claims += self.store.claim_due_checkins(self.clock(), limit - len(claims))
        return claims

    def take_checkin(self, claim: CheckinClaim) -> DueMessage | None:
        """Decide about a claimed check-in now; if it goes, it is marked sent before it is built.

        Call right before sending; None means send nothing (not now, or already taken).
        """
        now = self.clock()

        def decide(due: DueCheckin) -> CheckinDecision:
            settings = settings_from(due.settings)
            return decide_due_checkin(
                settings, due.due_at, due.last_sent_at, now, due.eligible, due.due_kind
            )

        taken = self.store.take_checkin(claim, now, decide)
        if taken is None:
            return None
        tz = settings_from(taken.due.settings).tz
        policy, texts = self.engine.policy.contact_texts, self.engine.content.file(FEATURE_TEXTS)
        due = taken.due
        reply = checkin_reply(due.due_kind, due.user_id, tz, now, policy, texts, due.mode)
        return DueMessage(taken.due.user_id, reply, taken)

    def release_checkin(self, message: DueMessage, after_seconds: float = 0) -> None:
        """Delivery failed for a passing reason: make the check-in due again, not lost."""
        retry_at = self.clock() + timedelta(seconds=after_seconds)
        self.store.release_checkin(message.claim, retry_at)

    def _mark_read_only(
        self, update_id: int | None, user_id: int, now: datetime
    ) -> Future[None] | None:
        """An update that changed nothing: remember it without waiting (the reply does not
        depend on it, so a locked database never holds up /help); a failure is only logged.
        The returned future says when the record is written (see Result.written)."""
        if update_id is None:
            return None

        def done(future: Future[None]) -> None:
            # Committed (a later read sees it) or failed (a redelivery is answered again).
            self._recording.discard(update_id)
            if isinstance(error := future.exception(), sqlite3.Error):
                log.warning(
                    "could not record a read-only update: %s", describe_storage_error(error)
                )

        self._recording.add(update_id)
        future = self.store.mark_read_only(update_id, user_id, now)
        future.add_done_callback(done)
        return future

    def _prune(self, now: datetime, wait: bool = True) -> None:
        """Drop old processed update ids, at most once per PRUNE_EVERY (cheap, indexed);
        without `wait`, the pruning is queued and only its outcome logged."""
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        before = now - PROCESSED_KEEP
        if wait:
            try:
                dropped = self.store.prune_processed(before)
            except sqlite3.Error as error:
                log.warning("could not prune processed updates: %s", describe_storage_error(error))
                return
            if dropped:
                log.info("pruned %d processed update ids", dropped)
            return

        def done(future: Future[int]) -> None:
            if isinstance(error := future.exception(), sqlite3.Error):
                log.warning("could not prune processed updates: %s", describe_storage_error(error))
            elif future.exception() is None and (dropped := future.result()):
                log.info("pruned %d processed update ids", dropped)

        self.store.prune_processed_later(before).add_done_callback(done)

    def user_lock(self, user_id: int) -> AbstractAsyncContextManager[None]:
        """Hold this while touching a user's state from async code (handlers, check-in jobs)."""
        return self.locks.hold(user_id)

    def user_blocked(self, user_id: int) -> None:
        """Telegram says the user blocked the bot: mark them inactive, no more check-ins."""
        try:
            self.store.mark_inactive(user_id)
        except sqlite3.Error as error:
            log.error("could not mark a user inactive: %s", describe_storage_error(error))
        else:
            log.info("a user blocked the bot; marked inactive")


def storable(event: Event) -> Event:
    """The input with any lone surrogate (not valid UTF-8: SQLite and Telegram refuse it)
    replaced, so odd input always gets a reply and can be stored."""

    def clean(text: str) -> str:
        return text.encode("utf-8", "replace").decode("utf-8")

    if isinstance(event, Text):
        return Text(clean(event.text))
    if isinstance(event, Command):
        return Command(clean(event.name), clean(event.args))
    if isinstance(event, Media):
        return Media(event.kind, clean(event.caption))
    return event


@dataclass(frozen=True)
class Decided:
    """An update read and decided, its write queued (see Service.decide and finish)."""

    user_id: int
    update_id: int | None
    now: datetime
    event: str  # the input's kind, for the log
    outcome: Outcome
    committed: Future[bool] | None  # the write; True once committed, False: a duplicate


@dataclass(frozen=True)
class DueMessage:
    """A claimed check-in and the message to send for it."""

    user_id: int
    reply: Reply
    claim: ClaimedCheckin


def describe_storage_error(error: sqlite3.Error) -> str:
    """A one-line, operator-friendly reason for a storage error (never any user data)."""
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return "the database is locked by another connection for longer than the busy timeout"
    if "readonly" in text or "read-only" in text:
        return "the database is read-only (file permissions, a read-only mount or query_only)"
    if "full" in text:
        return "the disk (or the database size limit) is full"
    if "disk i/o" in text:
        return "a disk I/O error"
    return str(error)
