"""The contact plan: a damage level from the assessment answers, and its dose (R15, R16)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.datafile import read_mapping

DOSE_TABLE_PATH = Path(__file__).resolve().parents[2] / "flows" / "policy" / "dose.yaml"


@dataclass(frozen=True)
class DoseLevel:
    """One row of the dose table."""

    level: int
    name: str
    signs: dict[str, tuple[str, ...]]
    max_contacts: int
    per_days: int
    min_gap_hours: int | None
    dose_text: str
    style: str


@dataclass(frozen=True)
class DoseTable:
    """The whole dose table, ordered by level, and how a level is picked and explained."""

    levels: tuple[DoseLevel, ...]
    default_level: int
    weights: dict[str, int] = field(default_factory=dict)
    case_notes: tuple[tuple[dict[str, tuple[str, ...]], str], ...] = ()
    together: dict[str, str] = field(default_factory=dict)
    answer_names: dict[str, dict[str, str]] = field(default_factory=dict)

    def by_level(self, level: int) -> DoseLevel:
        """Return the row for `level` (1 is warmest)."""
        for row in self.levels:
            if row.level == level:
                return row
        raise KeyError(f"no dose level {level}")


@dataclass(frozen=True)
class Plan:
    """A user's plan: their level and what it means for contact."""

    level: int
    name: str
    max_contacts: int
    per_days: int
    min_gap_hours: int | None
    dose_text: str
    style: str
    together: bool = False  # living together: the plan is about daily moments, not a count

    def as_dict(self) -> dict[str, Any]:
        """Return the plan as plain data for storage."""
        return dict(self.__dict__)


class DoseTableError(ValueError):
    """The dose table file is malformed."""


# Plan texts never tell the user to go no contact: it is the very advice the reasoning argues
# against (R5, R6, R11). Every dose, style and case note, and every feature text in
# flows/texts/, is checked; a text that argues against silence says so in other words
# ("going quiet rarely brings them back") and belongs in a flow step, not a plan text.
NO_CONTACT_ADVICE = re.compile(
    r"\b(no[- ]contact|go(ing)? (silent|dark)|(stop|cut( off)?|end|break off|avoid) (all |any )?"
    r"(contact|communication)|(do not|don'?t|never) (contact|reach out to|text|message|write to)"
    r" (them|your spouse|him|her))\b",
    re.IGNORECASE,
)


def tells_no_contact(text: str) -> str | None:
    """The words of `text` that tell the user to go no contact, or None."""
    found = NO_CONTACT_ADVICE.search(text)
    return found[0] if found else None


def load_dose_table(path: Path = DOSE_TABLE_PATH) -> DoseTable:
    """Load and validate the dose table."""
    raw = read_mapping(path, DoseTableError)
    try:
        rows = tuple(
            DoseLevel(
                level=int(row["level"]),
                name=str(row["name"]),
                signs={key: tuple(values) for key, values in (row.get("signs") or {}).items()},
                max_contacts=int(row["max_contacts"]),
                per_days=int(row["per_days"]),
                min_gap_hours=row.get("min_gap_hours"),
                dose_text=str(row["dose_text"]),
                style=str(row["style"]),
            )
            for row in raw["levels"]
        )
        default_level = int(raw["default_level"])
        weights = {str(key): int(value) for key, value in (raw.get("weights") or {}).items()}
        case_notes = tuple(
            (
                {k: (v,) if isinstance(v, str) else tuple(v) for k, v in item["if"].items()},
                str(item["note"]),
            )
            for item in raw.get("case_notes") or ()
        )
        together = {key: str(raw["living_together"][key]) for key in ("name", "dose_text", "style")}
        answer_names = {
            str(question): {str(value): str(name) for value, name in names.items()}
            for question, names in (raw.get("answer_names") or {}).items()
        }
    except (KeyError, TypeError, ValueError) as error:
        raise DoseTableError(f"{path.name}: {error!r}") from error
    levels = [row.level for row in rows]
    if levels != list(range(1, len(rows) + 1)):
        raise DoseTableError(f"{path.name}: levels must be 1..N in order, got {levels}")
    if default_level not in levels:
        raise DoseTableError(f"{path.name}: default_level {default_level} is not a level")
    for row in rows:
        if row.max_contacts < 1 or tells_no_contact(row.dose_text):
            raise DoseTableError(
                f"{path.name}: level {row.level}: the dose may get smaller, never zero"
            )
        if words := tells_no_contact(row.style):
            raise DoseTableError(f"{path.name}: level {row.level}: the style says {words!r}")
        for question, values in row.signs.items():
            if question not in weights:
                raise DoseTableError(f"{path.name}: level {row.level}: no weight for '{question}'")
            missing = set(values) - set(answer_names.get(question, {}))
            if missing:
                raise DoseTableError(f"{path.name}: answer_names lacks {sorted(missing)}")
    for text in [*(note for _, note in case_notes), *together.values()]:
        if words := tells_no_contact(text):
            raise DoseTableError(f"{path.name}: a plan text says {words!r} (never no contact)")
    return DoseTable(rows, default_level, weights, case_notes, together, answer_names)


def _signs(answers: dict[str, Any], table: DoseTable) -> list[tuple[str, int]]:
    """Each answer that is a sign of a level: (question, level), strongest question first."""
    found = [
        (question, row.level)
        for row in table.levels
        for question, values in row.signs.items()
        if answers.get(question) in values
    ]
    return sorted(found, key=lambda item: -table.weights.get(item[0], 1))


def damage_level(answers: dict[str, Any], table: DoseTable) -> int:
    """The weighted average of the levels the answers point to, halves towards warmer.

    Every answer counts; how the spouse responds now weighs most (see dose.yaml).
    """
    signs = _signs(answers, table)
    if not signs:
        return table.default_level
    total = sum(table.weights.get(question, 1) for question, _ in signs)
    mean = sum(table.weights.get(question, 1) * level for question, level in signs) / total
    return max(1, min(len(table.levels), math.ceil(mean - 0.5)))


def level_reasons(answers: dict[str, Any], table: DoseTable) -> list[str]:
    """The answers that led to the level, in words, the most weighty first."""
    return [
        table.answer_names[question][answers[question]] for question, _ in _signs(answers, table)
    ]


def _matches(condition: dict[str, tuple[str, ...]], answers: dict[str, Any]) -> bool:
    return all(answers.get(key) in values for key, values in condition.items())


def plan_for_level(level: int, table: DoseTable, answers: dict[str, Any] | None = None) -> Plan:
    """Return the plan for a level, fitted to the user's case when their answers are given."""
    row = table.by_level(level)
    answers = answers or {}
    style = row.style
    note = next((note for cond, note in table.case_notes if _matches(cond, answers)), None)
    if note:
        style = f"{style} {note}"
    if answers.get("living") == "together" and table.together:
        return Plan(
            level=row.level,
            name=table.together["name"],
            max_contacts=row.max_contacts,
            per_days=row.per_days,
            min_gap_hours=None,
            dose_text=table.together["dose_text"],
            style=table.together["style"],
            together=True,
        )
    return Plan(
        level=row.level,
        name=row.name,
        max_contacts=row.max_contacts,
        per_days=row.per_days,
        min_gap_hours=row.min_gap_hours,
        dose_text=row.dose_text,
        style=style,
    )


def plan_from_answers(answers: dict[str, Any], table: DoseTable) -> Plan:
    """Return the starting plan for a user's assessment answers."""
    return plan_for_level(damage_level(answers, table), table, answers)
