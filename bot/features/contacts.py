"""Actions and placeholders for the contact log, the plan, progress and check-in settings.

Imported at the end of bot/actions.py, so the flow loader knows every name registered here.
Actions only read the context and write to it: the session, effects (applied in the update's
one transaction) and extra replies. After an effect, `ctx.data` is replaced by what the store
will hold, so the step rendered in the same update already shows the change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from bot.actions import Context, action, command, command_button, placeholder, step_buttons
from bot.features.checkins import CHECKIN, describe_settings, settings_from
from bot.features.texts import FEATURE_TEXTS
from bot.model import AddContact, Attachment, Button, Reply, SaveCheckins
from bot.policy.checkins import CheckinSettings, next_checkin
from bot.policy.contacts import (
    Contact,
    assess_contact,
    days_within_plan,
    progress_summary,
    suggest_adjustment,
    weekly_within_plan,
)
from bot.policy.plan import Plan, plan_for_level, plan_from_answers
from bot.policy.timezones import (
    has_summer_time,
    is_fixed_offset,
    parse_timezone,
    resolve_timezone,
    zone,
)

LOG_ANSWERS = ("log_initiator", "log_kind", "log_outcome")
CHECKIN_ANSWERS = (
    "checkin_frequency",
    "checkin_weekday",
    "checkin_hour",
    "checkin_quiet",
    "checkin_pause",
)
PLAN_CHANGED_AT = "plan_changed_at"  # plan suggestions only look at contacts after a change
PLAN_CHANGE = "plan_change"  # how the last level change went, for re-rendering its result
CHART_WEEKS = 6
MAX_TZ_BUTTONS = 6  # choice buttons under "That name fits more than one place"


# --- the contact log --------------------------------------------------------------------------


@action("log_contact")
def log_contact(ctx: Context) -> None:
    """Store the contact the user just described (and its optional typed note)."""
    answers = ctx.session.answers
    values = [answers.pop(key, None) for key in LOG_ANSWERS]
    days_ago = int(answers.pop("log_days_ago", 0) or 0)
    count = max(1, min(int(answers.pop("log_count", 1) or 1), 5))
    if None in values or values[0] not in ("me", "them"):
        return  # reached without the three answers: nothing to log
    initiator, kind, outcome = values
    last = ctx.now - timedelta(days=days_ago)
    added = [
        Contact(at=last - timedelta(hours=count - 1 - i), initiator=initiator, kind=kind,
                outcome=outcome)
        for i in range(count)
    ]  # fmt: skip
    for contact in added:  # the note goes with the last of them
        note = ctx.typed if contact is added[-1] else None
        ctx.effects.append(AddContact(contact, note=note))
    contacts = sorted((*ctx.data.contacts, *added), key=lambda c: c.at)
    ctx.data = replace(ctx.data, contacts=tuple(contacts), last_logged=added[-1])


def _since_plan_change(ctx: Context) -> tuple[Contact, ...]:
    """Logged contacts since the user last changed their level (all, if never)."""
    changed = ctx.session.answers.get(PLAN_CHANGED_AT)
    if not changed:
        return ctx.data.contacts
    since = datetime.fromisoformat(changed)
    return tuple(c for c in ctx.data.contacts if c.at > since)


@placeholder("contact.result")
def contact_result(ctx: Context) -> str:
    """How the latest logged contact fits the plan, with a gentle check-in when over it."""
    if not ctx.data.contacts:
        return ""
    latest = ctx.data.last_logged or ctx.data.contacts[-1]
    history, plan = ctx.data.contacts, ctx.plan()
    assessment = assess_contact(plan, history, latest, latest.at, ctx.policy.contact_texts)
    parts = [assessment.fit_line]
    if assessment.advice:
        parts.append(assessment.advice)
    recent = _since_plan_change(ctx)
    if (
        latest in recent
        and suggest_adjustment(plan, recent, latest.at, texts=ctx.policy.contact_texts)
        and not suggest_adjustment(plan, recent[:-1], latest.at, texts=ctx.policy.contact_texts)
    ):
        parts.append(ctx.content(FEATURE_TEXTS).log["suggestion_hint"])  # it tipped the balance
    return "\n\n".join(parts)


# --- the plan ---------------------------------------------------------------------------------


@placeholder("plan.suggestion")
def plan_suggestion(ctx: Context) -> str:
    """A suggested level change when recent outcomes are consistent, else nothing."""
    if ctx.session.plan is None:
        return ""
    adjustment = suggest_adjustment(
        ctx.plan(), _since_plan_change(ctx), ctx.now, texts=ctx.policy.contact_texts
    )
    if adjustment is None:
        return ""
    return "\n\n" + ctx.content(FEATURE_TEXTS).plan_suggestion.format(reason=adjustment.reason)


# Going warmer is weighed against the latest contacts (at most EVIDENCE_CONTACTS, none older
# than EVIDENCE_DAYS: old silence says little about now), and asked again when at least
# AGAINST_SHARE of them were cold or unanswered.
EVIDENCE_CONTACTS = 5
EVIDENCE_DAYS = 14
AGAINST_SHARE = 0.6


def _cold_evidence(ctx: Context) -> tuple[int, int]:
    """(cold or unanswered, looked at) among the latest logged contacts of the last 14 days."""
    since = ctx.now - timedelta(days=EVIDENCE_DAYS)
    recent = [c for c in ctx.data.contacts if since <= c.at <= ctx.now]
    latest = recent[-EVIDENCE_CONTACTS:]
    return sum(c.outcome in ("cold", "no_answer") for c in latest), len(latest)


@action("weigh_change")
def weigh_change(ctx: Context) -> None:
    """Note whether the chosen change goes against the logged evidence (warmer after cold)."""
    cold, looked_at = _cold_evidence(ctx)
    against = (
        ctx.session.answers.get("plan_direction") == "warmer"
        and looked_at >= 3
        and cold >= AGAINST_SHARE * looked_at
    )
    ctx.session.answers["change_against"] = "yes" if against else "no"


@placeholder("plan.evidence")
def plan_evidence(ctx: Context) -> str:
    """What the log shows, before a change against it."""
    cold, looked_at = _cold_evidence(ctx)
    return ctx.content(FEATURE_TEXTS).plan_evidence.format(
        n=looked_at, matching=cold, days=EVIDENCE_DAYS
    )


@action("change_level")
def change_level(ctx: Context) -> None:
    """Move the plan one level warmer or cooler, as the user chose (never past the ends)."""
    answers = ctx.session.answers
    direction = answers.get("plan_direction")
    current = ctx.plan()
    step = -1 if direction == "warmer" else 1
    levels = [row.level for row in ctx.policy.dose_table.levels]
    target = current.level + step
    if target not in levels:
        answers[PLAN_CHANGE] = "warmest" if step < 0 else "coolest"
        return
    suggested = suggest_adjustment(
        current, _since_plan_change(ctx), ctx.now, texts=ctx.policy.contact_texts
    )
    ctx.session.plan = plan_for_level(target, ctx.policy.dose_table, answers).as_dict()
    answers[PLAN_CHANGE] = "warmer" if step < 0 else "cooler"
    answers.pop("change_against", None)
    if suggested is None or suggested.to_level == target:
        # Suggestions look only at contacts after a change the evidence agreed with; after a
        # change against it, the suggestion stays visible.
        answers[PLAN_CHANGED_AT] = ctx.now.astimezone(UTC).isoformat()


# What each "something changed" event means for the assessment answers.
CHANGE_EVENTS = {
    "warm_reply": {"response": "warm"},
    "divorce_filed": {"living": "divorce"},
    "new_partner": {"feelings": "someone_else"},
    "moved_back": {"living": "together"},
}
REASSESSED_FROM = "reassessed_from"


@action("reassess")
def reassess(ctx: Context) -> None:
    """Apply what changed to the answers and recompute the plan from all of them."""
    answers = ctx.session.answers
    answers.update(CHANGE_EVENTS.get(answers.pop("change_event", ""), {}))
    before = ctx.plan()
    after = plan_from_answers(answers, ctx.policy.dose_table)
    answers[REASSESSED_FROM] = f"{before.level}:{before.name}"
    if after.level != before.level or after.together != before.together:
        answers[PLAN_CHANGED_AT] = ctx.now.astimezone(UTC).isoformat()
    ctx.session.plan = after.as_dict()


@placeholder("reassess.result")
def reassess_result(ctx: Context) -> str:
    """What the re-assessment changed, and the answers that led there."""
    from bot.policy.plan import level_reasons

    plan, answers = ctx.plan(), ctx.session.answers
    level, _, name = answers.get(REASSESSED_FROM, "").partition(":")
    texts = ctx.content(FEATURE_TEXTS).reassess
    key = "together" if plan.together else "same" if level == str(plan.level) else "changed"
    why = "; ".join(level_reasons(answers, ctx.policy.dose_table)) or ctx.text("plan_why_none")
    return texts[key].format(
        level=plan.level, name=plan.name, dose=plan.dose_text, why=why,
        before=f"level {level} ({name})",
    )  # fmt: skip


@placeholder("plan.change_result")
def change_result(ctx: Context) -> str:
    """What the last level change did."""
    plan: Plan = ctx.plan()
    key = ctx.session.answers.get(PLAN_CHANGE, "cooler")
    return (
        ctx.content(FEATURE_TEXTS)
        .plan_change[key]
        .format(level=plan.level, name=plan.name, dose=plan.dose_text)
    )


# --- progress ---------------------------------------------------------------------------------


@action("show_progress")
def show_progress(ctx: Context) -> None:
    """Send the chart of the last weeks as a photo, with the two-line summary as caption.

    The chart is drawn only when the adapter sends it (the Telegram adapter in a worker
    thread, off the event loop); everything it needs is computed here, from this update."""
    from bot.features.mood import local_today, mood_entries, weekly_moods

    plan, history, now = ctx.plan(), ctx.data.contacts, ctx.now
    tz = settings_from(ctx.data.checkins).tz
    texts = ctx.policy.contact_texts
    summary = "\n".join(progress_summary(history, plan, now, texts))
    moods = weekly_moods(mood_entries(ctx), local_today(ctx), CHART_WEEKS)
    within = None if plan.together else _weekly_within(ctx, CHART_WEEKS)

    def render() -> bytes:
        # matplotlib is imported only when a chart is first drawn: it is most of the bot's
        # start-up time and memory otherwise.
        from bot.charts import render_progress_png

        return render_progress_png(
            history, plan, now, CHART_WEEKS, tz=tz, texts=texts, within=within, moods=moods
        )

    ctx.replies.append(Reply(summary, attachment=Attachment("photo", "progress.png", render)))


@placeholder("progress.note")
def progress_note(ctx: Context) -> str:
    """Under the chart: mood lately, days within the plan, and a word that fits the weeks."""
    from bot.features.mood import mood_line

    texts, plan = ctx.content(FEATURE_TEXTS).progress_view, ctx.plan()
    lines = []
    if plan.together:
        lines.append(texts["together"])
    else:
        within, total, slipped = days_within_plan(
            plan, ctx.data.contacts, ctx.now, _plan_start(ctx)
        )
        lines.append(texts["within"].format(days=within, total=total))
        if trend := within_trend(ctx):
            lines.append(trend)
        lines.append(texts["after_slip"] if slipped else texts["steady"])
    if line := mood_line(ctx):
        lines.append(line)
    if trend := mood_trend(ctx):
        lines.append(trend)
    return "\n" + "\n".join(lines)


TREND_WEEKS = 4  # the text trend: the last four weeks, as the summary above it


def _plan_start(ctx: Context) -> datetime:
    """From when the plan began, or the first contact logged (past ones may be older)."""
    return min([ctx.session.completed_at or ctx.now, *(c.at for c in ctx.data.contacts)])


def _weekly_within(ctx: Context, weeks: int) -> list[tuple[int, int]]:
    """Days within the plan per week, oldest first."""
    return weekly_within_plan(ctx.plan(), ctx.data.contacts, ctx.now, _plan_start(ctx), weeks)


def within_trend(ctx: Context) -> str | None:
    """'Days within your plan, week by week: 5 of 7, 7 of 7.' for the weeks since the plan
    began; None with fewer than two such weeks (the line above already says it)."""
    texts = ctx.content(FEATURE_TEXTS).progress_view
    weeks = [(d, t) for d, t in _weekly_within(ctx, TREND_WEEKS) if t]
    if len(weeks) < 2:
        return None
    parts = [texts["within_week"].format(days=d, total=t) for d, t in weeks]
    return texts["within_trend"].format(weeks=", ".join(parts))


def mood_trend(ctx: Context) -> str | None:
    """'How your weeks felt, oldest first: mostly so-so, mixed.' from the first week with a
    mood noted; None with fewer than two such weeks."""
    from bot.features.mood import local_today, mood_entries, weekly_moods

    names = ctx.content(FEATURE_TEXTS).mood_weeks
    weeks = weekly_moods(mood_entries(ctx), local_today(ctx), TREND_WEEKS)
    while weeks and not any(weeks[0].values()):
        weeks.pop(0)
    if len(weeks) < 2:
        return None
    words = []
    for week in weeks:
        noted = sum(week.values())
        top = max(week, key=lambda mood: week[mood])
        if not noted:
            words.append(names["none"])
        else:
            words.append(names[top] if week[top] * 2 > noted else names["mixed"])
    texts = ctx.content(FEATURE_TEXTS).progress_view
    return texts["mood_trend"].format(weeks=", ".join(words))


# --- check-in settings ------------------------------------------------------------------------


def _settings_with_answers(ctx: Context) -> CheckinSettings:
    """The stored settings with the choices just made in the check-in steps applied."""
    settings = settings_from(ctx.data.checkins)
    answers = ctx.session.answers
    chosen = {key: answers.pop(key) for key in CHECKIN_ANSWERS if key in answers}
    changes: dict[str, Any] = {}
    if "checkin_frequency" in chosen:
        changes["frequency"] = chosen["checkin_frequency"]
    if "checkin_weekday" in chosen:
        changes["weekday"] = int(chosen["checkin_weekday"])
    if "checkin_hour" in chosen:
        changes["hour"] = int(chosen["checkin_hour"])
    if "checkin_quiet" in chosen:
        start, end = chosen["checkin_quiet"].split("-")
        changes["quiet_start"], changes["quiet_end"] = time(int(start)), time(int(end))
    if "checkin_pause" in chosen:
        days = int(chosen["checkin_pause"])
        changes["paused_until"] = ctx.now + timedelta(days=days) if days else None
    return replace(settings, **changes)


def save_settings(ctx: Context, settings: CheckinSettings) -> None:
    """Store the settings and the next check-in they lead to, in this update's transaction."""
    due = next_checkin(settings, ctx.now, ctx.data.last_checkin_at)
    ctx.effects.append(SaveCheckins(settings.as_dict(), due, CHECKIN if due else None))
    ctx.data = replace(ctx.data, checkins=settings.as_dict())


