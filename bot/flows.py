"""Load and validate the conversation flows (`flows/*.yaml`) into plain dataclasses.

A flow file describes steps: what the bot says, the buttons it offers, what answer a button
stores and where it leads. `load_flows` checks everything a running bot would otherwise trip
over (unknown targets, unreachable steps, dead ends, over-long texts) and names the file and
step of each problem, so a content edit fails at load time, not in a user's chat.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.datafile import DataFileError, read_yaml

FLOWS_DIR = Path(__file__).resolve().parent.parent / "flows"
ENTRY = "walkthrough:welcome"
MENU = "hub:menu"
SAFETY_MENU = "hub:safety_menu"
DRAFT_RESULT = "draft:result"  # where typed text that reads as a message for the spouse goes
POINT_IDS = tuple(f"R{i}" for i in range(1, 22))
MAX_WORDS = 80
MAX_TEXT_CHARS = 4096
MAX_LABEL_CHARS = 40
STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# Facts the engine computes itself and that conditions may test besides stored answers.
# Facts that conditions may test besides stored button answers: the computed level, and
# answers set by actions (change_against, by weigh_change), and whether the plan exists.
COMPUTED_FACTS = {
    "level": {"1", "2", "3", "4"},
    "change_against": {"yes", "no"},
    "has_plan": {"yes", "no"},
    "safety_before": {"clear", "concern"},
    "tz_known": {"yes", "no"},
}


class FlowError(ValueError):
    """One or more flow files are invalid; the message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid flows:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Button:
    """A button on a step: its label, the answer value it stores and its target."""

    label: str
    value: str | None = None
    to: str | None = None  # qualified "flow:step"; None means "follow the step's routes"
    command: str | None = None  # runs this command ("menu", "mood good") instead of a step


@dataclass(frozen=True)
class Route:
    """A conditional route: go to `to` when every answer in `when` is one of its values."""

    to: str
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def matches(self, facts: Mapping[str, Any]) -> bool:
        """Return True if the stored facts satisfy this route's condition."""
        return all(str(facts.get(key)) in values for key, values in self.when.items())


@dataclass(frozen=True)
class TextInput:
    """A free-text answer a step accepts instead of (or as well as) buttons."""

    answer: str
    max_chars: int = 200
    to: str | None = None


@dataclass(frozen=True)
class Step:
    """One step of a flow."""

    flow: str
    id: str
    text: str
    covers: tuple[str, ...] = ()
    answer: str | None = None
    buttons: tuple[Button, ...] = ()
    routes: tuple[Route, ...] = ()
    actions: tuple[str, ...] = ()
    text_input: TextInput | None = None
    buttons_from: str | None = None  # buttons built from the user's data, before `buttons`

    @property
    def name(self) -> str:
        """The qualified state name, `flow:step`."""
        return f"{self.flow}:{self.id}"

    def targets(self) -> list[str]:
        """Every state this step can lead to."""
        found = [b.to for b in self.buttons if b.to]
        found += [r.to for r in self.routes]
        if self.text_input and self.text_input.to:
            found.append(self.text_input.to)
        return found


@dataclass(frozen=True)
class Flow:
    """A named flow and its steps."""

    name: str
    start: str  # qualified
    steps: Mapping[str, Step]
    path: Path


@dataclass(frozen=True)
class FlowSet:
    """All flows, indexed by qualified step name."""

    flows: Mapping[str, Flow]
    steps: Mapping[str, Step]

    def step(self, name: str) -> Step:
        """Return the step called `name` (`flow:step`)."""
        return self.steps[name]

    def reachable_from(self, root: str) -> set[str]:
        """Return every step name reachable from `root` through buttons and routes."""
        return _reachable(self.steps, [root])

    def covered_points(self, root: str = ENTRY) -> set[str]:
        """Return the reasoning ids covered by steps reachable from `root`."""
        return {p for name in self.reachable_from(root) for p in self.steps[name].covers}


