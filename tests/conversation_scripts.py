"""Conversation scripts: a coach writes a case in YAML ("tap X, expect Y"), no Python needed.

A script lives in tests/scripts/*.yaml and runs in-process through the real Service (engine,
store, check-in sweep) on a fresh SQLite file, with an injected clock:

    persona: Short name of who this is
    now: 2026-03-10T18:00:00+00:00        # the clock at the start (UTC)
    menu: {living: moved_out, ...}        # optional: start at the menu with these answers
    checkins: {frequency: daily, hour: 9, tz: Europe/Berlin, tz_set: true}   # optional
    contacts:                             # optional: contacts logged before the script
      - {days_ago: 3, by: me, kind: message, outcome: no_answer}
    never: ["moved out"]                  # texts that must never appear for this persona
    steps:
      - command: /plan                    # or: tap: "Button label"; type: "some words"
        expect: ["level 3"]               # each must appear in this step's replies or buttons
        expect_not: ["no contact"]        # none of these may appear
        state: "hub:plan"                 # optional: the step the user is on afterwards
      - wait: 3h                          # move the clock (m, h, d)
      - sweep: true                       # run the check-in sweep; its message is the reply

Every text the user sees is checked against `never` and ALWAYS_NEVER (words that would shame
or pressure, and the advice the episode argues against). A failure names the script, the
step and what was seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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


class ScriptFailure(AssertionError):
    """A script step did not see what it expected."""


@dataclass
class Run:
    """One script's conversation: the service, the clock and what the user saw."""

    service: Service
    now: datetime
    name: str
    never: list[str]
    last: list[Reply] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def fail(self, index: int, step: dict[str, Any], problem: str) -> ScriptFailure:
        shown = "\n---\n".join(reply.text for reply in self.last)
        return ScriptFailure(f"{self.name}, step {index + 1} {step}: {problem}\nSaw:\n{shown}")


def _duration(text: str) -> timedelta:
    match = DURATION.fullmatch(str(text).strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (use 30m, 3h or 2d)")
    return timedelta(**{UNITS[match[2]]: float(match[1])})


def _seed(run: Run, script: dict[str, Any]) -> None:
    store, now = run.service.store, run.now
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
        plan = plan_from_answers(answers, run.service.engine.policy.dose_table).as_dict()
        session = Session(state=MENU, answers=answers, plan=plan, completed_at=now)
    if session or effects:
        store.commit(USER, session or Session(), effects, now)


def _act(run: Run, step: dict[str, Any], index: int) -> None:
    service = run.service
    if "wait" in step:
        run.now += _duration(step["wait"])
        run.last = []
        return
    if step.get("sweep"):
        sent = [service.take_checkin(claim) for claim in service.claim_due_checkins()]
        run.last = [message.reply for message in sent if message and message.user_id == USER]
        return
    if "command" in step:
        name, _, args = str(step["command"]).lstrip("/").partition(" ")
        event: Any = Command(name, args)
    elif "type" in step:
        event = Text(str(step["type"]))
    elif "tap" in step:
        label = str(step["tap"])
        buttons = [b for reply in reversed(run.last) for b in reply.buttons if b.label == label]
        if not buttons or buttons[0].data is None:
            raise run.fail(index, step, f"no button {label!r}")
        event = Press(buttons[0].data)
    else:
        raise run.fail(index, step, "a step needs command, tap, type, wait or sweep")
    run.last = service.handle(USER, event).replies


def _check(run: Run, step: dict[str, Any], index: int) -> None:
    # What the user sees: each message and the labels of its buttons.
    text = "\n".join(
        f"{reply.text}\n[{' | '.join(b.label for b in reply.buttons)}]" for reply in run.last
    )
    run.seen.append(text)
    lowered = text.lower()
    for wanted in step.get("expect") or []:
        if str(wanted).lower() not in lowered:
            raise run.fail(index, step, f"expected {wanted!r}")
    for unwanted in [*(step.get("expect_not") or []), *run.never, *ALWAYS_NEVER]:
        if str(unwanted).lower() in lowered:
            raise run.fail(index, step, f"must not say {unwanted!r}")
    if "state" in step:
        session = run.service.store.load_session(USER)
        state = session.state if session else None
        if state != step["state"]:
            raise run.fail(index, step, f"expected to be at {step['state']}, is at {state}")


def run_script(path: Path, service_for) -> Run:
    """Run one script; `service_for(store, clock)` builds the Service. Raises on failure."""
    script = yaml.safe_load(path.read_text(encoding="utf-8"))
    now = datetime.fromisoformat(str(script["now"]))
    run = Run(service_for(lambda: run.now), now, path.name, list(script.get("never") or []))
    _seed(run, script)
    for index, step in enumerate(script["steps"]):
        _act(run, step, index)
        _check(run, step, index)
    return run


def all_scripts() -> list[Path]:
    """Every script, in name order."""
    return sorted(SCRIPTS_DIR.glob("*.yaml"))


def make_service_for(engine, tmp_path: Path):
    """A factory of services on a fresh database under `tmp_path`."""

    def build(clock) -> Service:
        return Service(Store(tmp_path / "script.db"), engine, clock=clock)

    return build
