"""The contact log against the plan: over-contact, spacing, adjustments and progress (R10-R16)."""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal

from bot.datafile import read_mapping
from bot.policy.checkins import local_to_utc
from bot.policy.plan import Plan, tells_no_contact

TEXTS_DIR = Path(__file__).resolve().parents[2] / "flows" / "texts"
# One text file per feature, and the sections each holds (read together by read_texts).
TEXT_FILES: dict[str, tuple[str, ...]] = {
    "contacts.yaml": (
        "ordinals",
        "ordinal_fallback",
        "windows",
        "window_fallback",
        "fit",
        "advice",
        "gap",
        "log",
        "contact_words",
        "contact_edit",
    ),
    "progress.yaml": (
        "outcome_names",
        "summary",
        "chart",
        "mood_names",
        "progress_view",
        "mood_weeks",
    ),
    "plan.yaml": ("adjustment", "plan_evidence", "plan_suggestion", "plan_change", "reassess"),
    "checkins.yaml": (
        "checkins",
        "followups",
        "safety_checkins",
        "together_checkins",
        "checkin_buttons",
        "checkin_summary",
        "weekdays",
        "moods",
        "mood_saved",
        "checkin_quiet",
    ),
    "timezone.yaml": ("timezone",),
}

Initiator = Literal["me", "them"]
Kind = Literal["message", "call", "meeting", "practical"]
Outcome = Literal["warm", "neutral", "cold", "no_answer"]
INITIATORS: tuple[Initiator, ...] = ("me", "them")
KINDS: tuple[Kind, ...] = ("message", "call", "meeting", "practical")
OUTCOMES: tuple[Outcome, ...] = ("warm", "neutral", "cold", "no_answer")

# Plan adjustments look at the last four weeks and move one level within 1 (warm)..4 (distant).
RECENT = timedelta(days=28)
WARMEST_LEVEL = 1
COOLEST_LEVEL = 4
CONSISTENT_SHARE = 0.75


@dataclass(frozen=True)
class Contact:
    """One logged contact; `at` is UTC."""

    at: datetime
    initiator: Initiator
    kind: Kind
    outcome: Outcome


@dataclass(frozen=True)
class ContactAssessment:
    """How a newly logged contact fits the plan."""

    counted: bool  # whether the new contact counts against the dose at all
    count: int  # counted contacts in the plan's window, the new one included
    allowance: int  # the plan's max_contacts for that window
    over_dose: bool
    too_soon: bool
    hours_since_previous: float | None  # since the previous counted contact, if any
    fit_line: str
    advice: str | None  # a gentle word on why room helps, when over the dose or too soon


@dataclass(frozen=True)
class Adjustment:
    """A suggested change of plan level; the user decides."""

    from_level: int
    to_level: int
    reason: str


@dataclass(frozen=True)
class ContactTexts:
    """The validated texts of the contact log, progress, plan suggestions and check-ins."""

    ordinals: tuple[str, ...]
    ordinal_fallback: str
    windows: dict[int, str]
    window_fallback: str
    fit: dict[str, str]
    advice: dict[str, tuple[str, ...]]
    gap: dict[str, str]
    adjustment: dict[str, str]
    outcome_names: dict[str, str]
    summary: dict[str, str]
    checkins: tuple[str, ...]
    chart: dict[str, str]


class TextsError(ValueError):
    """A feature text file in flows/texts/ is malformed (the message names the file)."""


