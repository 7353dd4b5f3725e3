"""Updates through the real PTB Application, with a realistic mix, fed as polling feeds them.

The default drive (`run`, "polling") is the bot's own polling: PTB's Updater asks for
updates through the bot's `ConfirmAfterHandled` transport, whose inner request (`Feed`)
answers getUpdates with up to 100 updates that are ready; they go through the
Application's real update queue (`UpdateTracker`, the flood guard) and its
`PerUserUpdateProcessor`, so updates of different users are in flight together and one
user's run in order. `concurrency` users have a scenario going at once; a user's next update
is ready once the previous one is handled. Latency is from the moment the batch holding an
update arrives to the moment its processing ends (its last reply sent); throughput is
updates over wall time.

The old drive (`run_sequential`, "sequential") awaits `Application.process_update` for one
update at a time: it cannot show group commit (there is never more than one write waiting).

A scenario is a function `(mix) -> list[Op]`; each Op is a Bot API update. A scenario may
be a generator, so a tap can use the keyboard the previous update produced. Add a flow by
adding a scenario to SCENARIOS with a weight: see docs/performance.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import random
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import AIORateLimiter, Application
from telegram.request import BaseRequest, RequestData

from bench.datagen import CHECKED_IN, FIRST_USER_ID, NOW
from bench.stub import BOT_USER, InProcessRequest, StubRequest
from bot.config import Settings
from bot.reliability import UpdateTracker
from bot.service import Service, build_engine, compile_rules_in_background
from bot.store import Store
from bot.telegram import ALLOWED_UPDATES, build_application

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11x"
WARMUP = 200  # ops before timing starts: first-use costs (regex caches, page cache) excluded
WALKERS = 1000
CONCURRENCY = 32  # users with a scenario going at once in the polling drive
BATCH = 100  # getUpdates returns at most this many updates, as Telegram does
STALL_SECONDS = 30.0
TEXTS = (  # free text at the menu and mid-walk
    "hello",
    "I am not sure what to do now",
    "thanks, that helps",
    "She did not answer yesterday",
    "ok",
    "not great today, cried all morning",
    "she said she wants a divorce today",
    "I texted him 6 times last night and he never answered, I feel so stupid",
    "everyone keeps telling me to go no contact, shouldn't I?",
    "better today, went for a walk with the kids",
    "can you help me with the custody schedule for christmas",
    "hola, no sé qué hacer",
)
CHECKIN_ANSWERS = (  # typed under a check-in instead of tapping a mood
    "not great today, cried all morning",
    "better today, went for a walk with the kids",
    "ok I guess",
    "she texted me back!! we talked for an hour",
    "hard day. he brought the new girlfriend to the school play",
    "I didn't message her, like the plan said",
    "feeling lonely tonight",
)
DRAFTS = (
    "Hi, hope your week is going well. The kids loved the park on Sunday.",
    "Why are you ignoring me?? We need to talk about us tonight!!",
    "Thanks for dropping off the books. Have a good evening.",
    "I have changed, I promise, please just give me one more chance",
)
NOTES = ("Talked about the school run", "Short and kind", "She asked about the car")
COMMANDS = ("plan", "menu", "help", "start")


@dataclass
class Op:
    """One timed thing: an update for `process_update`, or a direct call."""

    kind: str
    update: dict[str, Any] | None = None
    call: Callable[[], Any] | None = None


@dataclass
class Mix:
    """Who is where: stored users, and walkers tapping through the flows."""

    users: int
    rng: random.Random
    stub: StubRequest
    service: Service
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    new_users: itertools.count = field(default_factory=lambda: itertools.count(1))
    walkers: list[int] = field(default_factory=list)
    taps: dict[int, int] = field(default_factory=dict)

    def stored_user(self, finished: bool) -> int:
        """A random stored user who finished the walk-through (or is still in it)."""
        index = self.rng.randrange(self.users)
        index -= index % 10
        index += self.rng.randrange(7) if finished else self.rng.randrange(7, 10)
        return FIRST_USER_ID + min(index, self.users - 1)

    def checked_in_user(self) -> int:
        """A stored user who finished the walk-through and was sent a check-in hours ago."""
        index = self.rng.randrange(max(1, self.users // 10)) * 10 + CHECKED_IN
        return FIRST_USER_ID + min(index, self.users - 1)

    def walker(self) -> int:
        """A user tapping through the flows: someone new, or a stored user mid-way."""
        while len(self.walkers) < WALKERS:
            self.walkers.append(self._fresh_walker())
        slot = self.rng.randrange(WALKERS)
        if self.taps.get(self.walkers[slot], 0) >= 40:  # done for now: someone else starts
            self.walkers[slot] = self._fresh_walker()
        return self.walkers[slot]

    def _fresh_walker(self) -> int:
        if self.rng.random() < 0.5:
            return next(self.new_users)
        return self.stored_user(finished=False)

    def message(self, user_id: int, text: str) -> dict[str, Any]:
        """A private message update; a leading slash makes it a command."""
        message: dict[str, Any] = {
            "message_id": next(self.ids), "date": int(NOW.timestamp()), "text": text,
            "chat": {"id": user_id, "type": "private", "first_name": "User"},
            "from": _user(user_id),
        }  # fmt: skip
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        return {"update_id": next(self.ids), "message": message}

    def callback(self, user_id: int, data: str) -> dict[str, Any]:
        """A tap on a button of the bot's last message."""
        message = {
            "message_id": next(self.ids), "date": int(NOW.timestamp()), "text": "step",
            "chat": {"id": user_id, "type": "private", "first_name": "User"}, "from": BOT_USER,
            "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": data}]]},
        }  # fmt: skip
        query = {
            "id": str(next(self.ids)), "from": _user(user_id), "chat_instance": "1",
            "data": data, "message": message,
        }  # fmt: skip
        return {"update_id": next(self.ids), "callback_query": query}


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "User", "language_code": "en"}


