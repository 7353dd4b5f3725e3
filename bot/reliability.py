"""Talking to Telegram when things go wrong: per-user ordering, retries, quiet failures.

- `PerUserUpdateProcessor`: updates of different users run concurrently, one user's run
  strictly in arrival order (and never alongside a job holding `service.user_lock`).
- `call_with_retries`: RetryAfter waits as told; TimedOut/NetworkError retry with backoff and
  then give up with one log line; Forbidden and BadRequest go straight to the caller.
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

from bot.locks import UserLocks

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CONCURRENT_UPDATES = 64
RETRY_ATTEMPTS = 4
BACKOFF_SECONDS = 0.5  # doubled after each failed attempt: 0.5, 1, 2
MAX_RETRY_AFTER_SECONDS = 60.0  # a longer flood wait is given up on rather than slept through


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across users, in order within one user (or one chat without a user)."""

    def __init__(self, locks: UserLocks, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES):
        super().__init__(max_concurrent_updates)
        self.locks = locks

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers while holding its user's lock."""
        key = update_key(update)
        if key is None:
            await coroutine
            return
        async with self.locks.hold(key):
            await coroutine

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
