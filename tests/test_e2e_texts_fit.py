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
