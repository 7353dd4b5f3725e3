"""The check-in sweep through the bot's real code: claiming among many users, then delivering.

- Claim: `Service.claim_due_checkins` (one `INSERT ... SELECT` on the `checkins(due_at)` index into
  `checkin_claims`, see bot/store.py) for `due` due check-ins among all stored users; then
  `Service.take_checkin` on a sample of the claims, the per-checkin work done just before sending.
- Delivery: a fresh database with `messages` due check-ins, swept by the real `checkin_sweep` job
  (claim, take, `deliver_checkin`) with the bot's default rate limiter, against the fake Bot API
  server answering 429 (`retry_after` 1) above 30 messages a second; then swept again, which
  must send nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from telegram.ext import CallbackContext

from bench.datagen import NOW, generate, iso
from bench.updates import TOKEN
from bot.config import Settings
from bot.service import Service, build_engine
from bot.store import CLAIM_DUE_SQL, Store
from bot.telegram import build_application, checkin_sweep

TAKE_SAMPLE = 1000  # claims taken (decided, marked sent) to time the per-check-in part


def query_plan(store: Store) -> list[str]:
    """SQLite's plan for the store's claim statement: it must search the due_at index."""
    sql = "EXPLAIN QUERY PLAN " + CLAIM_DUE_SQL
    rows = store.db.execute(sql, {"now": iso(NOW), "limit": 1}).fetchall()
    return [row[-1] for row in rows]


def claim(db_path: Path, due: int) -> dict[str, Any]:
    """Time the real claim of `due` check-ins, then taking a sample of them."""
    store = Store(db_path)
    service = Service(store, build_engine(), clock=lambda: NOW)
    try:
        started = time.perf_counter()
        claims = service.claim_due_checkins(due)
        claim_ms = (time.perf_counter() - started) * 1000
        again = store.claim_due_checkins(NOW, due)  # a second sweeper finds nothing new
        sample = claims[:TAKE_SAMPLE]
        started = time.perf_counter()
        taken = [service.take_checkin(c) for c in sample]
        take_s = time.perf_counter() - started
        plan = query_plan(store)
    finally:
        store.close()
    return {
        "claimed": len(claims),
        "claim_ms": claim_ms,
        "claimed_again": len(again),
        "taken": len(sample),
        "take_ms_each": take_s * 1000 / len(sample) if sample else 0.0,
        "taken_to_send": sum(message is not None for message in taken),
        "query_plan": plan,
    }


def accepted_sends(api: Any) -> Counter[int]:
    """How many messages the fake server accepted per chat (429s are not deliveries)."""
    return Counter(int(call.chat_id) for call in api.calls("sendMessage") if call.status == 200)


async def deliver(work: Path, messages: int) -> dict[str, Any]:
    """Sweep `messages` due check-ins through the real job, application and rate limiter."""
    from tests.support.fake_bot_api import FakeBotApi

    db_path = work / "sweep-delivery.db"
    generate(db_path, messages * 2, build_engine(), due=messages)  # 6 in 10 may be due: enough
    store = Store(db_path)
    due_users = [r["user_id"] for r in store.db.query(
        "SELECT user_id FROM checkins WHERE due_at <= ?", [iso(NOW)])]  # fmt: skip
    try:
        with FakeBotApi() as api:
            api.rate_limit(30, retry_after=1)
            settings = Settings(
                token=TOKEN, api_url=api.base_url, db_path=db_path, log_level="WARNING"
            )
            application = build_application(settings, Service(store, build_engine(), lambda: NOW))
            await application.initialize()  # the default rate limiter, as in production
            context = CallbackContext(application)
            started = time.perf_counter()
            await checkin_sweep(context)
            elapsed = time.perf_counter() - started
            first = accepted_sends(api)
            await checkin_sweep(context)  # everything was sent: nothing may go twice
            await application.shutdown()
            received = accepted_sends(api)
            stats = api.rate_stats()
    finally:
        store.close()
        for path in work.glob("sweep-delivery.db*"):
            path.unlink()
    delivered = sum(first.values())
    return {
        "messages": len(due_users),
        "delivered": delivered,
        "seconds": elapsed,
        "per_s": delivered / elapsed if elapsed else 0.0,
        "retries": stats["rejected"],
        "lost": sum(1 for user in due_users if received[user] == 0),
        "doubled": sum(max(0, n - 1) for n in received.values()),
        "sent_by_second_sweep": sum(received.values()) - delivered,
    }


async def sweep(db_path: Path, due: int, messages: int) -> dict[str, Any]:
    """Claim `due` check-ins among the stored users, then deliver `messages` through the job."""
    result = claim(db_path, due)
    result["delivery"] = await deliver(db_path.parent, messages)
    return result


def sweep_sync(db_path: Path, due: int, messages: int) -> dict[str, Any]:
    """`sweep` from synchronous code."""
    return asyncio.run(sweep(db_path, due, messages))
