"""flows/listen.yaml: what the bot answers to each recognised intent (content, not code)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.datafile import read_mapping
from bot.listen.data import INTENTS
from bot.listen.features import normalise

LISTEN_PATH = Path(__file__).resolve().parents[2] / "flows" / "listen.yaml"
MAX_REPLY_WORDS = 70
MAX_LABEL = 30


@dataclass(frozen=True)
class ReplyButton:
    """A button under a free-text reply: runs a command, or opens a review step."""

    label: str
    command: str | None = None
    review: str | None = None
    living: frozenset[str] = frozenset()  # shown only to users whose living answer is one of these

    def fits(self, answers: dict[str, Any]) -> bool:
        """Whether this button fits the user's answers (no `living` condition: always)."""
        return not self.living or answers.get("living") in self.living


@dataclass(frozen=True)
class IntentReply:
    """The replies (one is picked) and buttons for one intent, and the points behind them."""

    covers: tuple[str, ...]
    replies: tuple[str, ...]
    buttons: tuple[ReplyButton, ...]
    # When set: the intent's replies only when the message says this (normalised, a regular
    # expression), else the `otherwise` intent's. A reply must not assume what was not said.
    requires: re.Pattern[str] | None = None
    otherwise: str | None = None


@dataclass(frozen=True)
class DraftLike:
    """Typed text that reads as a message for the spouse: it gets the draft check instead."""

    note: str = ""
    patterns: tuple[re.Pattern[str], ...] = ()

    def matches(self, text: str) -> bool:
        """Whether the (normalised) text reads as a message written to the spouse."""
        normal = normalise(text)
        return any(pattern.search(normal) for pattern in self.patterns)


@dataclass(frozen=True)
class CheckinAck:
    """What is said first to typed text soon after a check-in asked how the user is."""

    feelings: str  # the message is about how they feel
    intents: frozenset[str]  # the intents that are
    other: str  # news, a question, anything else

    def for_intent(self, intent: str | None) -> str:
        """The acknowledgement that fits what the message is about."""
        return self.feelings if intent in self.intents else self.other


@dataclass(frozen=True)
class FreeTextReplies:
    """Everything flows/listen.yaml holds."""

    intents: dict[str, IntentReply]
    not_understood: tuple[str, ...]
    checkin_ack: CheckinAck
    mid_walk: str
    safety_mode: IntentReply = IntentReply((), (), ())  # while coaching is off for safety
    safety_keep: frozenset[str] = frozenset()  # intents that answer as usual in safety mode
    draft_like: DraftLike = field(default_factory=DraftLike)

    def for_intent(self, intent: str | None, text: str) -> tuple[str | None, IntentReply | None]:
        """The intent whose replies fit `text` (following `requires`/`otherwise`) and its spec."""
        spec = self.intents.get(intent) if intent else None
        if spec is not None and spec.requires and not spec.requires.search(normalise(text)):
            intent = spec.otherwise
            spec = self.intents.get(intent) if intent else None
        return intent, spec


def _buttons(items: object, where: str, problems: list[str]) -> tuple[ReplyButton, ...]:
    """A list of buttons (label and command or review), each checked."""
    buttons = []
    for item in items if isinstance(items, list) else ():
        label = str(item.get("label", ""))
        if not label or len(label) > MAX_LABEL:
            problems.append(f"{where}: button label '{label}' must be 1-{MAX_LABEL} characters")
        if bool(item.get("command")) == bool(item.get("review")):
            problems.append(f"{where}: button '{label}' needs either 'command' or 'review'")
        living = frozenset(str(value) for value in item.get("living") or ())
        buttons.append(ReplyButton(label, item.get("command"), item.get("review"), living))
    return tuple(buttons)


def _pattern(source: object, where: str, problems: list[str]) -> re.Pattern[str] | None:
    """A regular expression, or None with the problem noted."""
    try:
        return re.compile(str(source))
    except re.error as error:
        problems.append(f"{where}: pattern {source!r} is not a valid expression ({error})")
        return None


def _draft_like(raw: object, where: str, problems: list[str]) -> DraftLike:
    """The draft_like section: its note, its patterns, and their examples checked."""
    if not isinstance(raw, dict) or not raw.get("note") or not raw.get("patterns"):
        problems.append(f"{where} needs 'note' and 'patterns'")
        return DraftLike()
    patterns = tuple(
        p for source in raw["patterns"] if (p := _pattern(source, where, problems)) is not None
    )
    found = DraftLike(str(raw["note"]).strip(), patterns)
    for example in raw.get("must_match") or ():
        if not found.matches(str(example)):
            problems.append(f"{where}: must_match example {example!r} is not matched")
    for example in raw.get("must_not_match") or ():
        if found.matches(str(example)):
            problems.append(f"{where}: must_not_match example {example!r} is matched")
    return found


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
        requires, otherwise = None, None
        if body.get("requires"):
            requires = _pattern(body["requires"], where, problems)
            otherwise = str(body.get("otherwise") or "")
            if otherwise not in INTENTS or otherwise == name:
                problems.append(f"{where}: 'otherwise' must name another intent")
        covers = tuple(body.get("covers") or ())
        intents[name] = IntentReply(covers, replies, buttons, requires, otherwise)
    for name in set(raw.get("intents") or {}) - set(INTENTS):
        problems.append(f"{path.name}: '{name}' is not an intent the model knows")
    not_understood = tuple(str(r).strip() for r in raw.get("not_understood") or ())
    if not not_understood:
        problems.append(f"{path.name}: 'not_understood' needs at least one reply")
    if not raw.get("mid_walk"):
        problems.append(f"{path.name}: 'mid_walk' is missing")
    checkin_ack = _checkin_ack(raw.get("checkin_ack"), f"{path.name}: checkin_ack", problems)
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
    draft_like = _draft_like(raw.get("draft_like"), f"{path.name}: draft_like", problems)
    if problems:
        raise ValueError("\n".join(problems))
    return FreeTextReplies(
        intents,
        not_understood,
        checkin_ack,
        str(raw["mid_walk"]).strip(),
        safety_mode,
        keep,
        draft_like,
    )


def _checkin_ack(raw: Any, where: str, problems: list[str]) -> CheckinAck:
    """The check-in acknowledgements: `feelings` for the listed intents, else `other`."""
    if not isinstance(raw, dict):
        problems.append(f"{where} needs 'feelings', 'intents' and 'other'")
        return CheckinAck("", frozenset(), "")
    texts = {key: str(raw.get(key) or "").strip() for key in ("feelings", "other")}
    problems += [f"{where}: '{key}' is missing" for key, text in texts.items() if not text]
    intents = frozenset(str(name) for name in raw.get("intents") or ())
    if not intents:
        problems.append(f"{where}: 'intents' needs at least one intent")
    problems += [f"{where}: '{name}' is not an intent" for name in sorted(intents - set(INTENTS))]
    return CheckinAck(texts["feelings"], intents, texts["other"])
