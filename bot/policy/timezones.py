"""Time zones from what a user types: an IANA name, a city, or a UTC offset."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta, timezone, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

# Zones under these areas are real places; other names are legacy aliases ("US/Eastern").
PLACE_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
# Entries some systems list that are not usable zones for a person.
NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
# Real offsets run from UTC-12:00 to UTC+14:00.
MAX_OFFSET = timedelta(hours=14)

OFFSET_INPUT = re.compile(
    r"^(?:utc|gmt)?\s*(?P<sign>[+\-−])\s*(?P<hours>\d{1,2})(?:\s*:?\s*(?P<minutes>\d{2}))?$"
)
CANONICAL_OFFSET = re.compile(r"^UTC(?P<sign>[+-])(?P<hours>\d{2}):(?P<minutes>\d{2})$")


def _simplify(text: str) -> str:
    """Lower-case, drop accents, spaces, underscores and punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if char.isalnum())


def _preference(name: str) -> tuple[bool, str]:
    """Sort key: real places before legacy aliases, then by name for a stable choice."""
    return (name.split("/")[0] not in PLACE_AREAS, name)


@cache
def _zone_names() -> tuple[dict[str, str], dict[str, str]]:
    """Return lookups from a simplified full name, and from a simplified city, to a zone."""
    names = sorted(
        (
            name
            for name in available_timezones()
            if name not in NOT_ZONES and not name.startswith(("posix/", "right/"))
        ),
        key=_preference,
    )
    by_full: dict[str, str] = {}
    by_city: dict[str, str] = {}
    for name in names:
        by_full.setdefault(name.casefold(), name)
        by_full.setdefault(_simplify(name), name)
        if "/" in name and name.split("/")[0] in PLACE_AREAS:
            by_city.setdefault(_simplify(name.split("/")[-1]), name)
    return by_full, by_city


def format_offset(offset: timedelta) -> str:
    """Return the canonical text for a fixed offset, e.g. 'UTC+05:30'."""
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_offset(text: str) -> str | None:
    """Return the canonical offset for text like 'UTC+2', '-05:00' or 'GMT+1', else None."""
    match = OFFSET_INPUT.match(text.casefold())
    if not match:
        return None
    minutes = int(match["minutes"] or 0)
    if minutes >= 60:
        return None
    offset = timedelta(hours=int(match["hours"]), minutes=minutes)
    if offset > MAX_OFFSET:
        return None
    return format_offset(-offset if match["sign"] in "-−" else offset)


def parse_timezone(text: str) -> str | None:
    """Return a zone name or canonical offset for what the user typed, or None if unknown."""
    cleaned = " ".join(text.split())
    if not cleaned:
        return None
    offset = _parse_offset(cleaned)
    if offset is not None:
        return offset
    by_full, by_city = _zone_names()
    simple = _simplify(cleaned)
    # People often add "city" ("Ho Chi Minh City", "Mexico City"); zone names rarely do.
    without_city = simple.removesuffix("city")
    return (
        by_full.get(cleaned.casefold())
        or by_full.get(simple)
        or by_city.get(simple)
        or by_city.get(without_city)
    )


def zone(tz: str) -> tzinfo:
    """Return the tzinfo for a stored zone string; raise ValueError if it is not one."""
    match = CANONICAL_OFFSET.match(tz)
    if match:
        minutes = int(match["minutes"])
        offset = timedelta(hours=int(match["hours"]), minutes=minutes)
        if minutes >= 60 or offset > MAX_OFFSET:
            raise ValueError(f"not a time zone offset: {tz!r}")
        return timezone(-offset if match["sign"] == "-" else offset)
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone: {tz!r}") from error