@action("save_checkins")
def save_checkins(ctx: Context) -> None:
    """Apply the check-in choices made in the steps before, and plan the next check-in."""
    save_settings(ctx, _settings_with_answers(ctx))


@action("stop_checkins")
def stop_checkins(ctx: Context) -> None:
    """Turn check-ins off; nothing more is sent until the user turns them on again."""
    save_settings(ctx, replace(settings_from(ctx.data.checkins), frequency="off"))


@command("timezone")
def timezone(ctx: Context) -> list[Reply]:
    """Ask for the time zone, or set it at once from the command (/timezone Kolkata)."""
    from bot.features.urge import remember_place

    remember_place(ctx)
    if ctx.typed:
        return [ctx.enter("checkins:tz_check")]
    return [ctx.enter("checkins:tz")]


@action("set_timezone")
def set_timezone(ctx: Context) -> None:
    """Store the time zone the user typed, if it names one (the step's text says if not)."""
    found = parse_timezone(ctx.typed or "")
    if found is not None:
        save_settings(ctx, replace(settings_from(ctx.data.checkins), tz=found, tz_set=True))
        if ctx.session.answers.pop("followup_after_tz", None):
            from bot.features.urge import schedule_followup

            schedule_followup(ctx)  # the follow-up the user asked for before giving a zone


