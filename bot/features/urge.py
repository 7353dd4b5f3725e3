"""The urge pause and the draft check: entry actions and the placeholder their flows use.

A draft arrives only as `ctx.typed` (its input key starts with "_", so the engine never stores
it). The verdict goes out as an extra reply and is never put in the session; the only write
is RecordDraftCheck(verdict).
"""

from __future__ import annotations

from bot.actions import Context, action, command, content_file, placeholder
from bot.features.checkins import settings_from
from bot.model import RecordDraftCheck, Reply, SaveCheckins
from bot.policy.checkins import later_today
from bot.policy.drafts import format_result
from bot.policy.timezones import zone
from bot.policy.urge import fit_line, load_urge_texts, unanswered_in_a_row

FOLLOWUP_AFTER_HOURS = 3
FOLLOWUP_KIND = "followup"
URGE_TEXTS = content_file("policy/urge_texts.yaml", load_urge_texts)


RETURN_TO = "return_to"  # where a user without a plan goes back to after /urge or /draft


def has_plan(ctx: Context) -> bool:
    """Whether the user finished the walk-through and has a plan."""
    return ctx.session.plan is not None and ctx.session.completed_at is not None


def remember_place(ctx: Context) -> None:
    """Before a plan exists, remember the walk-through step to come back to."""
    if not has_plan(ctx) and not ctx.session.state.startswith(("urge:", "draft:", "checkins:")):
        ctx.session.answers[RETURN_TO] = ctx.session.state


@action("back_to_walkthrough")
def back_to_walkthrough(ctx: Context) -> None:
    """At the menu while coaching is off: the safety menu; without a plan: back to the
    remembered walk-through step, if any."""
    if ctx.session.coaching_off:
        ctx.enter("hub:safety_menu")  # never the contact menu in safety mode
        return
    back = ctx.session.answers.pop(RETURN_TO, None)
    if not has_plan(ctx) and back and not back.startswith(("hub:menu", "urge:", "draft:")):
        ctx.enter(back)


@command("checkins")
def checkins(ctx: Context) -> list[Reply]:
    """Check-in settings: for everyone, wherever they are (setting them is enough)."""
    remember_place(ctx)
    return [ctx.enter("checkins:settings")]


@command("stopcheckins")
def stopcheckins(ctx: Context) -> list[Reply]:
    """Stop check-ins at once."""
    remember_place(ctx)
    return [ctx.enter("checkins:stopped")]


@command("urge")
def urge(ctx: Context) -> list[Reply]:
    """The pause before contact: for everyone, from day one; reframed while coaching is off."""
    if ctx.session.coaching_off:
        return [ctx.enter("urge:safe_pause")]
    remember_place(ctx)
    return [ctx.enter("urge:pause")]


@command("draft")
def draft(ctx: Context) -> list[Reply]:
    """The draft check: for everyone from day one (refused only while coaching is off)."""
    remember_place(ctx)
    return [ctx.enter("draft:paste")]


@placeholder("urge.fit_line")
def urge_fit_line(ctx: Context) -> str:
    """The plan, and when a contact the user starts next fits it (or the plan-less word)."""
    texts = ctx.content(URGE_TEXTS)
    if not has_plan(ctx):
        return texts.fit["no_plan"]
    plan = ctx.plan()
    tz = settings_from(ctx.data.checkins).tz
    line = fit_line(plan, ctx.data.contacts, ctx.now, tz, texts)
    return line if plan.together else f"{texts.plan.format(dose=plan.dose_text)}\n{line}"


@action("check_draft")
def check_typed_draft(ctx: Context) -> None:
    """Check the draft just typed; reply with the verdict and record only the verdict."""
    if ctx.typed is None:
        return  # entered without a draft (nothing to check)
    result = ctx.policy.listener.draft(
        ctx.typed, recent_unanswered=unanswered_in_a_row(ctx.data.contacts, ctx.now)
    )
    ctx.replies.append(Reply(format_result(result, ctx.policy.draft_rules.texts)))
    ctx.effects.append(RecordDraftCheck(result.verdict))


FOLLOWUP_AFTER_TZ = "followup_after_tz"  # a follow-up waits for the time zone asked for


@action("schedule_followup")
def schedule_followup(ctx: Context) -> None:
    """Schedule a check-in later today, outside quiet hours, keeping the user's settings.

    Without a time zone it asks for one (and schedules once it is given), never refuses.
    """
    settings = settings_from(ctx.data.checkins)
    texts = ctx.content(URGE_TEXTS)
    if not settings.tz_set:
        ctx.session.answers[FOLLOWUP_AFTER_TZ] = "yes"
        ctx.replies.append(Reply(texts.followup["no_tz"]))
        ctx.enter("checkins:tz")
        return
    due = later_today(settings, ctx.now, after_hours=FOLLOWUP_AFTER_HOURS)
    if due is None:
        ctx.replies.append(Reply(texts.followup["too_late"]))
        return
    ctx.effects.append(SaveCheckins(settings=ctx.data.checkins, due_at=due, due_kind=FOLLOWUP_KIND))
    local = due.astimezone(zone(settings.tz)).strftime("%H:%M")
    ctx.replies.append(Reply(texts.followup["scheduled"].format(time=local)))
