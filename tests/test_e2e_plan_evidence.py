"""End to end: going warmer is weighed against recent contacts only (the last 14 days)."""

from datetime import timedelta

import pytest

from bot.model import AddContact
from bot.policy.contacts import Contact
from tests.support.chat import USER, say, tap

COLD = {"living": "My spouse moved out", "feelings": "Out of love, wants out"}


def seed_unanswered(bot, clock, days_ago: list[int]) -> None:
    effects = [
        AddContact(Contact(clock.now - timedelta(days=d), "me", "message", "no_answer"))
        for d in days_ago
    ]
    bot.store.commit(USER, bot.store.load_session(USER), effects, clock.now)


async def ask_warmer(api) -> str:
    await say(api, "/plan")
    await tap(api, "Change my level")
    await tap(api, "Warmer: a little more contact")
    return await tap(api, "It feels right for me")


async def test_old_unanswered_contacts_do_not_hold_a_change_back(fake_api, at_menu, clock):
    bot = await at_menu(COLD)
    seed_unanswered(bot, clock, [40, 35, 30, 25, 20])
    answer = await ask_warmer(fake_api)
    assert "Before you change it" not in answer
    assert bot.store.load_session(USER).state == "plan:changed"


@pytest.mark.parametrize(
    ("days_ago", "shown"), [([13, 6, 2], "3 of the 3"), ([30, 13, 6, 2], "3 of the 3")]
)
async def test_recent_unanswered_contacts_are_shown_with_their_window(
    fake_api, at_menu, clock, days_ago, shown
):
    bot = await at_menu(COLD)
    seed_unanswered(bot, clock, days_ago)
    answer = await ask_warmer(fake_api)
    assert shown in answer and "in the last 14 days" in answer
    assert bot.store.load_session(USER).state == "plan:evidence"