# For each keyed section: every key it must have, and the placeholders each key may use.
_SUMMARY_FIELDS: dict[str, set[str]] = {
    "counts": {"window", "mine", "theirs", "dose"},
    "outcomes": {"outcomes"},
    "no_outcomes": set(),
    "never": set(),
    "today": set(),
    "yesterday": set(),
    "days": {"days"},
    "slip": {"ago"},
    "ago_today": set(),
    "ago_yesterday": set(),
    "ago_days": {"days"},
}
_KEYED_SECTIONS: dict[str, dict[str, set[str]]] = {
    "fit": {
        key: {"ordinal", "window", "dose"}
        for key in ("them", "them_warm", "together", "practical", "within", "over")
    },
    "gap": {"hours": {"n"}, "day": set(), "days": {"n"}},
    "adjustment": {"warmer": {"n", "matching"}, "cooler": {"n", "matching"}},
    "outcome_names": {outcome: set() for outcome in OUTCOMES},
    "summary": _SUMMARY_FIELDS,
    "chart": {
        "title": set(),
        "mine": set(),
        "theirs": set(),
        "dose": {"dose"},
        "contacts_axis": set(),
        "outcomes_axis": set(),
        "this_week": set(),
        "empty": set(),
        "days_axis": set(),
        "within": set(),
        "mood_good": set(),
        "mood_okay": set(),
        "mood_low": set(),
    },
}
_ADVICE_FIELDS: dict[str, set[str]] = {
    "over_dose": {"window", "dose"},
    "too_soon": {"gap"},
    "instead": set(),
}


def _template(where: str, text: Any, allowed: set[str]) -> str:
    """Return `text` if it is a non-empty string using only `allowed` placeholders."""
    if not isinstance(text, str) or not text.strip():
        raise TextsError(f"{where}: expected non-empty text, got {text!r}")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise TextsError(f"{where}: {error}") from error
    if not fields <= allowed:
        raise TextsError(f"{where}: unknown placeholders {sorted(fields - allowed)}")
    if words := tells_no_contact(text):
        raise TextsError(f"{where}: says {words!r}; a plan text never tells users to go no contact")
    return text


def _keyed(raw: dict[str, Any], section: str, fields: dict[str, set[str]]) -> dict[str, str]:
    """Validate a section of named templates."""
    entries = raw.get(section)
    if not isinstance(entries, dict):
        raise TextsError(f"{section}: expected a mapping")
    missing = set(fields) - set(entries)
    if missing:
        raise TextsError(f"{section}: missing {sorted(missing)}")
    return {key: _template(f"{section}.{key}", entries[key], fields[key]) for key in fields}


def _variants(where: str, entries: Any, allowed: set[str]) -> tuple[str, ...]:
    """Validate a non-empty list of alternative templates."""
    if not isinstance(entries, list) or not entries:
        raise TextsError(f"{where}: expected a non-empty list")
    return tuple(_template(f"{where}[{i}]", text, allowed) for i, text in enumerate(entries))


def _windows(raw: dict[str, Any]) -> dict[int, str]:
    """Validate the window phrases keyed by days."""
    entries = raw.get("windows")
    if not isinstance(entries, dict) or not entries:
        raise TextsError("windows: expected a mapping of days to text")
    return {int(days): _template(f"windows.{days}", text, set()) for days, text in entries.items()}


def read_texts(folder: Path = TEXTS_DIR) -> tuple[dict[str, Any], dict[str, str]]:
    """Read every feature text file: their sections merged, and which file holds each."""
    raw: dict[str, Any] = {}
    where: dict[str, str] = {}
    for name, sections in TEXT_FILES.items():
        found = read_mapping(folder / name, TextsError)
        if unknown := set(found) - set(sections):
            raise TextsError(
                f"{name}: unknown sections {sorted(unknown)} (expected {list(sections)})"
            )
        raw.update(found)
        where.update(dict.fromkeys(sections, name))
    return raw, where


def in_file(where: dict[str, str], error: TextsError) -> TextsError:
    """The same error, naming the file of the section it is about."""
    message = str(error)
    section = message.split(":")[0].split(".")[0].split("[")[0]
    return TextsError(f"{where[section]}: {message}") if section in where else error


def load_texts(folder: Path = TEXTS_DIR) -> ContactTexts:
    """Load and validate the texts of the contact log, progress, plan and check-ins."""
    raw, where = read_texts(folder)
    try:
        return _contact_texts(raw)
    except TextsError as error:
        raise in_file(where, error) from error


