"""The conversation engine: a user's stored state and one input in, new state and replies out.

The engine knows nothing of Telegram or terminals. A button or typed answer leads to its
step's fixed target or to the first route whose condition the user's answers meet; the
engine follows that itself (docs/decisions/0005-transitions-public-api.md) and keeps no
per-user state between inputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast, get_args

from transitions import Machine

from bot.actions import (
    ACTIONS,
    COMMAND_PREFIX,
    COMMANDS,
    PLACEHOLDERS,
    STEP_BUTTONS,
    STEP_PREFIX,
    SYSTEM_PREFIX,
    Context,
)
from bot.content import Content
from bot.flows import DRAFT_RESULT, ENTRY, MENU, PLACEHOLDER, SAFETY_MENU, Step
from bot.listen.features import MAX_CHARS
from bot.model import (
    Button,
    Command,
    CountHeard,
    Event,
    Media,
    Outcome,
    Press,
    Reply,
    Session,
    Text,
    UserData,
)
from bot.policy.plan import damage_level
from bot.policy.safety import Category, CrisisSignal, crisis_reply, is_https_url, resources_for

__all__ = [
    "MENU",
    "SAFETY_MENU",
    "Button",
    "Command",
    "Engine",
    "Media",
    "Press",
    "Reply",
    "Session",
    "Text",
]

MAX_TYPED_CHARS = 1000  # past this a typed message is only acknowledged, never echoed
CHECKIN_ANSWER_WINDOW = timedelta(hours=12)  # typed text this soon after a check-in answers it
# The crisis check reads the whole of any Telegram message (4,096) and caption (1,024); only
# longer input (the terminal) is checked at its start and end, so its cost stays bounded.
MAX_CHECKED_CHARS = MAX_CHARS
CRISIS_PREFIXES = tuple(f"{SYSTEM_PREFIX}crisis_{name}" for name in ("help", "later", "ok"))
TOKEN_CHARS = 6
ROUTE = "route"  # the one trigger name of the routes machine
RouteTest = Callable[[Mapping[str, Any]], bool]  # a route's condition (Route.matches)
NO_SESSION_COMMANDS = frozenset({"help", "about", "privacy", "stats"})


def step_token(name: str) -> str:
    """Return a short, stable token for a step, used in callback data."""
    return hashlib.blake2s(name.encode(), digest_size=8).hexdigest()[:TOKEN_CHARS]


class Engine:
    """Turns inputs into the next step, its replies and the writes to commit."""

    def __init__(self, content: Content):
        self.content = content
        self.flows = flows = content.flows
        self.messages = content.messages
        self.policy = content.policy
        self.commands = {c.command: c for c in self.messages.commands}
        self._by_token = {step_token(name): name for name in flows.steps}
        if len(self._by_token) != len(flows.steps):
            raise ValueError("two steps share a callback token; rename one of them")
        # The flows' conditional routes as a state machine, used through transitions' public
        # API only: `get_transitions` lists a step's routes in order, and the engine picks the
        # first whose conditions the answers meet. No model is attached and no trigger fired,
        # so nothing per user is bound and no state name is ever logged.
        self.machine = Machine(
            model=None, states=list(flows.steps), initial=ENTRY, auto_transitions=False
        )
        for step in flows.steps.values():
            for route in step.routes:
                self.machine.add_transition(ROUTE, step.name, route.to, conditions=[route.matches])
        # Compiled once from the machine, so an input is a dictionary look-up, not a walk:
        # each step's routes in order (get_transitions scans every route of every step), each
        # step's rendered buttons, and each button's callback data -> (step, button index).
        self._routes = {name: self._compile_routes(name) for name in flows.steps}
        self._buttons = {name: self._compile_buttons(step) for name, step in flows.steps.items()}
        self._presses = {
            button.data: (name, index)
            for name, buttons in self._buttons.items()
            for index, button in enumerate(buttons)
            if button.data is not None
        }

    def _compile_routes(self, name: str) -> tuple[tuple[str, tuple[RouteTest, ...]], ...]:
        """A step's conditional routes in order, as (target, conditions), from the machine."""
        return tuple(
            (str(transition.dest), tuple(cast(RouteTest, c.func) for c in transition.conditions))
            for transition in self.machine.get_transitions(ROUTE, source=name)
        )

    @staticmethod
    def _compile_buttons(step: Step) -> tuple[Button, ...]:
        """A step's buttons as rendered: callback data `s.<step token>.<index>`."""
        token = step_token(step.name)
        return tuple(
            Button(button.label, data=f"{STEP_PREFIX}{token}.{index}")
            for index, button in enumerate(step.buttons)
        )

    # --- the one entry point ------------------------------------------------------------------

    def handle(
        self, session: Session | None, event: Event, now: datetime, data: UserData | None = None
    ) -> Outcome:
        """Apply one input to a user's session and return the new session, replies and writes."""
        data = data or UserData()
        if (said := words_of(event)) and (signal := self._crisis(said)):
            # Someone may be in danger: stop the flow at once, change nothing, store nothing.
            # Checked before any other reply (a long message, a caption, a command's words).
            return Outcome(session, [self.crisis_reply(signal, session, data)], changed=False)
        if isinstance(event, Press) and event.data.startswith(CRISIS_PREFIXES):
            # A crisis reply's buttons work for anyone, even someone with no session yet.
            ctx = self.context(session.copy() if session else Session(), data, now)
            replies, notice = self._system_press(ctx, event.data.removeprefix(SYSTEM_PREFIX), None)
            if session is None and event.data.startswith(f"{SYSTEM_PREFIX}crisis_ok"):
                replies = [Reply(self.messages["crisis_ok_new"])]
            return Outcome(session, replies, changed=False, notice=notice)
        if session is None:
            if isinstance(event, Command) and event.name in NO_SESSION_COMMANDS:
                # Someone may want to read about the bot (or an operator check the counts)
                # before starting: answer without storing anything about them.
                ctx = self.context(Session(), data, now)
                return Outcome(None, self._command(ctx, event.name, event.args), changed=False)
            ctx = self.context(Session(), data, now)
            self._enter(ctx, ENTRY)
            return Outcome(ctx.session, [*ctx.replies, self.render(ctx)], True, None, ctx.effects)
        # The engine only changes the copy, so `session` itself tells what changed.
        ctx = self.context(session.copy(), data, now)
        self._recover(ctx.session)
        pending, ctx.session.pending = ctx.session.pending, None  # any input ends the question
        notice = None
        if isinstance(event, Press):
            replies, notice = self._press(ctx, event.data, pending)
        elif isinstance(event, Command):
            replies = self._command(ctx, event.name, event.args)
        elif isinstance(event, Text):
            replies = self._text(ctx, event.text)
        else:
            replies = [self._note("forwarded" if event.kind == "forwarded" else "media", ctx)]
        changed = ctx.session != session or bool(ctx.effects)
        return Outcome(ctx.session, [*ctx.replies, *replies], changed, notice, ctx.effects)

    def context(self, session: Session, data: UserData, now: datetime) -> Context:
        """A context for one input, lending features this engine's screens."""
        return Context(session, data, self.policy, now, screens=self, files=self.content.files)

    # --- inputs -------------------------------------------------------------------------------

    def _press(
        self, ctx: Context, data: str, pending: str | None
    ) -> tuple[list[Reply], str | None]:
        # A command button, with its words or not ("c.timezone Asia/Tokyo"): the command runs as
        # if typed, whatever step the user is on; an unknown command is a passed button.
        name, _, args = data.removeprefix(COMMAND_PREFIX).partition(" ")
        if data.startswith(COMMAND_PREFIX) and name in self.commands:
            return self._command(ctx, name, args.strip()), None
        if data.startswith(SYSTEM_PREFIX):
            return self._system_press(ctx, data.removeprefix(SYSTEM_PREFIX), pending)
        name, index = self._presses.get(data, ("", 0))
        if name != ctx.session.state:  # another step's button (or none): it has passed
            return self._stale(ctx)
        step = self.flows.step(name)
        button = step.buttons[index]
        if button.command:  # "mood good": the command and its words, as if typed
            name, _, args = button.command.partition(" ")
            return self._command(ctx, name, args), None
        if step.answer and button.value is not None:
            ctx.session.answers[step.answer] = button.value
        self._follow(ctx, step, button.to)
        return [self.render(ctx)], None

    def _system_press(
        self, ctx: Context, action: str, pending: str | None
    ) -> tuple[list[Reply], str | None]:
        name, _, argument = action.partition(".")
        if name == "resume":
            return [self.render(ctx)], None
        if name == "open" and (step := self._by_token.get(argument, "")).startswith("review:"):
            if ctx.session.completed_at is None or ctx.session.coaching_off:
                return self._stale(ctx)
            return [self.enter(ctx, step)], None
        if name == "crisis_help":
            signal = CrisisSignal("alarm", CATEGORIES.get(argument, "distress"))
            return [self.crisis_reply(signal, ctx.session, ctx.data)], None
        if name == "crisis_later":
            return [Reply(self.messages["crisis_later"])], None
        if name == "crisis_ok":
            return [self._note("crisis_ok", ctx)], None
        if name in COMMANDS and pending == name.partition("_")[0]:  # reset_yes answers reset
            return COMMANDS[name](ctx), None
        return self._stale(ctx)

    def _stale(self, ctx: Context) -> tuple[list[Reply], str]:
        return [self._note("stale", ctx)], self.messages["stale"].split(".")[0] + "."

    def _command(self, ctx: Context, name: str, args: str) -> list[Reply]:
        """Run a command: its guard from messages.yaml, then its handler or the step it opens."""
        command = self.commands.get(name)
        if command is not None and command.alias_of:  # an old name (/nudges) runs the new one
            name, command = command.alias_of, self.commands.get(command.alias_of)
        if command is None or (command.hidden and not ctx.data.is_admin):
            return [self._note("unknown_command", ctx)]
        if refusal := self._refusal(ctx.session, command.needs):
            return [self._note(refusal, ctx)]
        if name in COMMANDS:
            ctx.typed = args or None  # a handler may read the command's arguments; never stored
            return COMMANDS[name](ctx)
        assert command.to is not None  # checked at start: a command has a handler or a step
        return [self.enter(ctx, command.to)]

    @staticmethod
    def _refusal(session: Session, needs: str | None) -> str | None:
        """Why a command guarded by `needs` cannot run yet (a message name), or None."""
        if needs in ("plan", "coaching") and session.coaching_off:
            return "coaching_off"
        if needs == "plan" and (session.plan is None or session.completed_at is None):
            return "no_plan_yet"
        return None

    def _text(self, ctx: Context, text: str) -> list[Reply]:
        step = self.flows.step(ctx.session.state)
        if step.text_input is None:
            return self._free_text(ctx, text)
        text = text.strip()
        if not text:
            return [self._note("not_understood", ctx)]
        if len(text) > step.text_input.max_chars:
            limit = str(step.text_input.max_chars)
            note = self._note("input_too_long", ctx)
            return [Reply(note.text.replace("{max_chars}", limit, 1), note.buttons)]
        if step.text_input.answer.startswith("_"):
            ctx.typed = text  # used by the next step's actions, never stored
        else:
            ctx.session.answers[step.text_input.answer] = text
        self._follow(ctx, step, step.text_input.to)
        return [self.render(ctx)]

    def _free_text(self, ctx: Context, text: str) -> list[Reply]:
        """Typed text no step asked for: answer what it is about, and keep the user's place."""
        replies = self.policy.free_text
        if not ctx.session.coaching_off and replies.draft_like.matches(text):
            return self._draft_from_free_text(ctx, text)
        intent, _ = self.policy.listener.intent(text)
        intent, spec = replies.for_intent(intent, text)
        ctx.effects.append(CountHeard(intent or "not_understood"))
        if ctx.session.coaching_off and intent and intent not in replies.safety_keep:
            spec = replies.safety_mode  # intents' replies talk about contact and the plan
        choices = spec.replies if spec else replies.not_understood
        body = choices[int(ctx.now.timestamp()) % len(choices)]  # varied, and testable
        last = ctx.data.last_checkin_at
        if last is not None and timedelta(0) <= ctx.now - last <= CHECKIN_ANSWER_WINDOW:
            body = f"{replies.checkin_ack.for_intent(intent)} {body}"
        if ctx.session.completed_at is None and not ctx.session.coaching_off:
            return [Reply(body), self._note_text(replies.mid_walk, ctx)]
        buttons = []
        for button in spec.buttons if spec else ():
            if not button.fits(ctx.session.answers):
                continue
            if button.review:
                token = step_token(f"review:{button.review}")
                if not ctx.session.coaching_off:
                    buttons.append(Button(button.label, data=f"{SYSTEM_PREFIX}open.{token}"))
                continue
            command = self.commands.get(button.command or "")
            if command and not self._refusal(ctx.session, command.needs):
                buttons.append(Button(button.label, data=f"{COMMAND_PREFIX}{command.command}"))
        return [Reply(body, tuple(buttons)), self.render(ctx)]

    def _draft_from_free_text(self, ctx: Context, text: str) -> list[Reply]:
        """Typed text that reads as a message for the spouse: check it as a draft, at once.

        As /draft does (the user's place is remembered), then the check of this very text,
        which is not stored; only the verdict is, as for any draft check.
        """
        ctx.effects.append(CountHeard("draft_like"))
        self._command(ctx, "draft", "")  # remembers the place and opens the draft check
        ctx.replies.append(Reply(self.policy.free_text.draft_like.note))
        ctx.typed = text
        self._enter(ctx, DRAFT_RESULT)
        return [self.render(ctx)]

    # --- state changes ------------------------------------------------------------------------

    def _follow(self, ctx: Context, step: Step, target: str | None) -> None:
        """Go to `target`, or else to the first of the step's routes the answers meet."""
        if target is None:
            facts = self.facts(ctx.session)
            # The loader makes every step's last route unconditional, so one always fits.
            target = next(
                to for to, tests in self._routes[step.name] if all(t(facts) for t in tests)
            )
        self._enter(ctx, target)

    def _enter(self, ctx: Context, state: str) -> None:
        """Move the session to `state` and run that step's entry actions."""
        ctx.session.state = state
        for name in self.flows.step(state).actions:
            ACTIONS[name](ctx)
        # The walk-through is complete when the menu is reached with a plan (an action may
        # have sent a plan-less user back to the walk-through instead).
        if ctx.session.state == MENU and ctx.session.completed_at is None and ctx.session.plan:
            ctx.session.completed_at = ctx.now

    def enter(self, ctx: Context, state: str) -> Reply:
        """Move to `state` (running its actions) and return it rendered; for command handlers."""
        self._enter(ctx, state)
        return self.render(ctx)

    def _recover(self, session: Session) -> None:
        """Put a session whose step no longer exists (flows were edited) somewhere sensible."""
        if session.state not in self.flows.steps:
            session.state = MENU if session.completed_at else ENTRY

    def facts(self, session: Session) -> dict[str, Any]:
        """Return what conditions may test: the stored answers and the computed level."""
        level = (session.plan or {}).get("level") or damage_level(
            session.answers, self.policy.dose_table
        )
        has_plan = "yes" if session.plan and session.completed_at else "no"
        return {**session.answers, "level": str(level), "has_plan": has_plan}

    # --- safety -------------------------------------------------------------------------------

    def _crisis(self, text: str) -> CrisisSignal | None:
        """The one entry for the crisis check: every input that carries words comes here.

        The whole text is checked, by the rules and the model together (see bot.listen).
        Past MAX_CHECKED_CHARS, which no Telegram message reaches, the cost stays bounded: the
        first and the last MAX_CHECKED_CHARS are checked.
        """
        listener = self.policy.listener
        if len(text) <= MAX_CHECKED_CHARS:
            return listener.crisis(text)
        head, tail = text[:MAX_CHECKED_CHARS], text[-MAX_CHECKED_CHARS:]
        found = [s for part in (head, tail) if (s := listener.crisis(part))]
        return next((s for s in found if s.level == "alarm"), found[0] if found else None)

    def crisis_check(self, text: str, language: str | None = None) -> Reply | None:
        """The crisis reply for `text`, or None: for input that gets no other handling (an
        update dropped by the flood guard). Goes through `_crisis`, like every input."""
        signal = self._crisis(text)
        return self.crisis_reply(signal, None, UserData(language=language)) if signal else None

    def crisis_reply(self, signal: CrisisSignal, session: Session | None, data: UserData) -> Reply:
        """The caring reply to a crisis signal, with help links and a way to go on later."""
        country = (session.answers.get("country") if session else None) or None
        resources = resources_for(
            self.policy.resources, language_code=data.language, country=country
        )
        reply = crisis_reply(signal, resources, self.policy.crisis.texts)
        buttons = tuple(
            Button(label, url=target)
            if is_https_url(target)
            else Button(label, data=f"{SYSTEM_PREFIX}{target}.{signal.category}")
            for label, target in reply.buttons
        )
        return Reply(reply.text, buttons)

    # --- rendering ----------------------------------------------------------------------------

    def render(self, ctx: Context) -> Reply:
        """Return the current step as a reply with its buttons."""
        state = ctx.session.state
        step = self.flows.step(state)
        buttons = self._buttons[state]
        if step.buttons_from:  # built from the user's data (choices for what they typed)
            buttons = (*STEP_BUTTONS[step.buttons_from](ctx), *buttons)
        return Reply(self.fill(step.text, ctx), buttons)

    def view(self, session: Session, now: datetime, data: UserData | None = None) -> Reply:
        """Render a session's current step without changing anything."""
        return self.render(self.context(session, data or UserData(), now))

    def fill(self, text: str, ctx: Context) -> str:
        """Fill a text's placeholders from the user's data."""
        if "{" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: PLACEHOLDERS[m[1]](ctx), text)

    @property
    def texts(self) -> Mapping[str, str]:
        """The texts of messages.yaml (for features, through `Context.text`)."""
        return self.messages.texts

    def note(self, message: str, ctx: Context) -> Reply:
        """A short note followed by the current step (for features, via `Context.note`)."""
        return self._note(message, ctx)

    def confirm(self, question: str, yes: str, no: str) -> Reply:
        """A yes/no question (for features, via `Context.confirm`)."""
        return self._confirm(question, yes, no)

    def info(self, name: str) -> Reply:
        """/help or /about, with the command list filled in."""
        return self._info(name)

    def _note(self, message: str, ctx: Context) -> Reply:
        """Return a short note followed by the current step, in one message."""
        return self._note_text(self.messages[message], ctx)

    def _note_text(self, text: str, ctx: Context) -> Reply:
        current = self.render(ctx)
        return Reply(f"{text}\n\n{current.text}", current.buttons)

    def _confirm(self, question: str, yes: str, no: str) -> Reply:
        """A yes/no question whose answer is only valid while it is the pending one."""
        return Reply(
            self.messages[question],
            (
                Button(self.messages[yes], data=f"{SYSTEM_PREFIX}{yes}"),
                Button(self.messages[no], data=f"{SYSTEM_PREFIX}{no}"),
            ),
        )

    def _info(self, name: str) -> Reply:
        text = self.messages[name]
        if "{commands}" in text:
            listing = "\n".join(
                f"/{c.command} - {c.description}" for c in self.messages.commands if c.listed
            )
            text = text.replace("{commands}", listing)
        return Reply(text, (Button(self.messages["continue"], data=f"{SYSTEM_PREFIX}resume"),))


CATEGORIES: dict[str, Category] = {name: name for name in get_args(Category)}


def words_of(event: Event) -> str:
    """Everything a person wrote in an input: typed text, a command's words, a caption."""
    if isinstance(event, Text):
        return event.text
    if isinstance(event, Command):
        return f"{event.name} {event.args}" if event.args else ""  # "/country de": both words
    if isinstance(event, Media):
        return event.caption
    return ""
