"""The urge pause: when a contact next fits the plan, and how many messages wait unanswered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.datafile import read_mapping
from bot.policy.contacts import Contact, counts_against_dose
from bot.policy.plan import Plan
from bot.policy.timezones import zone

TEXTS_PATH = Path(__file__).resolve().parents[2] / "flows" / "policy" / "urge_texts.yaml"
# Unanswered messages older than this no longer make the next one "one more in a row".
IN_A_ROW_WINDOW = timedelta(days=14)
FIT_KEYS = ("now", "today", "tomorrow", "weekday", "days", "together", "no_plan", "safety")
FOLLOWUP_KEYS = ("scheduled", "too_late", "no_tz")


class UrgeTextsError(ValueError):
    """urge_texts.yaml is malformed."""


@dataclass(frozen=True)
class UrgeTexts:
    """The lines the urge pause fills in: how a contact fits, and the follow-up answer."""

    fit: dict[str, str]
    plan: str
    weekdays: tuple[str, ...]
    followup: dict[str, str]


def load_urge_texts(path: Path = TEXTS_PATH) -> UrgeTexts:
    """Load and check the urge texts."""
    raw = read_mapping(path, UrgeTextsError)
    try:
        fit = {key: str(raw["fit"][key]) for key in FIT_KEYS}
        followup = {key: str(raw["followup"][key]) for key in FOLLOWUP_KEYS}
        weekdays = tuple(str(day) for day in raw["weekdays"])
    except (KeyError, TypeError) as error:
        raise UrgeTextsError(f"{path.name}: {error!r}") from error
    if "{dose}" not in str(raw.get("plan", "")):
        raise UrgeTextsError(f"{path.name}: 'plan' must be a text with {{dose}}")
    if len(weekdays) != 7:
        raise UrgeTextsError(f"{path.name}: weekdays must list Monday..Sunday")
    return UrgeTexts(fit, str(raw.get("plan", "")), weekdays, followup)


def _fits_at(plan: Plan, counted: Sequence[Contact], moment: datetime) -> bool:
    """Whether one more contact at `moment` stays within the dose and the spacing."""
    in_window = [c for c in counted if moment - timedelta(days=plan.per_days) < c.at <= moment]
    if len(in_window) >= plan.max_contacts:
        return False
    last = max((c.at for c in counted if c.at <= moment), default=None)
    gap = timedelta(hours=plan.min_gap_hours or 0)
    return last is None or moment - last >= gap


def next_fit(plan: Plan, contacts: Sequence[Contact], now: datetime) -> datetime | None:
    """The earliest moment from `now` a contact the user starts fits the plan; None if never."""
    if plan.max_contacts <= 0:
        return None
    counted = [c for c in contacts if counts_against_dose(c) and c.at <= now]
    # The answer can only change when a contact leaves the window or the spacing runs out.
    gap = timedelta(hours=plan.min_gap_hours or 0)
    candidates = [now]
    candidates += [c.at + timedelta(days=plan.per_days) for c in counted]
    candidates += [c.at + gap for c in counted]
    for moment in sorted(m for m in candidates if m >= now):
        if _fits_at(plan, counted, moment):
            return moment
    return None  # not reached for a sane plan: the last candidate always fits


def fit_line(
    plan: Plan, contacts: Sequence[Contact], now: datetime, tz: str, texts: UrgeTexts
) -> str:
    """One line: a contact fits now, or from which day (in the user's time zone)."""
    if plan.together:
        return texts.fit["together"]
    moment = next_fit(plan, contacts, now)
    if moment is None:  # no level has a zero dose; kept for a hand-edited table
        return texts.fit["no_plan"]
    if moment <= now:
        return texts.fit["now"].format(dose=plan.dose_text)
    local_zone = zone(tz)
    days = (moment.astimezone(local_zone).date() - now.astimezone(local_zone).date()).days
    fields = {"dose": plan.dose_text, "days": days}
    if days == 0:
        return texts.fit["today"].format(time=moment.astimezone(local_zone).strftime("%H:%M"))
    if days == 1:
        return texts.fit["tomorrow"].format(**fields)
    if days < 7:
        weekday = texts.weekdays[moment.astimezone(local_zone).weekday()]
        return texts.fit["weekday"].format(weekday=weekday, **fields)
    return texts.fit["days"].format(**fields)


def unanswered_in_a_row(contacts: Sequence[Contact], now: datetime) -> int:
    """How many recent messages the user started are unanswered, counting back from the last."""
    count = 0
    for contact in sorted(contacts, key=lambda c: c.at, reverse=True):
        if contact.at > now:
            continue
        if now - contact.at > IN_A_ROW_WINDOW:
            break
        if contact.initiator != "me" or contact.outcome != "no_answer":
            break  # they wrote, or answered: the run of silence ends here
        count += 1
    return count
