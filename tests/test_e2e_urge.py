"""End to end: the urge pause and the draft check on the real PTB Application and database."""

import logging
from datetime import datetime

from bot.config import configure_logging
from bot.policy.checkins import CheckinSettings, is_quiet
from tests.support.chat import USER, labels, say, tap

CHOICES = {
    "feelings": "I'm not sure",
    "living": "My spouse moved out",
    "response": "Polite but brief",
}
# Words of a pressuring draft that must never reach the database or the log.
DRAFT = "Zanzibar flamingo, please come home, you promised forever and the kids need you"
SECRET_WORDS = ("Zanzibar", "flamingo", "promised", "forever")


async def tap_for_two(api, label: str) -> list[str]:
    """Tap a button whose step sends a note first, then its own text; return both."""
    before = len(api.sent_texts(USER))
    api.press(USER, label)
    await api.wait_for(lambda: len(api.sent_texts(USER)) >= before + 2)
    return api.sent_texts(USER)[before:]


async def say_for_two(api, text: str) -> str:
    """Type a text whose answer is a note and then a step; return both, joined."""
    before = len(api.sent_texts(USER))
    api.text(USER, text)
    await api.wait_for(lambda: len(api.sent_texts(USER)) >= before + 2)
    return "\n".join(api.sent_texts(USER)[before:])


def dump(store) -> str:
    """Every row of every table, as one text."""
    return "\n".join(repr(row) for table in store.db.table_names() for row in store.db[table].rows)


async def test_urge_pause_from_the_hub_schedules_a_followup(fake_api, at_menu, clock):
    bot = await at_menu(CHOICES)
    await say(fake_api, "/timezone")
    assert "Your time zone is UTC" in await say(fake_api, "UTC")
    await say(fake_api, "/menu")
    assert "I want to contact them now" in labels(fake_api)
    assert "What do you hope" in await tap(fake_api, "I want to contact them now")
    await tap(fake_api, "I just miss them")
    reminder = await tap(fake_api, "Go on")
    assert "about one contact a week" in reminder and "fits your plan right now" in reminder
    assert "later today" in await tap(fake_api, "I'll wait")
    note, _ = await tap_for_two(fake_api, "Yes, check in later")
    assert "15:00 today" in note  # clock 12:00 UTC, the user said they are on UTC
    row = next(bot.store.db["checkins"].rows_where("user_id = ?", [USER]))
    due = datetime.fromisoformat(row["due_at"])
    assert row["due_kind"] == "followup" and due == clock.now.replace(hour=15)
    assert not is_quiet(CheckinSettings(), due)


async def test_no_followup_is_scheduled_late_in_the_evening(fake_api, at_menu, clock):
    bot = await at_menu(CHOICES)
    await say(fake_api, "/timezone")
    await say(fake_api, "UTC")
    clock.advance(hours=8)  # 20:00 UTC: three hours on would be quiet time
    assert "What do you hope" in await say(fake_api, "/urge")
    await tap(fake_api, "Make them understand me")
    await tap(fake_api, "Go on")
    await tap(fake_api, "I'll wait")
    note, _ = await tap_for_two(fake_api, "Yes, check in later")
    assert "won't message you tonight" in note
    assert not list(bot.store.db["checkins"].rows_where("due_kind = 'followup'"))


async def test_a_draft_is_checked_and_nothing_of_it_is_kept(fake_api, at_menu, caplog):
    # The app's own logging set-up, at its most verbose, with pytest still capturing.
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("DEBUG")
    root.addHandler(caplog.handler)
    try:
        await check_a_draft_and_look_everywhere(fake_api, at_menu, caplog)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name in ("httpx", "httpcore", "apscheduler", "telegram", "telegram.ext"):
            logging.getLogger(name).setLevel(logging.NOTSET)


async def check_a_draft_and_look_everywhere(fake_api, at_menu, caplog):
    """/draft, paste, get the verdict; then search every table and the log for the draft."""
    bot = await at_menu(CHOICES)
    assert "Paste or type" in await say(fake_api, "/draft")
    before = len(fake_api.sent_texts(USER))
    fake_api.text(USER, DRAFT)
    await fake_api.wait_for(lambda: len(fake_api.sent_texts(USER)) >= before + 2)
    verdict, follow_on = fake_api.sent_texts(USER)[before:]
    assert verdict.startswith("This is close") and "Try instead" in verdict
    assert "please come home" in verdict  # the flagged phrase, quoted back to the user
    assert "Check another" in labels(fake_api)
    checks = list(bot.store.db["draft_checks"].rows)
    assert [row["verdict"] for row in checks] == ["soften"]
    stored, logged = dump(bot.store), caplog.text
    assert caplog.records  # the log was really captured, so its silence means something
    for word in SECRET_WORDS:
        assert word not in stored and word not in logged


async def test_a_kind_draft_from_the_urge_pause_passes(fake_api, at_menu):
    bot = await at_menu(CHOICES)
    await say(fake_api, "/urge")
    await tap(fake_api, "Sort out something practical")
    await tap(fake_api, "Go on")
    assert "Paste or type" in await tap(fake_api, "Check a draft first")
    before = len(fake_api.sent_texts(USER))
    fake_api.text(USER, "Thanks for taking Max to the dentist, hope your week is calm")
    await fake_api.wait_for(lambda: len(fake_api.sent_texts(USER)) >= before + 2)
    assert fake_api.sent_texts(USER)[before].startswith("This looks relaxed and kind")
    assert [row["verdict"] for row in bot.store.db["draft_checks"].rows] == ["ok"]
    assert "Thanks for taking Max" not in dump(bot.store)


async def test_check_in_later_without_a_time_zone_asks_for_one(fake_api, at_menu):
    bot = await at_menu(CHOICES)
    await say(fake_api, "/urge")
    await tap(fake_api, "I just miss them")
    await tap(fake_api, "Go on")
    await tap(fake_api, "I'll wait")
    note, asked = await tap_for_two(fake_api, "Yes, check in later")
    assert "Tell me where you are" in note and "city" in asked
    assert not list(bot.store.db["checkins"].rows_where("due_kind = 'followup'"))  # no zone yet
    assert "I'll check in with you at about 15:00" in await say_for_two(fake_api, "UTC")
    assert list(bot.store.db["checkins"].rows_where("due_kind = 'followup'"))
