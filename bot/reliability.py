"""Talking to Telegram when things go wrong: per-user ordering, retries, quiet failures.

- `PerUserUpdateProcessor`: updates of different users run concurrently, one user's run
  strictly in arrival order (and never alongside a job holding `service.user_lock`).
- `call_with_retries`: RetryAfter waits as told; TimedOut/NetworkError retry with backoff and
  then give up with one log line; Forbidden and BadRequest go straight to the caller.
- `ConfirmAfterHandled`: polling confirms an update to Telegram only after it was handled.
- `best_effort`: for calls whose failure does not matter (answering a button, clearing an
  old keyboard): "query is too old", "message is not modified" and the like stay at DEBUG.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseUpdateProcessor
from telegram.request import BaseRequest, HTTPXRequest

from bot.locks import UserLocks

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CONCURRENT_UPDATES = 64
RETRY_ATTEMPTS = 4
BACKOFF_SECONDS = 0.5  # doubled after each failed attempt: 0.5, 1, 2
MAX_RETRY_AFTER_SECONDS = 60.0  # a longer flood wait is given up on rather than slept through
# Polling waits at most this long for fetched updates to be committed. Normally that takes
# milliseconds; an update queued behind its own user's stalled send must not hold up
# everyone else's updates for longer (the price: that one update could be lost to a crash
# in that moment, as with plain PTB polling).
CONFIRM_WAIT_SECONDS = 2.0


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across users, in order within one user (or one chat without a user)."""

    def __init__(
        self,
        locks: UserLocks,
        tracker: UpdateTracker | None = None,
        max_concurrent_updates: int = MAX_CONCURRENT_UPDATES,
    ):
        super().__init__(max_concurrent_updates)
        self.locks = locks
        self.tracker = tracker

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers while holding its user's lock."""
        try:
            key = update_key(update)
            if key is None:
                await coroutine
                return
            async with self.locks.hold(key):
                await coroutine
        finally:
            if self.tracker is not None and isinstance(update, Update):
                self.tracker.settle(update.update_id)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: locks vanish when idle."""


def update_key(update: object) -> int | None:
    """Whose state an update touches: the user's id, else the chat's id."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


def retry_after_seconds(error: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB settings."""
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


async def call_with_retries(call: Callable[[], Awaitable[T]], what: str) -> T | None:
    """Make one Bot API call, retrying flood waits and network trouble; None if given up."""
    delay = BACKOFF_SECONDS
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            return await call()
        except RetryAfter as error:
            wait = retry_after_seconds(error)
            if wait > MAX_RETRY_AFTER_SECONDS or attempt == RETRY_ATTEMPTS:
                break
            log.warning("%s: Telegram asks to wait %.0fs; retrying", what, wait)
            await asyncio.sleep(wait)
        except (Forbidden, BadRequest):
            raise  # not worth retrying; BadRequest is a NetworkError, so it must come first
        except NetworkError as error:  # includes TimedOut
            if attempt == RETRY_ATTEMPTS:
                break
            log.warning(
                "%s failed (%s); retry %d in %.1fs", what, type(error).__name__, attempt, delay
            )
            await asyncio.sleep(delay)
            delay *= 2
    log.error("%s: gave up after %d attempts; the user can /start to see their step", what,
              RETRY_ATTEMPTS)  # fmt: skip
    return None


async def best_effort(call: Callable[[], Awaitable[T]], what: str) -> T | None:
    """A call whose failure changes nothing for the user: retry, then let it go quietly."""
    try:
        return await call_with_retries(call, what)
    except TelegramError as error:  # "query is too old", "message is not modified", blocked
        log.debug("%s skipped: %s", what, getattr(error, "message", type(error).__name__))
        return None


class UpdateTracker(asyncio.Queue[object]):
    """The Application's update queue, remembering which fetched updates are not committed.

    An update counts as settled once its state change is committed (the handler calls
    `settle` right after the service) or, failing that, when its processing ends.
    """

    def __init__(self) -> None:
        super().__init__()
        self.unsettled: set[int] = set()
        self._settled = asyncio.Event()
        self._settled.set()

    def put_nowait(self, item: Any) -> None:
        """Queue an update (registered before anything can run), or PTB's stop signal."""
        if isinstance(item, Update):
            self.unsettled.add(item.update_id)
            self._settled.clear()
        super().put_nowait(item)

    def settle(self, update_id: int) -> None:
        """The update's effects are committed (or it had none): it may be confirmed."""
        self.unsettled.discard(update_id)
        if not self.unsettled:
            self._settled.set()

    async def wait_settled(self, timeout: float) -> bool:
        """Return True once every queued update is settled, False after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _wait(self) -> None:
        while self.unsettled:
            await self._settled.wait()


class ConfirmAfterHandled(BaseRequest):
    """The getUpdates transport: ask for more only once every fetched update is committed.

    Polling confirms updates by asking for the next offset. PTB asks as soon as the last
    batch is queued, so a crash could lose updates Telegram already forgot. Waiting until
    each fetched update is committed (sending replies may still go on) means a confirmed
    update is always a saved one; a crash at worst causes a redelivery, which the processed
    update ids make harmless.
    """

    def __init__(
        self,
        tracker: UpdateTracker,
        inner: BaseRequest | None = None,
        on_success: Callable[[], None] | None = None,
    ):
        self.tracker = tracker
        self.inner = inner or HTTPXRequest(connection_pool_size=1)
        self.on_success = on_success  # the health check's heartbeat

    @property
    def read_timeout(self) -> float | None:
        """The inner transport's default read timeout."""
        return self.inner.read_timeout

    async def initialize(self) -> None:
        """Open the inner transport."""
        await self.inner.initialize()

    async def shutdown(self) -> None:
        """Close the inner transport."""
        await self.inner.shutdown()

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        """Wait until every fetched update is committed, then poll."""
        if not await self.tracker.wait_settled(CONFIRM_WAIT_SECONDS):
            log.debug("polling on with %d updates still waiting", len(self.tracker.unsettled))
        code, payload = await self.inner.do_request(url, method, *args, **kwargs)
        if code == 200 and self.on_success is not None:
            self.on_success()
        return code, payload
