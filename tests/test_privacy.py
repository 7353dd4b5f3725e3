"""Privacy and data rights end to end: /privacy /export /delete /country /stats, logs, groups."""

import io
import json
import logging
import sys
from datetime import timedelta

from bot.config import configure_logging
from bot.model import AddContact, RecordDraftCheck, SaveCheckins, Session
from bot.policy.contacts import Contact
from tests.support.chat import labels, reply_count, say, seed_at_menu, tap, walk_to_hub

USER, OTHER, ADMIN = 1001, 2002, 3003
ALARM, CHECK, CHATTER = "i wanna kil myself", "This is killing me", "my zebra-ostrich secret 4711"


def rows_about(store, user_id: int) -> dict[str, int]:
    """Count rows mentioning `user_id` in every table sqlite_master lists."""
    counts = {}
    tables = [
        r["name"] for r in store.read_db.query("SELECT name FROM sqlite_master WHERE type='table'")
    ]
    for table in tables:
        columns = store.read_db[table].columns_dict
        where = [f"[{c}] = ?" for c in ("user_id", "id") if c in columns]
        if table == "_sqlite_migrations" or not where:
            continue
        if table != "users":
            where = [w for w in where if "user_id" in w] or where
        sql = f"SELECT count(*) AS n FROM [{table}] WHERE {' OR '.join(where)}"
        counts[table] = next(iter(store.read_db.query(sql, [user_id] * len(where))))["n"]
    return counts


def seed_rows(store, user_id: int, now) -> None:
    """Give a user a row in every table the bot writes: contact, check-ins, claim, draft verdict."""
    contact = Contact(at=now - timedelta(days=1), initiator="me", kind="text", outcome="warm")
    effects = [
        AddContact(contact, note="note of user"),
        SaveCheckins({"checkin_time": "19:00"}, now + timedelta(hours=3), "checkin"),
        RecordDraftCheck("pressure"),
    ]
    store.commit(user_id, store.load_session(user_id) or Session(), effects, now)
    (claim,) = store.claim_due_checkins(now + timedelta(hours=3), 10)  # a pending sweep claim
    assert claim.user_id == user_id


async def test_privacy_says_what_is_stored_and_the_rights(fake_api, start_bot):
    await start_bot()
    await say(fake_api, "/start")
    count = len(fake_api.sent_texts(USER))
    fake_api.command(USER, "/privacy")
    texts = (await reply_count(fake_api, USER, count + 3))[-3:]
    joined = "\n".join(texts)
    phrases = ("answers", "plan", "contacts", "note", "verdict", "never the draft")
    phrases += ("until you delete", "runs the bot", "/export", "/delete", "/country")
    for phrase in phrases:
        assert phrase in joined, phrase
    assert "self-help" in texts[-1]  # then the current step again
    assert labels(fake_api) == ["Let's begin"]


async def test_export_sends_every_row_of_the_user_and_nothing_of_others(fake_api, at_menu, clock):
    bot = await at_menu(users=(USER, OTHER))
    assert "Ireland (IE)" in await say(fake_api, "/country Ireland")
    seed_rows(bot.store, USER, clock.now)
    seed_rows(bot.store, OTHER, clock.now)
    caption = await say(fake_api, "/export")
    assert "everything I hold" in caption
    (call,) = fake_api.calls("sendDocument")
    assert call.params["document"].filename == "reconnect-data.json"
    document = json.loads(call.params["document"].data)
    tables = document["tables"]
    assert set(tables) == set(bot.store.user_tables())
    assert all(tables[name] for name in tables), "every table holds a row about the user"
    assert tables["users"][0]["id"] == USER
    assert tables["sessions"][0]["answers"]["country"] == "IE"
    assert tables["sessions"][0]["plan"]["level"] >= 1
    assert tables["contacts"][0]["note"] == "note of user"
    assert tables["draft_checks"][0]["verdict"] == "pressure"
    for name, rows in tables.items():
        for row in rows:
            assert row.get("user_id", row.get("id")) == USER, (name, row)
    assert str(OTHER) not in json.dumps(document)


async def test_delete_asks_first_then_erases_every_row_and_only_the_users(fake_api, at_menu, clock):
    bot = await at_menu(users=(USER, OTHER))
    seed_rows(bot.store, USER, clock.now)
    seed_rows(bot.store, OTHER, clock.now)
    others = rows_about(bot.store, OTHER)
    assert "Erase everything" in await say(fake_api, "/delete")
    assert "nothing was erased" in await tap(fake_api, "No, keep my data")
    assert all(rows_about(bot.store, USER).values())
    await say(fake_api, "/delete")
    assert "/start" in await say(fake_api, "/help")  # any other input drops the question
    count = len(fake_api.sent_texts(USER))
    fake_api.callback(USER, "x.delete_yes")  # the old question's button: no longer valid
    assert "passed" in (await reply_count(fake_api, USER, count + 1))[-1]
    assert all(rows_about(bot.store, USER).values())
    await say(fake_api, "/delete")
    done = await tap(fake_api, "Yes, erase everything")
    assert "erased" in done and "no more reminders" in done
    left = rows_about(bot.store, USER)
    assert set(left) >= {"users", "sessions", "contacts", "checkins", "draft_checks"}
    assert not any(left.values()), left
    assert rows_about(bot.store, OTHER) == others
    assert bot.store.db["checkins"].get(OTHER)["due_at"] is not None
    assert "self-help" in await say(fake_api, "/start")  # afresh


