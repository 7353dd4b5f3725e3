"""What steps do besides talking: entry actions and the placeholders their texts may use.

A flow step names actions (`actions: [save_plan]`) that run when a user enters it, and its
text may use placeholders such as `{plan.dose_text}`. Both are registered here by name, so
the flow loader can reject unknown ones and content stays apart from code. Actions are pure:
they read the context and write only to it (the session, effects, extra replies).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.model import Effect, Reply, Session, UserData
from bot.policy import Policy
from bot.policy.plan import Plan, plan_from_answers


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

    def plan(self) -> Plan:
        """The user's stored plan, or the one their answers imply."""
        if self.session.plan:
            return Plan(**self.session.plan)
        return plan_from_answers(self.session.answers, self.policy.dose_table)


Action = Callable[[Context], None]
Placeholder = Callable[[Context], str]
ACTIONS: dict[str, Action] = {}
PLACEHOLDERS: dict[str, Placeholder] = {}


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


@action("save_plan")
def save_plan(ctx: Context) -> None:
    """Compute the starting plan from the assessment answers and keep it."""
    ctx.session.plan = plan_from_answers(ctx.session.answers, ctx.policy.dose_table).as_dict()


for _field in ("level", "name", "dose_text", "style"):
    placeholder(f"plan.{_field}")(lambda ctx, _field=_field: str(getattr(ctx.plan(), _field)))

# Feature modules register their actions and placeholders when imported.
import bot.features.contacts  # noqa: E402,F401
import bot.features.safety  # noqa: E402,F401
import bot.features.urge  # noqa: E402,F401
