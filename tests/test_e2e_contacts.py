"""End to end: logging contacts, progress, and check-ins sent by the sweep job, on real PTB."""

import logging
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from tests.store_helper import checkin_row, counter, user_row
from tests.support.bots import RunningBot
from tests.support.chat import USER, labels, say, tap
from tests.support.fake_bot_api import FakeBotApi, png_size

CHECKIN_BUTTONS = {
    *("Doing okay", "So-so", "Having a hard time"),  # the one-tap mood
    *("Log a contact", "Open the menu", "Change check-ins", "Stop check-ins"),
}


async def sweep(bot) -> None:
    """Run the repeating check-in job once, now, as the job queue would."""
    from bot.telegram import CHECKIN_JOB

    (job,) = bot.application.job_queue.get_jobs_by_name(CHECKIN_JOB)
    await job.run(bot.application)


def checkins_sent(api: FakeBotApi, user: int = USER) -> list[dict]:
    """Messages to the user that carry the check-in buttons."""
    return [
        call.params
        for call in api.calls("sendMessage", chat_id=user)
        if call.status == 200 and "c.stopcheckins" in str(call.params.get("reply_markup"))
    ]


async def log_contact(api: FakeBotApi, who="I did", kind="A message", how="Warm", note=None):
    """Log one contact by buttons from anywhere; return the bot's answer."""
    await say(api, "/log")
    await tap(api, who)
    await tap(api, kind)
    await tap(api, how)
    return await (say(api, note) if note else tap(api, "Skip"))


async def set_up_berlin_evening(api: FakeBotApi, at_menu) -> RunningBot:
    """Start at the menu with daily check-ins at 19:00 chosen, then set Berlin's time zone."""
    bot = await at_menu({"often": "Yes, every day", "hour": "Evening, 19:00"})
    checked = await say(api, "/timezone")
    assert "UTC" in checked
    answer = await say(api, "Berlin")
    assert "Europe/Berlin" in answer and "13:00" in answer  # 12:00 UTC is 13:00 in Berlin
    saved = await tap(api, "Go on")
    assert "every day at 19:00, Europe/Berlin" in saved
    return bot


async def test_logging_a_contact_by_buttons_stores_it_and_says_how_it_fits(fake_api, at_menu):
    bot = await at_menu({"response": "Polite but brief"})
    answer = await log_contact(fake_api, who="They did", how="Warm")
    assert "They reached out" in answer and "doesn't count" in answer
    assert {"Log another", "See my plan", "Back to menu"} <= set(labels(fake_api))
    rows = list(bot.store.read_db.query("SELECT initiator, kind, outcome, note FROM contacts"))
    assert rows == [{"initiator": "them", "kind": "message", "outcome": "warm", "note": None}]
    assert "log_initiator" not in bot.store.load_session(USER).answers


async def test_a_second_contact_too_soon_gets_a_gentle_checkin_and_the_note_is_kept(
    fake_api, at_menu, clock
):
    bot = await at_menu()
    first = await log_contact(fake_api, note="Asked about the school trip")
    assert "first" in first and "relax" not in first
    clock.advance(hours=2)
    second = await log_contact(fake_api, kind="A call", how="Cold")
    assert "second" in second
    assert "relax" in second or "room" in second or "breathe" in second  # the why, gently
    for harsh in ("failed", "should not", "shouldn't", "bad", "wrong"):
        assert harsh not in second.lower()
    notes = [r["note"] for r in bot.store.read_db.query("SELECT note FROM contacts ORDER BY id")]
    assert notes == ["Asked about the school trip", None]


async def test_check_in_arrives_at_the_chosen_local_hour_and_once(fake_api, at_menu, clock):
    bot = await set_up_berlin_evening(fake_api, at_menu)
    assert checkin_row(bot.store, USER)["due_at"] == "2026-11-26T18:00:00+00:00"
    clock.advance(hours=5, minutes=59)  # 17:59 UTC, 18:59 in Berlin
    await sweep(bot)
    assert checkins_sent(fake_api) == []
    clock.advance(minutes=1, seconds=30)
    await sweep(bot)
    await sweep(bot)
    (checkin,) = checkins_sent(fake_api)
    assert "?" in checkin["text"]
    assert set(labels(fake_api)) == CHECKIN_BUTTONS
    assert checkin_row(bot.store, USER)["due_at"] == "2026-11-27T18:00:00+00:00"  # tomorrow
    assert counter(bot.store, "checkins_sent") == 1


async def test_a_due_check_in_is_not_sent_in_quiet_hours(fake_api, at_menu, clock):
    bot = await set_up_berlin_evening(fake_api, at_menu)
    # The bot was down at 19:00 and comes back at 22:30 Berlin time, inside quiet hours.
    clock.advance(hours=9, minutes=30)
    await sweep(bot)
    assert checkins_sent(fake_api) == []
    assert checkin_row(bot.store, USER)["due_at"] == "2026-11-27T18:00:00+00:00"
    clock.now = datetime.fromisoformat("2026-11-27T18:00:05+00:00")
    await sweep(bot)
    assert len(checkins_sent(fake_api)) == 1


