"""The lean update path: what Telegram receives when the bot sends plain Bot API JSON.

Every call of the update path and of check-in delivery is built as a dict and sent with
`Bot.do_api_request` (bot/telegram.py); these tests read the requests the fake Bot API
server received, so a shortcut can never change what a user sees.
"""

import json
import logging
from typing import Any

import pytest
from telegram import Update
from telegram.request import BaseRequest

from bot.engine import step_token
from bot.flows import ENTRY
from bot.model import MAX_CALLBACK_BYTES, Button, Command, Press
from bot.service import Service
from bot.store import Store
from tests.store_helper import checkin_row, user_row
from tests.support.bots import Clock
from tests.support.chat import HUB_LABEL, SAFETY_NONE, USER, reply_count, say, tap
from tests.test_e2e_contacts import checkins_sent, set_up_berlin_evening, sweep


def last_call(api, method, user=USER):
    """The parameters of the newest call of `method` for the user's chat."""
    return api.calls(method, chat_id=user)[-1].params


def every_button(markup):
    return [button for row in markup["inline_keyboard"] for button in row]


async def test_a_keyboard_arrives_as_the_bot_api_json_and_nothing_else(fake_api, start_bot):
    await start_bot()
    await say(fake_api, "/start")
    sent = last_call(fake_api, "sendMessage")
    token = step_token(ENTRY)
    assert sent["chat_id"] == USER and "self-help" in sent["text"]
    assert sent["reply_markup"] == {
        "inline_keyboard": [[{"text": "Let's begin", "callback_data": f"s.{token}.0"}]]
    }
    assert set(sent) == {"chat_id", "text", "reply_markup"}  # nothing PTB would add


async def test_a_tap_is_answered_and_followed_by_the_next_step(fake_api, start_bot):
    await start_bot()
    await say(fake_api, "/start")
    fake_api.press(USER, "Let's begin")
    await reply_count(fake_api, USER, 2)
    answer = fake_api.calls("answerCallbackQuery")[-1]
    assert answer.status == 200
    assert set(answer.params) == {"callback_query_id"}  # no pop-up for a fitting tap
    assert fake_api.callback_answer(answer.params["callback_query_id"]) is not None
    assert fake_api.calls("editMessageReplyMarkup") == []  # the tapped keyboard stays
    step = last_call(fake_api, "sendMessage")
    assert "protective order" in step["text"]
    for button in every_button(step["reply_markup"]):
        assert set(button) == {"text", "callback_data"}
        assert len(button["callback_data"].encode()) <= MAX_CALLBACK_BYTES


