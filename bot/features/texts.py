"""The feature texts in flows/texts/ that the contact policy itself does not use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.actions import MAX_BUTTON_LABEL, content_file
from bot.policy.contacts import TEXTS_DIR, TextsError, _template, in_file, read_texts

_KEYED: dict[str, dict[str, set[str]]] = {
    "checkin_buttons": {key: set() for key in ("log", "menu", "change", "stop", "resume")},
    "moods": {key: set() for key in ("good", "okay", "low")},
    "checkin_quiet": {"explain": {"hour", "start", "end", "nearest"}},
    "mood_saved": {key: set() for key in ("good", "okay", "low")},
    "log": {"suggestion_hint": set()},
    "contact_words": {
        "line": {"when", "who", "kind", "outcome"},
        **{key: set() for key in ("me", "them", "message", "call", "meeting", "practical")},
        **{key: set() for key in ("warm", "neutral", "cold", "no_answer")},
    },
    "contact_edit": {
        **{key: {"line"} for key in ("ask_who", "ask_kind", "kind_changed", "day_changed")},
        "unchanged": {"line"},
        "ask_day": {"line", "zone"},
        "ask_day_no_zone": {"line"},
        "days_ago": {"weekday", "n"},
        "current": {"day"},
        **{
            key: set()
            for key in ("change_kind", "change_day", "today", "yesterday", "again", "gone")
        },
        **{key: set() for key in ("me", "them", "message", "call", "meeting", "practical")},
    },
    "reassess": {
        key: {"level", "name", "dose", "why", "before"} for key in ("changed", "same", "together")
    },
    "plan_change": {
        "warmer": {"level", "name", "dose"},
        "cooler": {"level", "name", "dose"},
        "warmest": set(),
        "coolest": set(),
    },
    "mood_names": {"good": {"n"}, "okay": {"n"}, "low": {"n"}},
    "progress_view": {
        "mood": {"moods"},
        "within": {"days", "total"},
        "after_slip": set(),
        "steady": set(),
        "together": set(),
        "within_trend": {"weeks"},
        "within_week": {"days", "total"},
        "mood_trend": {"weeks"},
    },
    "mood_weeks": {key: set() for key in ("good", "okay", "low", "mixed", "none")},
    "checkin_summary": {
        "daily": {"hour", "zone"},
        "weekly": {"weekday", "hour", "zone"},
        "off": set(),
        "paused": {"until"},
        "quiet": {"start", "end"},
        "needs_tz": set(),
    },
    "timezone": {
        "current": {"zone", "local_time"},
        "unknown": set(),
        "ask": set(),
        "ask_again": {"zone"},
        "choose": {"options"},
        "fixed": set(),
        "hour_known": {"zone"},
        "hour_ask": set(),
        "choose_fixed": {"options", "examples"},
        "choice_summer": {"place"},
        "choice_fixed": {"offset"},
        "choice_button_fixed": {"offset"},
    },
}


@dataclass(frozen=True)
class FeatureTexts:
    """Validated texts for logging, plan changes, check-in settings and check-in messages."""

    followups: tuple[str, ...]
    safety_checkins: tuple[str, ...]
    together_checkins: tuple[str, ...]
    moods: dict[str, str]
    checkin_quiet: dict[str, str]
    weekdays: tuple[str, ...]
    plan_suggestion: str
    plan_evidence: str
    checkin_buttons: dict[str, str]
    mood_saved: dict[str, str]
    mood_names: dict[str, str]
    progress_view: dict[str, str]
    mood_weeks: dict[str, str]
    log: dict[str, str]
    contact_words: dict[str, str]
    contact_edit: dict[str, str]
    plan_change: dict[str, str]
    reassess: dict[str, str]
    checkin_summary: dict[str, str]
    timezone: dict[str, str]


def _list(raw: dict[str, Any], key: str, length: int | None = None) -> tuple[str, ...]:
    """A non-empty list of plain texts (of exactly `length` entries when given)."""
    items = raw.get(key)
    if not isinstance(items, list) or not items or (length and len(items) != length):
        raise TextsError(f"{key}: expected a list of {length or 'some'} texts")
    return tuple(_template(f"{key}[{i}]", text, set()) for i, text in enumerate(items))


def _section(raw: dict[str, Any], key: str) -> dict[str, str]:
    """A mapping of named templates with the placeholders each may use."""
    entries = raw.get(key)
    fields = _KEYED[key]
    if not isinstance(entries, dict) or set(fields) - set(entries):
        raise TextsError(f"{key}: expected the entries {sorted(fields)}")
    return {name: _template(f"{key}.{name}", entries[name], fields[name]) for name in fields}


def load_feature_texts(folder: Path = TEXTS_DIR) -> FeatureTexts:
    """Load and validate the feature sections of flows/texts/."""
    raw, where = read_texts(folder)
    try:
        return _feature_texts(raw)
    except TextsError as error:
        raise in_file(where, error) from error


def _feature_texts(raw: dict[str, Any]) -> FeatureTexts:
    texts = FeatureTexts(
        followups=_list(raw, "followups"),
        safety_checkins=_list(raw, "safety_checkins"),
        together_checkins=_list(raw, "together_checkins"),
        weekdays=_list(raw, "weekdays", 7),
        plan_suggestion=_template("plan_suggestion", raw.get("plan_suggestion"), {"reason"}),
        plan_evidence=_template(
            "plan_evidence", raw.get("plan_evidence"), {"n", "matching", "days"}
        ),
        **{key: _section(raw, key) for key in _KEYED},
    )
    # A button label (a fixed offset among time zone choices), with the longest offset.
    label = texts.timezone["choice_button_fixed"].format(offset="UTC+05:45")
    if len(label) > MAX_BUTTON_LABEL:
        raise TextsError(
            f"timezone.choice_button_fixed: a button label, at most {MAX_BUTTON_LABEL}"
            f" characters with the offset ('{label}' has {len(label)})"
        )
    return texts


# One text file per feature in flows/texts/ (contacts, progress, plan, checkins, timezone).
FEATURE_TEXTS = content_file("texts", load_feature_texts)
