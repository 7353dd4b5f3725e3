"""The fake Bot API server, exercised through the real python-telegram-bot stack."""

import asyncio
import contextlib
import datetime as dt
import socket
import struct
import time
import zlib

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)
from telegram.request import HTTPXRequest

from tests.support.fake_bot_api import FakeBotApi, UploadedFile

USER = 4242


def seconds(period: int | dt.timedelta) -> float:
    """A PTB time period in seconds (an int today, a timedelta with PTB_TIMEDELTA=1)."""
    return period.total_seconds() if isinstance(period, dt.timedelta) else period


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """A valid PNG image of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def keyboard() -> InlineKeyboardMarkup:
    """Two buttons on one row and a link below."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes", callback_data="reset:yes"),
                InlineKeyboardButton("Cancel", callback_data="reset:no"),
            ],
            [InlineKeyboardButton("Podcast", url="https://example.org/podcast")],
        ]
    )


@pytest.fixture
async def bot(fake_api: FakeBotApi, bot_token: str):
    """An initialised PTB Bot pointed at the fake server."""
    async with Bot(bot_token, base_url=fake_api.base_url) as ready:
        yield ready


async def test_get_me_returns_the_bot_user(bot: Bot, fake_api: FakeBotApi) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.username == FakeBotApi.BOT_USERNAME
    assert fake_api.calls("getMe")


async def test_send_message_with_keyboard_is_recorded_and_parsed(
    bot: Bot, fake_api: FakeBotApi
) -> None:
    first = await bot.send_message(USER, "Shall we start over?", reply_markup=keyboard())
    second = await bot.send_message(USER, "Second message")

    assert isinstance(first, Message)
    assert (first.message_id, second.message_id) == (1, 2)
    assert first.chat.id == USER and first.chat.type == "private"
    assert first.from_user.id == bot.id
    assert first.reply_markup == keyboard()
    call = fake_api.calls("sendMessage", chat_id=USER)[0]
    assert call.params["chat_id"] == USER
    assert call.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "reset:no"
    assert fake_api.sent_texts(USER) == ["Shall we start over?", "Second message"]
    assert fake_api.last_keyboard(USER) == [
        [("Yes", "reset:yes"), ("Cancel", "reset:no")],
        [("Podcast", "https://example.org/podcast")],
    ]


async def test_text_that_looks_like_json_stays_text(bot: Bot, fake_api: FakeBotApi) -> None:
    await bot.send_message(USER, "123")
    await bot.send_message(USER, "true")
    assert fake_api.sent_texts(USER) == ["123", "true"]


async def test_telegram_limits_are_enforced(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)too long"):
        await bot.send_message(USER, "x" * 4097)
    too_long_data = InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(USER, "hi", reply_markup=too_long_data)


async def test_send_photo_records_the_upload(bot: Bot, fake_api: FakeBotApi) -> None:
    png = tiny_png(3, 2)
    message = await bot.send_photo(USER, photo=png, filename="progress.png", caption="Weeks")

    upload = fake_api.calls("sendPhoto")[0].params["photo"]
    assert isinstance(upload, UploadedFile)
    assert upload.data == png
    assert upload.filename == "progress.png"
    assert upload.content_type == "image/png"
    assert message.caption == "Weeks"
    assert (message.photo[-1].width, message.photo[-1].height) == (3, 2)
    assert fake_api.sent_texts(USER) == ["Weeks"]


async def test_send_document_records_the_upload(bot: Bot, fake_api: FakeBotApi) -> None:
    message = await bot.send_document(USER, document=b"a,b\n1,2\n", filename="log.csv")

    upload = fake_api.calls("sendDocument")[0].params["document"]
    assert upload.data == b"a,b\n1,2\n"
    assert upload.filename == "log.csv"
    assert message.document.file_name == "log.csv"


async def test_commands_are_stored_per_scope(bot: Bot, fake_api: FakeBotApi) -> None:
    scope = BotCommandScopeAllPrivateChats()
    commands = [BotCommand("start", "Begin or resume"), BotCommand("reset", "Start over")]
    assert await bot.set_my_commands(commands, scope=scope)

    assert fake_api.calls("setMyCommands")[0].params["scope"] == {"type": "all_private_chats"}
    assert fake_api.commands("all_private_chats") == [
        ("start", "Begin or resume"),
        ("reset", "Start over"),
    ]
    assert await bot.get_my_commands(scope=scope) == tuple(commands)
    assert await bot.get_my_commands() == ()
    await bot.delete_my_commands(scope=scope)
    assert fake_api.commands("all_private_chats") == []


async def test_edit_and_delete(bot: Bot, fake_api: FakeBotApi) -> None:
    sent = await bot.send_message(USER, "Step one", reply_markup=keyboard())
    edited = await bot.edit_message_text("Step two", chat_id=USER, message_id=sent.message_id)

    assert edited.text == "Step two" and edited.reply_markup is None
    assert fake_api.message(USER, sent.message_id)["text"] == "Step two"
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Step two", chat_id=USER, message_id=sent.message_id)
    assert await bot.delete_message(USER, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard())
    assert fake_api.message(USER, sent.message_id) is None


