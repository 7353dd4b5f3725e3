"""The one-tap mood: on every check-in, after logging a contact, and with /mood.

Moods are kept in the session's answers as a short list of (local day, mood), one a day and
at most MOOD_DAYS of them, so they need no table of their own; /progress shows them.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from bot.actions import Context, action, command, placeholder
from bot.features.checkins import MOODS, settings_from
from bot.features.texts import FEATURE_TEXTS
from bot.model import Reply
from bot.policy.timezones import zone

MOODS_KEY = "moods"
MOOD_DAYS = 42  # six weeks, as far back as the progress chart
LOGGED, FELT = "log:saved", "mood:felt"  # a logged contact, with the mood buttons; after a tap


def record(ctx: Context, mood: str) -> None:
    """Keep today's mood (a later tap the same day replaces it)."""
    day = ctx.now.astimezone(zone(settings_from(ctx.data.checkins).tz)).date().isoformat()
    kept = [entry for entry in ctx.session.answers.get(MOODS_KEY, []) if entry[0] != day]
    ctx.session.answers[MOODS_KEY] = [*kept, [day, mood]][-MOOD_DAYS:]


@command("mood")
def mood(ctx: Context) -> list[Reply]:
    """With a mood (a check-in's button), keep it; without one, ask."""
    chosen = (ctx.typed or "").strip().lower()
    if chosen in MOODS:
        record(ctx, chosen)
        if ctx.session.state == LOGGED:  # the one tap right under a logged contact
            ctx.session.answers["mood_last"] = chosen
            return [ctx.enter(FELT)]
        return [Reply(ctx.content(FEATURE_TEXTS).mood_saved[chosen], (ctx.resume_button(),))]
    return [ctx.enter("mood:feel")]


@action("record_mood")
def record_mood(ctx: Context) -> None:
    """Keep the mood just tapped in the log flow."""
    chosen = ctx.session.answers.pop("mood_today", None)
    if chosen in MOODS:
        record(ctx, chosen)
        ctx.session.answers["mood_last"] = chosen


@placeholder("mood.saved")
def mood_saved(ctx: Context) -> str:
    """What the bot says after a mood tap."""
    saved = ctx.content(FEATURE_TEXTS).mood_saved
    return saved.get(ctx.session.answers.get("mood_last", "okay"), "")


def weekly_moods(entries: list[list[str]], today: date, weeks: int) -> list[dict[str, int]]:
    """Per week up to `today`, oldest first (as the chart's weeks): how many days of each
    mood were noted."""
    result: list[dict[str, int]] = [dict.fromkeys(MOODS, 0) for _ in range(weeks)]
    for day, mood in entries:
        back = (today - date.fromisoformat(day)).days // 7
        if 0 <= back < weeks and mood in MOODS:
            result[weeks - 1 - back][mood] += 1
    return result


def mood_entries(ctx: Context) -> list[list[str]]:
    """The moods kept for this user: [local day, mood], oldest first."""
    return list(ctx.session.answers.get(MOODS_KEY, []))


def local_today(ctx: Context) -> date:
    """Today in the user's time zone, as moods are noted."""
    return ctx.now.astimezone(zone(settings_from(ctx.data.checkins).tz)).date()


def mood_line(ctx: Context, days: int = 28) -> str | None:
    """How the last weeks felt, e.g. 'Your mood lately: 4 okay days, 2 hard ones.'"""
    entries = ctx.session.answers.get(MOODS_KEY, [])[-days:]
    if not entries:
        return None
    tally = Counter(mood for _, mood in entries)
    names = ctx.content(FEATURE_TEXTS).mood_names
    parts = [names[mood].format(n=tally[mood]) for mood in MOODS if tally[mood]]
    return ctx.content(FEATURE_TEXTS).progress_view["mood"].format(moods=", ".join(parts))
