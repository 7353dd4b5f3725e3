"""A stock python-telegram-bot bot, measured the way `bench/updates.py` measures Reconnect.

What a PTB tutorial builds: a `ConversationHandler` (persistent, one state per step, a
`CallbackQueryHandler` in each) with `PicklePersistence`, using PTB's typed methods. A tap
answers the callback, keeps the choice in `context.user_data` and sends the next step's text
with an inline keyboard, as a Reconnect tap does. It runs in two modes:

- `durable`: PicklePersistence as it comes (`on_flush=False`, `single_file=True`,
  `update_interval=60`): every `Application.update_persistence` run, which PTB makes every
  `update_interval` seconds, rewrites the whole pickle once for each changed user's data and
  once for each changed conversation. The timed work is the taps plus that run, which is
  what makes them stored (a crash before it loses them: the pickle is not written per update).
- `memory`: `on_flush=True`: the pickle is written only at shutdown; everything lives in
  memory. The timed work is the taps plus one `update_persistence` run (PTB deep-copies the
  changed data into the persistence on every run).

Fair to stock PTB: the same request stub (`bench/stub.py`), no rate limiter (Reconnect's is
set to not throttle), keyboards built once, no callback-data patterns, `gc.freeze()` after
loading (as Reconnect's benchmark and bot do), and the persistence pre-populated with every
user's conversation state, user data (answers, plan, check-in settings, some contacts, as
Reconnect stores) and chat data, as a bot that has run for a while has.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import pickle
import random
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    PicklePersistence,
)
from telegram.request import BaseRequest
from telegram.warnings import PTBUserWarning

from bench.datagen import CHECKIN_SETTINGS, FIRST_USER_ID, NOW, iso, walk_templates
from bench.stub import BOT_USER, StubRequest
from bench.updates import TOKEN, Feed, percentile
from bot.service import build_engine

VERSION = 1  # of the generated pickle
CONVERSATION = "walk"
WARMUP = 200  # taps before timing starts, as bench/updates.py


def steps() -> list[tuple[str, list[str]]]:
    """The walk: Reconnect's own steps with buttons (text, labels), so messages are alike."""
    engine = build_engine()
    return [
        (step.text, [button.label for button in step.buttons])
        for step in engine.flows.steps.values()
        if step.buttons
    ]


def keyboards(walk: list[tuple[str, list[str]]]) -> list[InlineKeyboardMarkup]:
    """Each step's keyboard, built once; a button's data is "<step>:<index>"."""
    return [
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=f"{state}:{index}")]
             for index, label in enumerate(labels)]
        )
        for state, (_, labels) in enumerate(walk)
    ]  # fmt: skip


def pickle_path(workdir: Path, users: int) -> Path:
    """Where the generated persistence with `users` users is cached."""
    return workdir / f"stock-{users}-v{VERSION}.pickle"


def generate(path: Path, users: int, states: int) -> dict[str, Any]:
    """PicklePersistence's single file with `users` users part-way through the walk.

    User data like Reconnect's rows: the answers and plan of a session seen on the real
    flows, check-in settings, and two contacts for one user in five.
    """
    started = time.perf_counter()
    templates = walk_templates(build_engine())
    checkins = json.loads(CHECKIN_SETTINGS)
    user_data: dict[int, dict[str, Any]] = {}
    conversations: dict[tuple[int, ...], object] = {}
    for index in range(users):
        user_id = FIRST_USER_ID + index
        template = templates[index % len(templates)]
        data: dict[str, Any] = {
            "answers": json.loads(template.answers),
            "plan": json.loads(template.plan) if template.plan else None,
            "joined": iso(NOW),
            "checkins": dict(checkins),
        }
        if index % 5 == 0:
            data["contacts"] = [
                {"at": iso(NOW), "initiator": "me", "kind": "text", "outcome": "warm"}
                for _ in range(2)
            ]
        user_data[user_id] = data
        conversations[(user_id, user_id)] = index % states
    payload = {
        "conversations": {CONVERSATION: conversations},
        "user_data": user_data,
        "chat_data": {FIRST_USER_ID + index: {} for index in range(users)},
        "bot_data": {},
        "callback_data": None,
    }
    with path.open("wb") as file:
        pickle.dump(payload, file, protocol=pickle.HIGHEST_PROTOCOL)
    return {"users": users, "seconds": time.perf_counter() - started, "bytes": path.stat().st_size}