async def test_checkin_buttons_lead_into_logging_and_can_stop_check_ins(fake_api, at_menu, clock):
    bot = await set_up_berlin_evening(fake_api, at_menu)
    clock.advance(hours=6)
    await sweep(bot)
    reply = await tap(fake_api, "Log a contact")
    assert "Who reached out first" in reply
    clock.advance(days=1)
    await sweep(bot)
    stopped = await tap(fake_api, "Stop check-ins")
    assert "Check-ins are off" in stopped
    assert checkin_row(bot.store, USER)["due_at"] is None
    clock.advance(days=3)
    await sweep(bot)
    assert len(checkins_sent(fake_api)) == 2


async def test_a_user_who_blocked_the_bot_gets_no_more_checkins(fake_api, at_menu, clock):
    bot = await set_up_berlin_evening(fake_api, at_menu)
    fake_api.fail("sendMessage", error_code=403, chat_id=USER, times=None)
    clock.advance(hours=6)
    await sweep(bot)
    assert user_row(bot.store, USER)["active"] == 0
    assert checkin_row(bot.store, USER)["due_at"] is None
    attempts = len(fake_api.calls("sendMessage", chat_id=USER))
    fake_api.clear_faults()
    for _ in range(3):
        clock.advance(days=1)
        await sweep(bot)
    assert len(fake_api.calls("sendMessage", chat_id=USER)) == attempts


async def test_a_restart_between_scheduling_and_sending_delivers_exactly_once(
    fake_api, at_menu, start_bot, clock
):
    first = await set_up_berlin_evening(fake_api, at_menu)
    await first.stop()
    clock.advance(hours=6)
    second = await start_bot()
    await sweep(second)
    await second.stop()
    third = await start_bot()
    await sweep(third)
    assert len(checkins_sent(fake_api)) == 1


async def test_a_network_error_puts_the_checkin_back_and_it_is_sent_later(fake_api, at_menu, clock):
    bot = await set_up_berlin_evening(fake_api, at_menu)
    fake_api.drop_connection("sendMessage", chat_id=USER)
    clock.advance(hours=6)
    await sweep(bot)
    assert checkins_sent(fake_api) == []
    assert checkin_row(bot.store, USER)["due_at"] == (clock.now + timedelta(minutes=1)).isoformat()
    assert counter(bot.store, "checkins_sent") == 0
    await sweep(bot)
    assert checkins_sent(fake_api) == []  # not before the retry time
    clock.advance(minutes=1)
    await sweep(bot)
    assert len(checkins_sent(fake_api)) == 1


async def test_flood_control_that_outlasts_the_retries_puts_the_checkin_back(
    fake_api, at_menu, clock
):
    from telegram.error import RetryAfter

    from bot.telegram import checkin_sweep

    class FloodedBot:
        async def do_api_request(self, *args, **kwargs):
            raise RetryAfter(30)

    bot = await set_up_berlin_evening(fake_api, at_menu)
    clock.advance(hours=6)
    await checkin_sweep(SimpleNamespace(bot=FloodedBot(), bot_data=bot.application.bot_data))
    row = checkin_row(bot.store, USER)
    assert row["due_at"] == (clock.now + timedelta(seconds=30)).isoformat()
    assert row["due_kind"] == "checkin" and row["last_sent_at"] is None
    assert counter(bot.store, "checkins_sent") == 0
    await sweep(bot)
    assert checkins_sent(fake_api) == []  # not yet: Telegram asked us to wait
    clock.advance(seconds=30)
    await sweep(bot)
    assert len(checkins_sent(fake_api)) == 1


async def test_progress_sends_a_png_chart_with_a_two_line_summary(fake_api, at_menu, clock):
    await at_menu()
    await log_contact(fake_api)
    clock.advance(days=3)
    await log_contact(fake_api, who="They did", how="Neutral")
    before = len(fake_api.sent_texts(USER))
    fake_api.command(USER, "/progress")
    await fake_api.wait_for(lambda: len(fake_api.sent_texts(USER)) >= before + 2)
    (upload,) = fake_api.calls("sendPhoto", chat_id=USER)
    photo = upload.params["photo"]
    assert photo.filename == "progress.png"
    width, height = png_size(photo.data)
    assert 600 <= width <= 1600 and 300 <= height <= 1200
    caption = upload.params["caption"]
    assert len(caption.splitlines()) == 2 and "1 started by you, 1 by them" in caption


@pytest.mark.parametrize("command", ["/log", "/progress"])
async def test_new_commands_wait_for_the_plan(fake_api, start_bot, command):
    await start_bot()
    await say(fake_api, "/start")
    assert "end of the walk-through" in await say(fake_api, command)