async def test_stats_for_admins_only(fake_api, at_menu, clock):
    bot = await at_menu()
    bot.service.admin_ids = frozenset({ADMIN})
    await say(fake_api, "/start", user=OTHER)
    bot.write("UPDATE users SET active = 0 WHERE id = ?", [OTHER])
    bot.write("INSERT INTO counters (name, value) VALUES ('checkins_sent', 5)")
    refused = await say(fake_api, "/stats")
    assert "don't know that command" in refused
    await say(fake_api, "/start", user=ADMIN)
    stats = await say(fake_api, "/stats", user=ADMIN)
    assert "Users: 3" in stats and "Active this week: 3" in stats
    assert "Walk-throughs completed: 1" in stats and "Check-ins sent: 5" in stats
    assert "Blocked the bot: 1" in stats
    assert "stats" not in dict(fake_api.commands("all_private_chats"))
    assert "/stats" not in await say(fake_api, "/help")


async def test_country_is_set_shown_cleared_and_rejected(fake_api, start_bot):
    bot = await start_bot()
    await say(fake_api, "/start")
    assert "Telegram language" in await say(fake_api, "/country")
    assert "the United Kingdom (GB)" in await say(fake_api, "/country UK")
    assert bot.store.load_session(USER).answers["country"] == "GB"
    assert "Right now I use: the United Kingdom (GB)" in await say(fake_api, "/country")
    assert "don't recognise" in await say(fake_api, "/country Atlantis")
    assert "Germany (DE)" in await say(fake_api, "/country de")
    assert "removed" in await say(fake_api, "/country clear")
    assert "country" not in bot.store.load_session(USER).answers


async def test_crisis_mid_walkthrough_and_in_the_hub_stores_nothing(
    fake_api, start_bot, tmp_db_path
):
    bot = await start_bot()
    await say(fake_api, "/start")
    await tap(fake_api, "Let's begin")
    before = bot.store.load_session(USER)
    alarm = await say(fake_api, ALARM)
    assert "pausing our coaching" in alarm
    assert "I'm safe, continue later" in labels(fake_api)
    assert "/start" in await tap(fake_api, "I'm safe, continue later")
    check = await say(fake_api, CHECK)
    assert "Are you safe right now?" in check
    assert "protective order" in await tap(fake_api, "I'm okay, carry on")
    assert bot.store.load_session(USER) == before
    seed_at_menu(bot.service)  # on from the step it was at, in-process
    hub = bot.store.load_session(USER)
    assert "pausing our coaching" in await say(fake_api, ALARM)
    assert bot.store.load_session(USER) == hub
    bot.checkpoint()
    stored = b"".join(p.read_bytes() for p in tmp_db_path.parent.glob("bot.db*"))
    for text in (ALARM, CHECK, "kil myself", "killing me"):
        assert text.encode() not in stored


async def test_concern_screen_end_to_end(fake_api, start_bot):
    bot = await start_bot()
    await say(fake_api, "/start")
    await tap(fake_api, "Let's begin")
    count = len(fake_api.sent_texts(USER))
    fake_api.press(USER, "Something here applies")
    text = (await reply_count(fake_api, USER, count + 1))[-1]
    assert "court order" in text and "local emergency number" in text
    assert "safety comes first" in (await say(fake_api, "/plan")).lower()
    assert not list(bot.store.db["checkins"].rows_where("user_id = ?", [USER]))  # none set
    assert "safety comes first" in (await tap(fake_api, "Continue")).lower()
    assert bot.store.load_session(USER).state == "hub:safety_menu"


async def test_groups_and_channels_store_nothing(fake_api, start_bot):
    bot = await start_bot()
    fake_api.group_text(-500, USER, ALARM)
    fake_api.group_text(-500, USER, CHATTER)
    fake_api.channel_post(-600, CHATTER)
    fake_api.command(USER, "/delete", chat_id=-500, chat_type="group")
    await fake_api.wait_for(lambda: fake_api.sent_texts(-500))
    await say(fake_api, "/help", user=OTHER)  # a later private update: the others are done
    assert fake_api.sent_texts(-500) == [bot.service.engine.messages["group_only"]]
    assert not fake_api.sent_texts(-600)
    assert not any(rows_about(bot.store, USER).values())
    assert not any(rows_about(bot.store, -500).values())


async def test_a_whole_session_at_debug_logs_no_text_and_no_token(
    fake_api, start_bot, bot_token, monkeypatch
):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("DEBUG", bot_token)
    try:
        bot = await start_bot()
        await say(fake_api, "/start")
        await tap(fake_api, "Let's begin")
        await say(fake_api, CHATTER, replies=2)
        await say(fake_api, ALARM)
        await say(fake_api, CHECK)
        await say(fake_api, "/country Ireland")
        await walk_to_hub(fake_api, {})
        await say(fake_api, "/export")
        await say(fake_api, "/delete")
        await tap(fake_api, "Yes, erase everything")
        await bot.stop()
    finally:
        logging.getLogger().handlers.clear()
        logging.getLogger().setLevel(logging.WARNING)
    log = stream.getvalue()
    assert "DEBUG" in log and len(log.splitlines()) > 5  # it did log, verbosely
    assert bot_token not in log and bot_token.split(":")[1] not in log
    for text in (CHATTER, ALARM, CHECK, "Ireland", "zebra", "4711"):
        assert text not in log, text
    assert "reconnect-data" not in log and '"answers"' not in log
