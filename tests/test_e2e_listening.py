"""End to end: typed text understood, on the real PTB Application, fake Bot API and database."""

from __future__ import annotations

from datetime import timedelta

from bot.store.schema import iso
from tests.support.chat import USER, labels, reply_count, say, tap

DIVORCE = "she told me today she wants a divorce"


async def test_a_new_users_clear_crisis_gets_the_full_reply_at_once(fake_api, start_bot):
    bot = await start_bot()
    reply = await say(fake_api, "i took a bunch of pills an hour ago")
    assert "pausing our coaching" in reply
    assert bot.store.load_session(USER) is None  # nothing stored about them


async def test_an_uncertain_message_gets_a_gentle_question_with_buttons(fake_api, start_bot):
    await start_bot()
    await say(fake_api, "/start")
    await tap(fake_api, "Let's begin")
    reply = await say(fake_api, "what's the point of anything anymore")
    assert "Are you safe right now?" in reply or "pausing our coaching" in reply
    assert any("safe" in label.lower() or "help" in label.lower() for label in labels(fake_api))


async def test_another_language_in_crisis_is_caught(fake_api, start_bot):
    await start_bot()
    reply = await say(fake_api, "ya no quiero vivir, quiero morir")
    assert "pausing our coaching" in reply


async def test_free_text_at_the_menu_is_answered_with_buttons_and_the_menu(fake_api, at_menu):
    bot = await at_menu()
    before = bot.store.load_session(USER)
    count = len(fake_api.sent_texts(USER))
    fake_api.text(USER, DIVORCE)
    answer, menu = (await reply_count(fake_api, USER, count + 2))[-2:]
    assert "I follow buttons" not in answer
    assert answer in {r for r in bot.service.engine.policy.free_text.intents["divorce"].replies}
    assert "Revisit the ideas" in labels(fake_api)  # the menu follows: the place is kept
    assert bot.store.load_session(USER).state == before.state
    counters = {row["name"]: row["value"] for row in bot.store.db["counters"].rows}
    assert counters.get("heard_divorce") == 1
    stored = "\n".join(repr(r) for t in bot.store.db.table_names() for r in bot.store.db[t].rows)
    assert "told me today" not in stored


async def test_free_text_mid_walk_is_answered_and_the_step_comes_again(fake_api, start_bot):
    bot = await start_bot()
    await say(fake_api, "/start")
    await tap(fake_api, "Let's begin")
    before = bot.store.load_session(USER)
    step = await say(fake_api, "I can't stop crying", replies=2)
    assert "protective order" in step and "Here is where we were" in step
    assert bot.store.load_session(USER).state == before.state


async def test_a_check_in_answered_in_words_is_reflected_back(fake_api, at_menu, clock):
    bot = await at_menu()
    sent = iso(clock.now - timedelta(hours=1))
    bot.write(
        "INSERT INTO checkins (user_id, last_sent_at) VALUES (?, ?)"
        " ON CONFLICT(user_id) DO UPDATE SET last_sent_at = excluded.last_sent_at",
        [USER, sent],
    )
    count = len(fake_api.sent_texts(USER))
    fake_api.text(USER, "not great today, cried all morning")
    answer = (await reply_count(fake_api, USER, count + 2))[-2]
    assert answer.startswith("Thank you for telling me how you are.")


async def test_a_message_in_another_language_is_answered_kindly(fake_api, at_menu):
    bot = await at_menu()
    count = len(fake_api.sent_texts(USER))
    fake_api.text(USER, "hola, no sé qué hacer con mi esposo")
    answer = (await reply_count(fake_api, USER, count + 2))[-2]
    replies = bot.service.engine.policy.free_text.intents["other_language"].replies
    assert answer in replies