def load_flows(directory: Path = FLOWS_DIR) -> FlowSet:
    """Load every `*.yaml` flow in `directory` and validate them together."""
    problems: list[str] = []
    flows: dict[str, Flow] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            raw = read_yaml(path)
        except DataFileError as error:
            problems.append(str(error))
            continue
        if not isinstance(raw, dict) or "flow" not in raw:
            continue  # not a flow (for example the shared messages file)
        flow = _parse_flow(path, raw, problems)
        if flow is None:
            continue
        if flow.name in flows:
            problems.append(f"{path.name}: duplicate flow id '{flow.name}'")
            continue
        flows[flow.name] = flow
    steps = {name: step for flow in flows.values() for name, step in flow.steps.items()}
    flow_set = FlowSet(flows=flows, steps=steps)
    if not problems:
        problems += _check_graph(flow_set)
    if problems:
        raise FlowError(problems)
    return flow_set


def _parse_flow(path: Path, raw: dict[str, Any], problems: list[str]) -> Flow | None:
    """Turn one file's YAML into a Flow, recording problems instead of stopping at the first."""
    name = raw.get("flow")
    where = path.name
    if name != path.stem:
        problems.append(f"{where}: 'flow: {name}' must match the file name '{path.stem}'")
        return None
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, dict) or not raw_steps:
        problems.append(f"{where}: needs a non-empty 'steps:' mapping")
        return None
    start = raw.get("start")
    if start not in raw_steps:
        problems.append(f"{where}: start step '{start}' is not defined")
        return None
    steps: dict[str, Step] = {}
    for step_id, body in raw_steps.items():
        step = _parse_step(where, name, str(step_id), body, problems)
        if step is not None:
            steps[step.name] = step
    return Flow(name=name, start=f"{name}:{start}", steps=steps, path=path)


def _qualify(flow: str, target: Any) -> str:
    """Turn a target into a qualified state name."""
    target = str(target)
    return target if ":" in target else f"{flow}:{target}"


def _parse_step(where: str, flow: str, step_id: str, body: Any, problems: list[str]) -> Step | None:
    """Parse and check one step's own fields (the graph is checked later)."""
    here = f"{where}: step '{step_id}'"
    if not STEP_ID.match(step_id):
        problems.append(f"{here}: id must be lower-case letters, digits and _ (max 32)")
    if not isinstance(body, dict):
        problems.append(f"{here}: must be a mapping")
        return None
    fields = {"text", "covers", "answer", "buttons", "buttons_from", "next", "actions", "input"}
    unknown = set(body) - fields
    if unknown:
        problems.append(f"{here}: unknown field(s) {sorted(unknown)}")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{here}: needs a non-empty 'text'")
        text = ""
    text = text.strip()
    problems += [f"{here}: {p}" for p in check_text(text)]
    covers = tuple(str(c) for c in body.get("covers") or ())
    for point in covers:
        if point not in POINT_IDS:
            problems.append(f"{here}: unknown point id '{point}' in covers (use R1..R21)")
    answer = body.get("answer")
    buttons = tuple(_parse_buttons(here, flow, body.get("buttons") or [], answer, problems))
    routes = tuple(_parse_routes(here, flow, body.get("next") or [], problems))
    from bot import features
    from bot.actions import ACTIONS, STEP_BUTTONS

    features.load()

    actions = tuple(body.get("actions") or ())
    for action in actions:
        if action not in ACTIONS:
            problems.append(f"{here}: unknown action '{action}' (known: {sorted(ACTIONS)})")
    buttons_from = body.get("buttons_from")
    if buttons_from is not None and str(buttons_from) not in STEP_BUTTONS:
        problems.append(
            f"{here}: 'buttons_from: {buttons_from}' names no buttons the bot can build"
            f" (known: {sorted(STEP_BUTTONS)}); check the spelling or remove the line"
        )
        buttons_from = None
    text_input = None
    if "input" in body:
        raw_input = body["input"]
        if not isinstance(raw_input, dict) or not raw_input.get("answer"):
            problems.append(f"{here}: 'input' needs an 'answer' key")
        else:
            to = raw_input.get("to")
            text_input = TextInput(
                answer=str(raw_input["answer"]),
                max_chars=int(raw_input.get("max_chars", 200)),
                to=_qualify(flow, to) if to else None,
            )
    needs_routes = any(b.to is None and b.command is None for b in buttons) or (
        text_input and text_input.to is None
    )
    if needs_routes and not routes:
        problems.append(f"{here}: a button or input has no 'to' and the step has no 'next'")
    if not buttons and not text_input:
        problems.append(f"{here}: dead end: no buttons and no input, so the user cannot go on")
    return Step(
        flow=flow,
        id=step_id,
        text=text,
        covers=covers,
        answer=str(answer) if answer else None,
        buttons=buttons,
        routes=routes,
        actions=actions,
        text_input=text_input,
        buttons_from=str(buttons_from) if buttons_from is not None else None,
    )