def conversation(walk: list[tuple[str, list[str]]]) -> ConversationHandler[Any]:
    """The walk as a persistent ConversationHandler: one state per step."""
    markups = keyboards(walk)
    texts = [text for text, _ in walk]

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, texts[0], reply_markup=markups[0])
        return 0

    async def tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        assert query is not None and query.data is not None
        await query.answer()
        step, _, choice = query.data.partition(":")
        state = int(step)
        assert context.user_data is not None
        context.user_data.setdefault("answers", {})[f"q{state}"] = int(choice)
        following = (state + 1) % len(texts)
        await context.bot.send_message(
            query.from_user.id, texts[following], reply_markup=markups[following]
        )
        return following

    with warnings.catch_warnings():  # per_message=False with callback handlers is intended
        warnings.simplefilter("ignore", PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={state: [CallbackQueryHandler(tap)] for state in range(len(walk))},
            fallbacks=[CommandHandler("start", start)],
            name=CONVERSATION,
            persistent=True,
        )


def build(
    path: Path,
    on_flush: bool,
    walk: list[tuple[str, list[str]]],
    stub: StubRequest | None = None,
    feed: BaseRequest | None = None,
) -> tuple[Application[Any, Any, Any, Any, Any, Any], StubRequest]:
    """The stock application: ConversationHandler + PicklePersistence, answering in process
    (getUpdates from `feed`, if given)."""
    stub = stub or StubRequest()
    builder = ApplicationBuilder().token(TOKEN).request(stub)
    if feed is not None:
        builder = builder.get_updates_request(feed)
    application = builder.persistence(PicklePersistence(path, on_flush=on_flush)).build()
    application.add_handler(conversation(walk))
    return application, stub


def callback(update_id: int, user_id: int, data: str) -> dict[str, Any]:
    """A tap on the bot's last message (the same shape as bench/updates.py's)."""
    message = {
        "message_id": update_id, "date": int(NOW.timestamp()), "text": "step",
        "chat": {"id": user_id, "type": "private", "first_name": "User"}, "from": BOT_USER,
        "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": data}]]},
    }  # fmt: skip
    query = {
        "id": str(update_id),
        "from": {"id": user_id, "is_bot": False, "first_name": "User", "language_code": "en"},
        "chat_instance": "1", "data": data, "message": message,
    }  # fmt: skip
    return {"update_id": update_id, "callback_query": query}


async def run(
    path: Path, users: int, updates: int, on_flush: bool, seed: int = 1
) -> dict[str, Any]:
    """Tap through the walk as random stored users; taps/s, latencies, persistence time.

    `path` is a working copy of the generated pickle (PTB writes it back at shutdown).
    """
    walk = steps()
    states = len(walk)
    began = time.perf_counter()
    application, stub = build(path, on_flush, walk)
    await application.initialize()  # loads the pickle
    ready_s = time.perf_counter() - began
    gc.collect()
    gc.freeze()
    rng = random.Random(seed)
    state = {FIRST_USER_ID + i: i % states for i in range(users)}  # as generated
    labels = [len(labels) for _, labels in walk]
    # No warm-up in the durable mode: each tap there costs two rewrites of the whole pickle,
    # which first-use costs (a few ms) do not change.
    warmup = WARMUP if on_flush else 0
    latencies: list[float] = []
    total = 0.0
    try:
        for number in range(updates + warmup):
            user = FIRST_USER_ID + rng.randrange(users)
            step = state[user]
            data = f"{step}:{rng.randrange(labels[step])}"
            update = Update.de_json(callback(number + 1, user, data), application.bot)
            started = time.perf_counter()
            await application.process_update(update)
            elapsed = time.perf_counter() - started
            state[user] = (step + 1) % states
            if number >= warmup:
                total += elapsed
                latencies.append(elapsed)
            elif number == warmup - 1:
                await application.update_persistence()  # the warm-up's changes, not timed
        started = time.perf_counter()
        await application.update_persistence()  # what PTB runs every update_interval
        persist_s = time.perf_counter() - started
        gc.collect()
        rss_mb = psutil.Process().memory_info().rss / 2**20  # every user is held in memory
    finally:
        await application.shutdown()  # flushes the pickle (not timed)
    seconds = total + persist_s
    return {
        "mode": "memory" if on_flush else "durable",
        "updates": len(latencies),
        "seconds": seconds,
        "updates_per_s": len(latencies) / seconds if seconds else 0.0,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "handling_s": total,
        "update_persistence_s": persist_s,
        "ready_s": ready_s,
        "rss_mb": rss_mb,
        "api_calls": dict(sorted(stub.calls.items())),
    }