def _contact_texts(raw: dict[str, Any]) -> ContactTexts:
    advice = raw.get("advice")
    if not isinstance(advice, dict):
        raise TextsError("advice: expected a mapping")
    return ContactTexts(
        ordinals=_variants("ordinals", raw.get("ordinals"), set()),
        ordinal_fallback=_template("ordinal_fallback", raw.get("ordinal_fallback"), {"n"}),
        windows=_windows(raw),
        window_fallback=_template("window_fallback", raw.get("window_fallback"), {"days"}),
        advice={
            key: _variants(f"advice.{key}", advice.get(key), allowed)
            for key, allowed in _ADVICE_FIELDS.items()
        },
        checkins=_variants("checkins", raw.get("checkins"), set()),
        **{section: _keyed(raw, section, fields) for section, fields in _KEYED_SECTIONS.items()},
    )


def counts_against_dose(contact: Contact) -> bool:
    """Whether a contact counts against the dose: started by the user, not a practical matter."""
    return contact.initiator == "me" and contact.kind != "practical"


def _counted_in_window(contacts: Iterable[Contact], days: int, now: datetime) -> list[Contact]:
    """Counted contacts in the rolling window (now - days, now]."""
    start = now - timedelta(days=days)
    return [c for c in contacts if counts_against_dose(c) and start < c.at <= now]


def _previous_counted(history: Iterable[Contact], before: datetime) -> Contact | None:
    """The latest counted contact at or before `before`."""
    earlier = [c for c in history if counts_against_dose(c) and c.at <= before]
    return max(earlier, key=lambda c: c.at, default=None)


def window_phrase(days: int, texts: ContactTexts) -> str:
    """How the plan's rolling window is spelled, e.g. 'the past week'."""
    return texts.windows.get(days) or texts.window_fallback.format(days=days)


def _ordinal(n: int, texts: ContactTexts) -> str:
    """'first', 'second', ... for 1, 2, ..."""
    if 1 <= n <= len(texts.ordinals):
        return texts.ordinals[n - 1]
    return texts.ordinal_fallback.format(n=n)


