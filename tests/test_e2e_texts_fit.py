"""End to end: typed text and check-ins get replies that fit the user's situation."""

import pytest

from tests.support.chat import USER, labels, reply_count
from tests.support.fake_bot_api import keyboard_rows

APART = {
    "living": "My spouse moved out",
    "feelings": "I'm not sure",
    "response": "Polite but brief",
}
TOGETHER = {"living": "Together, but distant", "feelings": "Out of love, wants out"}
I_MOVED = {"living": "I moved out", "feelings": "I'm not sure"}


async def typed(api, text: str, replies: int = 2) -> list[str]:
    count = len(api.sent_texts(USER))
    api.text(USER, text)
    return (await reply_count(api, USER, count + replies))[count:]


@pytest.mark.parametrize(
    "message",
    ["Happy birthday! Hope you have a lovely day", "I miss you so much, please come home"],
)
async def test_a_message_for_the_spouse_gets_the_draft_check(fake_api, at_menu, message):
    bot = await at_menu(APART)
    note, verdict, step = await typed(fake_api, message, replies=3)
    assert "message for your spouse" in note
    assert "sorry you're hurting" not in " ".join((note, verdict, step))
    assert "Check another" in labels(fake_api)
    assert bot.store.load_session(USER).state == "draft:result"
    rows = [repr(row) for table in bot.store.db.table_names() for row in bot.store.db[table].rows]
    assert not any("birthday" in row or "miss you" in row for row in rows)


@pytest.mark.parametrize("message", ["thank you", "what can you do?", "I'm so sad today"])
async def test_words_to_the_bot_are_not_taken_for_a_draft(fake_api, at_menu, message):
    await at_menu(APART)
    answer, _ = await typed(fake_api, message)
    assert "message for your spouse" not in answer


@pytest.mark.parametrize("choices", [APART, TOGETHER])
async def test_they_left_me_assumes_no_new_partner(fake_api, at_menu, choices):
    await at_menu(choices)
    answer, _ = await typed(fake_api, "they left me")
    assert "new person" not in answer and "someone new" not in answer


async def test_a_new_partner_named_still_gets_its_reply(fake_api, at_menu):
    await at_menu(APART)
    answer, _ = await typed(fake_api, "she has a new boyfriend")
    assert "new person" in answer or "someone new" in answer or "hardest things" in answer


@pytest.mark.parametrize(("choices", "fits"), [(I_MOVED, False), (APART, False), (TOGETHER, True)])
async def test_the_moved_reply_offers_under_one_roof_only_to_those_at_home(
    fake_api, at_menu, choices, fits
):
    await at_menu(choices)
    await typed(fake_api, "we moved")
    answer = fake_api.sent_messages(USER)[-2]
    offered = [text for row in keyboard_rows(answer.get("reply_markup")) for text, _ in row]
    assert ("Living under one roof" in offered) is fits
    assert ("Living apart" in offered) is not fits


def walk_to_all_set(service, user: int = USER) -> str:
    """In-process: the walk-through to the end, daily check-ins at 9:00 UTC, "All set"."""
    from bot.model import Command, Press, Text

    wanted = ["None of this applies", "Yes, every day", "Morning, 9:00", *APART.values()]
    replies = service.handle(user, Command("start"), "en").replies
    for _ in range(60):
        buttons = {button.label: button.data for button in replies[-1].buttons}
        if "Skip for now" in buttons:
            service.handle(user, Text("UTC"), "en")
            replies = service.handle(user, Press(buttons_of(service, user)["Go on"]), "en").replies
            assert "All set" in replies[-1].text
            return replies[-1].text
        label = next((label for label in buttons if label in wanted), next(iter(buttons)))
        replies = service.handle(user, Press(buttons[label]), "en").replies
    raise AssertionError("never reached the check-in time zone")


def buttons_of(service, user: int) -> dict[str, str]:
    from bot.model import Command

    reply = service.handle(user, Command("start"), "en").replies[-1]
    return {button.label: button.data for button in reply.buttons}


async def test_a_check_in_after_all_set_offers_logging_not_the_walk_through(
    fake_api, start_bot, clock
):
    from tests.support.chat import tap
    from tests.test_e2e_contacts import checkins_sent, sweep

    bot = await start_bot()
    walk_to_all_set(bot.service)
    clock.advance(hours=21, seconds=5)  # 09:00 UTC tomorrow
    await sweep(bot)
    (checkin,) = checkins_sent(fake_api)
    offered = labels(fake_api)
    assert "Go on with the walk-through" not in offered
    assert "Log a contact" in offered
    assert "Who reached out first" in await tap(fake_api, "Log a contact")


async def test_changing_the_frequency_does_not_ask_a_known_time_zone_again(fake_api, at_menu):
    from tests.support.chat import say, tap

    await at_menu(APART)
    await say(fake_api, "/timezone")
    await say(fake_api, "Lisbon")
    await say(fake_api, "/checkins")
    await tap(fake_api, "How often and when")
    await tap(fake_api, "Once a week")
    hour = await tap(fake_api, "Friday")
    assert "next I'll ask where you are" not in hour and "Lisbon" in hour
    saved = await tap(fake_api, "Evening, 19:00")
    assert "All set" in saved and "every Friday at 19:00, Europe/Lisbon" in saved


async def test_setting_check_ins_without_a_time_zone_still_asks_for_it(fake_api, at_menu):
    from tests.support.chat import say, tap

    await at_menu(APART)
    await say(fake_api, "/checkins")
    await tap(fake_api, "How often and when")
    assert "next I'll ask where you are" in await tap(fake_api, "Every day")
    assert "time zone" in await tap(fake_api, "Morning, 9:00")


@pytest.mark.parametrize(
    ("typed", "asked"),
    [
        ("EST", ["New York time (with summer time)", "UTC-05:00 all year (no summer time)"]),
        ("Pacific", ["Los Angeles time (with summer time)", "UTC-08:00 all year"]),
        ("usa", ["New York", "Chicago", "Los Angeles"]),
        ("Portland", ["Los Angeles", "New York"]),
    ],
)
async def test_an_ambiguous_time_zone_asks_which(fake_api, at_menu, clock, typed, asked):
    from tests.support.chat import say

    bot = await at_menu(APART)
    await say(fake_api, "/timezone")
    answer = await say(fake_api, typed)
    assert "couldn't match" not in answer
    for option in asked:
        assert option in answer
    assert not bot.store.load_user_data(USER, clock.now).checkins.get("tz_set")


async def test_est_then_the_fixed_offset_is_kept_and_explained(fake_api, at_menu, clock):
    from tests.support.chat import say

    bot = await at_menu(APART)
    await say(fake_api, "/timezone")
    assert "no summer time" in await say(fake_api, "EST")
    kept = await say(fake_api, "UTC-05:00")
    assert "UTC-05:00" in kept and "no summer time" in kept
    assert bot.store.load_user_data(USER, clock.now).checkins["tz"] == "UTC-05:00"


def test_free_text_replies_for_everyone_assume_no_living_situation():
    """Every intent's replies go to users apart and at home alike: none may assume either."""
    from bot.content import Content

    replies = Content.load().policy.free_text
    for name, intent in replies.intents.items():
        for text in intent.replies:
            for assumption in ("moves out", "moved out", "living apart", "handover", "at home"):
                assert assumption not in text, (name, assumption)