@placeholder("checkins.summary")
def checkins_summary(ctx: Context) -> str:
    """The user's check-in settings in words."""
    return describe_settings(settings_from(ctx.data.checkins), ctx.now, ctx.content(FEATURE_TEXTS))


@placeholder("checkins.tz")
def checkins_tz(ctx: Context) -> str:
    """The user's time zone as stored (UTC until they set one)."""
    return settings_from(ctx.data.checkins).tz


@action("note_timezone_known")
def note_timezone_known(ctx: Context) -> None:
    """Whether the time zone is known (tz_known), so choosing an hour asks for it only if not."""
    ctx.session.answers["tz_known"] = "yes" if settings_from(ctx.data.checkins).tz_set else "no"


@placeholder("checkins.hour_note")
def checkins_hour_note(ctx: Context) -> str:
    """Under the hour question: the known time zone, or that it is asked for next."""
    settings, texts = settings_from(ctx.data.checkins), ctx.content(FEATURE_TEXTS).timezone
    return texts["hour_known"].format(zone=settings.tz) if settings.tz_set else texts["hour_ask"]


@placeholder("checkins.tz_question")
def checkins_tz_question(ctx: Context) -> str:
    """Ask for the time zone; say why, and what happens until it is known."""
    settings, texts = settings_from(ctx.data.checkins), ctx.content(FEATURE_TEXTS).timezone
    return texts["ask_again"].format(zone=settings.tz) if settings.tz_set else texts["ask"]


