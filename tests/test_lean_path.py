"""The lean update path: what Telegram receives when the bot sends plain Bot API JSON.

Every call of the update path and of check-in delivery is built as a dict and sent with
`Bot.do_api_request` (bot/telegram.py); these tests read the requests the fake Bot API
server received, so a shortcut can never change what a user sees.
"""

import json
import logging

import pytest

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


def test_polling_reads_a_private_press_without_its_message_and_keeps_the_rest():
    from bot.incoming import without_tapped_message
    from bot.reliability import ConfirmAfterHandled, FloodGuard, UpdateTracker

    text = {"update_id": 6, "message": {"message_id": 8, "date": 1, "text": "hi",
                                        "chat": {"id": USER, "type": "private"}}}  # fmt: skip
    body = {"ok": True, "result": [press_update("private"), press_update("group"), text]}
    transport = ConfirmAfterHandled(
        UpdateTracker(FloodGuard()), object(), prepare=without_tapped_message
    )
    private, group, message = transport.parse_json_payload(json.dumps(body).encode())["result"]
    assert "message" not in private["callback_query"]
    assert private["callback_query"]["data"] == "d" and private["callback_query"]["id"] == "q1"
    assert group == press_update("group")  # the handler needs the group chat to refuse it
    assert message == text


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
