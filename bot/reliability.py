"""Talking to Telegram when things go wrong: per-user ordering, retries, quiet failures.

- `PerUserUpdateProcessor`: updates of different users run concurrently, one user's run
  strictly in arrival order (and never alongside a job holding `service.user_lock`).
- `call_with_retries`: RetryAfter waits as told; TimedOut/NetworkError retry with backoff and
  then give up with one log line; Forbidden and BadRequest go straight to the caller.
- `ConfirmAfterHandled`: polling confirms an update to Telegram only after it was handled.
- `FloodGuard` (in `UpdateTracker`): one user's burst is cut off before it takes the turns
  other users need; the user is asked kindly to slow down.
- `best_effort`: for calls whose failure does not matter (answering a button, clearing an
  old keyboard): "query is too old", "message is not modified" and the like stay at DEBUG.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from concurrent.futures import Future
from datetime import timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseUpdateProcessor
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.locks import UserLocks

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CONCURRENT_UPDATES = 64
RETRY_ATTEMPTS = 4
BACKOFF_SECONDS = 0.5  # doubled after each failed attempt: 0.5, 1, 2
MAX_RETRY_AFTER_SECONDS = 60.0  # a longer flood wait is given up on rather than slept through
# Polling waits at most this long for fetched updates to be committed (normally that takes
# milliseconds). Past it, it polls on without confirming the slow ones: an update stuck
# behind its own user's slow send or a locked database never holds up anyone else, and is
# never confirmed to Telegram before it is saved.
CONFIRM_WAIT_SECONDS = 0.2
RECENTLY_SETTLED = 10_000  # settled ids remembered, to skip ones Telegram sends again


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
            if self.tracker is not None:
                self.tracker.finished(update)

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


class FloodGuard:
    """Per-user limit, so one user's burst cannot take everyone's turn.

    A user may have at most `max_waiting` updates admitted and not finished; past that, an
    update is dropped (never stored, confirmed to Telegram as handled) and the user gets at
    most one kind "slow down" per `window` seconds (see bot/telegram.py: dropped text is
    still checked for a crisis). Someone tapping and typing one thing at a time never waits
    on more than one or two updates; a script or a stuck client sending hundreds does.
    """

    def __init__(
        self,
        max_waiting: int = 5,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_waiting, self.window, self.clock = max_waiting, window, clock
        self._waiting: dict[Hashable, int] = {}
        self._warned: dict[Hashable, float] = {}

    def admit(self, key: Hashable) -> bool:
        """Whether an update of `key` may go on (counted until `done`)."""
        if self._waiting.get(key, 0) >= self.max_waiting:
            return False
        self._waiting[key] = self._waiting.get(key, 0) + 1
        return True

    def done(self, key: Hashable) -> None:
        """An admitted update of `key` has finished."""
        left = self._waiting.get(key, 0) - 1
        if left > 0:
            self._waiting[key] = left
        else:
            self._waiting.pop(key, None)  # idle: the user is forgotten

    def may_warn(self, key: Hashable) -> bool:
        """True at most once per window for `key` (a user, or a (kind, user) pair)."""
        now = self.clock()
        if now - self._warned.get(key, -self.window) < self.window:
            return False
        self._warned[key] = now
        if len(self._warned) > 10_000:  # bounded: drop warnings older than a window
            self._warned = {k: t for k, t in self._warned.items() if now - t < self.window}
        return True


class UpdateTracker(asyncio.Queue[object]):
    """The Application's update queue, remembering which fetched updates are not committed.

    An update counts as settled once its state change is committed (the handler calls
    `settle` right after the service) or, failing that, when its processing ends.
    """

    def __init__(
        self,
        guard: FloodGuard | None = None,
        on_drop: Callable[[Update], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        super().__init__()
        self.unsettled: set[int] = set()
        self._settled = asyncio.Event()
        self._settled.set()
        self.guard = guard  # per-user flood limits, checked before an update takes a turn
        self.on_drop = on_drop  # told about each dropped update (a kind reply, a crisis check)
        self._dropping: set[asyncio.Task[None]] = set()
        self._outcomes: dict[int, asyncio.Future[bool]] = {}
        self._deferred: set[int] = set()  # settled when their record is written
        self._recent: dict[int, None] = {}  # recently settled ids, oldest first (bounded)

    def put_nowait(self, item: Any) -> None:
        """Queue an update (registered before anything can run), or PTB's stop signal.

        An update past its user's flood limits is dropped here, before it can take one of
        the processor's turns that other users' updates need.
        """
        if isinstance(item, Update):
            if item.update_id in self.unsettled or item.update_id in self._recent:
                return  # sent again because we polled on without confirming it: have it
            key = update_key(item)
            if self.guard is not None and key is not None and not self.guard.admit(key):
                self._remember(item.update_id)  # set aside for good, even if sent again
                log.info("flood guard: set an update aside (its user has updates waiting)")
                if self.on_drop is not None:
                    task = asyncio.get_running_loop().create_task(self.on_drop(item))
                    self._dropping.add(task)
                    task.add_done_callback(self._dropping.discard)
                return
            self.unsettled.add(item.update_id)
            self._settled.clear()
        super().put_nowait(item)

    def _remember(self, update_id: int) -> None:
        """Skip this update if Telegram sends it again (bounded memory)."""
        self._recent[update_id] = None
        if len(self._recent) > RECENTLY_SETTLED:
            del self._recent[next(iter(self._recent))]

    def outcome(self, update_id: int) -> asyncio.Future[bool] | None:
        """A future that says whether the update was committed (True) or not (False), or
        None if it is not waiting (dropped by the flood guard, or already settled)."""
        if update_id not in self.unsettled:
            return None
        future = self._outcomes.get(update_id)
        if future is None:
            future = self._outcomes[update_id] = asyncio.get_running_loop().create_future()
        return future

    def settle_when(self, update_id: int, written: Future[Any]) -> None:
        """Settle the update once `written` (a write on the store's thread) is done."""
        loop = asyncio.get_running_loop()
        self._deferred.add(update_id)

        def done(_: Future[Any]) -> None:
            loop.call_soon_threadsafe(self._settle_deferred, update_id)

        written.add_done_callback(done)

    def _settle_deferred(self, update_id: int) -> None:
        self._deferred.discard(update_id)
        self.settle(update_id)

    def finished(self, update: object) -> None:
        """An update's processing ended: it is settled (unless it waits for a write, see
        settle_when) and no longer counts for its user."""
        if isinstance(update, Update):
            if update.update_id not in self._deferred:
                self.settle(update.update_id)
            key = update_key(update)
            if self.guard is not None and key is not None:
                self.guard.done(key)

    def settle(self, update_id: int, committed: bool = True) -> None:
        """The update's effects are committed (or it had none): it may be confirmed.

        `committed=False`: nothing was saved (storage failed); webhook mode answers 500 so
        that Telegram sends the update again.
        """
        if update_id not in self.unsettled:
            return
        self.unsettled.discard(update_id)
        self._remember(update_id)
        future = self._outcomes.pop(update_id, None)
        if future is not None and not future.done():
            future.set_result(committed)
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


class PlainRequestData:
    """getUpdates' parameters with RequestData's documented attributes only (no files).

    PTB documents how a transport reads a RequestData but not how one is built, so a changed
    request is this stand-in, not a RequestData made from PTB's private parameter class.
    """

    contains_files = False

    def __init__(self, parameters: dict[str, Any]):
        self._parameters = {k: v for k, v in parameters.items() if v is not None}

    @property
    def parameters(self) -> dict[str, Any]:
        """Parameter name to value."""
        return dict(self._parameters)

    @property
    def json_parameters(self) -> dict[str, str]:
        """Parameter name to its JSON-encoded value (strings as they are)."""
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self._parameters.items()}

    @property
    def multipart_data(self) -> dict[str, Any]:
        """No files, so no parts."""
        return {}

    def url_encoded_parameters(self, encode_kwargs: dict[str, Any] | None = None) -> str:
        """The parameters URL-encoded."""
        return urlencode(self.json_parameters, **(encode_kwargs or {}))

    def parametrized_url(self, url: str, encode_kwargs: dict[str, Any] | None = None) -> str:
        """`url` with the parameters as its query string."""
        return f"{url}?{self.url_encoded_parameters(encode_kwargs)}"

    @property
    def json_payload(self) -> bytes:
        """The parameters as a UTF-8 JSON object."""
        return json.dumps(self.json_parameters).encode()


def with_offset(data: RequestData | None, offset: int) -> RequestData | None:
    """getUpdates' request data with `offset` lowered to at most the given one."""
    if data is None:
        return data
    params = dict(data.parameters)
    if "offset" in params and int(str(params["offset"])) <= offset:
        return data
    params["offset"] = offset
    return cast(RequestData, PlainRequestData(params))


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
        """Poll once every fetched update is committed; if one is slow, poll without
        confirming it (the offset stays at the oldest uncommitted update)."""
        if not await self.tracker.wait_settled(CONFIRM_WAIT_SECONDS) and self.tracker.unsettled:
            # One user's update is stuck (its send is slow, or the database is locked for
            # its write): others' updates must not wait for it. Asking from the oldest
            # uncommitted id confirms nothing that is not saved; Telegram sends the stuck
            # ones again and the tracker skips those it already has.
            oldest = min(self.tracker.unsettled)
            log.debug("polling on from update %d, %d still waiting", oldest,
                      len(self.tracker.unsettled))  # fmt: skip
            kwargs["request_data"] = with_offset(kwargs.get("request_data"), oldest)
        code, payload = await self.inner.do_request(url, method, *args, **kwargs)
        if code == 200 and self.on_success is not None:
            self.on_success()
        return code, payload
