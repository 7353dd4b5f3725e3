"""When to send a check-in: a chosen local hour, outside quiet hours and pauses, once a day."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from bot.policy.timezones import zone

Frequency = Literal["daily", "weekly", "off"]
FREQUENCIES: tuple[str, ...] = ("daily", "weekly", "off")
# A weekly slot is at most a week away; a few spare days cover pauses ending mid-week.
SEARCH_DAYS = 10


@dataclass(frozen=True)
class CheckinSettings:
    """A user's check-in settings; hours are local to `tz`."""

    tz: str = "UTC"
    frequency: Frequency = "off"
    hour: int = 19
    weekday: int = 6  # 0 = Monday; used by weekly check-ins only
    quiet_start: time = time(22)
    quiet_end: time = time(8)
    paused_until: datetime | None = None
    # Telegram does not tell bots a user's zone; until the user names it, "UTC" is only a
    # guess, and a guessed zone could put a check-in in the middle of their night.
    # None means "set if it is anything but the UTC default".
    tz_set: bool | None = None

    def __post_init__(self) -> None:
        """Reject settings that could never produce a sensible time."""
        if self.tz_set is None:
            object.__setattr__(self, "tz_set", self.tz != "UTC")
        zone(self.tz)  # raises ValueError for an unknown zone
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"unknown frequency: {self.frequency!r}")
        if not 0 <= self.hour <= 23:
            raise ValueError(f"hour out of range: {self.hour}")
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday out of range: {self.weekday}")
        if self.paused_until is not None and self.paused_until.tzinfo is None:
            raise ValueError("paused_until must be timezone-aware")

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-safe data."""
        return {
            "tz": self.tz,
            "frequency": self.frequency,
            "hour": self.hour,
            "weekday": self.weekday,
            "quiet_start": self.quiet_start.strftime("%H:%M"),
            "quiet_end": self.quiet_end.strftime("%H:%M"),
            "paused_until": (
                self.paused_until.astimezone(UTC).isoformat() if self.paused_until else None
            ),
            "tz_set": self.tz_set,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckinSettings:
        """Build settings from `as_dict` data; missing keys take the defaults."""
        defaults = cls()
        paused = data.get("paused_until")
        return cls(
            tz=str(data.get("tz", defaults.tz)),
            frequency=data.get("frequency", defaults.frequency),
            hour=int(data.get("hour", defaults.hour)),
            weekday=int(data.get("weekday", defaults.weekday)),
            quiet_start=_time_from(data.get("quiet_start"), defaults.quiet_start),
            quiet_end=_time_from(data.get("quiet_end"), defaults.quiet_end),
            paused_until=datetime.fromisoformat(paused) if paused else None,
            tz_set=data.get("tz_set"),
        )


def _time_from(value: str | None, default: time) -> time:
    """Parse 'HH:MM' (or return the default when absent)."""
    return time.fromisoformat(value) if value else default


def in_quiet_window(settings: CheckinSettings, wall: time) -> bool:
    """Whether a local wall-clock time falls in [quiet_start, quiet_end)."""
    start, end = settings.quiet_start, settings.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end  # the window wraps past midnight


def is_quiet(settings: CheckinSettings, at: datetime) -> bool:
    """Whether `at` falls in the user's local quiet hours."""
    local = at.astimezone(zone(settings.tz))
    return in_quiet_window(settings, local.time().replace(tzinfo=None))


def _exists(local: datetime, tz: tzinfo) -> bool:
    """Whether a local wall time really occurs (it does not inside a spring-forward gap)."""
    round_trip = local.astimezone(UTC).astimezone(tz)
    return round_trip.replace(tzinfo=None) == local.replace(tzinfo=None)


def _gap_end(local: datetime, tz: tzinfo) -> datetime:
    """Return the UTC instant a spring-forward gap containing `local` ends."""
    # In a gap, the two folds read the wall time with the offsets before and after the change,
    # giving one instant on each side of it; search between them for the change itself.
    before = local.replace(fold=1).astimezone(UTC)
    after = local.replace(fold=0).astimezone(UTC)
    before, after = min(before, after), max(before, after)
    new_offset = after.astimezone(tz).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(tz).utcoffset() == new_offset:
            after = middle
        else:
            before = middle
    return after


def local_to_utc(day: date, wall: time, tz: tzinfo) -> datetime:
    """Return the UTC instant of a local wall time, resolving daylight-saving changes."""
    local = datetime.combine(day, wall, tzinfo=tz)  # fold=0: first of two repeated times
    if _exists(local, tz):
        return local.astimezone(UTC)
    return _gap_end(local, tz)  # a time that never happens moves to the first one after it


def _slot_on(settings: CheckinSettings, day: date, tz: tzinfo) -> datetime | None:
    """Return the check-in instant for one local day, or None if there is none that day."""
    if settings.frequency == "weekly" and day.weekday() != settings.weekday:
        return None
    wall = time(settings.hour)
    if in_quiet_window(settings, wall):
        wall = settings.quiet_end
    slot = local_to_utc(day, wall, tz)
    if is_quiet(settings, slot):  # a daylight-saving shift pushed it into quiet hours
        slot = local_to_utc(day, settings.quiet_end, tz)
    return slot


def next_checkin(
    settings: CheckinSettings, now: datetime, last_sent_at: datetime | None
) -> datetime | None:
    """Return the next check-in time (UTC) strictly after `now`; None when off or zone unknown."""
    if settings.frequency == "off" or not settings.tz_set:
        return None
    tz = zone(settings.tz)
    earliest = max(now, settings.paused_until) if settings.paused_until else now
    last_day = last_sent_at.astimezone(tz).date() if last_sent_at else None
    first_day = earliest.astimezone(tz).date() - timedelta(days=1)
    for offset in range(SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        if last_day is not None and day <= last_day:
            continue  # at most one check-in per local day
        slot = _slot_on(settings, day, tz)
        if slot is None or slot <= now or slot < earliest:
            continue
        return slot
    return None


def later_today(
    settings: CheckinSettings, now: datetime, after_hours: float = 3
) -> datetime | None:
    """Return a follow-up time `after_hours` from now, if it is still today and not quiet."""
    if not settings.tz_set:
        return None  # without their zone, "later today" could be the middle of their night
    tz = zone(settings.tz)
    follow_up = (now + timedelta(hours=after_hours)).astimezone(UTC)
    if follow_up.astimezone(tz).date() != now.astimezone(tz).date():
        return None
    if is_quiet(settings, follow_up):
        return None
    return follow_up


def pick_checkin_text(variants: Sequence[str], user_id: int, now: datetime, tz: str = "UTC") -> str:
    """Pick a check-in text: fixed for a user and local day, different from the day before."""
    if not variants:
        raise ValueError("no check-in texts to choose from")
    order = list(range(len(variants)))
    random.Random(user_id).shuffle(order)  # each user walks the texts in their own order
    day_number = now.astimezone(zone(tz)).date().toordinal()
    return variants[order[day_number % len(order)]]