def tap(mix: Mix) -> list[Op]:
    """A walker taps a button on their last keyboard (or says /start if they have none)."""
    user = mix.walker()
    keyboard = mix.stub.keyboards.get(user)
    if not keyboard:
        return [Op("start", mix.message(user, "/start"))]
    mix.taps[user] = mix.taps.get(user, 0) + 1
    return [Op("tap", mix.callback(user, mix.rng.choice(keyboard)))]


def command(mix: Mix) -> list[Op]:
    """A user who finished the walk-through opens their plan, the menu or help."""
    name = mix.rng.choice(COMMANDS)
    return [Op("command", mix.message(mix.stored_user(finished=True), f"/{name}"))]


def typed_at_menu(mix: Mix) -> list[Op]:
    """Someone at the menu types instead of tapping: answered by intent, menu again."""
    user = mix.stored_user(finished=True)
    while (user - FIRST_USER_ID) % 10 == CHECKED_IN:  # their words would answer a check-in
        user = mix.stored_user(finished=True)
    return [Op("text_menu", mix.message(user, mix.rng.choice(TEXTS)))]


def typed_mid_walk(mix: Mix) -> list[Op]:
    """Someone part-way through the walk-through types: an answer if the step asks for one,
    else answered by intent with the step again."""
    user = mix.stored_user(finished=False)
    return [Op("text_walk", mix.message(user, mix.rng.choice(TEXTS)))]


def checkin_answer(mix: Mix) -> list[Op]:
    """A check-in answered in words, hours after it was sent."""
    user = mix.checked_in_user()
    return [Op("checkin_answer", mix.message(user, mix.rng.choice(CHECKIN_ANSWERS)))]


def draft(mix: Mix) -> Iterator[Op]:
    """A draft check through the real flow: /draft, then the draft typed in."""
    user = mix.stored_user(finished=True)
    yield Op("draft_open", mix.message(user, "/draft"))
    yield Op("draft", mix.message(user, mix.rng.choice(DRAFTS)))


