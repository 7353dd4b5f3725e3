"""The plug-in layer: the only module features import.

A flow step names actions (`actions: [save_plan]`) that run when a user enters it, and its
text may use placeholders such as `{plan.dose_text}`; a command (`/export`) may have a
handler; a step whose buttons depend on the user's data names them (`buttons_from:
checkins.tz_choices`). All four are registered here by name with `@action`, `@placeholder`,
`@command` and `@step_buttons`, so the flow loader can reject unknown ones and content stays
apart from code.
A feature's own text file is declared with `content_file`; the content object reads and
checks it with everything else, and the feature reads it back with `ctx.content(FILE)`.
Actions are pure: they read the context and write only to it (the session, effects, extra
replies). The few engine services a feature needs (its texts, a note, a yes/no question,
entering a step) are reached through `Context`, never through the engine itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

from bot.model import MAX_CALLBACK_BYTES, Button, Effect, Reply, Session, UserData
from bot.policy import Policy
from bot.policy.plan import Plan, level_reasons, plan_for_level, plan_from_answers

# Callback data prefixes, defined once: a flow button, a system button, a command button.
STEP_PREFIX = "s."
SYSTEM_PREFIX = "x."
COMMAND_PREFIX = "c."
MAX_BUTTON_LABEL = 30  # characters: a label longer than this wraps or is cut on phones


T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class ContentFile(Generic[T]):
    """A feature's own data file under the content folder, and the function that reads it.

    `read` gets the file's path, reads it through `bot.datafile` and raises ValueError with
    the file and key when something is wrong.
    """

    path: str  # relative to the content folder, e.g. "policy/countries.yaml"
    read: Callable[[Path], T]


CONTENT_FILES: list[ContentFile[Any]] = []


def content_file(path: str, read: Callable[[Path], T]) -> ContentFile[T]:
    """Declare a feature's data file; `Content.load` reads it, `ctx.content` returns it."""
    file = ContentFile(path, read)
    CONTENT_FILES.append(file)
    return file


class Screens(Protocol):
    """What the engine lends features through `Context`: its texts and a few replies."""

    @property
    def texts(self) -> Mapping[str, str]: ...

    def note(self, message: str, ctx: Context) -> Reply: ...

    def confirm(self, question: str, yes: str, no: str) -> Reply: ...

    def enter(self, ctx: Context, state: str) -> Reply: ...

    def info(self, name: str) -> Reply: ...


@dataclass
class Context:
    """What an action or placeholder may use: one user's data, the policy and the clock."""

    session: Session
    data: UserData
    policy: Policy
    now: datetime
    typed: str | None = None  # text the user just typed, for steps that use it without storing
    effects: list[Effect] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)  # sent before the step's own text
    screens: Screens | None = field(default=None, repr=False, compare=False)
    files: Mapping[ContentFile[Any], Any] = field(default_factory=dict, repr=False, compare=False)

    def content(self, file: ContentFile[T]) -> T:
        """The contents of a feature's data file, as read at start."""
        return cast(T, self.files[file])

    def _screens(self) -> Screens:
        if self.screens is None:
            raise RuntimeError("this context was built without the engine's screens")
        return self.screens

    def text(self, name: str) -> str:
        """A text from messages.yaml."""
        return self._screens().texts[name]

    def note(self, message: str) -> Reply:
        """A short note followed by the current step, in one message."""
        return self._screens().note(message, self)

    def confirm(self, question: str, yes: str, no: str) -> Reply:
        """A yes/no question; `yes` and `no` are answered by the commands of those names."""
        return self._screens().confirm(question, yes, no)

    def enter(self, state: str) -> Reply:
        """Move to a step (running its actions) and return it rendered."""
        return self._screens().enter(self, state)

    def info(self, name: str) -> Reply:
        """/help or /about, with the command list filled in."""
        return self._screens().info(name)

    def resume_button(self) -> Button:
        """A button that shows the current step again."""
        return Button(self.text("continue"), data=f"{SYSTEM_PREFIX}resume")

    def plan(self) -> Plan:
        """The user's plan: their stored level (or the one their answers imply), in the words of
        the current dose table and fitted to their answers (so edited texts reach everyone)."""
        table, answers = self.policy.dose_table, self.session.answers
        level = (self.session.plan or {}).get("level")
        if isinstance(level, int) and any(row.level == level for row in table.levels):
            return plan_for_level(level, table, answers)
        return plan_from_answers(answers, table)


