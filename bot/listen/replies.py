"""flows/listen.yaml: what the bot answers to each recognised intent (content, not code)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.datafile import read_mapping
from bot.listen.data import INTENTS

LISTEN_PATH = Path(__file__).resolve().parents[2] / "flows" / "listen.yaml"
MAX_REPLY_WORDS = 70
MAX_LABEL = 30


@dataclass(frozen=True)
class ReplyButton:
    """A button under a free-text reply: runs a command, or opens a review step."""

    label: str
    command: str | None = None
    review: str | None = None


@dataclass(frozen=True)
class IntentReply:
    """The replies (one is picked) and buttons for one intent, and the points behind them."""

    covers: tuple[str, ...]
    replies: tuple[str, ...]
    buttons: tuple[ReplyButton, ...]


@dataclass(frozen=True)
class FreeTextReplies:
    """Everything flows/listen.yaml holds."""

    intents: dict[str, IntentReply]
    not_understood: tuple[str, ...]
    checkin_ack: str
    mid_walk: str
    safety_mode: IntentReply = IntentReply((), (), ())  # while coaching is off for safety
    safety_keep: frozenset[str] = frozenset()  # intents that answer as usual in safety mode


def _buttons(items: object, where: str, problems: list[str]) -> tuple[ReplyButton, ...]:
    """A list of buttons (label and command or review), each checked."""
    buttons = []
    for item in items if isinstance(items, list) else ():
        label = str(item.get("label", ""))
        if not label or len(label) > MAX_LABEL:
            problems.append(f"{where}: button label '{label}' must be 1-{MAX_LABEL} characters")
        if bool(item.get("command")) == bool(item.get("review")):
            problems.append(f"{where}: button '{label}' needs either 'command' or 'review'")
        buttons.append(ReplyButton(label, item.get("command"), item.get("review")))
    return tuple(buttons)


def _replies(body: dict[str, Any], where: str, problems: list[str]) -> tuple[str, ...]:
    """A list of replies, at least one, none over MAX_REPLY_WORDS words."""
    replies = tuple(str(r).strip() for r in body.get("replies") or ())
    if not replies:
        problems.append(f"{where} needs at least one reply")
    for reply in replies:
        if len(reply.split()) > MAX_REPLY_WORDS:
            problems.append(f"{where}: a reply is over {MAX_REPLY_WORDS} words")
    return replies


def load_free_text_replies(path: Path = LISTEN_PATH) -> FreeTextReplies:
    """Read and check listen.yaml; every problem is reported at once (file, intent, what)."""
    raw = read_mapping(path, ValueError)
    problems: list[str] = []
    intents = {}
    for name in INTENTS:
        if name == "off_topic":
            continue
        body = (raw.get("intents") or {}).get(name)
        where = f"{path.name}: intent '{name}'"
        if not isinstance(body, dict):
            problems.append(f"{where} is missing")
            continue
        replies = _replies(body, where, problems)
        buttons = _buttons(body.get("buttons"), where, problems)
        intents[name] = IntentReply(tuple(body.get("covers") or ()), replies, buttons)
    for name in set(raw.get("intents") or {}) - set(INTENTS):
        problems.append(f"{path.name}: '{name}' is not an intent the model knows")
    not_understood = tuple(str(r).strip() for r in raw.get("not_understood") or ())
    if not not_understood:
        problems.append(f"{path.name}: 'not_understood' needs at least one reply")
    for key in ("checkin_ack", "mid_walk"):
        if not raw.get(key):
            problems.append(f"{path.name}: '{key}' is missing")
    safety = raw.get("safety_mode")
    where = f"{path.name}: safety_mode"
    if not isinstance(safety, dict):
        problems.append(f"{where} is missing")
        safety = {}
    keep = frozenset(str(name) for name in safety.get("keep") or ())
    problems += [f"{where}: keep: '{name}' is not an intent" for name in keep - set(INTENTS)]
    safety_mode = IntentReply(
        (), _replies(safety, where, problems), _buttons(safety.get("buttons"), where, problems)
    )
    if problems:
        raise ValueError("\n".join(problems))
    return FreeTextReplies(
        intents,
        not_understood,
        str(raw["checkin_ack"]).strip(),
        str(raw["mid_walk"]).strip(),
        safety_mode,
        keep,
    )