async def test_a_stale_press_gets_a_pop_up_in_the_answer(fake_api, start_bot):
    await start_bot()
    await say(fake_api, "/start")
    welcome = fake_api.sent_messages(USER)[-1]
    await tap(fake_api, "Let's begin")
    old = welcome["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    update = fake_api.callback(USER, old, message_id=welcome["message_id"])
    await reply_count(fake_api, USER, 3)
    query_id = update["callback_query"]["id"]
    answer = await fake_api.wait_for(lambda: fake_api.callback_answer(query_id))
    assert set(answer) == {"callback_query_id", "text"} and "passed" in answer["text"]


async def test_a_crisis_reply_has_link_buttons_with_urls_only(fake_api, start_bot):
    await start_bot()
    await say(fake_api, "i want to kill myself tonight")
    buttons = every_button(last_call(fake_api, "sendMessage")["reply_markup"])
    links = [b for b in buttons if "url" in b]
    assert links and all(set(b) == {"text", "url"} for b in links)
    assert all(b["url"].startswith("https://") for b in links)
    assert all(set(b) == {"text", "callback_data"} for b in buttons if b not in links)


async def test_a_checkin_is_delivered_as_plain_json(fake_api, at_menu, clock):
    bot = await set_up_berlin_evening(fake_api, at_menu)
    clock.advance(hours=6)
    await sweep(bot)
    (sent,) = checkins_sent(fake_api)
    assert set(sent) == {"chat_id", "text", "reply_markup"} and sent["chat_id"] == USER
    data = [b["callback_data"] for b in every_button(sent["reply_markup"])]
    assert "c.stopcheckins" in data
    assert all(len(d.encode()) <= MAX_CALLBACK_BYTES for d in data)
    assert checkin_row(bot.store, USER)["last_sent_at"] is not None


async def test_a_refused_checkin_is_not_retried_and_logs_no_text(fake_api, at_menu, clock, caplog):
    bot = await set_up_berlin_evening(fake_api, at_menu)
    fake_api.fail("sendMessage", error_code=400, description="Bad Request: chat not found")
    clock.advance(hours=6)
    with caplog.at_level(logging.WARNING):
        await sweep(bot)
    assert [c.status for c in fake_api.calls("sendMessage", chat_id=USER)][-1] == 400
    assert checkins_sent(fake_api) == []
    assert user_row(bot.store, USER)["active"] == 1  # refused, not blocked
    warned = [
        r.getMessage() for r in caplog.records if "check-in was not accepted" in r.getMessage()
    ]
    assert warned == ["a check-in was not accepted: Chat not found"]


def test_callback_data_over_64_bytes_cannot_be_made():
    Button("fits", data="x" * MAX_CALLBACK_BYTES)
    with pytest.raises(ValueError, match="64 bytes"):
        Button("too long", data="é" * 33)  # 66 bytes in UTF-8


# --- tapped keyboards stay: an old button must never do harm ------------------------------------


def test_every_old_button_of_a_walk_is_refused_kindly_and_changes_nothing(tmp_path, engine):
    """Walk to the menu keeping every keyboard the bot sent, then tap each old one again."""
    store = Store(tmp_path / "bot.db")
    service = Service(store, engine, clock=Clock())
    try:
        keyboards: list[tuple[str, tuple[Button, ...]]] = []  # (step shown, its buttons)
        replies = service.handle(USER, Command("start"), "en").replies
        for _ in range(60):
            state = store.load_session(USER).state
            keyboards += [(state, r.buttons) for r in replies if r.buttons]
            buttons = {b.label: b.data for b in replies[-1].buttons}
            if HUB_LABEL in buttons:
                break
            replies = service.handle(USER, Press(_first_or_none(buttons)), "en").replies
        at_menu = store.load_session(USER)
        assert at_menu.state == "hub:menu"
        checked = 0
        for shown_at, buttons in keyboards[:-1]:  # the latest keyboard is the live one
            for button in buttons:
                if button.data is None or shown_at == at_menu.state:
                    continue  # a link, or the menu shown again: the same choice as now
                result = service.handle(USER, Press(button.data), "en")
                assert result.notice is not None and "passed" in result.notice, button.label
                assert "passed" in result.replies[0].text  # ... and the current step again
                assert result.replies[-1].buttons == keyboards[-1][1]
                assert store.load_session(USER) == at_menu  # nothing changed, nothing stored
                checked += 1
        assert checked >= 20
    finally:
        store.close()


def _first_or_none(buttons: dict[str, str | None]) -> str:
    """The label to tap on the walk: 'None of this applies' when offered, else the first."""
    data = buttons.get(SAFETY_NONE) or next(d for d in buttons.values() if d)
    assert data is not None
    return data


async def test_an_old_keyboard_tapped_over_telegram_is_refused_kindly(fake_api, start_bot):
    bot = await start_bot()
    await say(fake_api, "/start")
    await tap(fake_api, "Let's begin")
    await tap(fake_api, SAFETY_NONE)
    now = bot.store.load_session(USER)
    first, second = fake_api.sent_messages(USER)[:2]  # welcome and safety: both keep buttons
    for message in (first, second):
        for button in every_button(fake_api.message(USER, message["message_id"])["reply_markup"]):
            before = len(fake_api.sent_texts(USER))
            update = fake_api.callback(
                USER, button["callback_data"], message_id=message["message_id"]
            )
            reply = (await reply_count(fake_api, USER, before + 1))[-1]
            assert "passed" in reply and "living situation" in reply
            query_id = update["callback_query"]["id"]
            answer = await fake_api.wait_for(lambda q=query_id: fake_api.callback_answer(q))
            assert "passed" in answer["text"]
            assert bot.store.load_session(USER) == now


# --- a private press is read without the message it sat on (bot/incoming.py) -------------------


def press_update(chat_type: str) -> dict:
    chat = {"id": USER if chat_type == "private" else -500, "type": chat_type}
    keyboard = {"inline_keyboard": [[{"text": "b", "callback_data": "d"}]]}
    message = {"message_id": 7, "date": 1, "chat": chat, "text": "x" * 4000,
               "reply_markup": keyboard}  # fmt: skip
    query = {"id": "q1", "from": {"id": USER, "is_bot": False, "first_name": "U"},
             "chat_instance": "1", "data": "d", "message": message}  # fmt: skip
    return {"update_id": 5, "callback_query": query}


def test_a_private_press_is_read_without_its_message_and_a_group_press_keeps_it():
    from bot.incoming import read_update

    bot = lean_bot()
    private = read_update(press_update("private"), bot)
    assert private.callback_query is not None and private.callback_query.message is None
    assert private.callback_query.data == "d" and private.callback_query.id == "q1"
    group = read_update(press_update("group"), bot)  # the handler needs the chat to refuse it
    assert group.to_dict() == Update.de_json(press_update("group"), bot).to_dict()
    assert group.callback_query is not None and group.callback_query.message is not None


def lean_bot(polling: BaseRequest | None = None) -> Any:
    """A PollingBot whose Bot API transport is never called (and `polling` for getUpdates)."""
    from telegram.ext import AIORateLimiter

    from bot.incoming import PollingBot

    idle = FakeRequest()
    return PollingBot(
        "1:x", request=idle, get_updates_request=polling or idle, rate_limiter=AIORateLimiter()
    )


class FakeRequest(BaseRequest):
    """A transport for bots whose requests these tests never make."""

    @property
    def read_timeout(self) -> float | None:
        """No default read timeout."""
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Never called here."""
        raise AssertionError("no request expected")


PEOPLE = (
    {"id": USER, "is_bot": False, "first_name": "Ana"},
    {"id": USER, "is_bot": False, "first_name": "Jo", "last_name": "Lee", "username": "jl",
     "language_code": "pt-br", "is_premium": True},
)  # fmt: skip
BUILT = [  # shapes built directly: each must equal PTB's own parse
    {"message_id": 8, "date": 1764300000, "text": "i miss her so much 💔"},
    {"message_id": 9, "date": 1764300001, "text": "/plan",
     "entities": [{"offset": 0, "length": 5, "type": "bot_command"}]},
    {"message_id": 10, "date": 1764300002, "text": "/start x #tag",
     "entities": [{"offset": 0, "length": 6, "type": "bot_command"},
                  {"offset": 9, "length": 4, "type": "hashtag"}]},
    {"message_id": 11, "date": 1764300003, "text": ""},
]  # fmt: skip
LEFT_TO_PTB = [  # anything else is parsed by PTB, as before
    {"message_id": 12, "date": 1, "text": "see", "entities": [
        {"offset": 0, "length": 3, "type": "text_link", "url": "https://example.org"}]},
    {"message_id": 13, "date": 1, "photo": [
        {"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]},
    {"message_id": 14, "date": 1, "text": "re", "reply_to_message": {
        "message_id": 2, "date": 1, "chat": {"id": USER, "type": "private"}, "text": "x"}},
    {"message_id": 15, "date": 1, "text": "a field Telegram adds later", "new_field": 1},
]  # fmt: skip


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("message", BUILT + LEFT_TO_PTB)
def test_an_update_read_leanly_equals_ptb_s_own_parse(person, message):
    from bot.incoming import _built, read_update

    chat = {"id": USER, "type": "private"} | {
        k: v for k, v in person.items() if k in ("first_name", "last_name", "username")
    }
    raw = {"update_id": 3, "message": message | {"from": person, "chat": chat}}
    bot = lean_bot()
    ptb = Update.de_json(json.loads(json.dumps(raw)), bot)
    ours = read_update(json.loads(json.dumps(raw)), bot)
    assert ours.to_dict() == ptb.to_dict()
    assert ours.message is not None and ours.message.date == ptb.message.date
    assert ours.message.get_bot() is bot and ours.message.chat.get_bot() is bot
    assert (_built(json.loads(json.dumps(raw)), bot) is not None) == (message in BUILT)


@pytest.mark.parametrize("kind", ["edited_message", "channel_post"])
def test_other_kinds_of_update_are_left_to_ptb(kind):
    from bot.incoming import _built, read_update

    raw = {"update_id": 4, kind: {"message_id": 1, "date": 1, "text": "hi",
                                  "chat": {"id": USER, "type": "private"}}}  # fmt: skip
    bot = lean_bot()
    assert _built(json.loads(json.dumps(raw)), bot) is None
    assert read_update(raw, bot).to_dict() == Update.de_json(raw, bot).to_dict()


async def test_an_update_ptb_cannot_read_is_skipped_by_id_and_logs_no_text(caplog):
    raw = {"update_id": 40, "message": {"message_id": 1, "date": "not a time", "text": "my secret",
                                        "chat": {"id": USER, "type": "private"}}}  # fmt: skip
    fine = {"update_id": 41, "message": {"message_id": 2, "date": 1, "text": "hello",
                                         "chat": {"id": USER, "type": "private"}}}  # fmt: skip
    with pytest.raises(Exception):  # noqa: B017 - PTB's parser fails on it (what it raises varies)
        Update.de_json(json.loads(json.dumps(raw)), lean_bot())
    answer = json.dumps({"ok": True, "result": [raw, fine]}).encode()
    bot = lean_bot(AnswerWith(answer))
    with caplog.at_level(logging.INFO):  # as configure_logging sets PTB's loggers (and ours)
        updates = await bot.get_updates(offset=40, timeout=0)
    assert [u.update_id for u in updates] == [40, 41]
    assert updates[0].effective_message is None and updates[0].effective_user is None
    assert updates[1].message is not None and updates[1].message.text == "hello"
    assert "could not read update 40" in caplog.text
    assert "secret" not in caplog.text and "hello" not in caplog.text


class AnswerWith(FakeRequest):
    """A getUpdates transport that gives one fixed answer."""

    def __init__(self, answer: bytes):
        self.answer = answer

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """The fixed answer."""
        return 200, self.answer


async def test_the_bot_polls_past_an_update_ptb_cannot_read(fake_api, start_bot, caplog):
    bot = await start_bot()
    with caplog.at_level(logging.INFO):
        fake_api.push_update({"message": {
            "message_id": 99, "date": "broken", "text": "my secret words",
            "chat": {"id": USER, "type": "private"}, "from": fake_api.user(USER)}})  # fmt: skip
        await say(fake_api, "/help")  # the next update is answered: polling moved past it
    assert len(fake_api.sent_texts(USER)) == 1  # the broken one got nothing
    assert "could not read update" in caplog.text
    assert "secret" not in caplog.text
    assert bot.application.running


async def test_polling_reads_its_updates_through_the_lean_bot(fake_api, start_bot):
    from bot.incoming import PollingBot

    bot = await start_bot()
    assert isinstance(bot.application.bot, PollingBot)
    await say(fake_api, "/start")
    await fake_api.wait_for(lambda: fake_api.sent_texts(USER))
    await say(fake_api, "/help")  # a command built leanly is still a command
    await fake_api.wait_for(lambda: len(fake_api.sent_texts(USER)) >= 2)


async def test_a_press_in_a_group_is_still_refused_politely(fake_api, start_bot):
    bot = await start_bot()
    fake_api.command(USER, "/start", chat_id=-500, chat_type="group")
    await fake_api.wait_for(lambda: fake_api.sent_texts(-500))  # the group notice
    update = fake_api.callback(USER, f"s.{step_token(ENTRY)}.0", chat_id=-500)
    query_id = update["callback_query"]["id"]
    assert update["callback_query"]["message"]["chat"]["type"] == "group"
    await fake_api.wait_for(lambda: fake_api.callback_answer(query_id))
    await say(fake_api, "/help")  # a later private update proves the press was handled
    assert len(fake_api.sent_texts(-500)) == 1
    assert bot.store.db["sessions"].count == 0