def _place_name(tz: str) -> str:
    """A zone's place as people type it ("America/New_York" -> "New York")."""
    return tz.split("/")[-1].replace("_", " ")


def _choice_name(tz: str, texts: dict[str, str]) -> str:
    """A choice in words: a fixed offset all year, or a place's time with summer time."""
    if is_fixed_offset(tz):
        return texts["choice_fixed"].format(offset=tz)
    if has_summer_time(tz):
        return texts["choice_summer"].format(place=_place_name(tz))
    return _place_name(tz)


@placeholder("checkins.tz_check")
def checkins_tz_check(ctx: Context) -> str:
    """After a typed time zone: the zone and its local time, or a kind request to retry."""
    texts = ctx.content(FEATURE_TEXTS).timezone
    if ctx.typed is not None:
        found = resolve_timezone(ctx.typed)
        if found.choices and any(is_fixed_offset(tz) for tz in found.choices):
            # "EST": the region's time, or a fixed offset all year (no summer time)?
            names = [_place_name(tz) if not is_fixed_offset(tz) else tz for tz in found.choices]
            options = " or ".join(_choice_name(tz, texts) for tz in found.choices)
            return texts["choose_fixed"].format(options=options, examples=" or ".join(names))
        if found.choices:  # ambiguous: ask which one, by the places' names
            options = ", ".join(_place_name(tz) for tz in found.choices)
            return texts["choose"].format(options=options)
        if found.zone is None:
            return texts["unknown"]
    tz = settings_from(ctx.data.checkins).tz
    local = ctx.now.astimezone(zone(tz))
    line = texts["current"].format(zone=tz, local_time=f"{local:%H:%M}")
    return f"{line} {texts['fixed']}" if is_fixed_offset(tz) else line


@step_buttons("checkins.tz_choices")
def checkins_tz_choices(ctx: Context) -> list[Button]:
    """After an ambiguous time zone: one button per choice, named as the text names it.

    A press runs `/timezone <zone>`, so it sets the zone exactly as typing it would, and an old
    message's button still does just that. A choice whose button cannot be sent (callback data
    over 64 bytes) is left out; the text still names it, to be typed.
    """
    if ctx.typed is None:
        return []
    choices = resolve_timezone(ctx.typed).choices
    return tz_choice_buttons(choices, ctx.content(FEATURE_TEXTS).timezone)


def tz_choice_buttons(choices: tuple[str, ...], texts: dict[str, str]) -> list[Button]:
    """The buttons for these zones: a place's name, or "UTC-05:00 all year" for an offset."""
    buttons = []
    for tz in choices:
        label = (
            texts["choice_button_fixed"].format(offset=tz)
            if is_fixed_offset(tz)
            else _place_name(tz)
        )
        button = command_button(label, "timezone", tz)
        if button is not None:
            buttons.append(button)
    return buttons[:MAX_TZ_BUTTONS]