def log_contact(mix: Mix) -> Iterator[Op]:
    """A contact logged in three taps (who, what kind, how it went), then a note or Skip.

    A generator: each tap is built after the previous update was handled, from the keyboard
    the bot just sent.
    """
    user = mix.stored_user(finished=True)
    yield Op("log", mix.message(user, "/log"))
    # Who started it: "I did" or "They did" (the third button logs past contacts instead).
    yield Op("log", mix.callback(user, mix.rng.choice(mix.stub.keyboards[user][:2])))
    for _ in range(2):
        yield Op("log", mix.callback(user, mix.rng.choice(mix.stub.keyboards[user])))
    if mix.rng.random() < 0.3:
        yield Op("log", mix.message(user, mix.rng.choice(NOTES)))
    else:  # the note step's only button is Skip
        (skip,) = mix.stub.keyboards[user]
        yield Op("log", mix.callback(user, skip))


def urge(mix: Mix) -> Iterator[Op]:
    """The urge pause: /urge, then a few taps on whatever the bot offers next."""
    user = mix.stored_user(finished=True)
    yield Op("urge", mix.message(user, "/urge"))
    for _ in range(3):
        yield Op("urge", mix.callback(user, mix.rng.choice(mix.stub.keyboards[user])))


# name -> (weight, scenario): the weight is per scenario, and a scenario may be several updates
# (about 1.7 on average). Of the updates, about a quarter are walk-through taps and a sixth
# carry typed words: free text at the menu (6%), mid-walk (3%), check-in answers (3%) and the
# drafts typed after /draft (5%); docs/performance.md has the measured shares.
SCENARIOS: dict[str, tuple[float, Callable[[Mix], Iterable[Op]]]] = {
    "tap": (0.42, tap),
    "command": (0.12, command),
    "text_menu": (0.10, typed_at_menu),
    "text_walk": (0.05, typed_mid_walk),
    "checkin_answer": (0.05, checkin_answer),
    "draft": (0.08, draft),
    "log": (0.09, log_contact),
    "urge": (0.09, urge),
}


def build(
    db_path: Path, feed: BaseRequest | None = None
) -> tuple[Application, StubRequest, Service]:
    """The real application on `db_path`, answering the Bot API in process (getUpdates from
    `feed`, if given)."""
    store = Store(db_path)
    service = Service(store, build_engine(), clock=lambda: NOW)
    settings = Settings(token=TOKEN, api_url=None, db_path=db_path, log_level="WARNING")
    stub = StubRequest()
    # Telegram's own limits are measured by the sweep; here the limiter must not throttle.
    limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
    application = build_application(
        settings, service, request=stub, get_updates_request=feed, rate_limiter=limiter
    )
    return application, stub, service


class Feed(InProcessRequest):
    """getUpdates as Telegram answers a busy bot: up to BATCH updates that are ready, or a
    wait (long polling) until one is. Records when each update arrived."""

    def __init__(self) -> None:
        self.ready: deque[tuple[int, bytes]] = deque()  # (update id, its JSON)
        self.arrived: dict[int, float] = {}
        self.batches: list[int] = []  # size of every non-empty batch
        self.closed = False
        self._wake = asyncio.Event()

    def push(self, update: dict[str, Any]) -> None:
        self.ready.append((update["update_id"], json.dumps(update).encode()))
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """A batch of ready updates (none once closed)."""
        while not self.ready and not self.closed:
            self._wake.clear()
            await self._wake.wait()
        batch = [self.ready.popleft() for _ in range(min(BATCH, len(self.ready)))]
        arrived = time.perf_counter()
        for update_id, _ in batch:
            self.arrived[update_id] = arrived
        if batch:
            self.batches.append(len(batch))
        return 200, b'{"ok":true,"result":[' + b",".join(raw for _, raw in batch) + b"]}"


@dataclass
class Stream:
    """One user's scenario going on: its remaining updates and the kind of the current one."""

    ops: Iterator[Op]
    kind: str = ""