# --- /contacts: changing a logged contact's kind or day ---------------------------------------


def every_callback(api: FakeBotApi, user: int = USER) -> list[str]:
    """The callback data of every button the bot sent to the user."""
    from tests.support.fake_bot_api import keyboard_rows

    return [
        data
        for message in api.sent_messages(user)
        for row in keyboard_rows(message.get("reply_markup"))
        for _, data in row
        if data
    ]


async def progress_texts(api: FakeBotApi) -> str:
    """/progress: the chart's caption and the note under it, as one text."""
    before = len(api.sent_texts(USER))
    api.command(USER, "/progress")
    await api.wait_for(lambda: len(api.sent_texts(USER)) >= before + 2)
    return "\n".join(api.sent_texts(USER)[before:])


async def test_a_logged_contact_s_kind_and_day_change_and_the_plan_counts_it_so(
    fake_api, at_menu, clock
):
    bot = await at_menu()
    await log_contact(fake_api)
    clock.advance(hours=2)
    await log_contact(fake_api)  # two hours later: more than the plan suggests
    clock.advance(minutes=5)
    before = await progress_texts(fake_api)
    assert "2 started by you, 0 by them" in before
    assert "Days within your plan in the last weeks: 0 of 1." in before

    assert "Tap one to change" in await say(fake_api, "/contacts")
    assert "Thu 26 Nov, 14:00: you, a message, warm" in labels(fake_api)
    opened = await tap(fake_api, "Thu 26 Nov, 14:00: you, a message, warm")
    assert "You can also change its kind or its day" in opened
    assert "Who started it?" in await tap(fake_api, "Change the kind")
    await tap(fake_api, "They did")
    changed = await tap(fake_api, "A call")
    assert changed.startswith("Thank you") and "14:00: them, a call, warm" in changed
    after_kind = await progress_texts(fake_api)
    assert "1 started by you, 1 by them" in after_kind
    assert "Days within your plan in the last weeks: 1 of 1." in after_kind

    await say(fake_api, "/contacts")
    await tap(fake_api, "Thu 26 Nov, 12:00: you, a message, warm")
    assert "Which day was it?" in await tap(fake_api, "Change the day")
    assert labels(fake_api)[:3] == ["Today (as now)", "Yesterday", "Tuesday, 2 days ago"]
    moved = await tap(fake_api, "Friday, 6 days ago")
    assert moved.startswith("Thank you") and "Fri 20 Nov, 12:00: you, a message, warm" in moved
    after_day = await progress_texts(fake_api)
    assert "Days within your plan in the last weeks: 7 of 7." in after_day

    rows = list(bot.store.read_db.query("SELECT at, initiator, kind FROM contacts ORDER BY at"))
    assert rows == [
        {"at": "2026-11-20T12:00:00+00:00", "initiator": "me", "kind": "message"},
        {"at": "2026-11-26T14:00:00+00:00", "initiator": "them", "kind": "call"},
    ]
    sent = every_callback(fake_api)
    assert any(data.endswith("-kind-them-call") for data in sent)
    assert max(len(data.encode()) for data in sent) <= 64


async def test_a_button_for_a_removed_contact_gets_a_kind_reply(fake_api, at_menu):
    bot = await at_menu()
    await log_contact(fake_api)
    await say(fake_api, "/contacts")
    await tap(fake_api, "Thu 26 Nov, 12:00: you, a message, warm")
    old = dict(fake_api.last_keyboard(USER)[0] + fake_api.last_keyboard(USER)[5])
    assert "Removed" in await tap(fake_api, "Remove it")
    before = len(fake_api.sent_texts(USER))
    fake_api.callback(USER, old["Change the day"])
    (answer,) = await fake_api.wait_for(lambda: fake_api.sent_texts(USER)[before:])
    assert answer.startswith("I can't find that contact as it was")
    assert "Nothing was changed" in answer and "haven't logged any contacts" in answer
    assert list(bot.store.read_db.query("SELECT id FROM contacts")) == []


async def test_words_typed_after_contacts_are_neither_kept_nor_logged(fake_api, at_menu, caplog):
    from bot.config import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("DEBUG")
    root.addHandler(caplog.handler)
    try:
        bot = await at_menu()
        await log_contact(fake_api)
        answer = await say(fake_api, "/contacts Zanzibar flamingo call on Sunday")
        assert answer.startswith("I can't find that contact") and "Tap one" in answer
        stored = "\n".join(
            repr(row) for table in bot.store.db.table_names() for row in bot.store.db[table].rows
        )
        assert caplog.records  # the log was really captured, so its silence means something
        for word in ("Zanzibar", "flamingo"):
            assert word not in stored and word not in caplog.text
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name in ("httpx", "httpcore", "apscheduler", "telegram", "telegram.ext"):
            logging.getLogger(name).setLevel(logging.NOTSET)
