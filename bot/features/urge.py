"""The urge pause and the draft check: entry actions and the placeholder their flows use.

A draft arrives only as `ctx.typed` (its input key starts with "_", so the engine never stores
it). The verdict goes out as an extra reply and is never put in the session; the only write
is RecordDraftCheck(verdict).
"""

from __future__ import annotations

from bot.actions import Context, action, placeholder
from bot.features.checkins import settings_from
from bot.model import RecordDraftCheck, Reply, SaveCheckins
from bot.policy.checkins import later_today
from bot.policy.drafts import format_result
from bot.policy.timezones import zone
from bot.policy.urge import fit_line, unanswered_in_a_row, urge_texts

FOLLOWUP_AFTER_HOURS = 3
FOLLOWUP_KIND = "followup"


@placeholder("urge.fit_line")
def urge_fit_line(ctx: Context) -> str:
    """When a contact the user starts next fits their plan."""
    tz = settings_from(ctx.data.checkins).tz
    return fit_line(ctx.plan(), ctx.data.contacts, ctx.now, tz, urge_texts())


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


@action("schedule_followup")
def schedule_followup(ctx: Context) -> None:
    """Schedule a check-in later today, outside quiet hours, keeping the user's settings."""
    settings = settings_from(ctx.data.checkins)
    due = later_today(settings, ctx.now, after_hours=FOLLOWUP_AFTER_HOURS)
    texts = urge_texts()
    if due is None:
        reason = "too_late" if settings.tz_set else "no_tz"
        ctx.replies.append(Reply(texts.followup[reason]))
        return
    ctx.effects.append(SaveCheckins(settings=ctx.data.checkins, due_at=due, due_kind=FOLLOWUP_KIND))
    local = due.astimezone(zone(settings.tz)).strftime("%H:%M")
    ctx.replies.append(Reply(texts.followup["scheduled"].format(time=local)))