class Drive:
    """Keeps `concurrency` scenarios going; a scenario's next update is pushed to the feed
    once the previous one is handled."""

    def __init__(
        self,
        mix: Mix,
        feed: Feed,
        concurrency: int,
        total: int,
        on_warm: Callable[[], None] | None = None,
    ) -> None:
        self.mix, self.feed, self.total = mix, feed, total
        self.on_warm = on_warm  # called once, when the warm-up ends (the profiler's reset)
        self.names = list(SCENARIOS)
        self.weights = [SCENARIOS[name][0] for name in self.names]
        self.owner: dict[int, Stream] = {}  # update id in flight -> its stream
        self.pushed = 0
        self.finished: list[tuple[str, float, float]] = []  # (kind, arrived, finished)
        self.done = asyncio.Event()
        self.cpu = [0.0, 0.0]  # process CPU time when warm-up ended, and at the end
        for _ in range(concurrency):
            self._start()

    def _start(self) -> None:
        if self.pushed < self.total:
            scenario = SCENARIOS[self.mix.rng.choices(self.names, self.weights)[0]][1]
            self._advance(Stream(iter(scenario(self.mix))))

    def _advance(self, stream: Stream) -> None:
        if self.pushed >= self.total:
            return
        try:
            op = next(stream.ops, None)
        except (KeyError, ValueError, IndexError):
            op = None  # another stream of the same user changed their keyboard: stop here
        if op is None or op.update is None:
            self._start()
            return
        stream.kind = op.kind
        self.owner[op.update["update_id"]] = stream
        self.pushed += 1
        self.feed.push(op.update)

    def on_finished(self, update: object) -> None:
        """PTB finished an update (its last reply is sent): time it, push the stream's next."""
        if not isinstance(update, Update):
            return
        stream = self.owner.pop(update.update_id, None)
        if stream is None:
            return
        arrived = self.feed.arrived.pop(update.update_id)
        self.finished.append((stream.kind, arrived, time.perf_counter()))
        if len(self.finished) == WARMUP:
            if self.on_warm is not None:
                self.on_warm()
            self.cpu[0] = time.process_time()
        self._advance(stream)
        if not self.owner and self.pushed >= self.total:
            self.cpu[1] = time.process_time()
            self.done.set()


