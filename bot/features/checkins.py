"""Check-ins: what the sweep does with a due nudge, the nudge message, settings in words.

Everything here is pure: settings, stored times and a clock in, a decision or a text out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.actions import COMMAND_PREFIX
from bot.features.texts import FeatureTexts
from bot.model import Button, Command, Reply
from bot.policy.contacts import NudgeTexts
from bot.policy.nudges import NudgeSettings, is_quiet, next_checkin, pick_checkin_text
from bot.policy.timezones import zone

# A check-in found much later than planned (the bot was down) is skipped, not sent at an
# odd hour; the next one is planned as usual.
MAX_LATENESS = timedelta(hours=6)
# Buttons under a nudge run commands (COMMAND_PREFIX), so they work whatever step the user is on.
NUDGE_BUTTONS = {"log": "log", "menu": "menu", "change": "nudges", "stop": "stopnudges"}
CHECKIN, FOLLOWUP = "checkin", "followup"


@dataclass(frozen=True)
class NudgeDecision:
    """What to do with a due nudge: send it or not, and when the next one is due."""

    send: bool
    next_due: datetime | None
    next_kind: str | None


def settings_from(data: dict[str, Any] | None) -> NudgeSettings:
    """Stored settings, or the defaults (check-ins off) when absent or unreadable."""
    if not data:
        return NudgeSettings()
    try:
        return NudgeSettings.from_dict(data)
    except (TypeError, ValueError):
        return NudgeSettings()


def schedule(
    settings: NudgeSettings, now: datetime, last_sent_at: datetime | None
) -> NudgeDecision:
    """Plan the next regular check-in without sending anything now."""
    due = next_checkin(settings, now, last_sent_at)
    return NudgeDecision(False, due, CHECKIN if due else None)


def sent_today(settings: NudgeSettings, last_sent_at: datetime | None, now: datetime) -> bool:
    """Whether a nudge already went out on the user's current local day."""
    if last_sent_at is None:
        return False
    tz = zone(settings.tz)
    return last_sent_at.astimezone(tz).date() == now.astimezone(tz).date()


def decide_due_nudge(
    settings: NudgeSettings,
    due_at: datetime,
    last_sent_at: datetime | None,
    now: datetime,
    eligible: bool = True,
    kind: str = CHECKIN,
) -> NudgeDecision:
    """Decide about a nudge whose due time has come: at most one a day, never when quiet."""
    if not eligible:  # no finished walk-through, or coaching is off: nothing to check in on
        return NudgeDecision(False, None, None)
    if kind == FOLLOWUP:
        # The user asked for this one a few hours ago ("check in later today"): keep that
        # promise even if regular check-ins are off or paused, but never in quiet hours.
        if is_quiet(settings, now) or now - due_at > MAX_LATENESS:
            return schedule(settings, now, last_sent_at)
        due = next_checkin(settings, now, now)  # so no unasked-for check-in follows today
        return NudgeDecision(True, due, CHECKIN if due else None)
    paused = settings.paused_until is not None and now < settings.paused_until
    if (
        settings.frequency == "off"
        or paused
        or sent_today(settings, last_sent_at, now)
        or now - due_at > MAX_LATENESS
        or is_quiet(settings, now)
    ):
        return schedule(settings, now, last_sent_at)
    due = next_checkin(settings, now, now)  # a follow-up counts as today's one nudge too
    return NudgeDecision(True, due, CHECKIN if due else None)


def nudge_reply(
    kind: str, user_id: int, tz: str, now: datetime, policy: NudgeTexts, texts: FeatureTexts
) -> Reply:
    """The nudge message: a varying gentle text and one-tap buttons to log, open or stop."""
    variants = texts.followups if kind == FOLLOWUP else policy.checkins
    text = pick_checkin_text(variants, user_id, now, tz)
    buttons = tuple(
        Button(texts.nudge_buttons[key], data=f"{COMMAND_PREFIX}{command}")
        for key, command in NUDGE_BUTTONS.items()
    )
    return Reply(text, buttons)


def command_from_press(data: str) -> Command | None:
    """The command a nudge button runs ('c.log' -> /log), or None for other buttons."""
    name = data.removeprefix(COMMAND_PREFIX)
    if data.startswith(COMMAND_PREFIX) and re.fullmatch(r"[a-z0-9_]{1,32}", name):
        return Command(name)
    return None


def describe_settings(settings: NudgeSettings, now: datetime, texts: FeatureTexts) -> str:
    """The user's check-in settings in plain words."""
    words = texts.nudge_summary
    hour = f"{settings.hour:02d}:00"
    if settings.frequency == "daily":
        lines = [words["daily"].format(hour=hour, zone=settings.tz)]
    elif settings.frequency == "weekly":
        weekday = texts.weekdays[settings.weekday]
        lines = [words["weekly"].format(weekday=weekday, hour=hour, zone=settings.tz)]
    else:
        lines = [words["off"]]
    if settings.frequency != "off" and not settings.tz_set:
        lines.append(words["needs_tz"])
    if settings.frequency != "off" and settings.paused_until and settings.paused_until > now:
        until = settings.paused_until.astimezone(zone(settings.tz))
        lines.append(
            words["paused"].format(until=f"{texts.weekdays[until.weekday()]} {until:%d %b}")
        )
    start, end = settings.quiet_start, settings.quiet_end
    lines.append(words["quiet"].format(start=f"{start:%H:%M}", end=f"{end:%H:%M}"))
    return " ".join(lines)