async def test_retry_after(bot: Bot, fake_api: FakeBotApi) -> None:
    fake_api.fail("sendMessage", error_code=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "hi")
    assert seconds(caught.value.retry_after) == 7
    await bot.send_message(USER, "hi again")
    assert fake_api.sent_texts(USER) == ["hi again"]
    assert [c.status for c in fake_api.calls("sendMessage")] == [429, 200]


async def test_forbidden_only_for_the_chosen_chat(bot: Bot, fake_api: FakeBotApi) -> None:
    fake_api.fail("sendMessage", error_code=403, chat_id=USER, times=None)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(USER, "hi")
    with pytest.raises(Forbidden):
        await bot.send_message(USER, "still blocked")
    await bot.send_message(USER + 1, "someone else")
    assert fake_api.sent_texts(USER) == []


async def test_bad_request_message_not_modified(bot: Bot, fake_api: FakeBotApi) -> None:
    fake_api.fail(
        "editMessageText", error_code=400, description="Bad Request: message is not modified"
    )
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("x", chat_id=USER, message_id=1)


async def test_server_error_is_a_network_error(bot: Bot, fake_api: FakeBotApi) -> None:
    fake_api.fail("sendMessage", error_code=502)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "hi")


async def test_delay_causes_timed_out(fake_api: FakeBotApi, bot_token: str) -> None:
    request = HTTPXRequest(read_timeout=0.2)
    async with Bot(bot_token, base_url=fake_api.base_url, request=request) as bot:
        fake_api.delay("sendMessage", 1.0)
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "slow")
        assert time.monotonic() - started < 0.9
        # The message did reach the chat: the answer was late, which is what makes retries risky.
        assert fake_api.sent_texts(USER) == ["slow"]


async def test_drop_connection_is_a_network_error(bot: Bot, fake_api: FakeBotApi) -> None:
    fake_api.drop_connection("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "lost")
    assert fake_api.sent_texts(USER) == []
    assert fake_api.calls("sendMessage")[0].status == 0
    await bot.send_message(USER, "after")
    assert fake_api.sent_texts(USER) == ["after"]


async def test_unknown_method_and_bad_token(fake_api: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    stranger = Bot("123456:AA", base_url=fake_api.base_url + "x")
    with pytest.raises(InvalidToken):
        await stranger.initialize()
    await stranger.shutdown()


async def test_rate_limit_counts_accepted_and_rejected(bot: Bot, fake_api: FakeBotApi) -> None:
    fake_api.rate_limit(3)
    outcomes = []
    for number in range(5):
        try:
            await bot.send_message(USER, f"n{number}")
            outcomes.append("ok")
        except RetryAfter as error:
            outcomes.append(seconds(error.retry_after))
    assert outcomes == ["ok", "ok", "ok", 1, 1]
    assert fake_api.rate_stats() == {"accepted": 3, "rejected": 2}
    await bot.send_chat_action(USER, "typing")  # not a message: never limited


async def test_get_updates_delivers_and_confirms(bot: Bot, fake_api: FakeBotApi) -> None:
    first = fake_api.text(USER, "hello")
    second = fake_api.command(USER, "/start from_ad")
    fake_api.group_text(-100, USER, "in a group")

    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [first["update_id"], second["update_id"], 3]
    assert updates[0].message.text == "hello"
    assert updates[1].message.parse_entities() == {updates[1].message.entities[0]: "/start"}
    assert updates[2].effective_chat.type == "group"
    assert fake_api.pending_updates() == 3  # delivered is not confirmed

    again = await bot.get_updates(offset=second["update_id"], limit=1, timeout=0)
    assert [u.update_id for u in again] == [second["update_id"]]
    assert fake_api.confirmed_offset == second["update_id"]
    assert fake_api.pending_updates() == 2


async def test_get_updates_long_poll_wakes_on_push(bot: Bot, fake_api: FakeBotApi) -> None:
    async def push_soon() -> None:
        await asyncio.sleep(0.2)
        await asyncio.to_thread(fake_api.text, USER, "late")

    started = time.monotonic()
    pusher = asyncio.create_task(push_soon())
    updates = await bot.get_updates(timeout=5)
    await pusher
    assert [u.message.text for u in updates] == ["late"]
    assert time.monotonic() - started < 2


async def test_get_updates_long_poll_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=0.3) == ()
    assert 0.25 <= time.monotonic() - started < 2


async def test_allowed_updates_filters_kinds(bot: Bot, fake_api: FakeBotApi) -> None:
    fake_api.text(USER, "message")
    fake_api.channel_post(-1001, "post")
    updates = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.message.text for u in updates] == ["message"]


