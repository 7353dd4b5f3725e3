"""End to end: reported danger outlives a reset that keeps the log; safety mode keeps its word."""

import pytest

from tests.support.chat import USER, labels, reply_count, say, tap

CHOICES = {"living": "My spouse moved out", "response": "Polite but brief"}


async def report_danger(api) -> None:
    """From the menu: /safety, then "Something here applies", then the safety menu."""
    await say(api, "/safety")
    stop = await tap(api, "Something here applies")
    assert "safety comes first" in stop.lower()
    await tap(api, "Continue")


async def walk_again(api, start: str) -> str:
    """Start over (typed or the safety menu's button), keep the log, begin again."""
    if start == "/reset":
        await say(api, "/reset")
    else:
        await tap(api, "Start over")
    count = len(api.sent_texts(USER))
    api.press(USER, "Walk-through again, keep my log")
    await reply_count(api, USER, count + 2)
    return await tap(api, "Let's begin")


@pytest.mark.parametrize("start", ["/reset", "button"])
async def test_clearing_after_a_reset_still_acknowledges_the_danger(fake_api, at_menu, start):
    bot = await at_menu(CHOICES)
    await report_danger(fake_api)
    assert "Start over" in labels(fake_api)
    question = await walk_again(fake_api, start)
    assert "protective order" in question
    recheck = await tap(fake_api, "None of this applies")
    assert "Earlier you told me" in recheck and "feel safe" in recheck
    assert "Yes, no order and I feel safe" in labels(fake_api)
    session = bot.store.load_session(USER)
    assert session.state == "walkthrough:safety_recheck"


async def test_delete_erases_the_danger_history(fake_api, at_menu):
    bot = await at_menu(CHOICES)
    await report_danger(fake_api)
    await say(fake_api, "/delete")
    await tap(fake_api, "Yes, erase everything")
    assert bot.store.load_session(USER) is None
    await say(fake_api, "/start")
    await tap(fake_api, "Let's begin")
    assert "living situation" in await tap(fake_api, "None of this applies")


async def test_the_safety_menu_offers_the_checkins_the_stop_promises(fake_api, at_menu, clock):
    bot = await at_menu(CHOICES)
    await say(fake_api, "/safety")
    stop = await tap(fake_api, "Something here applies")
    assert "check-ins" in stop
    menu = await tap(fake_api, "Continue")
    assert "check-ins" in menu
    assert "Check-ins" in labels(fake_api)
    await tap(fake_api, "Check-ins")
    await tap(fake_api, "How often and when")
    await tap(fake_api, "Every day")
    await tap(fake_api, "Morning, 9:00")
    await say(fake_api, "UTC")
    saved = await tap(fake_api, "Go on")
    assert "every day at 09:00" in saved
    assert "safety comes first" in (await tap(fake_api, "Open the menu")).lower()
    assert bot.store.load_session(USER).state == "hub:safety_menu"
    assert bot.store.load_user_data(USER, clock.now).checkins["frequency"] == "daily"


@pytest.mark.parametrize("typed", ["they left me", "I miss her so much", "hello"])
async def test_free_text_in_safety_mode_says_nothing_about_contact(fake_api, at_menu, typed):
    await at_menu(CHOICES)
    await report_danger(fake_api)
    count = len(fake_api.sent_texts(USER))
    fake_api.text(USER, typed)
    texts = await reply_count(fake_api, USER, count + 2)
    answer = texts[count].lower()
    for contact_talk in ("contact", "reach out", "your plan", "message", "chasing", "silent"):
        assert contact_talk not in answer or "not giving advice about contact" in answer
    assert "safety comes first" in texts[count + 1].lower()
    assert not {"See my plan", "Log a contact", "Pause before reaching out"} & set(labels(fake_api))
