"""The nudge sweep: claim the due nudges in one statement, then deliver them under a 429 limit.

Issue 3 adds the store's own claim method; until it is merged the benchmark uses CLAIM_SQL
below (one UPDATE ... RETURNING in one transaction, on the nudges table's due_at index).
Once `Store.claim_due_nudges(now, limit=...)` exists, the benchmark times that instead.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.datagen import NOW, iso
from bench.updates import TOKEN
from bot.config import Settings
from bot.service import Service, build_engine
from bot.store import Store
from bot.telegram import build_application

CLAIM_SQL = """
UPDATE nudges SET claimed_at = :now
WHERE user_id IN (
    SELECT user_id FROM nudges
    WHERE due_at <= :now AND claimed_at IS NULL
    ORDER BY due_at
    LIMIT :limit
)
RETURNING user_id, due_kind
"""
SWEEP_TEXT = "benchmark check-in"  # not user-facing: the fake server only counts it


def claim(store: Store, limit: int) -> tuple[list[int], str]:
    """Claim up to `limit` due nudges; return the user ids and which code claimed them."""
    if hasattr(store, "claim_due_nudges"):
        service = Service(store, build_engine(), clock=lambda: NOW)
        return [message.user_id for message in service.claim_due_nudges(limit)], "store"
    with store.db.atomic():
        rows = store.db.execute(CLAIM_SQL, {"now": iso(NOW), "limit": limit}).fetchall()
    return [row[0] for row in rows], "bench CLAIM_SQL"


def query_plan(store: Store) -> list[str]:
    """SQLite's plan for the claim's inner query: it must search the due_at index."""
    sql = "EXPLAIN QUERY PLAN " + CLAIM_SQL.split("IN (", 1)[1].rsplit(")", 1)[0]
    rows = store.db.execute(sql, {"now": iso(NOW), "limit": 1}).fetchall()
    return [row[-1] for row in rows]


async def deliver(user_ids: list[int]) -> dict[str, Any]:
    """Send one message to each user through the real application's AIORateLimiter."""
    from tests.fake_bot_api import FakeBotApi

    with FakeBotApi() as api:
        api.rate_limit(30, retry_after=1)
        settings = Settings(
            token=TOKEN, api_url=api.base_url, db_path=Path(":memory:"), log_level="WARNING"
        )
        store = Store(":memory:")
        application = build_application(settings, Service(store, build_engine()))
        await application.initialize()
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(application.bot.send_message(user_id, SWEEP_TEXT) for user_id in user_ids),
            return_exceptions=True,
        )
        elapsed = time.perf_counter() - started
        await application.shutdown()
        store.close()
        received = Counter({user_id: len(api.sent_messages(user_id)) for user_id in user_ids})
        stats = api.rate_stats()
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    delivered = sum(received.values())
    return {
        "messages": len(user_ids),
        "delivered": delivered,
        "seconds": elapsed,
        "per_s": delivered / elapsed if elapsed else 0.0,
        "retries": stats["rejected"],
        "lost": sum(1 for user_id in user_ids if received[user_id] == 0),
        "doubled": sum(max(0, n - 1) for n in received.values()),
        "errors": sorted({type(error).__name__ for error in failed}),
    }


async def sweep(db_path: Path, due: int, messages: int) -> dict[str, Any]:
    """Claim `due` nudges among the stored users and deliver `messages` of them."""
    store = Store(db_path)
    try:
        started = time.perf_counter()
        user_ids, claimed_by = claim(store, due)
        claim_ms = (time.perf_counter() - started) * 1000
        plan = query_plan(store)
        again, _ = claim(store, due)  # nothing is claimed twice
    finally:
        store.close()
    delivery = await deliver(user_ids[:messages])
    return {
        "claimed": len(user_ids),
        "claim_ms": claim_ms,
        "claimed_by": claimed_by,
        "claimed_again": len(again),
        "query_plan": plan,
        "delivery": delivery,
    }


def sweep_sync(db_path: Path, due: int, messages: int) -> dict[str, Any]:
    """`sweep` from synchronous code."""
    return asyncio.run(sweep(db_path, due, messages))