class WatchedStub(StubRequest):
    """The request stub, telling `on_sent` which chat a sendMessage went to (a tap's end)."""

    def __init__(self, on_sent: Callable[[int], None]) -> None:
        super().__init__()
        self.on_sent = on_sent

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        answer = await super().do_request(url, method, *args, **kwargs)
        data = kwargs.get("request_data") or (args[0] if args else None)
        if url.endswith("/sendMessage") and data is not None:
            self.on_sent(int(data.parameters["chat_id"]))
        return answer


async def run_polling(
    path: Path, users: int, updates: int, on_flush: bool, seed: int = 1,
    concurrency: int = 16,
) -> dict[str, Any]:  # fmt: skip
    """As `run`, but fed through polling like Reconnect's polling drive: PTB's Updater fetches
    batches from `Feed`, `concurrency` users have a tap in flight, and a user's tap counts as
    done when its next step is sent. Stock PTB handles its queue one update at a time (its
    default, and what a ConversationHandler expects). Latency runs from the batch's arrival."""
    walk = steps()
    states, labels = len(walk), [len(labels) for _, labels in walk]
    rng = random.Random(seed)
    state = {FIRST_USER_ID + i: i % states for i in range(users)}
    warmup = WARMUP if on_flush else 0
    feed, ids = Feed(), itertools.count(1)
    in_flight: dict[int, int] = {}  # user -> the update id of their tap
    finished: list[tuple[float, float]] = []  # (arrived, sent) of every finished tap
    pushed, done, cpu = 0, asyncio.Event(), [0.0, 0.0]

    def push() -> None:
        nonlocal pushed
        if pushed >= updates + warmup:
            return
        user = FIRST_USER_ID + rng.randrange(users)
        while user in in_flight:
            user = FIRST_USER_ID + rng.randrange(users)
        step, number = state[user], next(ids)
        in_flight[user] = number
        pushed += 1
        feed.push(callback(number, user, f"{step}:{rng.randrange(labels[step])}"))

    def on_sent(user: int) -> None:
        number = in_flight.pop(user, None)
        if number is None:
            return
        state[user] = (state[user] + 1) % states
        finished.append((feed.arrived.pop(number), time.perf_counter()))
        if len(finished) == warmup:
            cpu[0] = time.process_time()
        if len(finished) == updates + warmup:
            cpu[1] = time.process_time()
            done.set()
        push()

    began = time.perf_counter()
    application, stub = build(path, on_flush, walk, WatchedStub(on_sent), feed)
    await application.initialize()
    ready_s = time.perf_counter() - began
    gc.collect()
    gc.freeze()
    try:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=10)
        for _ in range(concurrency):
            push()
        await asyncio.wait_for(done.wait(), 600)
        feed.close()  # the long poll ends, so the updater can stop
        await application.updater.stop()
        started, cpu_started = time.perf_counter(), time.process_time()
        await application.update_persistence()
        persist_s = time.perf_counter() - started
        cpu_s = cpu[1] - cpu[0] + time.process_time() - cpu_started
        gc.collect()
        rss_mb = psutil.Process().memory_info().rss / 2**20
    finally:
        feed.close()
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
    timed = finished[warmup:]
    latencies = [sent - arrived for arrived, sent in timed]
    wall = max(sent for _, sent in timed) - min(arrived for arrived, _ in timed) + persist_s
    return {
        "mode": "memory" if on_flush else "durable",
        "drive": "polling",
        "concurrency": concurrency,
        "updates": len(timed),
        "seconds": wall,
        "updates_per_s": len(timed) / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "update_persistence_s": persist_s,
        "cpu_ms_per_update": cpu_s * 1000 / len(timed) if timed else 0.0,
        "ready_s": ready_s,
        "rss_mb": rss_mb,
        "api_calls": dict(sorted(stub.calls.items())),
    }


def run_sync(
    path: Path, users: int, updates: int, on_flush: bool, seed: int = 1, drive: str = "sequential"
) -> dict[str, Any]:
    """`run` (or `run_polling`, for drive "polling") from synchronous code."""
    if drive == "polling":
        return asyncio.run(run_polling(path, users, updates, on_flush, seed))
    return asyncio.run(run(path, users, updates, on_flush, seed))
