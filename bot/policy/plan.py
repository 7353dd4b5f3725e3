"""The contact plan: a damage level from the assessment answers, and its dose (R15, R16)."""

from __future__ import annotations

from dataclasses import dataclass
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
    """The whole dose table, ordered by level."""

    levels: tuple[DoseLevel, ...]
    default_level: int

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

    def as_dict(self) -> dict[str, Any]:
        """Return the plan as plain data for storage."""
        return dict(self.__dict__)


class DoseTableError(ValueError):
    """The dose table file is malformed."""


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
    except (KeyError, TypeError, ValueError) as error:
        raise DoseTableError(f"{path.name}: {error!r}") from error
    levels = [row.level for row in rows]
    if levels != list(range(1, len(rows) + 1)):
        raise DoseTableError(f"{path.name}: levels must be 1..N in order, got {levels}")
    if default_level not in levels:
        raise DoseTableError(f"{path.name}: default_level {default_level} is not a level")
    return DoseTable(levels=rows, default_level=default_level)


def damage_level(answers: dict[str, Any], table: DoseTable) -> int:
    """Return the highest level whose signs match any answer (the table's default if none)."""
    matched = [
        row.level
        for row in table.levels
        if any(answers.get(key) in values for key, values in row.signs.items())
    ]
    return max(matched, default=table.default_level)


def plan_for_level(level: int, table: DoseTable) -> Plan:
    """Return the plan for a given level."""
    row = table.by_level(level)
    return Plan(
        level=row.level,
        name=row.name,
        max_contacts=row.max_contacts,
        per_days=row.per_days,
        min_gap_hours=row.min_gap_hours,
        dose_text=row.dose_text,
        style=row.style,
    )


def plan_from_answers(answers: dict[str, Any], table: DoseTable) -> Plan:
    """Return the starting plan for a user's assessment answers."""
    return plan_for_level(damage_level(answers, table), table)
