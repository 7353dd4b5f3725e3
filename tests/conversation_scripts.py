"""Conversation scripts: a coach writes a case in YAML ("tap X, expect Y"), no Python needed.

A script lives in tests/scripts/*.yaml. Each runs twice: in-process through the real Service
(engine, store, check-in sweep) for `make quick`, and end to end through the real PTB
Application polling the fake Bot API (tests/support/fake_bot_api.py), where buttons are
pressed by their labels on the messages the user received. Both start on a fresh SQLite file
with an injected clock:

    persona: Short name of who this is
    now: 2026-03-10T18:00:00+00:00        # the clock at the start (UTC)
    menu: {living: moved_out, ...}        # optional: start at the menu with these answers
    checkins: {frequency: daily, hour: 9, tz: Europe/Berlin, tz_set: true}   # optional
    contacts:                             # optional: contacts logged before the script
      - {days_ago: 3, by: me, kind: message, outcome: no_answer}
    never: ["moved out"]                  # what the bot must never say to this persona
    steps:
      - command: /start                   # or: tap: "Button label"; type: "some words"
        before_answers: true              # the same for everyone (the welcome): no `never`
      - walk: ["My spouse moved out", "Out of love, wants out"]
        until: "Revisit the ideas"        # optional, this is the default (the menu)
        expect: ["Your starting plan"]    # checked against everything seen on the walk
      - command: /plan
        expect: ["level 3"]               # each must appear in this step's replies or buttons
        expect_not: ["no contact"]        # none of these may appear
        state: "hub:plan"                 # optional: the step the user is on afterwards
      - wait: 3h                          # move the clock (m, h, d)
      - sweep: true                       # run the check-in sweep; its message is the reply

`walk` goes through the walk-through as a user would: at each message with buttons it taps
the next label of its list when that message offers it, else the message's first button,
until a button or text named in `until` shows (at most 80 taps). Every label in the list
must have been tapped by then, so a changed label fails loudly instead of being skipped.

Every text the user sees is checked against `never` and ALWAYS_NEVER (words that would shame
or pressure, and the advice the episode argues against). A failure names the script, the
step and what was seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot.engine import Command, Press, Reply, Text
from bot.flows import MENU
from bot.model import AddContact, SaveCheckins, Session
from bot.policy.checkins import CheckinSettings, next_checkin
from bot.policy.contacts import Contact
from bot.policy.plan import plan_from_answers
from bot.service import Service
from bot.store import Store

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
USER = 4242
DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([mhd])")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}
# Never said to anyone: words that shame or pressure, and the advice the episode argues against.
ALWAYS_NEVER = ("should have", "guilt", "shame", "your fault", "no contact that you start")
MENU_LABEL = "Revisit the ideas"  # offered only at the menu: where a walk ends by default
MAX_WALK = 80


class ScriptFailure(AssertionError):
    """A script step did not see what it expected."""


@dataclass(frozen=True)
class Shown:
    """One message as the user sees it: its text and its buttons' labels.

    `data` is each button's callback data and `message_id` the message's id on Telegram:
    what pressing a label sends, never compared or shown.
    """

    text: str
    labels: tuple[str, ...]
    data: tuple[str | None, ...] = field(default=(), compare=False, repr=False)
    message_id: int | None = field(default=None, compare=False, repr=False)

    def render(self) -> str:
        return f"{self.text}\n[{' | '.join(self.labels)}]"

    def button(self, label: str) -> str | None:
        """The callback data of the button with this label, None if there is none."""
        if label not in self.labels:
            return None
        return self.data[self.labels.index(label)]


def find_button(messages: list[Shown], label: str) -> tuple[Shown, str] | None:
    """The newest of `messages` with a button labelled `label`, and that button's data."""
    for message in reversed(messages):
        if (data := message.button(label)) is not None:
            return message, data
    return None


class Driver(Protocol):
    """How a script reaches the bot: in-process, or over the fake Bot API."""

    @property
    def service(self) -> Service: ...

    async def command(self, text: str) -> list[Shown]: ...
    async def type(self, text: str) -> list[Shown]: ...
    async def tap(self, message: Shown, data: str) -> list[Shown]: ...
    async def sweep(self) -> list[Shown]: ...


@dataclass
class Run:
    """One script's conversation: the driver, the clock and what the user saw."""

    now: datetime
    name: str
    never: list[str]
    last: list[Shown] = field(default_factory=list)  # what the latest step showed
    tappable: list[Shown] = field(default_factory=list)  # the latest messages with buttons
    seen: list[str] = field(default_factory=list)

    def fail(self, index: int, step: dict[str, Any], problem: str) -> ScriptFailure:
        shown = "\n---\n".join(message.render() for message in self.last)
        return ScriptFailure(f"{self.name}, step {index + 1} {step}: {problem}\nSaw:\n{shown}")

    def show(self, messages: list[Shown]) -> None:
        self.last = messages
        if any(message.labels for message in messages):
            self.tappable = messages

    def clock(self) -> datetime:
        return self.now


