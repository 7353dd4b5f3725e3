"""An incoming update as the bot reads it: PTB's own objects, built with less work.

With every button press Telegram sends back the whole message the button sat on: its text
(up to 4,096 characters) and its keyboard. The bot reads only who pressed, the query's id and
its data (replies go to the presser's own chat, see bot/telegram.py); building PTB objects for
that message was about half of a press's parsing (260 -> 40 µs a press in a micro-benchmark).
So a press in a private chat is read without it. A press anywhere else keeps its message: the
handler needs the chat to refuse it politely.

PTB's `Update.de_json` reads every one of a message's hundred-odd optional fields, one helper
call each, whatever the message holds. The updates the bot gets most (a private message of
text, a command, a private press) are built here with PTB's public constructors from the few
fields they have (85 -> 64 µs a text in a micro-benchmark; most of what is left is building
PTB's objects themselves); any other update, or one with a field not listed here, goes to
`Update.de_json` as before. Tests check that both give the same update (`to_dict()`) for
every shape built here.

Applied where the bot receives updates: polling (`PollingBot.get_updates`, which also passes
an update PTB cannot read on empty, logged by id only) and the webhook's handler.
"""

from __future__ import annotations

import datetime as dtm
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from telegram import CallbackQuery, Chat, Message, MessageEntity, TelegramObject, Update, User
from telegram.ext import BaseRateLimiter, ExtBot
from telegram.request import BaseRequest

log = logging.getLogger(__name__)
T = TypeVar("T", bound=TelegramObject)

# The fields built directly; an update with any other field is left to Update.de_json.
USER_FIELDS = frozenset(
    {"id", "is_bot", "first_name", "last_name", "username", "language_code", "is_premium"}
)
CHAT_FIELDS = frozenset({"id", "type", "first_name", "last_name", "username"})
MESSAGE_FIELDS = frozenset({"message_id", "from", "chat", "date", "text", "entities"})
ENTITY_FIELDS = frozenset({"type", "offset", "length"})
PRESS_FIELDS = frozenset({"id", "from", "chat_instance", "data"})


def without_tapped_message(update: Any) -> Any:
    """The update, with a private button press's message left out (changed in place)."""
    if not isinstance(update, dict):
        return update
    query = update.get("callback_query")
    if not isinstance(query, dict):
        return update
    message = query.get("message")
    if isinstance(message, dict):
        chat = message.get("chat")
        if isinstance(chat, dict) and chat.get("type") == "private":
            del query["message"]
    return update


def read_update(data: dict[str, Any], bot: ExtBot[Any]) -> Update:
    """The Update that `Update.de_json` builds, built directly for the common shapes."""
    data = without_tapped_message(data)
    try:
        update = _built(data, bot)
    except (KeyError, TypeError, ValueError):
        update = None  # an odd field: PTB's parser decides (and raises as it would)
    return update if update is not None else Update.de_json(data, bot)


def _built(data: dict[str, Any], bot: ExtBot[Any]) -> Update | None:
    if len(data) != 2 or not isinstance(update_id := data.get("update_id"), int):
        return None
    if isinstance(raw := data.get("message"), dict):
        message = _message(raw, bot)
        return None if message is None else _bound(Update(update_id, message=message), bot)
    if isinstance(raw := data.get("callback_query"), dict):
        press = _press(raw, bot)
        return None if press is None else _bound(Update(update_id, callback_query=press), bot)
    return None


def _message(raw: dict[str, Any], bot: ExtBot[Any]) -> Message | None:
    if not raw.keys() <= MESSAGE_FIELDS or not isinstance(raw.get("from"), dict):
        return None
    user, chat = _user(raw["from"], bot), _chat(raw["chat"], bot)
    entities = _entities(raw.get("entities"), bot)
    if user is None or chat is None or entities is None:
        return None
    date = dtm.datetime.fromtimestamp(raw["date"], tz=_tzinfo(bot))
    message = Message(
        raw["message_id"], date, chat, from_user=user, text=raw.get("text"), entities=entities
    )
    return _bound(message, bot)


def _press(raw: dict[str, Any], bot: ExtBot[Any]) -> CallbackQuery | None:
    if not raw.keys() <= PRESS_FIELDS or not isinstance(raw.get("from"), dict):
        return None
    user = _user(raw["from"], bot)
    if user is None:
        return None
    press = CallbackQuery(raw["id"], user, raw["chat_instance"], data=raw.get("data"))
    return _bound(press, bot)