def check_text(text: str) -> list[str]:
    """Return the problems with a text the bot sends (length, placeholders)."""
    problems = []
    words = len(text.split())
    if words > MAX_WORDS:
        problems.append(f"text has {words} words (at most {MAX_WORDS})")
    if len(text) > MAX_TEXT_CHARS:
        problems.append(f"text has {len(text)} characters (at most {MAX_TEXT_CHARS})")
    from bot import features
    from bot.actions import PLACEHOLDERS  # registered next to the code that fills them

    features.load()

    for placeholder in PLACEHOLDER.findall(text):
        if placeholder not in PLACEHOLDERS:
            problems.append(f"unknown placeholder '{{{placeholder}}}'")
    return problems


def _parse_buttons(
    here: str, flow: str, raw: Any, answer: Any, problems: list[str]
) -> Iterable[Button]:
    """Parse a step's buttons."""
    if not isinstance(raw, list):
        problems.append(f"{here}: 'buttons' must be a list")
        return
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("label"), str):
            problems.append(f"{here}: button {index + 1} needs a 'label'")
            continue
        label = item["label"].strip()
        if not label or len(label) > MAX_LABEL_CHARS:
            problems.append(
                f"{here}: button '{label}' label must be 1..{MAX_LABEL_CHARS} characters"
            )
        value = item.get("value")
        if answer and value is None:
            problems.append(
                f"{here}: button '{label}' needs a 'value' (the step stores '{answer}')"
            )
        to = item.get("to")
        command = item.get("command")  # checked against the command list by the engine
        if command is not None and to:
            problems.append(f"{here}: button '{label}' has both 'to' and 'command'")
        yield Button(
            label=label,
            value=str(value) if value is not None else None,
            to=_qualify(flow, to) if to else None,
            command=str(command) if command else None,
        )


def _parse_routes(here: str, flow: str, raw: Any, problems: list[str]) -> Iterable[Route]:
    """Parse a step's conditional routes; only the last may (and must) be unconditional."""
    if not isinstance(raw, list):
        problems.append(f"{here}: 'next' must be a list of routes")
        return
    for index, item in enumerate(raw):
        last = index == len(raw) - 1
        if not isinstance(item, dict) or "to" not in item:
            problems.append(f"{here}: route {index + 1} needs a 'to'")
            continue
        when_raw = item.get("if") or {}
        if not isinstance(when_raw, dict):
            problems.append(f"{here}: route {index + 1}: 'if' must map answer keys to values")
            when_raw = {}
        when = {
            str(key): tuple(str(v) for v in (value if isinstance(value, list) else [value]))
            for key, value in when_raw.items()
        }
        if last and when:
            problems.append(f"{here}: the last route must have no 'if', so some route always fits")
        if not last and not when:
            problems.append(f"{here}: route {index + 1} has no 'if' but is not the last")
        yield Route(to=_qualify(flow, item["to"]), when=when)


def _reachable(steps: Mapping[str, Step], roots: Iterable[str]) -> set[str]:
    """Breadth-first search over step targets."""
    seen: set[str] = set()
    queue = deque(r for r in roots if r in steps)
    while queue:
        name = queue.popleft()
        if name in seen:
            continue
        seen.add(name)
        queue.extend(t for t in steps[name].targets() if t in steps and t not in seen)
    return seen


def _check_graph(flow_set: FlowSet) -> list[str]:
    """Check targets, reachability, conditions and coverage across all flows."""
    problems: list[str] = []
    steps = flow_set.steps

    def where(step: Step) -> str:
        return f"{flow_set.flows[step.flow].path.name}: step '{step.id}'"

    answer_values: dict[str, set[str]] = {k: set(v) for k, v in COMPUTED_FACTS.items()}
    for step in steps.values():
        if step.answer:
            answer_values.setdefault(step.answer, set()).update(
                b.value for b in step.buttons if b.value is not None
            )
    for step in steps.values():
        for target in step.targets():
            if target not in steps:
                problems.append(f"{where(step)}: unknown target '{target}'")
        for route in step.routes:
            for key, values in route.when.items():
                if key not in answer_values:
                    problems.append(f"{where(step)}: condition on unknown answer '{key}'")
                    continue
                for value in set(values) - answer_values[key]:
                    problems.append(
                        f"{where(step)}: condition value '{value}' is never stored for '{key}'"
                    )
    if ENTRY not in steps:
        problems.append(f"walkthrough.yaml: the entry step '{ENTRY}' is missing")
        return problems
    roots = [ENTRY, *(flow.start for flow in flow_set.flows.values())]
    reachable = _reachable(steps, roots)
    for name in sorted(set(steps) - reachable):
        problems.append(f"{where(steps[name])}: unreachable from any flow's start")
    missing = [p for p in POINT_IDS if p not in flow_set.covered_points()]
    if missing:
        problems.append(f"walkthrough.yaml: points not covered by any reachable step: {missing}")
    return problems