# --- in-process: the fast mode `make quick` runs -------------------------------------------


def shown_replies(replies: list[Reply]) -> list[Shown]:
    """The service's replies as the user sees them."""
    return [
        Shown(
            reply.text,
            tuple(b.label for b in reply.buttons),
            tuple(b.data for b in reply.buttons),
        )
        for reply in replies
    ]


@dataclass
class InProcess:
    """Straight into Service.handle, as the adapters call it."""

    service: Service

    def _handle(self, event: Any) -> list[Shown]:
        return shown_replies(self.service.handle(USER, event, "en").replies)

    async def command(self, text: str) -> list[Shown]:
        name, _, args = text.lstrip("/").partition(" ")
        return self._handle(Command(name, args.strip()))

    async def type(self, text: str) -> list[Shown]:
        return self._handle(Text(text))

    async def tap(self, message: Shown, data: str) -> list[Shown]:
        return self._handle(Press(data))

    async def sweep(self) -> list[Shown]:
        sent = [self.service.take_checkin(claim) for claim in self.service.claim_due_checkins()]
        return shown_replies([m.reply for m in sent if m is not None and m.user_id == USER])


# --- the script ----------------------------------------------------------------------------


def _duration(text: str) -> timedelta:
    match = DURATION.fullmatch(str(text).strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (use 30m, 3h or 2d)")
    return timedelta(**{UNITS[match[2]]: float(match[1])})


def _seed(service: Service, now: datetime, script: dict[str, Any]) -> None:
    effects: list[Any] = []
    for item in script.get("contacts") or []:
        at = now - _duration(f"{item['days_ago']}d")
        contact = Contact(at, item.get("by", "me"), item.get("kind", "message"), item["outcome"])
        effects.append(AddContact(contact, note=None))
    if settings := script.get("checkins"):
        due = next_checkin(CheckinSettings.from_dict(settings), now, None)
        effects.append(SaveCheckins(dict(settings), due, "checkin" if due else None))
    session = None
    if (answers := script.get("menu")) is not None:
        answers = {"safety": "clear", **{k: str(v) for k, v in answers.items()}}
        plan = plan_from_answers(answers, service.engine.policy.dose_table).as_dict()
        session = Session(state=MENU, answers=answers, plan=plan, completed_at=now)
    if session or effects:
        service.store.commit(USER, session or Session(), effects, now)


async def _tap(run: Run, driver: Driver, label: str, index: int, step: dict) -> list[Shown]:
    found = find_button(run.tappable, label)
    if found is None:
        raise run.fail(index, step, f"no button {label!r}")
    return await driver.tap(*found)


async def _walk(run: Run, driver: Driver, step: dict[str, Any], index: int) -> list[Shown]:
    wanted = [str(label) for label in step["walk"] or []]
    until = step.get("until", MENU_LABEL)
    stops = [str(item) for item in (until if isinstance(until, list) else [until])]
    seen: list[Shown] = []
    for _ in range(MAX_WALK):
        current = [message for message in run.tappable if message.labels][-1:]
        shown = " ".join(message.render() for message in [*run.last, *current])
        if any(stop in shown for stop in stops):
            if wanted:
                raise run.fail(index, step, f"reached {stops} without tapping {wanted}")
            return seen
        if not current or not current[0].labels:
            raise run.fail(index, step, "no buttons to walk on")
        message = current[0]
        label = wanted[0] if wanted and wanted[0] in message.labels else message.labels[0]
        if wanted and label == wanted[0]:
            wanted.pop(0)
        replies = await _tap(run, driver, label, index, step)
        run.show(replies)
        seen += replies
        _check_never(run, replies, step, index)
    raise run.fail(index, step, f"never reached {stops} in {MAX_WALK} taps")


async def _act(run: Run, driver: Driver, step: dict[str, Any], index: int) -> list[Shown]:
    if "wait" in step:
        run.now += _duration(step["wait"])
        return []
    if step.get("sweep"):
        return await driver.sweep()
    if "walk" in step:
        return await _walk(run, driver, step, index)
    if "command" in step:
        return await driver.command(str(step["command"]))
    if "type" in step:
        return await driver.type(str(step["type"]))
    if "tap" in step:
        return await _tap(run, driver, str(step["tap"]), index, step)
    raise run.fail(index, step, "a step needs command, tap, type, walk, wait or sweep")


def _check_never(run: Run, shown: list[Shown], step: dict[str, Any], index: int) -> None:
    # `never` is about what the bot says (a question may still offer "My spouse moved out"
    # as one choice among others); `expect_not` also covers the buttons.
    said = "\n".join(message.text for message in shown).lower()
    rendered = "\n".join(message.render() for message in shown).lower()
    for unwanted in step.get("expect_not") or []:
        if str(unwanted).lower() in rendered:
            raise run.fail(index, step, f"must not say {unwanted!r}")
    never = ALWAYS_NEVER if step.get("before_answers") else [*run.never, *ALWAYS_NEVER]
    for unwanted in never:
        if str(unwanted).lower() in said:
            raise run.fail(index, step, f"must never say {unwanted!r}")


def _check(run: Run, driver: Driver, shown: list[Shown], step: dict, index: int) -> None:
    # What the user sees: each message and the labels of its buttons.
    text = "\n".join(message.render() for message in shown)
    run.seen.append(text)
    lowered = text.lower()
    for wanted in step.get("expect") or []:
        if str(wanted).lower() not in lowered:
            raise run.fail(index, step, f"expected {wanted!r}")
    _check_never(run, shown, step, index)
    if "state" in step:
        session = driver.service.store.load_session(USER)
        state = session.state if session else None
        if state != step["state"]:
            raise run.fail(index, step, f"expected to be at {step['state']}, is at {state}")


def load_script(path: Path) -> dict[str, Any]:
    """A script file as data."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def start_run(path: Path) -> Run:
    """The run of a script before its driver exists: its clock starts at `now`."""
    script = load_script(path)
    now = datetime.fromisoformat(str(script["now"]))
    return Run(now, path.name, list(script.get("never") or []))


async def play(run: Run, path: Path, driver: Driver) -> Run:
    """Seed, then play every step of a script on `driver`. Raises ScriptFailure on failure."""
    script = load_script(path)
    _seed(driver.service, run.now, script)
    for index, step in enumerate(script["steps"]):
        shown = await _act(run, driver, step, index)
        if "walk" not in step:
            run.show(shown)
        else:
            run.last = shown
        _check(run, driver, shown, step, index)
    return run


async def run_script(path: Path, service_for) -> Run:
    """Run one script in-process; `service_for(clock)` builds the Service on a fresh store."""
    run = start_run(path)
    return await play(run, path, InProcess(service_for(run.clock)))


# --- end to end: the real PTB Application against the fake Bot API -------------------------


def shown_sent(sent: list[dict[str, Any]]) -> list[Shown]:
    """Messages the fake Bot API received for the user, as the user sees them."""
    from tests.support.fake_bot_api import keyboard_rows

    shown = []
    for message in sent:
        buttons = [b for row in keyboard_rows(message.get("reply_markup")) for b in row]
        shown.append(
            Shown(
                message.get("text", message.get("caption", "")),
                tuple(label for label, _ in buttons),
                tuple(data for _, data in buttons),
                message["message_id"],
            )
        )
    return shown


@dataclass
class OverTelegram:
    """Updates pushed to the fake Bot API, polled by the real PTB Application.

    A step is over when the bot has handled its update (a handler in a later group notes the
    update's id, after the reply was sent); the step shows what the fake API received since.
    """

    api: Any  # FakeBotApi
    bot: Any  # RunningBot, not yet started
    handled: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        from telegram import Update
        from telegram.ext import TypeHandler

        async def note(update: Update, _context: Any) -> None:
            self.handled.add(update.update_id)

        self.bot.application.add_handler(TypeHandler(Update, note), group=1)

    @property
    def service(self) -> Service:
        service: Service = self.bot.service
        return service

    async def _send(self, push) -> list[Shown]:  # noqa: ANN001
        before = len(self.api.sent_messages(USER))
        update_id = push()["update_id"]
        await self.api.wait_for(lambda: update_id in self.handled)
        return shown_sent(self.api.sent_messages(USER)[before:])

    async def command(self, text: str) -> list[Shown]:
        return await self._send(lambda: self.api.command(USER, text))

    async def type(self, text: str) -> list[Shown]:
        return await self._send(lambda: self.api.text(USER, text))

    async def tap(self, message: Shown, data: str) -> list[Shown]:
        from tests.support.fake_bot_api import keyboard_rows

        # Only a button the user can still see on that message in the chat (a message that
        # was deleted or edited since offers nothing to press).
        current = self.api.message(USER, message.message_id) or {}
        offered = [d for row in keyboard_rows(current.get("reply_markup")) for _, d in row]
        if data not in offered:
            raise ScriptFailure(f"the button is no longer on the message: {message.render()}")
        return await self._send(
            lambda: self.api.callback(USER, data, message_id=message.message_id)
        )

    async def sweep(self) -> list[Shown]:
        from types import SimpleNamespace

        from bot.telegram import checkin_sweep

        before = len(self.api.sent_messages(USER))
        app = self.bot.application
        await checkin_sweep(SimpleNamespace(bot=app.bot, bot_data=app.bot_data))
        return shown_sent(self.api.sent_messages(USER)[before:])


def all_scripts() -> list[Path]:
    """Every script, in name order."""
    return sorted(SCRIPTS_DIR.glob("*.yaml"))


def make_service_for(engine, tmp_path: Path):
    """A factory of services on a fresh database under `tmp_path`."""

    def build(clock) -> Service:
        return Service(Store(tmp_path / "script.db"), engine, clock=clock)

    return build
