"""Talking to the bot as a user: over the fake Bot API, or in-process through its Service."""

from __future__ import annotations

from bot.model import Command, Press, Reply
from bot.service import Service
from tests.support.fake_bot_api import FakeBotApi

USER = 1001
HUB_LABEL = "Revisit the ideas"  # offered only at the menu
SAFETY_NONE = "None of this applies"  # the safety screen comes first


async def reply_count(api: FakeBotApi, user: int, count: int) -> list[str]:
    """Wait until the bot has sent `count` messages to `user`; return their texts."""
    await api.wait_for(lambda: len(api.sent_texts(user)) >= count)
    return api.sent_texts(user)


async def tap(api: FakeBotApi, label: str, user: int = USER) -> str:
    """Tap a button on the latest keyboard and return the bot's next message."""
    before = len(api.sent_texts(user))
    api.press(user, label)
    texts = await reply_count(api, user, before + 1)
    return texts[-1]


async def say(api: FakeBotApi, text: str, user: int = USER, replies: int = 1) -> str:
    """Send a text (or /command), wait for `replies` messages and return the last one."""
    before = len(api.sent_texts(user))
    if text.startswith("/"):
        api.command(user, text)
    else:
        api.text(user, text)
    return (await reply_count(api, user, before + replies))[-1]


def labels(api: FakeBotApi, user: int = USER) -> list[str]:
    """The labels of the latest keyboard the bot sent to `user`."""
    return [text for row in api.last_keyboard(user) for text, _ in row]


def _pick(options: list[str], choices: dict[str, str]) -> str:
    """The label to tap: a wanted one when offered, else the first."""
    wanted = [SAFETY_NONE, *choices.values()]
    return next((label for label in options if label in wanted), options[0])


async def walk_to_hub(api: FakeBotApi, choices: dict[str, str], user: int = USER) -> list[str]:
    """From /start over Telegram, tap the given label whenever it is offered, else the first.

    About 30 round trips (a few seconds): only for tests about the walk-through itself; the
    others start at the menu with `seed_at_menu`.
    """
    seen = [await say(api, "/start", user)]
    for _ in range(60):
        options = labels(api, user)
        if HUB_LABEL in options:
            return seen
        seen.append(await tap(api, _pick(options, choices), user))
    raise AssertionError("never reached the hub")


def seed_at_menu(
    service: Service, choices: dict[str, str] | None = None, user: int = USER
) -> list[str]:
    """Walk the walk-through to the menu in-process, as `walk_to_hub` does over Telegram.

    The same engine, store and commits as a real conversation (the plan, check-in settings
    and answers all come from the chosen buttons), without the HTTP round trips. Returns
    the texts the user would have seen.
    """
    choices = choices or {}
    replies: list[Reply] = service.handle(user, Command("start"), "en").replies
    seen = [reply.text for reply in replies]
    for _ in range(60):
        buttons = {button.label: button.data for button in replies[-1].buttons}
        if HUB_LABEL in buttons:
            return seen
        data = buttons[_pick(list(buttons), choices)]
        assert data is not None
        replies = service.handle(user, Press(data), "en").replies
        seen += [reply.text for reply in replies]
    raise AssertionError("never reached the hub")
