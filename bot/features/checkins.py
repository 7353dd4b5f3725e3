"""Check-ins: what the sweep does with a due check-in, the check-in message, settings in words.

Everything here is pure: settings, stored times and a clock in, a decision or a text out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from bot.actions import COMMAND_PREFIX
from bot.features.texts import FeatureTexts
from bot.model import Button, Command, Reply
from bot.policy.checkins import (
    CheckinSettings,
    in_quiet_window,
    is_quiet,
    next_checkin,
    pick_checkin_text,
)
from bot.policy.contacts import ContactTexts
from bot.policy.timezones import zone

# A check-in found much later than planned (the bot was down) is skipped, not sent at an
# odd hour; the next one is planned as usual.
MAX_LATENESS = timedelta(hours=6)
# Buttons under a check-in run commands (COMMAND_PREFIX), so they work whatever step the user is on.
CHECKIN_BUTTONS = {"log": "log", "menu": "menu", "change": "checkins", "stop": "stopcheckins"}
# What a check-in offers depends on where the user is: no logging before a plan exists (they
# go back to the walk-through) or while coaching is off for safety (self-care only).
BUTTONS_BY_MODE = {
    "coaching": ("log", "menu", "change", "stop"),
    "together": ("log", "menu", "change", "stop"),
    "walkthrough": ("resume", "change", "stop"),
    "safety": ("menu", "change", "stop"),
}
MOODS = ("good", "okay", "low")
CHECKIN, FOLLOWUP = "checkin", "followup"


@dataclass(frozen=True)
class CheckinDecision:
    """What to do with a due check-in: send it or not, and when the next one is due."""

    send: bool
    next_due: datetime | None
    next_kind: str | None


def settings_from(data: dict[str, Any] | None) -> CheckinSettings:
    """Stored settings, or the defaults (check-ins off) when absent or unreadable."""
    if not data:
        return CheckinSettings()
    try:
        return CheckinSettings.from_dict(data)
    except (TypeError, ValueError):
        return CheckinSettings()


def schedule(
    settings: CheckinSettings, now: datetime, last_sent_at: datetime | None
) -> CheckinDecision:
    """Plan the next regular check-in without sending anything now."""
    due = next_checkin(settings, now, last_sent_at)
    return CheckinDecision(False, due, CHECKIN if due else None)


def sent_today(settings: CheckinSettings, last_sent_at: datetime | None, now: datetime) -> bool:
    """Whether a check-in already went out on the user's current local day."""
    if last_sent_at is None:
        return False
    tz = zone(settings.tz)
    return last_sent_at.astimezone(tz).date() == now.astimezone(tz).date()


def decide_due_checkin(
    settings: CheckinSettings,
    due_at: datetime,
    last_sent_at: datetime | None,
    now: datetime,
    eligible: bool = True,
    kind: str = CHECKIN,
) -> CheckinDecision:
    """Decide about a check-in whose due time has come: at most one a day, never when quiet."""
    if not eligible:  # no finished walk-through, or coaching is off: nothing to check in on
        return CheckinDecision(False, None, None)
    if kind == FOLLOWUP:
        # The user asked for this one a few hours ago ("check in later today"): keep that
        # promise even if regular check-ins are off or paused, but never in quiet hours.
        if is_quiet(settings, now) or now - due_at > MAX_LATENESS:
            return schedule(settings, now, last_sent_at)
        due = next_checkin(settings, now, now)  # so no unasked-for check-in follows today
        return CheckinDecision(True, due, CHECKIN if due else None)
    paused = settings.paused_until is not None and now < settings.paused_until
    if (
        settings.frequency == "off"
        or paused
        or sent_today(settings, last_sent_at, now)
        or now - due_at > MAX_LATENESS
        or is_quiet(settings, now)
    ):
        return schedule(settings, now, last_sent_at)
    due = next_checkin(settings, now, now)  # a follow-up counts as today's one check-in too
    return CheckinDecision(True, due, CHECKIN if due else None)


def checkin_reply(
    kind: str,
    user_id: int,
    tz: str,
    now: datetime,
    policy: ContactTexts,
    texts: FeatureTexts,
    mode: str = "coaching",
) -> Reply:
    """The check-in message: a varying gentle text, a one-tap mood, and buttons that fit."""
    if mode == "safety":
        variants = texts.safety_checkins  # self-care only: nothing about contact
    elif mode == "together" and kind != FOLLOWUP:
        variants = texts.together_checkins  # daily moments at home, not messages (R18)
    else:
        variants = texts.followups if kind == FOLLOWUP else policy.checkins
    text = pick_checkin_text(variants, user_id, now, tz)
    commands = {**CHECKIN_BUTTONS, "resume": "start"}
    moods = tuple(Button(texts.moods[mood], data=f"{COMMAND_PREFIX}mood.{mood}") for mood in MOODS)
    buttons = tuple(
        Button(texts.checkin_buttons[key], data=f"{COMMAND_PREFIX}{commands[key]}")
        for key in BUTTONS_BY_MODE.get(mode, BUTTONS_BY_MODE["coaching"])
    )
    return Reply(text, moods + buttons)


def command_from_press(data: str) -> Command | None:
    """The command a check-in button runs ('c.log' -> /log), or None for other buttons."""
    name, _, argument = data.removeprefix(COMMAND_PREFIX).partition(".")
    if data.startswith(COMMAND_PREFIX) and re.fullmatch(r"[a-z0-9_]{1,32}", name):
        if argument and not re.fullmatch(r"[a-z0-9_\-]{1,32}", argument):
            return None
        return Command(name, argument)
    return None


def describe_settings(settings: CheckinSettings, now: datetime, texts: FeatureTexts) -> str:
    """The user's check-in settings in plain words."""
    words = texts.checkin_summary
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
    if settings.frequency != "off" and in_quiet_window(settings, time(settings.hour)):
        # Never confirm a time the bot will not keep: say when it will write instead.
        lines.append(
            texts.checkin_quiet["explain"].format(
                hour=hour, start=f"{start:%H:%M}", end=f"{end:%H:%M}", nearest=f"{end:%H:%M}"
            )
        )
    return " ".join(lines)
