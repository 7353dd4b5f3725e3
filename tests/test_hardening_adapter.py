"""Issue 11 items 3 and 12 through the Telegram adapter: captions, forwards, bot accounts."""

import asyncio

from bot.engine import Session
from tests.store_helper import user_row
from tests.support.chat import say

USER = 1001
CRISIS = "I want to kill myself"
NOTE_STEP = "log:note"


async def test_a_photo_caption_with_crisis_text_gets_the_crisis_reply(fake_api, start_bot):
    await start_bot()
    expected = await say(fake_api, CRISIS, user=4242)
    photo = [{"file_id": "f1", "file_unique_id": "u1", "width": 90, "height": 60}]
    message = {
        "message_id": 99, "from": fake_api.user(USER), "date": 1, "photo": photo,
        "chat": {"id": USER, "type": "private", "first_name": "U"}, "caption": CRISIS,
    }  # fmt: skip
    fake_api.push_update({"message": message})
    await fake_api.wait_for(lambda: len(fake_api.sent_texts(USER)) >= 1)
    assert fake_api.sent_texts(USER) == [expected]


async def test_a_command_with_crisis_words_gets_the_crisis_reply(fake_api, start_bot):
    bot = await start_bot()
    expected = await say(fake_api, CRISIS, user=4242)
    assert await say(fake_api, f"/start {CRISIS}") == expected
    assert user_row(bot.store, USER) is None  # nothing stored, as for typed crisis text


async def test_a_forwarded_message_is_never_stored_as_the_users_note(fake_api, start_bot, clock):
    bot = await start_bot()
    await say(fake_api, "/start")
    answers = {"log_initiator": "me", "log_kind": "call", "log_outcome": "cold"}
    session = Session(state=NOTE_STEP, answers=answers, completed_at=clock.now)
    bot.store.commit(USER, session, [], clock.now)
    message = {
        "message_id": 500, "from": fake_api.user(USER), "date": 1,
        "chat": {"id": USER, "type": "private", "first_name": "U"},
        "text": "spouse: see you at the school gate on Friday at four",
        "forward_origin": {"type": "hidden_user", "sender_user_name": "Spouse", "date": 1},
    }  # fmt: skip
    before = len(fake_api.sent_texts(USER))
    fake_api.push_update({"message": message})
    await fake_api.wait_for(lambda: len(fake_api.sent_texts(USER)) > before)
    assert "forwarded" in fake_api.sent_texts(USER)[-1]
    assert not list(bot.store.read_db.query("SELECT note FROM contacts"))
    assert bot.store.load_session(USER).state == NOTE_STEP


async def test_an_update_from_a_bot_account_creates_no_user(fake_api, start_bot):
    bot = await start_bot()
    robot = {**fake_api.user(777), "is_bot": True}
    message = {
        "message_id": 2, "from": robot, "date": 1, "text": "hello",
        "chat": {"id": 777, "type": "private", "first_name": "Robot"},
    }  # fmt: skip
    fake_api.push_update({"message": message})
    await say(fake_api, "/help")  # a later update from a person is handled: the bot's was too
    await asyncio.sleep(0.2)
    assert user_row(bot.store, 777) is None
    assert fake_api.sent_texts(777) == []