async def run(
    db_path: Path,
    users: int,
    updates: int,
    seed: int = 1,
    concurrency: int = CONCURRENCY,
    on_warm: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Feed `updates` updates of the mix as polling does, `concurrency` users at a time, on
    `users` stored users; return rates, latencies, batch and commit-group sizes. `on_warm` is
    called when the warm-up ends."""
    feed = Feed()
    application, stub, service = build(db_path, feed)
    tracker = application.update_queue
    assert isinstance(tracker, UpdateTracker)
    await application.initialize()
    gc.collect()
    gc.freeze()  # as the bot does after start-up (bot/__main__.py)
    compile_rules_in_background(service.engine)  # as the bot's on_startup does, once it is up
    mix = Mix(users=users, rng=random.Random(seed), stub=stub, service=service)
    drive = Drive(mix, feed, concurrency, updates + WARMUP, on_warm)
    finished = tracker.finished

    def on_finished(update: object) -> None:
        finished(update)
        drive.on_finished(update)

    tracker.finished = on_finished  # type: ignore[method-assign]
    writer = service.store.writer
    try:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0.0, timeout=10, allowed_updates=ALLOWED_UPDATES
        )
        while not drive.done.is_set():  # a stall (an update never finished) must not hang
            seen = len(drive.finished)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drive.done.wait(), STALL_SECONDS)
            if not drive.done.is_set() and len(drive.finished) == seen:
                raise RuntimeError(f"the drive stalled: {len(drive.owner)} updates never finished")
        commits, jobs, in_commit = writer.commits, writer.committed_jobs, writer.commit_seconds
    finally:
        feed.close()
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        service.store.close()
    gc.collect()
    timed = sorted(drive.finished, key=lambda item: item[2])[WARMUP:]
    latencies: dict[str, list[float]] = {}
    for kind, arrived, ended in timed:
        latencies.setdefault(kind, []).append(ended - arrived)
    wall = timed[-1][2] - min(arrived for _, arrived, _ in timed) if timed else 0.0
    batches = feed.batches
    cpu = drive.cpu[1] - drive.cpu[0]
    return summarise(latencies, wall) | {
        "drive": "polling",
        "concurrency": concurrency,
        # CPU time of the process (every thread) per update: less noisy than wall time on a
        # shared machine; 1 / this is the rate one core could reach with nothing waiting.
        "cpu_ms_per_update": cpu * 1000 / len(timed) if timed else 0.0,
        "batch_mean": statistics.fmean(batches) if batches else 0.0,
        "batch_max": max(batches, default=0),
        "commit_groups": commits,
        "jobs_per_commit": jobs / commits if commits else 0.0,
        "commit_ms_mean": in_commit * 1000 / commits if commits else 0.0,
        "api_calls": dict(sorted(stub.calls.items())),
    }


async def run_sequential(db_path: Path, users: int, updates: int, seed: int = 1) -> dict[str, Any]:
    """Handle `updates` ops of the mix on `users` stored users one at a time through
    `process_update`; return rates and latencies (the drive before issue 14)."""
    application, stub, service = build(db_path)
    await application.initialize()
    gc.collect()
    gc.freeze()  # as the bot does after start-up (bot/__main__.py)
    compile_rules_in_background(service.engine)  # as the bot's on_startup does, once it is up
    mix = Mix(users=users, rng=random.Random(seed), stub=stub, service=service)
    names = list(SCENARIOS)
    weights = [SCENARIOS[name][0] for name in names]
    latencies: dict[str, list[float]] = {}
    done, total = 0, 0.0
    try:
        while done < updates + WARMUP:
            scenario = SCENARIOS[mix.rng.choices(names, weights)[0]][1]
            for op in scenario(mix):
                update = Update.de_json(op.update, application.bot) if op.update else None
                started = time.perf_counter()
                if update is not None:
                    await application.process_update(update)
                else:
                    op.call()
                elapsed = time.perf_counter() - started
                done += 1
                if done > WARMUP:
                    total += elapsed
                    latencies.setdefault(op.kind, []).append(elapsed)
                if done >= updates + WARMUP:
                    break
    finally:
        await application.shutdown()
        service.store.close()
    gc.collect()
    return summarise(latencies, total) | {
        "drive": "sequential",
        "api_calls": dict(sorted(stub.calls.items())),
    }


def summarise(latencies: dict[str, list[float]], total: float) -> dict[str, Any]:
    """Updates per second and p50/p99 in ms, overall and per kind."""
    every = [x for values in latencies.values() for x in values]
    return {
        "updates": len(every),
        "seconds": total,
        "updates_per_s": len(every) / total if total else 0.0,
        "p50_ms": percentile(every, 50),
        "p99_ms": percentile(every, 99),
        "kinds": {
            kind: {"n": len(v), "p50_ms": percentile(v, 50), "p99_ms": percentile(v, 99)}
            for kind, v in sorted(latencies.items())
        },
    }


def percentile(values: list[float], pct: float) -> float:
    """The pct-th percentile in milliseconds (0 for no values)."""
    if len(values) < 2:
        return values[0] * 1000 if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1] * 1000


def run_sync(
    db_path: Path,
    users: int,
    updates: int,
    seed: int = 1,
    drive: str = "polling",
    concurrency: int = CONCURRENCY,
    on_warm: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """`run` (or `run_sequential`) from synchronous code."""
    if drive == "sequential":
        return asyncio.run(run_sequential(db_path, users, updates, seed))
    return asyncio.run(run(db_path, users, updates, seed, concurrency, on_warm))
