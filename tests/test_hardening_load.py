"""Issue 11 item 6: a locked database and one user's burst never freeze everyone else."""

import asyncio
import sqlite3
import time
from typing import cast

import pytest
from telegram.request import RequestData

from bot.reliability import FloodGuard
from tests.test_e2e_walkthrough import say

OTHER = 2002
FLOODER = 3003


class Ticks:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_flood_guard_limits_waiting_updates_per_user_and_warns_once_per_window():
    ticks = Ticks()
    guard = FloodGuard(max_waiting=2, window=10, clock=ticks)
    assert guard.admit(1) and guard.admit(1)
    assert not guard.admit(1)  # two waiting already
    assert guard.admit(2)  # another user is not affected
    guard.done(1)
    assert guard.admit(1) and not guard.admit(1)
    guard.done(1), guard.done(1)
    assert guard.admit(1)  # a user who waits for each reply is never held back
    assert guard.may_warn(1) and not guard.may_warn(1)
    ticks.now = 10.5
    assert guard.may_warn(1)


async def help_latency(fake_api, user: int) -> float:
    started = time.perf_counter()
    await say(fake_api, "/help", user=user)
    return time.perf_counter() - started


@pytest.mark.slow  # 300 updates through the real Application
async def test_one_users_burst_does_not_slow_another_user(fake_api, start_bot):
    await start_bot()
    await say(fake_api, "/start", user=OTHER)
    await say(fake_api, "/start", user=FLOODER)
    for index in range(300):
        fake_api.text(FLOODER, f"burst {index}")
    latencies = []
    for _ in range(5):
        latencies.append(await help_latency(fake_api, OTHER))
    # Before the fix the other user waited 12.5 s. The figure itself (p99 under 250 ms) is
    # measured by `python -m bench.isolation`, not by a timed test; this guards against a
    # freeze with room for a busy CI machine.
    assert max(latencies) < 3.0, latencies
    await asyncio.sleep(0.5)
    slow = [t for t in fake_api.sent_texts(FLOODER) if "one at a time" in t]
    assert len(slow) == 1  # asked kindly, once
    assert len(fake_api.sent_texts(FLOODER)) < 100  # most of the burst was set aside


async def test_a_crisis_message_inside_a_burst_still_gets_the_crisis_reply(fake_api, start_bot):
    await start_bot()
    crisis = await say(fake_api, "I want to kill myself", user=4242)
    await say(fake_api, "/start", user=FLOODER)
    for index in range(100):
        fake_api.text(FLOODER, f"burst {index}")
    fake_api.text(FLOODER, "I want to kill myself")
    await fake_api.wait_for(lambda: crisis in fake_api.sent_texts(FLOODER), timeout=10)


@pytest.mark.slow  # seconds of a held lock through the real Application
async def test_a_locked_database_does_not_freeze_other_users(fake_api, start_bot):
    bot = await start_bot()
    await say(fake_api, "/start", user=OTHER)
    await say(fake_api, "/start", user=FLOODER)
    blocker = sqlite3.connect(bot.store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    before = len(fake_api.sent_texts(FLOODER))
    try:
        # This user's write waits for the lock (a button press changes their step).
        stuck = fake_api.press(FLOODER, "Let's begin")["update_id"]
        await asyncio.sleep(0.1)
        latencies = [await help_latency(fake_api, OTHER) for _ in range(3)]
        latencies.append(await help_latency(fake_api, 5005))  # someone new
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # Frozen, they would wait out the 5 s busy timeout; the figure (p99 under 1 s) is measured
    # by `python -m bench.isolation`, not by a timed test.
    assert max(latencies) < 3.0, latencies
    # The stuck update was never confirmed unsaved, is saved once the lock goes, and
    # handled once although polling went on past it (Telegram sent it again).
    await fake_api.wait_for(lambda: len(fake_api.sent_texts(FLOODER)) > before)
    await asyncio.sleep(0.5)
    assert len(fake_api.sent_texts(FLOODER)) == before + 1
    assert bot.store.is_processed(stuck)
    assert bot.store.load_session(FLOODER).state == "walkthrough:safety"


def test_a_slow_update_is_not_confirmed_and_its_redelivery_is_skipped():
    from bot.reliability import PlainRequestData, UpdateTracker, with_offset

    data = cast(RequestData, PlainRequestData({"offset": 50, "timeout": 10}))
    lowered = with_offset(data, 42)
    assert lowered is not None and lowered.parameters == {"offset": 42, "timeout": 10}
    assert lowered.json_parameters == {"offset": "42", "timeout": "10"}
    assert not lowered.contains_files and lowered.multipart_data == {}
    assert with_offset(data, 60) is data  # never raised: nothing unsaved is confirmed

    async def run():
        from telegram import Update

        tracker = UpdateTracker()
        first = Update.de_json({"update_id": 42}, None)
        tracker.put_nowait(first)
        tracker.put_nowait(Update.de_json({"update_id": 42}, None))  # sent again
        assert tracker.qsize() == 1
        tracker.settle(42)
        tracker.put_nowait(Update.de_json({"update_id": 42}, None))  # again, after settling
        assert tracker.qsize() == 1

    asyncio.run(run())
