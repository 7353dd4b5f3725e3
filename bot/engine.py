"""The conversation engine: a user's stored state and one input in, new state and replies out.

The engine knows nothing of Telegram or terminals. One shared `transitions` machine is built
from all flows; for each input a light per-user model is attached at the stored step, the
trigger is fired, and the model is removed again, so memory does not grow with users.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from transitions import Machine, MachineError

from bot.flows import ENTRY, PLACEHOLDER, FlowSet, Messages, Step
from bot.policy.plan import DoseTable, damage_level, plan_from_answers

MENU = "hub:menu"
PLAN_VIEW = "hub:plan"
SAFETY_MENU = "hub:safety_menu"
MAX_TYPED_CHARS = 1000  # past this a typed message is only acknowledged, never echoed
TOKEN_CHARS = 6


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A slash command, lower-cased, without the slash or a @botname suffix."""

    name: str
    args: str = ""


@dataclass(frozen=True)
class Press:
    """A button press, carrying the button's callback data."""

    data: str


@dataclass(frozen=True)
class Text:
    """Typed text."""

    text: str


@dataclass(frozen=True)
class Media:
    """Something the bot cannot read: a sticker, photo, voice note, file..."""

    kind: str


Event = Command | Press | Text | Media


# --- outputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    """A reply button: callback `data` for the engine, or a `url` to open."""

    label: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reply:
    """One message to send: text and buttons, one button per row."""

    text: str
    buttons: tuple[Button, ...] = ()


@dataclass
class Session:
    """A user's place in the conversation: everything the engine needs, nothing more."""

    state: str = ENTRY
    answers: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    pending: str | None = None  # a question awaiting a yes/no, such as "reset"
    completed_at: datetime | None = None


@dataclass
class Outcome:
    """What handling one input produced."""

    session: Session | None
    replies: list[Reply]
    changed: bool
    notice: str | None = None  # a short pop-up for the button press, where the transport has one


class _Conversation:
    """The per-user model the shared machine drives during one input."""

    def __init__(self, facts: dict[str, Any]):
        self.facts = facts


def step_token(name: str) -> str:
    """Return a short, stable token for a step, used in callback data."""
    return hashlib.blake2s(name.encode(), digest_size=8).hexdigest()[:TOKEN_CHARS]