@dataclass(frozen=True)
class BotCommand:
    """A command: its menu entry, and the step it opens if it is not built in."""

    command: str
    description: str
    to: str | None = None  # qualified step the command opens
    # "plan": only once the user has a plan and coaching is on; "coaching": while it is on
    needs: str | None = None
    hidden: bool = False  # left out of the menu and /help (operator commands)
    alias_of: str | None = None  # an old name kept working, left out of the menu and /help

    @property
    def listed(self) -> bool:
        """Whether the command shows in Telegram's menu and in /help."""
        return not self.hidden and self.alias_of is None


@dataclass(frozen=True)
class Messages:
    """Texts sent outside the flows, and the command menu."""

    texts: Mapping[str, str]
    commands: tuple[BotCommand, ...]

    def __getitem__(self, name: str) -> str:
        return self.texts[name]


REQUIRED_MESSAGES = frozenset(
    {
        "help", "about", "resume", "stale", "not_understood", "too_long", "media",
        "unknown_command", "group_only", "reset_confirm", "reset_yes", "reset_no",
        "reset_cancelled", "reset_done", "reset_done_safety", "continue", "try_again",
        "no_plan_yet", "no_menu_yet",
        "coaching_off", "crisis_later", "crisis_ok", "crisis_ok_new", "input_too_long",
        "privacy_stored", "privacy_not_stored", "privacy_who", "export_ready",
        "export_unavailable", "delete_confirm", "delete_yes", "delete_no", "delete_done",
        "delete_cancelled", "country_help", "country_set", "country_cleared", "country_unknown",
        "country_none", "stats", "unreadable_row", "forwarded", "slow_down",
    }
)  # fmt: skip


def load_messages(directory: Path = FLOWS_DIR) -> Messages:
    """Load and validate `messages.yaml`."""
    path = directory / "messages.yaml"
    problems: list[str] = []
    try:
        raw = read_yaml(path)
    except DataFileError as error:
        raise FlowError([str(error)]) from error
    if not isinstance(raw, dict):
        raise FlowError([f"{path.name}: the top level must be a mapping"])
    texts = {str(k): str(v).strip() for k, v in (raw.get("messages") or {}).items()}
    for name in sorted(REQUIRED_MESSAGES - set(texts)):
        problems.append(f"{path.name}: message '{name}' is missing")
    for name, text in texts.items():
        words = len(text.split())
        if words > MAX_WORDS or len(text) > MAX_TEXT_CHARS:
            problems.append(f"{path.name}: message '{name}' is too long ({words} words)")
    commands = []
    for item in raw.get("commands") or []:
        command, description = str(item.get("command", "")), str(item.get("description", ""))
        if not re.fullmatch(r"[a-z0-9_]{1,32}", command) or not 3 <= len(description) <= 256:
            problems.append(f"{path.name}: command '{command}' needs a valid name and description")
        if item.get("needs") not in (None, "plan", "coaching"):
            problems.append(
                f"{path.name}: command '{command}': 'needs' can only be 'plan' or 'coaching'"
            )
        to = item.get("to")
        commands.append(
            BotCommand(
                command,
                description,
                to=_qualify("hub", to) if to else None,
                needs=item.get("needs"),
                hidden=bool(item.get("hidden", False)),
                alias_of=item.get("alias_of"),
            )
        )
    names = {entry.command for entry in commands}
    for entry in commands:
        if entry.alias_of and entry.alias_of not in names:
            problems.append(
                f"{path.name}: command '{entry.command}' is an alias of unknown command"
            )
    if problems:
        raise FlowError(problems)
    return Messages(texts=texts, commands=tuple(commands))
