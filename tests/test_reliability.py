"""Issue 6: exactly-once updates, per-user order, Telegram errors and storage faults.

Everything runs through the real PTB Application polling the fake Bot API server, with
faults injected by the server (or, for storage, by the database itself).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import timedelta

import pytest
from telegram import Update
from telegram.request import HTTPXRequest

import bot.reliability as reliability
from bot.config import Settings
from bot.locks import UserLocks
from bot.model import Command
from bot.service import PROCESSED_KEEP, Service, build_engine
from bot.store import Store
from bot.telegram import build_application
from tests.store_helper import user_row
from tests.support.chat import labels, reply_count, say, tap
from tests.support.fake_bot_api import QUERY_TOO_OLD, FakeBotApi

USER = 1001
OTHER = 2002


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    """Network retries back off in milliseconds here, not seconds."""
    monkeypatch.setattr(reliability, "BACKOFF_SECONDS", 0.01)


def error_records(caplog) -> list[logging.LogRecord]:
    """Log records at WARNING or above from the bot or PTB (what an operator would see)."""
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def processed(store: Store, user: int | None = None) -> list[int]:
    """The processed update ids (of one user)."""
    sql = "SELECT update_id FROM processed_updates"
    rows = store.read_db.query(sql + (" WHERE user_id = ?" if user else ""), [user] if user else [])
    return sorted(row["update_id"] for row in rows)


def revision(store: Store, user: int) -> int:
    rows = list(store.read_db.query("SELECT revision FROM sessions WHERE user_id = ?", [user]))
    return rows[0]["revision"] if rows else 0


async def replay(bot, update: dict) -> None:
    """Deliver an update again, as Telegram does after a crash before the offset was confirmed."""
    application = bot.application
    await application.process_update(Update.de_json(update, application.bot))


# --- exactly once -------------------------------------------------------------------------


async def test_a_replayed_press_changes_nothing_and_gets_no_reply(fake_api, start_bot):
    bot = await start_bot()
    await say(fake_api, "/start")
    press = fake_api.press(USER, "Let's begin")
    await reply_count(fake_api, USER, 2)
    state, rev = bot.store.load_session(USER).state, revision(bot.store, USER)
    sent = len(fake_api.calls("sendMessage"))
    await replay(bot, press)
    await replay(bot, press)
    assert len(fake_api.calls("sendMessage")) == sent
    assert bot.store.load_session(USER).state == state and revision(bot.store, USER) == rev
    assert press["update_id"] in processed(bot.store, USER)


async def test_a_replayed_read_only_command_gets_no_second_reply(fake_api, start_bot):
    bot = await start_bot()
    update = fake_api.command(USER, "/help")
    await reply_count(fake_api, USER, 1)
    # Telegram redelivers after a restart, long after the record is written; a redelivery
    # racing the record is test_thin_store's (the service's `_recording`).
    await asyncio.to_thread(bot.store.flush)
    await replay(bot, update)
    await say(fake_api, "/about")  # a later update proves the replay was fully handled
    assert len(fake_api.sent_texts(USER)) == 2


def test_service_records_update_ids_in_the_state_transaction(tmp_path):
    store = Store(tmp_path / "bot.db")
    service = Service(store, build_engine())
    first = service.handle(USER, Command("start"), update_id=10)
    assert first.replies and not first.duplicate
    again = service.handle(USER, Command("start"), update_id=10)
    assert again.duplicate and again.replies == []
    assert revision(store, USER) == 1
    # Without an update id (the terminal chat) nothing is recorded and nothing is skipped.
    assert service.handle(USER, Command("help")).replies
    assert processed(store) == [10]


def test_a_failed_commit_records_no_update_id(tmp_path):
    store = Store(tmp_path / "bot.db")
    service = Service(store, build_engine())
    store.db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON sessions BEGIN SELECT RAISE(FAIL, 'x'); END"
    )
    assert service.handle(USER, Command("start"), update_id=5).failed
    assert processed(store) == []  # so a redelivery is handled for real
    store.db.execute("DROP TRIGGER refuse")
    assert not service.handle(USER, Command("start"), update_id=5).failed
    assert processed(store) == [5]


def test_processed_ids_are_pruned_after_a_week(tmp_path, clock):
    store = Store(tmp_path / "bot.db")
    service = Service(store, build_engine(), clock=clock)
    service.handle(USER, Command("start"), update_id=1)
    clock.advance(days=3)
    service.handle(USER, Command("help"), update_id=2)
    clock.advance(days=5)  # the first is 8 days old, the second 5
    service.handle(USER, Command("help"), update_id=3)
    assert processed(store) == [2, 3]
    assert timedelta(days=7) == PROCESSED_KEEP


def test_erased_users_processed_ids_name_nobody(tmp_path):
    store = Store(tmp_path / "bot.db")
    service = Service(store, build_engine())
    service.handle(USER, Command("start"), update_id=1)
    service.handle(OTHER, Command("start"), update_id=2)
    store.erase_user(USER)
    assert processed(store, USER) == []  # nothing names the erased user
    assert processed(store) == [1, 2]  # but update 1 stays handled: a redelivery is a no-op


# --- per-user order, concurrency across users ---------------------------------------------


async def test_user_locks_keep_order_and_evict_idle_locks():
    locks = UserLocks()
    order: list[str] = []

    async def work(key: int, name: str, pause: float) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            await asyncio.sleep(pause)
            order.append(f"{name}-")

    await asyncio.gather(work(1, "a1", 0.05), work(1, "a2", 0), work(2, "b", 0))
    assert order.index("a1-") < order.index("a2+")  # one user: strictly one after the other
    assert order.index("b-") < order.index("a1-")  # another user: not held up
    assert len(locks) == 0  # nothing kept once idle


async def test_one_slow_user_does_not_hold_up_others_and_keeps_their_order(
    fake_api, start_bot, monkeypatch
):
    # USER's second update waits behind their slow reply; polling waits that long at most.
    monkeypatch.setattr(reliability, "CONFIRM_WAIT_SECONDS", 0.1)
    bot = await start_bot()
    await say(fake_api, "/start", USER)
    fake_api.delay("sendMessage", 0.6, chat_id=USER)
    fake_api.press(USER, "Let's begin")
    await fake_api.wait_for(lambda: len(fake_api.calls("sendMessage", USER)) == 2)  # stuck
    fake_api.text(USER, "hello")  # must be answered after the press, on the new step
    await say(fake_api, "/help", OTHER)  # answered while USER's reply is still on its way
    calls = fake_api.calls("sendMessage", USER)
    assert len(calls) == 2 and calls[-1].status is None  # USER's "hello" waits its turn
    texts = await reply_count(fake_api, USER, 4)  # "hello": an answer, then the step again
    assert "protective order" in texts[1] and "protective order" in texts[3]
    assert bot.store.load_session(USER).state == "walkthrough:safety"
    await fake_api.wait_for(lambda: len(bot.service.locks) == 0)  # idle locks are dropped
    # Polling went on from the stuck update: an offset already delivered was asked again.
    delivered: set[int] = set()
    asked_again = False
    for call in fake_api.calls("getUpdates"):
        if "offset" in call.params and int(call.params["offset"]) in delivered:
            asked_again = True
        delivered |= {u["update_id"] for u in call.result or []}
    assert asked_again


async def test_a_job_holding_the_user_lock_runs_before_the_users_next_update(fake_api, start_bot):
    bot = await start_bot()
    await say(fake_api, "/start")
    events: list[str] = []

    async def job() -> None:  # what the check-in sweep must do around a user's state
        async with bot.service.user_lock(USER):
            events.append("job+")
            await asyncio.sleep(0.3)
            events.append("job-")

    task = asyncio.create_task(job())
    await asyncio.sleep(0.05)
    await tap(fake_api, "Let's begin")
    events.append("update done")
    await task
    assert events == ["job+", "job-", "update done"]


# --- Telegram errors ----------------------------------------------------------------------


async def test_retry_after_waits_and_sends_once(fake_api, start_bot):
    await start_bot()
    fake_api.fail("sendMessage", error_code=429, retry_after=1, chat_id=USER)
    assert "self-help" in await say(fake_api, "/start")
    statuses = [c.status for c in fake_api.calls("sendMessage", USER)]
    assert statuses == [429, 200]
    gap = fake_api.calls("sendMessage", USER)[1].at - fake_api.calls("sendMessage", USER)[0].at
    assert gap >= 0.9


async def test_dropped_connections_are_retried_and_the_reply_arrives_once(fake_api, start_bot):
    await start_bot()
    fake_api.drop_connection("sendMessage", times=2, chat_id=USER)
    assert "self-help" in await say(fake_api, "/start")
    assert [c.status for c in fake_api.calls("sendMessage", USER)] == [0, 0, 200]
    assert len(fake_api.sent_texts(USER)) == 1


async def test_timeouts_are_retried(fake_api, bot_token, tmp_db_path, clock):
    bot = await start_with_timeouts(fake_api, bot_token, tmp_db_path, clock, read_timeout=0.3)
    try:
        fake_api.delay("sendMessage", 1.0, chat_id=USER, apply=False)
        assert "self-help" in await say(fake_api, "/start")
        calls = fake_api.calls("sendMessage", USER)
        assert len(calls) == 2 and calls[1].status == 200  # the first is still hanging
        assert len(fake_api.sent_texts(USER)) == 1
    finally:
        await bot.stop()


async def test_giving_up_is_clean_and_the_state_is_kept(fake_api, start_bot, caplog):
    bot = await start_bot()
    fake_api.drop_connection("sendMessage", times=None, chat_id=USER)
    fake_api.command(USER, "/start")
    await fake_api.wait_for(
        lambda: len(fake_api.calls("sendMessage", USER)) >= reliability.RETRY_ATTEMPTS
    )
    await say(fake_api, "/help", OTHER)  # the bot goes on with everyone else
    assert any("gave up" in r.getMessage() for r in caplog.records)
    assert bot.store.load_session(USER).state == "walkthrough:welcome"
    fake_api.clear_faults()
    assert "Welcome back" in await say(fake_api, "/start")
    assert not any("error while handling" in r.getMessage() for r in caplog.records)


async def test_a_user_who_blocked_the_bot_is_marked_inactive(fake_api, start_bot, caplog):
    bot = await start_bot()
    await say(fake_api, "/start")
    fake_api.fail("sendMessage", error_code=403, chat_id=USER)
    fake_api.press(USER, "Let's begin")
    await fake_api.wait_for(lambda: user_row(bot.store, USER)["active"] == 0)
    assert bot.store.load_session(USER).state == "walkthrough:safety"  # still saved
    assert await say(fake_api, "/start")  # they came back: active again
    # A /start that changes no state records the user as active without holding the reply.
    await fake_api.wait_for(lambda: user_row(bot.store, USER)["active"] == 1)
    assert not any("error while handling" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("method", "description"),
    [
        ("answerCallbackQuery", QUERY_TOO_OLD),
        ("answerCallbackQuery", "Bad Request: query ID is invalid"),
    ],
    ids=["query-too-old", "query-id-invalid"],
)
async def test_harmless_bad_requests_make_no_noise(
    fake_api, start_bot, caplog, method, description
):
    bot = await start_bot()
    await say(fake_api, "/start")
    fake_api.fail(method, error_code=400, description=description)
    assert "protective order" in await tap(fake_api, "Let's begin")
    assert bot.store.load_session(USER).state == "walkthrough:safety"
    assert [c.status for c in fake_api.calls(method)] == [400]
    assert error_records(caplog) == []


# --- storage faults -------------------------------------------------------------------------


async def test_a_locked_database_asks_to_try_again_and_recovers(fake_api, start_bot, caplog):
    bot = await start_bot()
    bot.store.db.execute("PRAGMA busy_timeout = 200")
    await say(fake_api, "/start")
    blocker = sqlite3.connect(bot.store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        reply = await tap(fake_api, "Let's begin")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert "try again in a moment" in reply
    assert any("locked" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    assert bot.store.load_session(USER).state == "walkthrough:welcome"
    assert "Let's begin" in labels_of_tapped(fake_api)  # the buttons stay: just tap again
    assert "protective order" in await tap(fake_api, "Let's begin")


async def test_a_read_only_database_asks_to_try_again_and_recovers(fake_api, start_bot, caplog):
    bot = await start_bot()
    await say(fake_api, "/start")
    bot.store.flush()  # the writer is idle: no group of its own is open on the connection
    bot.store.db.execute("PRAGMA query_only = ON")  # as a read-only file or mount behaves
    assert "try again in a moment" in await tap(fake_api, "Let's begin")
    assert any("read-only" in r.getMessage() for r in caplog.records)
    bot.store.db.execute("PRAGMA query_only = OFF")
    assert "protective order" in await tap(fake_api, "Let's begin")
    assert bot.store.load_session(USER).state == "walkthrough:safety"


@pytest.mark.slow  # 80 users against a database that cannot grow
async def test_a_full_disk_loses_nobody_silently(fake_api, start_bot, caplog):
    bot = await start_bot()
    await say(fake_api, "/start")
    pages = next(iter(bot.store.db.query("PRAGMA page_count")))["page_count"]
    bot.store.db.query(f"PRAGMA max_page_count = {pages}")  # the file cannot grow any more
    users = range(5000, 5080)
    for user in users:
        fake_api.command(user, "/start")
    await fake_api.wait_for(lambda: all(fake_api.sent_texts(u) for u in users), timeout=20)
    failed = [u for u in users if "try again" in fake_api.sent_texts(u)[0]]
    assert failed, "the database never filled up"
    assert any("full" in r.getMessage() for r in caplog.records)
    for user in users:  # every user either got their step and it is saved, or was told
        saved = bot.store.load_session(user) is not None
        assert saved == (user not in failed)
    bot.store.db.query("PRAGMA max_page_count = 1073741823")
    for user in failed:
        assert "self-help" in await say(fake_api, "/start", user)
        assert bot.store.load_session(user) is not None


# --- helpers ------------------------------------------------------------------------------


def labels_of_tapped(api: FakeBotApi) -> list[str]:
    """Labels still on the latest keyboard in the user's chat (the tapped one if kept)."""
    return labels(api, USER)


async def start_with_timeouts(api: FakeBotApi, token, db_path, clock, read_timeout: float):
    """The real Application with a short read timeout for ordinary calls."""
    from tests.support.bots import RunningBot

    bot = RunningBot(api, token, db_path, clock)
    settings = Settings(token=token, api_url=api.base_url, db_path=db_path, log_level="INFO")
    bot.application = build_application(
        settings, bot.service, request=HTTPXRequest(read_timeout=read_timeout)
    )
    return await bot.start()
