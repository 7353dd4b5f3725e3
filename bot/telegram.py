"""The Telegram adapter: updates become engine inputs, replies become Bot API calls.

Private chats only. Every handler asks the service first (which commits the user's new
state) and only then talks to Telegram, so a failed send never loses an answer.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, MessageLimit
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import Settings
from bot.model import Command, Event, Media, Press, Reply, Text
from bot.service import Result, Service

log = logging.getLogger(__name__)
PRIVATE = filters.ChatType.PRIVATE
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "channel_post"]
# Telegram allows about 30 messages a second in bulk. PTB's default limiter lets a burst of 30
# through and then 30 a second more, so any one second can see up to 60 and Telegram answers
# 429 (the benchmark's sweep measured a fifth of the rate lost to waits). A bucket of
# SEND_BURST refilling at SEND_RATE keeps every one-second window within BURST + RATE = 30,
# while the small bucket absorbs late timer wake-ups so the rate stays close to 28 a second.
SEND_BURST = 2
SEND_RATE_PER_SECOND = 28


def build_application(
    settings: Settings,
    service: Service,
    *,
    request: BaseRequest | None = None,
    rate_limiter: BaseRateLimiter | None = None,
) -> Application:
    """Build the PTB application with all handlers; `on_startup` runs at start.

    `request` and `rate_limiter` replace the HTTP client and the limiter (the benchmark
    answers the Bot API without a network and measures the bot, not Telegram's limits).
    """
    builder = (
        ApplicationBuilder()
        .token(settings.token or "")
        .rate_limiter(rate_limiter or default_rate_limiter())
        .post_init(on_startup)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if settings.api_url:
        base = settings.api_url.rstrip("/")
        builder = builder.base_url(base).base_file_url(base.removesuffix("/bot") + "/file/bot")
    application = builder.build()
    application.bot_data["service"] = service
    add_handlers(application)
    return application


def default_rate_limiter() -> AIORateLimiter:
    """At most SEND_BURST + SEND_RATE_PER_SECOND messages in any second; retry 429s thrice."""
    return AIORateLimiter(
        overall_max_rate=SEND_BURST,
        overall_time_period=SEND_BURST / SEND_RATE_PER_SECOND,
        max_retries=3,
    )


def add_handlers(application: Application) -> None:
    """Register the handlers: private chats get the conversation, groups a polite notice."""
    application.add_handler(ChatMemberHandler(on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(MessageHandler(~PRIVATE & filters.COMMAND, on_group_command))
    application.add_handler(MessageHandler(PRIVATE & filters.COMMAND, on_command))
    application.add_handler(MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND, on_text))
    application.add_handler(
        MessageHandler(
            PRIVATE & filters.UpdateType.MESSAGE & ~filters.TEXT & ~filters.StatusUpdate.ALL,
            on_media,
        )
    )
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_error_handler(on_error)


async def on_startup(application: Application) -> None:
    """Publish the command menu for private chats and say that we are up."""
    service: Service = application.bot_data["service"]
    commands = [BotCommand(c.command, c.description) for c in service.engine.messages.commands]
    await application.bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats())
    log.info("Reconnect is running as @%s", application.bot.username)


def to_command(text: str) -> Command:
    """Parse '/Start@SomeBot args' into Command('start', 'args')."""
    head, _, args = text.strip().partition(" ")
    name = head.lstrip("/").split("@", 1)[0].lower()
    return Command(name=name, args=args.strip())


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any /command in a private chat; the engine knows which ones exist."""
    await _handle(update, context, to_command(update.effective_message.text or ""))


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Typed text in a private chat."""
    await _handle(update, context, Text(update.effective_message.text or ""))


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice notes, files: things the bot does not read."""
    message = update.effective_message
    kind = next(
        (k for k in ("sticker", "photo", "voice", "video", "document", "audio") if message[k]),
        "other",
    )
    await _handle(update, context, Media(kind))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A tap on an inline button."""
    query = update.callback_query
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        await _answer_quietly(query, None)
        return
    await _handle(update, context, Press(query.data or ""))


async def on_group_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command in a group: explain once, store nothing."""
    service: Service = context.bot_data["service"]
    await update.effective_message.reply_text(service.engine.messages["group_only"])


async def on_membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Added to a group or channel: say it works in private chats only, then leave."""
    change: ChatMemberUpdated = update.my_chat_member
    if change.chat.type == ChatType.PRIVATE:
        return
    if change.new_chat_member.status not in (
        ChatMemberStatus.MEMBER,
        ChatMemberStatus.ADMINISTRATOR,
    ):
        return
    service: Service = context.bot_data["service"]
    try:
        await context.bot.send_message(change.chat.id, service.engine.messages["group_only"])
        await context.bot.leave_chat(change.chat.id)
    except (BadRequest, Forbidden) as error:
        log.info("could not leave a group chat: %s", type(error).__name__)


async def _handle(update: Update, context: ContextTypes.DEFAULT_TYPE, event: Event) -> None:
    """Ask the service (which commits first), then send the replies."""
    user = update.effective_user
    if user is None:
        return
    service: Service = context.bot_data["service"]
    result = service.handle(user.id, event, user.language_code)
    if update.callback_query is not None:
        await _answer_quietly(update.callback_query, result.notice)
        await _clear_keyboard(update.callback_query)
    await send_replies(context, update.effective_chat.id, result)


async def send_replies(context: ContextTypes.DEFAULT_TYPE, chat_id: int, result: Result) -> None:
    """Send each reply, splitting any text longer than Telegram allows."""
    for reply in result.replies:
        if reply.attachment is not None:
            await send_attachment(context, chat_id, reply)
            continue
        chunks = split_text(reply.text)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            await context.bot.send_message(
                chat_id, chunk, reply_markup=keyboard(reply) if last else None
            )


async def send_attachment(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> None:
    """Render the file off the event loop (charts take a while), then send it with a caption."""
    attachment = reply.attachment
    data = await asyncio.to_thread(attachment.render)
    file = InputFile(data, filename=attachment.filename)
    caption = reply.text[: MessageLimit.CAPTION_LENGTH]
    if attachment.kind == "photo":
        await context.bot.send_photo(chat_id, file, caption=caption, reply_markup=keyboard(reply))
    else:
        await context.bot.send_document(
            chat_id, file, caption=caption, reply_markup=keyboard(reply)
        )


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Turn a reply's buttons into an inline keyboard, one button per row."""
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, url=b.url)
                if b.url
                else InlineKeyboardButton(b.label, callback_data=b.data)
            ]
            for b in reply.buttons
        ]
    )


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split text into pieces Telegram accepts, preferring paragraph and line breaks."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text or not pieces else pieces


async def _answer_quietly(query: CallbackQuery, notice: str | None) -> None:
    """Stop the button's spinner; a query that is too old to answer is not worth a warning."""
    try:
        await query.answer(text=notice)
    except BadRequest as error:
        log.debug("callback answer skipped: %s", error.message)


async def _clear_keyboard(query: CallbackQuery) -> None:
    """Remove the buttons from the message that was tapped, so old choices do not linger."""
    if query.message is None or not getattr(query.message, "reply_markup", None):
        return
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as error:  # "message is not modified", "message to edit not found"
        log.debug("keyboard not cleared: %s", error.message)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure without any message content."""
    error = context.error
    log.error("error while handling an update: %s", type(error).__name__, exc_info=error)