class Engine:
    """Turns flows into a state machine and inputs into replies."""

    def __init__(self, flows: FlowSet, messages: Messages, dose_table: DoseTable):
        self.flows = flows
        self.messages = messages
        self.dose_table = dose_table
        self._by_token = {step_token(name): name for name in flows.steps}
        if len(self._by_token) != len(flows.steps):
            raise ValueError("two steps share a callback token; rename one of them")
        self.machine = Machine(
            model=None,
            states=list(flows.steps),
            initial=ENTRY,
            auto_transitions=False,
            send_event=True,
        )
        for step in flows.steps.values():
            self._add_transitions(step)

    def _add_transitions(self, step: Step) -> None:
        """Add one trigger per button (`choose_<i>`) and `submit` for typed answers."""
        for index, button in enumerate(step.buttons):
            if button.command:
                continue
            self._add_routes(f"choose_{index}", step, button.to)
        if step.text_input:
            self._add_routes("submit", step, step.text_input.to)

    def _add_routes(self, trigger: str, step: Step, target: str | None) -> None:
        if target:
            self.machine.add_transition(trigger, step.name, target)
            return
        for route in step.routes:
            self.machine.add_transition(
                trigger,
                step.name,
                route.to,
                conditions=[lambda event, route=route: route.matches(event.model.facts)],
            )

    # --- the one entry point ------------------------------------------------------------------

    def handle(self, session: Session | None, event: Event, now: datetime) -> Outcome:
        """Apply one input to a user's session and return the new session and replies."""
        if session is None:
            if isinstance(event, Command) and event.name in ("help", "about"):
                return Outcome(None, [self._info(event.name)], changed=False)
            fresh = Session()
            self._enter(fresh, ENTRY, now)
            return Outcome(fresh, [self.render(fresh)], changed=True)
        before = copy.deepcopy(session)
        work = copy.deepcopy(session)
        self._recover(work)
        pending, work.pending = work.pending, None  # any input answers or drops the question
        if isinstance(event, Press):
            replies, notice = self._press(work, event.data, pending, now)
        elif isinstance(event, Command):
            replies, notice = self._command(work, event.name, now), None
        elif isinstance(event, Text):
            replies, notice = self._text(work, event.text, now), None
        else:
            replies, notice = [self._note("media", work)], None
        return Outcome(work, replies, changed=work != before, notice=notice)

    # --- inputs -------------------------------------------------------------------------------

    def _press(
        self, session: Session, data: str, pending: str | None, now: datetime
    ) -> tuple[list[Reply], str | None]:
        if data.startswith("x."):
            return self._system_press(session, data[2:], pending, now)
        match = re.fullmatch(r"s\.([0-9a-f]{6})\.(\d{1,2})", data)
        step = self.flows.step(session.state)
        if not match or self._by_token.get(match[1]) != session.state:
            return self._stale(session)
        index = int(match[2])
        if index >= len(step.buttons):
            return self._stale(session)
        button = step.buttons[index]
        if button.command:
            return self._command(session, button.command, now), None
        if step.answer and button.value is not None:
            session.answers[step.answer] = button.value
        self._fire(session, f"choose_{index}", now)
        return [self.render(session)], None

    def _system_press(
        self, session: Session, action: str, pending: str | None, now: datetime
    ) -> tuple[list[Reply], str | None]:
        if action == "resume":
            return [self.render(session)], None
        if action == "reset_yes" and pending == "reset":
            session.answers, session.plan, session.completed_at = {}, None, None
            self._enter(session, ENTRY, now)
            return [Reply(self.messages["reset_done"]), self.render(session)], None
        if action == "reset_no" and pending == "reset":
            return [self._note("reset_cancelled", session)], None
        return self._stale(session)

    def _stale(self, session: Session) -> tuple[list[Reply], str]:
        return [self._note("stale", session)], self.messages["stale"].split(".")[0] + "."

    def _command(self, session: Session, name: str, now: datetime) -> list[Reply]:
        if name == "start":
            return [self._note("resume", session)]
        if name in ("help", "about"):
            return [self._info(name)]
        if name == "reset":
            session.pending = "reset"
            return [
                Reply(
                    self.messages["reset_confirm"],
                    (
                        Button(self.messages["reset_yes"], data="x.reset_yes"),
                        Button(self.messages["reset_no"], data="x.reset_no"),
                    ),
                )
            ]
        if name == "menu":
            if session.completed_at is None:
                return [self._note("no_menu_yet", session)]
            self._enter(session, MENU, now)
            return [self.render(session)]
        if name == "plan":
            if session.plan is None:
                return [self._note("no_plan_yet", session)]
            self._enter(session, PLAN_VIEW, now)
            return [self.render(session)]
        return [self._note("unknown_command", session)]

    def _text(self, session: Session, text: str, now: datetime) -> list[Reply]:
        step = self.flows.step(session.state)
        if step.text_input is None:
            name = "too_long" if len(text) > MAX_TYPED_CHARS else "not_understood"
            return [self._note(name, session)]
        text = text.strip()
        if not text or len(text) > step.text_input.max_chars:
            return [self._note("too_long", session)]
        session.answers[step.text_input.answer] = text
        self._fire(session, "submit", now)
        return [self.render(session)]

    # --- state changes ------------------------------------------------------------------------

    def _fire(self, session: Session, trigger: str, now: datetime) -> None:
        """Fire `trigger` on a model attached at the session's step, then run entry actions."""
        model = _Conversation(self.facts(session))
        self.machine.add_model(model, initial=session.state)
        try:
            if not model.trigger(trigger):
                raise MachineError(f"no route from {session.state} for {trigger}")
            target = model.state
        finally:
            self.machine.remove_model(model)
        self._enter(session, target, now)

    def _enter(self, session: Session, state: str, now: datetime) -> None:
        """Move the session to `state` and run that step's entry actions."""
        session.state = state
        step = self.flows.step(state)
        if "save_plan" in step.actions:
            session.plan = plan_from_answers(session.answers, self.dose_table).as_dict()
        if state == MENU and session.completed_at is None:
            session.completed_at = now

    def _recover(self, session: Session) -> None:
        """Put a session whose step no longer exists (flows were edited) somewhere sensible."""
        if session.state not in self.flows.steps:
            session.state = MENU if session.completed_at else ENTRY

    def facts(self, session: Session) -> dict[str, Any]:
        """Return what conditions may test: the stored answers and the computed level."""
        return {**session.answers, "level": str(damage_level(session.answers, self.dose_table))}

    # --- rendering ----------------------------------------------------------------------------

    def render(self, session: Session) -> Reply:
        """Return the current step as a reply with its buttons."""
        step = self.flows.step(session.state)
        token = step_token(step.name)
        buttons = tuple(
            Button(button.label, data=f"s.{token}.{index}")
            for index, button in enumerate(step.buttons)
        )
        return Reply(self._fill(step.text, session), buttons)

    def _fill(self, text: str, session: Session) -> str:
        if "{" not in text:
            return text
        plan = session.plan or plan_from_answers(session.answers, self.dose_table).as_dict()
        return PLACEHOLDER.sub(lambda m: str(plan.get(m[1].split(".", 1)[1], "")), text)

    def _note(self, message: str, session: Session) -> Reply:
        """Return a short note followed by the current step, in one message."""
        current = self.render(session)
        return Reply(f"{self.messages[message]}\n\n{current.text}", current.buttons)

    def _info(self, name: str) -> Reply:
        text = self.messages[name]
        if "{commands}" in text:
            listing = "\n".join(f"/{c.command} - {c.description}" for c in self.messages.commands)
            text = text.replace("{commands}", listing)
        return Reply(text, (Button(self.messages["continue"], data="x.resume"),))