def _user(raw: dict[str, Any], bot: ExtBot[Any]) -> User | None:
    if not raw.keys() <= USER_FIELDS:
        return None
    user = User(
        raw["id"],
        raw["first_name"],
        raw["is_bot"],
        last_name=raw.get("last_name"),
        username=raw.get("username"),
        language_code=raw.get("language_code"),
        is_premium=raw.get("is_premium"),
    )
    return _bound(user, bot)


def _chat(raw: Any, bot: ExtBot[Any]) -> Chat | None:
    if not isinstance(raw, dict) or not raw.keys() <= CHAT_FIELDS or raw.get("type") != "private":
        return None
    chat = Chat(
        raw["id"],
        raw["type"],
        first_name=raw.get("first_name"),
        last_name=raw.get("last_name"),
        username=raw.get("username"),
    )
    return _bound(chat, bot)


def _entities(raw: Any, bot: ExtBot[Any]) -> tuple[MessageEntity, ...] | None:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(item, dict) and item.keys() == ENTITY_FIELDS for item in raw
    ):
        return None
    return tuple(
        _bound(MessageEntity(item["type"], item["offset"], item["length"]), bot) for item in raw
    )


def _tzinfo(bot: ExtBot[Any]) -> dtm.tzinfo:
    defaults = bot.defaults
    return defaults.tzinfo if defaults is not None else dtm.UTC


def _bound(obj: T, bot: ExtBot[Any]) -> T:
    obj.set_bot(bot)  # as de_json does: shortcuts such as message.reply_text work
    return obj


class PollingBot(ExtBot[Any]):
    """PTB's ExtBot, whose getUpdates answer is read with `read_update`."""

    def __init__(
        self,
        token: str,
        *,
        request: BaseRequest,
        get_updates_request: BaseRequest,
        rate_limiter: BaseRateLimiter[Any],
        base_url: str = "https://api.telegram.org/bot",
        base_file_url: str = "https://api.telegram.org/file/bot",
    ):
        # PTB keeps its getUpdates transport privately; a name with "_" may be set any time.
        self._polling = get_updates_request
        super().__init__(
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            request=request,
            get_updates_request=get_updates_request,
            rate_limiter=rate_limiter,
        )

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: Any = None,
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
        api_kwargs: dict[str, Any] | None = None,
    ) -> tuple[Update, ...]:
        """Bot.get_updates through the public `do_api_request`, each update `read_update`."""
        waited = timeout.total_seconds() if isinstance(timeout, dtm.timedelta) else timeout
        wait = read_timeout if isinstance(read_timeout, int | float) else None
        if wait is None:
            wait = self._polling.read_timeout or 0
        parameters = {
            "offset": offset,
            "limit": limit,
            "timeout": waited,
            "allowed_updates": allowed_updates,
        }
        parameters = {key: value for key, value in parameters.items() if value is not None}
        result = await self.do_api_request(
            "getUpdates",
            api_kwargs=parameters | (api_kwargs or {}),
            read_timeout=wait + (waited or 0),
            **_given(
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            ),
        )
        updates = tuple(_readable(item, self) for item in result)
        for update in updates:
            self.insert_callback_data(update)
        return updates


def _readable(item: Any, bot: ExtBot[Any]) -> Update:
    """The update, or an empty one with its id if PTB cannot read it.

    PTB's own get_updates logs the whole answer (what users wrote) when one update fails to
    parse, and raises, so polling asks for the same batch again and again: one odd update
    would stop the bot for everyone. Here it is logged by id and error type only and passed
    on empty (no handler takes it), so polling moves past it.
    """
    try:
        return read_update(item, bot)
    except Exception as error:  # noqa: BLE001 - whatever PTB raises, no update blocks the rest
        update_id = item.get("update_id") if isinstance(item, dict) else None
        if not isinstance(update_id, int):
            raise  # no id to move past: PTB's polling retries, as for a broken answer
        log.error("could not read update %d (%s); skipped", update_id, type(error).__name__)
        return Update(update_id)


def _given(**timeouts: Any) -> dict[str, Any]:
    """The timeouts the caller gave (PTB's DefaultValue and None: the transport's own)."""
    return {key: value for key, value in timeouts.items() if isinstance(value, int | float)}