async def test_update_builders_parse_in_ptb(bot: Bot, fake_api: FakeBotApi) -> None:
    sent = await bot.send_message(USER, "Pick one", reply_markup=keyboard())
    await bot.send_message(USER, "A hint without buttons")
    fake_api.callback(USER, "reset:yes")
    fake_api.sticker(USER)
    fake_api.photo(USER)
    fake_api.voice(USER, language_code="de")
    fake_api.document(USER)
    fake_api.edited_text(USER, "edited")
    fake_api.channel_post(-1001, "post")

    updates = await bot.get_updates(timeout=0)
    query, sticker, photo, voice, document, edited, post = updates
    assert query.callback_query.data == "reset:yes"
    assert query.callback_query.message.message_id == sent.message_id  # the one with buttons
    assert sticker.message.sticker.emoji
    assert photo.message.photo[-1].width == 1280
    assert voice.message.voice.duration == 7
    assert voice.effective_user.language_code == "de"
    assert document.message.document.file_name
    assert edited.edited_message.text == "edited"
    assert post.channel_post.chat.type == "channel"


async def test_callback_on_unknown_message_is_inaccessible(bot: Bot, fake_api: FakeBotApi) -> None:
    fake_api.callback(USER, "old", message_id=99)
    (update,) = await bot.get_updates(timeout=0)
    assert not update.callback_query.message.is_accessible
    assert await bot.answer_callback_query(update.callback_query.id, text="That step has passed")
    assert fake_api.callback_answer(update.callback_query.id)["text"] == "That step has passed"
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query("never-issued")


async def test_stop_wakes_a_waiting_long_poll(bot_token: str) -> None:
    api = FakeBotApi().start()
    async with Bot(bot_token, base_url=api.base_url) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await asyncio.to_thread(api.stop)
        with contextlib.suppress(NetworkError):  # an empty answer or a closed socket
            assert await poll == ()
        assert time.monotonic() - started < 2


def test_raw_connection_sees_json_404_for_unknown_paths(fake_api: FakeBotApi) -> None:
    with socket.create_connection(("127.0.0.1", fake_api.port)) as conn:
        conn.sendall(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b"".join(iter(lambda: conn.recv(4096), b""))
    assert answer.startswith(b"HTTP/1.1 404")
    assert b'"ok": false' in answer


def test_wait_for_sync_fails_with_a_dump(fake_api: FakeBotApi) -> None:
    fake_api.text(USER, "hello")
    with pytest.raises(AssertionError, match="pending updates: 1"):
        fake_api.wait_for_sync(lambda: fake_api.sent_texts(USER), timeout=0.05)


async def start_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reply to /start with a button and the argument it got."""
    argument = " ".join(context.args or []) or "none"
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Go on", callback_data="next")]])
    await update.effective_message.reply_text(f"Welcome ({argument})", reply_markup=markup)


async def next_step(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button press and edit the message to the next step."""
    await update.callback_query.answer()
    await update.callback_query.edit_message_text("Step two")


async def test_application_polls_and_replies(fake_api: FakeBotApi, bot_token: str) -> None:
    app = ApplicationBuilder().token(bot_token).base_url(fake_api.base_url).build()
    app.add_handler(CommandHandler("start", start_reply))
    app.add_handler(CallbackQueryHandler(next_step))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=1)

        command = fake_api.command(USER, "/start from_ad")
        await fake_api.wait_for(lambda: fake_api.sent_texts(USER) == ["Welcome (from_ad)"])
        fake_api.press(USER, "Go on")
        welcome = fake_api.sent_messages(USER)[0]
        await fake_api.wait_for(
            lambda: (fake_api.message(USER, welcome["message_id"]) or {}).get("text") == "Step two"
        )

        started = time.monotonic()
        await app.updater.stop()
        await app.stop()
        assert time.monotonic() - started < 2

    assert command["message"]["chat"]["id"] == fake_api.calls("sendMessage")[0].chat_id == USER
    assert fake_api.pending_updates() == 0  # the updater confirmed everything on stop
    assert fake_api.calls("answerCallbackQuery")[0].status == 200


async def test_negative_offset_and_sticky_allowed_updates(bot: Bot, fake_api: FakeBotApi) -> None:
    for number in range(4):
        fake_api.text(USER, f"m{number}")
    kept = await bot.get_updates(offset=-1, timeout=0)
    assert [u.message.text for u in kept] == ["m3"]
    assert fake_api.pending_updates() == 1

    await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    fake_api.text(USER, "ignored")
    fake_api.callback(USER, "x")
    later = await bot.get_updates(timeout=0)  # the previous allowed_updates still hold
    assert [u.callback_query.data for u in later] == ["x"]


async def test_concurrent_sends_get_distinct_message_ids(bot: Bot, fake_api: FakeBotApi) -> None:
    sent = await asyncio.gather(*(bot.send_message(USER, f"n{i}") for i in range(20)))
    assert sorted(m.message_id for m in sent) == list(range(1, 21))
    assert len(fake_api.calls("sendMessage", chat_id=USER)) == 20
