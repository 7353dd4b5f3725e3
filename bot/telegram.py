"""The Telegram adapter: updates become engine inputs, replies become Bot API calls.

Private chats only. Every handler asks the service first (which commits the user's new
state) and only then talks to Telegram, so a failed send never loses an answer.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
import warnings
from functools import partial
from pathlib import Path
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    ChatMemberUpdated,
    InputFile,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
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
from telegram.request import BaseRequest, HTTPXRequest
from telegram.warnings import PTBUserWarning

from bot.config import Settings
from bot.health import touch_heartbeat
from bot.incoming import PollingBot
from bot.model import Attachment, Command, Event, Media, Press, Reply, Text
from bot.reliability import (
    ConfirmAfterHandled,
    FloodGuard,
    PerUserUpdateProcessor,
    UpdateTracker,
    best_effort,
    call_with_retries,
    retry_after_seconds,
)
from bot.seen_ids import build_forgetting
from bot.service import DueMessage, Result, Service, compile_rules_in_background

log = logging.getLogger(__name__)
# The Application as built here: PTB's default bot, context, data and job queue types.
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
# do_api_request suggests the typed method for known endpoints; call_unparsed means it.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.", category=PTBUserWarning)
PRIVATE = filters.ChatType.PRIVATE
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "channel_post"]
# The Bot API's JSON for an inline keyboard: {"inline_keyboard": [[{"text": ..., ...}], ...]}.
Markup = dict[str, list[list[dict[str, str | None]]]]
# Telegram allows about 30 messages a second in bulk. PTB's default limiter lets a burst of 30
# through and then 30 a second more, so any one second can see up to 60 and Telegram answers
# 429 (the benchmark's sweep measured a fifth of the rate lost to waits). A bucket of
# SEND_BURST refilling at SEND_RATE keeps every one-second window within BURST + RATE = 30,
# while the small bucket absorbs late timer wake-ups so the rate stays close to 28 a second.
SEND_BURST = 2
SEND_RATE_PER_SECOND = 28
BUILDER_POOL_SIZE = 256  # ApplicationBuilder's default pool for Bot API calls (getUpdates: 1)


def build_application(
    settings: Settings,
    service: Service,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: BaseRateLimiter[Any] | None = None,
    compile_rules: bool = False,
) -> AnyApplication:
    """Build the PTB application with all handlers; `on_startup` runs at start.

    Updates of different users run concurrently, one user's in order (see bot/reliability.py).
    `request`/`get_updates_request` replace the HTTP layer (tests: stubs, short timeouts) and
    `rate_limiter` the limiter (the benchmark measures the bot, not Telegram's limits).
    `compile_rules` (`python -m bot run`): `on_startup` compiles every crisis pattern group in
    the background once the bot is up, so no user's first long message waits for it; test bots
    leave it off (each builds its own engine) and compile a group when a message first needs it.
    """
    tracker = UpdateTracker(FloodGuard())
    heartbeat = partial(touch_heartbeat, settings.db_path)
    urls = {}
    if settings.api_url:
        base = settings.api_url.rstrip("/")
        urls = {"base_url": base, "base_file_url": base.removesuffix("/bot") + "/file/bot"}
    bot = PollingBot(  # as ApplicationBuilder builds its bot, but getUpdates read leanly
        settings.token or "",
        request=request or HTTPXRequest(connection_pool_size=BUILDER_POOL_SIZE),
        get_updates_request=ConfirmAfterHandled(tracker, get_updates_request, heartbeat),
        rate_limiter=rate_limiter or default_rate_limiter(),
        **urls,
    )
    builder = (
        ApplicationBuilder()
        .bot(bot)
        .update_queue(tracker)
        .concurrent_updates(PerUserUpdateProcessor(service.locks, tracker))
        .post_init(on_startup)
    )
    application = build_forgetting(builder)
    application.bot_data["service"] = service
    application.bot_data["compile_rules"] = compile_rules
    tracker.on_drop = partial(on_flood, application, tracker.guard)
    add_handlers(application)
    schedule_checkin_sweep(application, settings.checkin_sweep_seconds)
    return application


def default_rate_limiter() -> AIORateLimiter:
    """At most SEND_BURST + SEND_RATE_PER_SECOND messages in any second; retry 429s thrice."""
    return AIORateLimiter(
        overall_max_rate=SEND_BURST,
        overall_time_period=SEND_BURST / SEND_RATE_PER_SECOND,
        max_retries=3,
    )


def add_handlers(application: AnyApplication) -> None:
    """Register the handlers: private chats get the conversation, groups a polite notice."""
    application.add_handler(ChatMemberHandler(on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    # Only new messages are input: an edited message is not a new answer (it is ignored), and
    # a channel post has no user to talk to.
    new = filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(new & ~PRIVATE & filters.COMMAND, on_group_command))
    application.add_handler(MessageHandler(new & PRIVATE & filters.COMMAND, on_command))
    application.add_handler(
        MessageHandler(new & PRIVATE & filters.TEXT & ~filters.COMMAND, on_text)
    )
    application.add_handler(
        MessageHandler(
            PRIVATE & filters.UpdateType.MESSAGE & ~filters.TEXT & ~filters.StatusUpdate.ALL,
            on_media,
        )
    )
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_error_handler(on_error)


async def on_startup(application: AnyApplication) -> None:
    """Publish the command menu for private chats, say that we are up, then (if asked) start
    compiling the crisis rules in the background."""
    service: Service = application.bot_data["service"]
    commands = [
        BotCommand(c.command, c.description)
        for c in service.engine.messages.commands
        if c.listed  # operator commands and old names stay out of everyone's menu
    ]
    await application.bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats())
    log.info("Reconnect is running as @%s", application.bot.username)
    if application.bot_data.get("compile_rules"):  # started after initialize(), not during it
        application.bot_data["compiling"] = compile_rules_in_background(service.engine)


def to_command(text: str) -> Command:
    """Parse '/Start@SomeBot args' into Command('start', 'args')."""
    head, _, args = text.strip().partition(" ")
    name = head.lstrip("/").split("@", 1)[0].lower()
    return Command(name=name, args=args.strip())


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any /command in a private chat; the engine knows which ones exist."""
    if update.effective_message is not None:  # a command handler only sees messages
        await _handle(update, context, to_command(update.effective_message.text or ""))


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Typed text in a private chat; a forwarded message is someone else's words, not input."""
    message = update.effective_message
    if message is None:
        return
    if message.forward_origin is not None:  # never stored; still checked for a crisis
        await _handle(update, context, Media("forwarded", caption=message.text or ""))
        return
    await _handle(update, context, Text(message.text or ""))


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice notes, files: things the bot does not read (captions are
    checked for a crisis before anything else, never stored)."""
    message = update.effective_message
    if message is None:
        return
    kind = next(
        (k for k in ("sticker", "photo", "voice", "video", "document", "audio") if message[k]),
        "other",
    )
    if message.forward_origin is not None:
        kind = "forwarded"
    await _handle(update, context, Media(kind, caption=message.caption or ""))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A tap on an inline button."""
    query = update.callback_query
    if query is None:
        return
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        await answer_callback(context.bot, query.id, None)
        return
    await _handle(update, context, Press(query.data or ""))


async def on_group_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command in a group: explain once, store nothing."""
    service: Service = context.bot_data["service"]
    message = update.effective_message
    if message is None:
        return
    await best_effort(
        lambda: message.reply_text(service.engine.messages["group_only"]), "group notice"
    )


async def on_membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Added to a group or channel: say it works in private chats only, then leave."""
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None or change.chat.type == ChatType.PRIVATE:
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
    if user is None or user.is_bot:
        return  # only people have a conversation (and a row)
    service: Service = context.bot_data["service"]
    # SQLite and the engine run off the event loop: a locked database or a long message
    # holds up only this user (whose updates wait their turn anyway), never anyone else.
    # The result comes once the update's write is committed (with others': group commit).
    result = await service.handle_async(
        user.id, event, user.language_code, update_id=update.update_id
    )
    tracker = context.application.update_queue
    if isinstance(tracker, UpdateTracker):
        if result.written is not None:
            # Read-only: answered at once, confirmed once its record is written (a crash
            # before that only means it is answered again); this user is not held up.
            tracker.settle_when(update.update_id, result.written)
        else:
            # Committed (or nothing to commit): it may be confirmed; a failed save is not.
            tracker.settle(update.update_id, committed=not result.failed)
    if result.duplicate:
        return  # redelivered after a restart: it was handled and answered before
    if update.callback_query is not None:
        # The tapped keyboard is left as it is (docs/decisions/0006-tapped-keyboards-stay.md):
        # an old button of another step is refused kindly by the engine, and clearing would
        # cost a call, and a slot of the rate limiter's budget, on every tap.
        await answer_callback(context.bot, update.callback_query.id, result.notice)
    # A private chat's id is the user's id; a forged press on someone else's message must
    # never send this user's conversation into another chat.
    await send_replies(context, user.id, result)


async def send_replies(context: ContextTypes.DEFAULT_TYPE, chat_id: int, result: Result) -> bool:
    """Send each reply in order; False if one could not be delivered (the rest are dropped).

    The state was committed before, so nothing is lost: the user's next /start shows their
    step. A user who blocked the bot is marked inactive.
    """
    try:
        for reply in result.replies:
            if not await send_reply(context, chat_id, reply):
                return False
    except Forbidden:
        await asyncio.to_thread(context.bot_data["service"].user_blocked, chat_id)
        return False
    except BadRequest as error:
        log.error("Telegram refused a reply: %s", error.message)
        return False
    return True


async def send_reply(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> bool:
    """Send one reply, splitting any text longer than Telegram allows; False if given up."""
    if reply.attachment is not None:
        return await send_attachment(context, chat_id, reply, reply.attachment)
    chunks = split_text(reply.text)
    for index, chunk in enumerate(chunks):
        markup = keyboard(reply) if index == len(chunks) - 1 else None
        params = message_params(chat_id, chunk, markup)
        sent = await call_with_retries(
            partial(call_unparsed, context.bot, "sendMessage", params), "sendMessage"
        )
        if sent is None:
            return False
    return True


async def send_attachment(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply, attachment: Attachment
) -> bool:
    """Render the file off the event loop (charts take a while), then send it with a caption."""
    data = await asyncio.to_thread(attachment.render)
    params = message_params(chat_id, None, keyboard(reply))
    params["caption"] = reply.text[: MessageLimit.CAPTION_LENGTH]
    method = "sendPhoto" if attachment.kind == "photo" else "sendDocument"

    async def call() -> Any:  # a fresh InputFile each time: a retry must not half-read it
        file = InputFile(data, filename=attachment.filename)
        return await call_unparsed(context.bot, method, {**params, attachment.kind: file})

    return await call_with_retries(call, f"send {attachment.kind}") is not None


def message_params(chat_id: int, text: str | None, markup: Markup | None) -> dict[str, Any]:
    """sendMessage's parameters as the Bot API names them (no text: for a caption's method)."""
    params: dict[str, Any] = {"chat_id": chat_id}
    if text is not None:
        params["text"] = text
    if markup is not None:
        params["reply_markup"] = markup
    return params


def keyboard(reply: Reply) -> Markup | None:
    """A reply's buttons as the Bot API's inline keyboard, one button per row.

    Plain JSON, not PTB's InlineKeyboardMarkup: building and serialising the objects cost
    about 80 µs a message in the benchmark; the Bot API reads the same JSON either way.
    Callback data is at most 64 bytes (checked when a Button is made, see bot/model.py).
    """
    if not reply.buttons:
        return None
    return {
        "inline_keyboard": [
            [
                {"text": b.label, "url": b.url}
                if b.url
                else {"text": b.label, "callback_data": b.data}
            ]
            for b in reply.buttons
        ]
    }


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split text into pieces Telegram accepts, preferring paragraph and line breaks."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text or not pieces else pieces


async def answer_callback(bot: Bot, query_id: str, notice: str | None) -> None:
    """Stop the button's spinner (with a short pop-up if `notice`); a query that is too old
    to answer is not worth a warning."""
    params: dict[str, Any] = {"callback_query_id": query_id}
    if notice:
        params["text"] = notice
    await best_effort(lambda: call_unparsed(bot, "answerCallbackQuery", params), "callback answer")


async def call_unparsed(bot: Bot, method: str, params: dict[str, Any]) -> Any:
    """Call a Bot API method with parameters as the Bot API names them (plain JSON, or an
    InputFile for an upload) and keep its answer as plain JSON.

    Every call of the update path and of check-in delivery goes through here: PTB's typed
    methods build objects for the parameters and turn every returned Message into objects,
    which was about half a button tap's time in the benchmark's profile, and the bot never
    reads what they return. `Bot.do_api_request` is public; same rate limiter, same errors
    (Forbidden, BadRequest, RetryAfter, NetworkError) as the typed methods.
    """
    return await bot.do_api_request(method, api_kwargs=params)


async def on_flood(application: AnyApplication, guard: FloodGuard | None, update: Update) -> None:
    """An update dropped by the flood guard: check its words for a crisis (never dropped
    silently), else ask kindly to slow down, each at most once per window."""
    user = update.effective_user
    if user is None or user.is_bot or guard is None:
        return
    service: Service = application.bot_data["service"]
    message = update.effective_message
    words = (message.text or message.caption or "") if message is not None else ""
    crisis = None
    if words:
        crisis = await asyncio.to_thread(service.engine.crisis_check, words, user.language_code)
    if crisis is not None:
        if not guard.may_warn(("crisis", user.id)):
            return
        reply = crisis
    elif guard.may_warn(("slow", user.id)):
        reply = Reply(service.engine.messages["slow_down"])
    else:
        return
    params = message_params(user.id, reply.text, keyboard(reply))
    await best_effort(lambda: call_unparsed(application.bot, "sendMessage", params), "slow down")


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure without any message content."""
    error = context.error
    # Type and place only: an exception's message or a traceback's locals can hold what a
    # user wrote or a state name that reveals an answer.
    frames = traceback.extract_tb(error.__traceback__) if error is not None else []
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    log.error("error while handling an update: %s at %s", type(error).__name__, where)


# --- the check-in sweep: due check-ins live in SQLite; one repeating job sends them -------------

CHECKIN_JOB = "checkin_sweep"
# Claimed per transaction. A claim is cheap (10k take well under 100 ms), but sending is
# ~28 a second: small batches keep the claims fresh and let due check-ins found later go first.
SWEEP_BATCH = 200
RETRY_LATER_SECONDS = 60


def schedule_checkin_sweep(application: AnyApplication, interval_seconds: int) -> None:
    """Run the sweep every `interval_seconds`; a restart loses nothing (the schedule is stored)."""
    if application.job_queue is None:
        raise RuntimeError("the job queue is missing: install python-telegram-bot[job-queue]")
    application.job_queue.run_repeating(
        checkin_sweep, interval=interval_seconds, first=interval_seconds, name=CHECKIN_JOB
    )


async def checkin_sweep(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send every due check-in, batch by batch; a failed delivery is put back as due or stops."""
    service: Service = context.bot_data["service"]
    claimed = due = sent = 0
    while batch := await asyncio.to_thread(service.claim_due_checkins, SWEEP_BATCH):
        claimed += len(batch)
        for claim in batch:
            async with service.user_lock(claim.user_id):  # never interleave with a handler
                # Decided and marked sent just before sending (not at claim time), so quiet
                # hours and settings are as of now, and a crash can never send it twice.
                message = await asyncio.to_thread(service.take_checkin, claim)
                if message is not None:
                    due += 1
                    sent += await deliver_checkin(context, message)
        if len(batch) < SWEEP_BATCH:
            break
    if claimed:
        # "due": claims that were still to be sent when taken (not quiet, not off, ...).
        log.info("checkin sweep: %d due, %d sent (%d claimed)", due, sent, claimed)


async def deliver_checkin(context: ContextTypes.DEFAULT_TYPE, message: DueMessage) -> bool:
    """Send one claimed check-in; blocked users stop, passing failures make it due again.

    One attempt only (the rate limiter already waits out short flood control): a check-in that
    cannot go now is put back as due rather than slept on while holding the user's lock.
    """
    service: Service = context.bot_data["service"]
    reply = message.reply
    params = message_params(message.user_id, reply.text, keyboard(reply))
    try:
        await call_unparsed(context.bot, "sendMessage", params)
        return True
    except Forbidden:
        await asyncio.to_thread(service.user_blocked, message.user_id)  # no more check-ins
    except BadRequest as error:  # e.g. chat not found: retrying would not help
        log.warning("a check-in was not accepted: %s", error.message)
    except RetryAfter as error:
        await asyncio.to_thread(service.release_checkin, message, retry_after_seconds(error))
    except NetworkError as error:  # includes TimedOut: try again on a later sweep
        log.warning("a check-in was postponed after %s", type(error).__name__)
        await asyncio.to_thread(service.release_checkin, message, RETRY_LATER_SECONDS)
    return False