def _gap_phrase(hours: int, texts: ContactTexts) -> str:
    """How a spacing in hours is spelled: '36 hours', 'a day', '4 days'."""
    if hours % 24:
        return texts.gap["hours"].format(n=hours)
    if hours == 24:
        return texts.gap["day"]
    return texts.gap["days"].format(n=hours // 24)


def _pick(variants: Sequence[str], seed: int) -> str:
    """A deterministic choice among variants."""
    return variants[seed % len(variants)]


def _advice(plan: Plan, over_dose: bool, new: Contact, texts: ContactTexts) -> str:
    """A gentle why-and-what-instead word for a contact over the dose or too soon."""
    seed = int(new.at.timestamp()) // 3600  # varies from one contact to the next
    if over_dose:
        why = _pick(texts.advice["over_dose"], seed).format(
            window=window_phrase(plan.per_days, texts), dose=plan.dose_text
        )
    else:
        gap = _gap_phrase(plan.min_gap_hours or 0, texts)
        why = _pick(texts.advice["too_soon"], seed).format(gap=gap)
    instead = _pick(texts.advice["instead"], seed // 7)
    return f"{why} {instead}"


def _fit_line(plan: Plan, new: Contact, count: int, over: bool, texts: ContactTexts) -> str:
    """One line on how the new contact fits the plan."""
    if new.initiator == "them":
        key = "them_warm" if new.outcome == "warm" else "them"
    elif plan.together:
        key = "together"
    elif new.kind == "practical":
        key = "practical"
    else:
        key = "over" if over else "within"
    return texts.fit[key].format(
        ordinal=_ordinal(max(count, 1), texts),
        window=window_phrase(plan.per_days, texts),
        dose=plan.dose_text,
    )


# The why-room-helps word is given at most once in this long, and never after a warm contact:
# the same lecture after every log teaches nothing and stings.
LECTURE_EVERY = timedelta(days=3)


def _lecture_due(plan: Plan, others: Sequence[Contact], new: Contact) -> bool:
    """Whether the over-the-plan word fits now: not after a warm contact, not again so soon."""
    if new.outcome == "warm":
        return False
    return not any(
        counts_against_dose(earlier)
        and new.at - LECTURE_EVERY <= earlier.at < new.at
        and _was_slip(plan, others, earlier)
        for earlier in others
    )


def assess_contact(
    plan: Plan, history: Sequence[Contact], new: Contact, now: datetime, texts: ContactTexts
) -> ContactAssessment:
    """Assess a newly logged contact against the plan (history need not exclude it)."""
    others = [c for c in history if c != new]
    counted = counts_against_dose(new) and not plan.together  # at home: no count (R18)
    count = len(_counted_in_window([*others, new], plan.per_days, now))
    previous = _previous_counted(others, new.at)
    hours = (new.at - previous.at).total_seconds() / 3600 if previous else None
    over_dose = counted and count > plan.max_contacts
    too_soon = (
        counted
        and plan.min_gap_hours is not None
        and hours is not None
        and hours < plan.min_gap_hours
    )
    return ContactAssessment(
        counted=counted,
        count=count,
        allowance=plan.max_contacts,
        over_dose=over_dose,
        too_soon=too_soon,
        hours_since_previous=hours,
        fit_line=_fit_line(plan, new, count, over_dose, texts),
        advice=(
            _advice(plan, over_dose, new, texts)
            if (over_dose or too_soon) and _lecture_due(plan, others, new)
            else None
        ),
    )


def _recent(history: Iterable[Contact], now: datetime) -> list[Contact]:
    """Logged contacts of the last four weeks, oldest first."""
    return sorted((c for c in history if now - RECENT < c.at <= now), key=lambda c: c.at)


def suggest_adjustment(
    plan: Plan,
    history: Sequence[Contact],
    now: datetime,
    min_contacts: int = 4,
    *,
    texts: ContactTexts,
) -> Adjustment | None:
    """Suggest one level warmer or cooler when recent outcomes are consistent, else None."""
    recent = _recent(history, now)
    if len(recent) < min_contacts:
        return None
    warm = sum(c.outcome == "warm" for c in recent)
    cold = sum(c.outcome in ("cold", "no_answer") for c in recent)
    if warm >= CONSISTENT_SHARE * len(recent) and plan.level > WARMEST_LEVEL:
        reason = texts.adjustment["warmer"].format(n=len(recent), matching=warm)
        return Adjustment(from_level=plan.level, to_level=plan.level - 1, reason=reason)
    if cold >= CONSISTENT_SHARE * len(recent) and plan.level < COOLEST_LEVEL:
        reason = texts.adjustment["cooler"].format(n=len(recent), matching=cold)
        return Adjustment(from_level=plan.level, to_level=plan.level + 1, reason=reason)
    return None


def days_since_last_initiated(history: Sequence[Contact], now: datetime) -> int | None:
    """Whole days since the user last started a (non-practical) contact, or None if never."""
    last = _previous_counted(history, now)
    return None if last is None else (now - last.at).days


def _was_slip(plan: Plan, history: Sequence[Contact], contact: Contact) -> bool:
    """Whether a counted contact was over the dose or too soon when it happened."""
    count = len(_counted_in_window(history, plan.per_days, contact.at))
    previous = _previous_counted([c for c in history if c != contact], contact.at)
    too_soon = (
        plan.min_gap_hours is not None
        and previous is not None
        and contact.at - previous.at < timedelta(hours=plan.min_gap_hours)
    )
    return count > plan.max_contacts or too_soon


SLIP_MENTION_DAYS = 2  # after that, the days of room given are the news, not the slip


def _days_line(plan: Plan, history: Sequence[Contact], now: datetime, texts: ContactTexts) -> str:
    """Days since the user last reached out; a slip of the last two days is met with
    encouragement (living together there is no count to slip over)."""
    last = _previous_counted(history, now)
    if last is None:
        return texts.summary["never"]
    days = (now - last.at).days
    if not plan.together and days <= SLIP_MENTION_DAYS and _was_slip(plan, history, last):
        ago_key = {0: "ago_today", 1: "ago_yesterday"}.get(days, "ago_days")
        return texts.summary["slip"].format(ago=texts.summary[ago_key].format(days=days))
    key = {0: "today", 1: "yesterday"}.get(days, "days")
    return texts.summary[key].format(days=days)


def _outcomes_line(recent: Sequence[Contact], texts: ContactTexts) -> str:
    """How recent contacts went, e.g. 'Recent contacts: 2 warm, 1 no answer.'"""
    if not recent:
        return texts.summary["no_outcomes"]
    tally = Counter(c.outcome for c in recent)
    parts = [f"{tally[o]} {texts.outcome_names[o]}" for o in OUTCOMES if tally[o]]
    return texts.summary["outcomes"].format(outcomes=", ".join(parts))


def progress_summary(
    history: Sequence[Contact], plan: Plan, now: datetime, texts: ContactTexts
) -> list[str]:
    """Two lines: counts in the plan's window against the dose; how contacts went lately."""
    start = now - timedelta(days=plan.per_days)
    in_window = [c for c in history if start < c.at <= now]
    counts = texts.summary["counts"].format(
        window=window_phrase(plan.per_days, texts),
        mine=sum(counts_against_dose(c) for c in in_window),
        theirs=sum(c.initiator == "them" for c in in_window),
        dose=plan.dose_text,
    )
    went = _outcomes_line(_recent(history, now), texts)
    return [counts, f"{went} {_days_line(plan, history, now, texts)}"]


PROGRESS_DAYS = 28


def days_within_plan(
    plan: Plan, history: Sequence[Contact], now: datetime, since: datetime
) -> tuple[int, int, bool]:
    """Of the last days (at most four weeks, not before `since`): how many had no contact over
    the plan, how many days that is, and whether any had one. A slip never resets a count."""
    total = max(1, min(PROGRESS_DAYS, (now - since).days + 1))
    start = now - timedelta(days=total)
    slip_days = {
        (now - c.at).days
        for c in history
        if start < c.at <= now and counts_against_dose(c) and _was_slip(plan, history, c)
    }
    return total - len(slip_days), total, bool(slip_days)


def weekly_within_plan(
    plan: Plan, history: Sequence[Contact], now: datetime, since: datetime, weeks: int
) -> list[tuple[int, int]]:
    """Per rolling week up to `now`, oldest first (as the chart's weeks): (days within the plan,
    days counted). Days before `since` are not counted, so a week before it is (0, 0). Each
    week stands on its own: a slip is one day less that week, never a reset of the others."""
    counted = max(1, (now - since).days + 1)
    slip_days = {
        (now - c.at).days
        for c in history
        if now - timedelta(days=7 * weeks) < c.at <= now
        and counts_against_dose(c)
        and _was_slip(plan, history, c)
    }
    result = []
    for back in range(weeks - 1, -1, -1):
        days = [d for d in range(7 * back, 7 * back + 7) if d < counted]
        result.append((sum(d not in slip_days for d in days), len(days)))
    return result


# --- moving a logged contact to another day ---------------------------------------------------

# A logged contact can be moved to today or one of the days before, never to one to come.
MOVE_DAYS = 7


def local_days_ago(at: datetime, now: datetime, tz: tzinfo) -> int:
    """How many of the user's local days ago `at` was (0: today; negative: still to come)."""
    return (now.astimezone(tz).date() - at.astimezone(tz).date()).days


def moved_to_day(at: datetime, days_ago: int, now: datetime, tz: tzinfo) -> datetime:
    """`at` moved to the local day `days_ago` days before today, at the same wall time (or
    now, if that time has not come yet today); in UTC. Raises ValueError past MOVE_DAYS."""
    if not 0 <= days_ago < MOVE_DAYS:
        raise ValueError(f"a contact moves to one of the last {MOVE_DAYS} days, not {days_ago}")
    day = now.astimezone(tz).date() - timedelta(days=days_ago)
    wall = at.astimezone(tz).time().replace(tzinfo=None)
    return min(local_to_utc(day, wall, tz), now.astimezone(UTC))