Action = Callable[[Context], None]
Placeholder = Callable[[Context], str]
Handler = Callable[[Context], list[Reply]]
StepButtons = Callable[[Context], list[Button]]
ACTIONS: dict[str, Action] = {}
PLACEHOLDERS: dict[str, Placeholder] = {}
# Buttons built from the user's data, by the name a step gives in `buttons_from`; shown before
# the step's own buttons each time it is rendered.
STEP_BUTTONS: dict[str, StepButtons] = {}
# Command handlers by name. A handler for "<name>" that asks a yes/no question sets
# `session.pending = "<name>"`; the answers are the handlers "<name>_yes" and "<name>_no".
COMMANDS: dict[str, Handler] = {}


def action(name: str) -> Callable[[Action], Action]:
    """Register an entry action under `name`."""

    def register(function: Action) -> Action:
        ACTIONS[name] = function
        return function

    return register


def placeholder(name: str) -> Callable[[Placeholder], Placeholder]:
    """Register a text placeholder `{name}`."""

    def register(function: Placeholder) -> Placeholder:
        PLACEHOLDERS[name] = function
        return function

    return register


def command(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of `/name` (its menu entry and guard are data in messages.yaml)."""

    def register(function: Handler) -> Handler:
        COMMANDS[name] = function
        return function

    return register


def step_buttons(name: str) -> Callable[[StepButtons], StepButtons]:
    """Register the buttons a step asks for with `buttons_from: name`, built when it is shown.

    The function gets the context the step is rendered with (`ctx.typed` is what the user just
    typed, if anything) and returns the buttons to show before the step's own; usually
    `command_button`s, since a step's own buttons are the only step buttons the engine knows.
    """

    def register(function: StepButtons) -> StepButtons:
        STEP_BUTTONS[name] = function
        return function

    return register


def command_button(label: str, command: str, args: str = "") -> Button | None:
    """A button that runs `/command args` as if typed, whatever step the user is on then.

    None when it cannot be sent: a label over MAX_BUTTON_LABEL characters, or callback data
    (`c.<command> <args>`) over Telegram's 64 bytes, which would make Telegram refuse the
    whole message.
    """
    data = f"{COMMAND_PREFIX}{command} {args}" if args else f"{COMMAND_PREFIX}{command}"
    if not label or len(label) > MAX_BUTTON_LABEL or len(data.encode()) > MAX_CALLBACK_BYTES:
        return None
    return Button(label, data=data)


@action("save_plan")
def save_plan(ctx: Context) -> None:
    """Compute the starting plan from the assessment answers and keep it."""
    ctx.session.plan = plan_from_answers(ctx.session.answers, ctx.policy.dose_table).as_dict()


@action("finish_walkthrough")
def finish_walkthrough(ctx: Context) -> None:
    """The user has their plan and went past it: the walk-through counts as done, so a user
    who sets check-ins and leaves before opening the menu gets the full tools (/log,
    /progress, check-ins with "Log a contact"). Reaching the menu with a plan does the same."""
    if ctx.session.plan is not None and ctx.session.completed_at is None:
        ctx.session.completed_at = ctx.now


@placeholder("plan.why")
def plan_why(ctx: Context) -> str:
    """The answers that led to the starting level, most weighty first."""
    reasons = level_reasons(ctx.session.answers, ctx.policy.dose_table)
    return "; ".join(reasons) if reasons else ctx.text("plan_why_none")


def _plan_field(name: str) -> Placeholder:
    """A placeholder showing one field of the user's plan."""
    return lambda ctx: str(getattr(ctx.plan(), name))


for _field in ("level", "name", "dose_text", "style"):
    placeholder(f"plan.{_field}")(_plan_field(_field))
