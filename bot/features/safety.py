"""The safety screen's actions and placeholders: the user's own help resources, coaching paused.

When the safety screen shows a reason not to coach contact (answers.safety == "concern"), the
engine refuses the plan commands (`coaching_off`); this module stops any due check-in at once and
fills the safety texts with the resources for the user's country or language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from bot.actions import Context, action, placeholder
from bot.policy.safety import ResourceSet, resource_lines, resources_for, safety_stop_text

HELP_LINES = ("emergency_advice", "crisis_line", "dv_help", "legal_help")


def user_resources(ctx: Context) -> ResourceSet:
    """The help resources for this user: their /country setting, else their language."""
    return resources_for(
        ctx.policy.resources,
        language_code=ctx.data.language,
        country=ctx.session.answers.get("country"),
    )


@placeholder("safety.stop_text")
def stop_text(ctx: Context) -> str:
    """Why we stop coaching contact, with emergency, domestic-violence and legal help."""
    return safety_stop_text(user_resources(ctx), ctx.policy.crisis.texts)


def _help_line(name: str) -> Callable[[Context], str]:
    """A placeholder showing one line of help resources for the user's country."""
    return lambda ctx: resource_lines(user_resources(ctx), ctx.policy.crisis.texts)[name]


for _name in HELP_LINES:
    placeholder(f"safety.{_name}")(_help_line(_name))


# The danger history: the day the user last reported an order, violence, threats or fear.
# It outlives a reset that keeps the log (only /delete erases it), so clearing the safety
# questions within DANGER_MEMORY of a report is always acknowledged and confirmed.
CONCERN_ON = "safety_concern_on"
DANGER_MEMORY = timedelta(days=90)


@action("note_safety_concern")
def note_safety_concern(ctx: Context) -> None:
    """Remember the day danger was reported (a date only, no words of the user's)."""
    ctx.session.answers[CONCERN_ON] = ctx.now.date().isoformat()


def danger_reported_lately(ctx: Context) -> bool:
    """Whether the user reported danger within DANGER_MEMORY (or is in safety mode now)."""
    if ctx.session.coaching_off:
        return True
    try:
        reported = date.fromisoformat(str(ctx.session.answers.get(CONCERN_ON)))
    except ValueError:
        return False
    return ctx.now.date() - reported <= DANGER_MEMORY


@action("remember_safety")
def remember_safety(ctx: Context) -> None:
    """Keep the safety answer given before, so clearing a concern is confirmed, not silent.

    "concern" also when the answer was cleared or reset since, but danger was reported lately.
    """
    before = "concern" if danger_reported_lately(ctx) else ctx.session.answers.get("safety")
    if before:
        ctx.session.answers["safety_before"] = before
    else:
        ctx.session.answers.pop("safety_before", None)
