"""How long another user waits while one user floods the bot, and while the database is locked.

    python -m bench.isolation

Runs the real Application against the fake Bot API (tests/fake_bot_api.py) on a temporary
database and prints the p50/p99/max reply time of /help from other users (a) while one user
sends 300 updates at once and (b) while another connection holds the database's write lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.bots import Clock, RunningBot  # noqa: E402
from tests.support.fake_bot_api import FakeBotApi  # noqa: E402

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11x"
FLOODER, BURST, SAMPLES = 3003, 300, 60


async def reply_time(api: FakeBotApi, user: int, text: str = "/help") -> float:
    before = len(api.sent_texts(user))
    started = time.perf_counter()
    api.command(user, text)
    await api.wait_for(lambda: len(api.sent_texts(user)) > before, timeout=30)
    return time.perf_counter() - started


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return (f"{name}: n={len(ms)} p50={statistics.median(ms):.0f} ms p99={p99:.0f} ms "
            f"max={ms[-1]:.0f} ms")  # fmt: skip


async def measure() -> None:
    with FakeBotApi() as api, tempfile.TemporaryDirectory() as folder:
        bot = await RunningBot(api, TOKEN, Path(folder) / "bot.db", Clock()).start()
        try:
            others = list(range(5001, 5001 + SAMPLES))
            for user in [FLOODER, *others]:
                await reply_time(api, user, "/start")
            for index in range(BURST):
                api.text(FLOODER, f"burst {index}")
            burst = [await reply_time(api, user) for user in others]
            print(summary(f"another user's /help during a {BURST}-update burst", burst))
            await asyncio.sleep(1)
            blocker = sqlite3.connect(bot.store.path, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
            try:
                api.text(FLOODER, "typed while locked")
                locked = [await reply_time(api, user) for user in others[:20]]
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            print(summary("another user's /help while the database is locked", locked))
        finally:
            await bot.stop()


if __name__ == "__main__":
    asyncio.run(measure())
