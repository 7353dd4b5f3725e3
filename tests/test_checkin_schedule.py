"""Time zones from user input, and check-in timing: zones, quiet hours, pauses, DST."""

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from bot.policy.checkins import (
    CheckinSettings,
    is_quiet,
    later_today,
    next_checkin,
    pick_checkin_text,
)
from bot.policy.contacts import load_texts
from bot.policy.timezones import parse_timezone, zone

NO_QUIET = {"quiet_start": time(0), "quiet_end": time(0)}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily(tz: str, hour: int = 19, **extra) -> CheckinSettings:
    return CheckinSettings(tz=tz, frequency="daily", hour=hour, tz_set=True, **extra)


# --- parsing time zones ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("AMERICA/NEW_YORK", "America/New_York"),
        ("America/New York", "America/New_York"),
        ("berlin", "Europe/Berlin"),
        ("  Berlin ", "Europe/Berlin"),
        ("New York", "America/New_York"),
        ("new_york", "America/New_York"),
        ("sao paulo", "America/Sao_Paulo"),
        ("São Paulo", "America/Sao_Paulo"),
        ("ho chi minh", "Asia/Ho_Chi_Minh"),
        ("Ho Chi Minh City", "Asia/Ho_Chi_Minh"),
        ("Mexico City", "America/Mexico_City"),
        ("kathmandu", "Asia/Kathmandu"),
        ("Tokyo", "Asia/Tokyo"),
        ("UTC", "UTC"),
    ],
)
def test_parse_zone_names_and_cities(text, expected):
    assert parse_timezone(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("UTC+2", "UTC+02:00"),
        ("utc-5", "UTC-05:00"),
        ("+05:30", "UTC+05:30"),
        ("GMT+1", "UTC+01:00"),
        ("UTC +5:45", "UTC+05:45"),
        ("-0330", "UTC-03:30"),
        ("utc+14", "UTC+14:00"),
        ("UTC-12", "UTC-12:00"),
        ("−3", "UTC-03:00"),  # a typographic minus
    ],
)
def test_parse_offsets(text, expected):
    assert parse_timezone(text) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "hello", "Atlantis", "UTC+15", "UTC+5:75", "+", "19:00", "Europe/"]
)
def test_parse_junk_is_none(text):
    assert parse_timezone(text) is None


def test_zone_turns_stored_strings_into_tzinfo():
    at = utc(2024, 1, 15, 12)
    assert at.astimezone(zone("UTC+05:45")).utcoffset() == timedelta(hours=5, minutes=45)
    assert at.astimezone(zone("UTC-03:30")).utcoffset() == timedelta(hours=-3, minutes=-30)
    assert at.astimezone(zone("Europe/Berlin")).utcoffset() == timedelta(hours=1)
    assert zone(parse_timezone("são paulo")).key == "America/Sao_Paulo"


@pytest.mark.parametrize("text", ["Nowhere/Land", "UTC+15:00", "UTC+02:99", "../etc/passwd"])
def test_zone_rejects_unknown_strings(text):
    with pytest.raises(ValueError):
        zone(text)


# --- settings ----------------------------------------------------------------------------


def test_settings_round_trip_through_plain_data():
    settings = CheckinSettings(
        tz="Asia/Kathmandu",
        frequency="weekly",
        hour=7,
        weekday=2,
        quiet_start=time(23, 30),
        quiet_end=time(6, 15),
        paused_until=utc(2024, 6, 1, 8),
    )
    data = settings.as_dict()
    assert data["quiet_start"] == "23:30" and data["paused_until"] == "2024-06-01T08:00:00+00:00"
    assert CheckinSettings.from_dict(data) == settings
    assert CheckinSettings.from_dict({}) == CheckinSettings()


@pytest.mark.parametrize(
    "bad",
    [
        {"tz": "Mars/Olympus"},
        {"frequency": "hourly"},
        {"hour": 24},
        {"weekday": 7},
        {"paused_until": datetime(2024, 6, 1)},
    ],
)
def test_settings_reject_impossible_values(bad):
    with pytest.raises(ValueError):
        CheckinSettings(**bad)


# --- quiet hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(22), True),
        (time(23, 30), True),
        (time(3), True),
        (time(7, 59), True),
        (time(8), False),
        (time(12), False),
        (time(21, 59), False),
    ],
)
def test_default_quiet_hours_wrap_midnight(local, quiet):
    settings = CheckinSettings(tz="Asia/Tokyo")
    at = datetime.combine(date(2024, 5, 10), local, tzinfo=zone("Asia/Tokyo"))
    assert is_quiet(settings, at.astimezone(UTC)) is quiet


def test_quiet_window_within_a_day_and_none_when_equal():
    lunch = CheckinSettings(quiet_start=time(12), quiet_end=time(14))
    assert is_quiet(lunch, utc(2024, 5, 10, 13))
    assert not is_quiet(lunch, utc(2024, 5, 10, 14))
    assert not is_quiet(lunch, utc(2024, 5, 10, 23))
    assert not any(is_quiet(CheckinSettings(**NO_QUIET), utc(2024, 5, 10, h)) for h in range(24))


# --- next check-in across zones ------------------------------------------------------------

NOW = utc(2024, 5, 10, 12)  # a Friday


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Asia/Tokyo", utc(2024, 5, 11, 10)),  # 21:00 there now; tomorrow 19:00 JST
        ("America/New_York", utc(2024, 5, 10, 23)),  # 19:00 EDT today
        ("Asia/Kathmandu", utc(2024, 5, 10, 13, 15)),  # +05:45
        ("UTC+05:45", utc(2024, 5, 10, 13, 15)),
        ("UTC-03:30", utc(2024, 5, 10, 22, 30)),
        ("UTC", utc(2024, 5, 10, 19)),
    ],
)
def test_daily_checkin_at_the_local_hour(tz, expected):
    assert next_checkin(daily(tz), NOW, None) == expected


def test_checkin_is_strictly_after_now():
    at_slot = utc(2024, 5, 10, 19)
    assert next_checkin(daily("UTC"), at_slot, None) == utc(2024, 5, 11, 19)


def test_weekly_checkin_on_the_chosen_weekday():
    settings = CheckinSettings(tz="Europe/Berlin", frequency="weekly", hour=10, weekday=6)
    assert next_checkin(settings, NOW, None) == utc(2024, 5, 12, 8)  # Sunday 10:00 CEST
    after_sunday = next_checkin(settings, utc(2024, 5, 12, 8), utc(2024, 5, 12, 8))
    assert after_sunday == utc(2024, 5, 19, 8)


def test_off_means_none():
    assert next_checkin(CheckinSettings(frequency="off"), NOW, None) is None


def test_hour_inside_quiet_hours_moves_to_their_end_that_day():
    late = daily("Europe/Berlin", hour=23)
    assert next_checkin(late, NOW, None) == utc(2024, 5, 11, 6)  # 08:00 CEST
    early = daily("Europe/Berlin", hour=5)
    assert next_checkin(early, utc(2024, 5, 10, 5), None) == utc(2024, 5, 10, 6)


def test_hour_inside_a_daytime_quiet_window():
    settings = daily("Asia/Tokyo", hour=13, quiet_start=time(12), quiet_end=time(14, 30))
    assert next_checkin(settings, NOW, None) == utc(2024, 5, 11, 5, 30)  # 14:30 JST


def test_checkins_never_land_in_quiet_hours():
    for hour in range(24):
        settings = daily("America/New_York", hour=hour)
        slot = next_checkin(settings, NOW, None)
        assert not is_quiet(settings, slot), hour


def test_pause_moves_to_the_first_slot_after_it():
    before_slot = daily("UTC", paused_until=utc(2024, 5, 13, 9))
    assert next_checkin(before_slot, NOW, None) == utc(2024, 5, 13, 19)
    after_slot = daily("UTC", paused_until=utc(2024, 5, 13, 20))
    assert next_checkin(after_slot, NOW, None) == utc(2024, 5, 14, 19)
    ended = daily("UTC", paused_until=utc(2024, 5, 1))
    assert next_checkin(ended, NOW, None) == utc(2024, 5, 10, 19)


def test_at_most_one_checkin_per_local_day():
    # Sent at 10:00 Tokyo time today; the hour was then moved to 20:00: wait for tomorrow.
    settings = daily("Asia/Tokyo", hour=20)
    sent = utc(2024, 5, 10, 1)  # 10:00 JST
    assert next_checkin(settings, utc(2024, 5, 10, 2), sent) == utc(2024, 5, 11, 11)
    assert next_checkin(settings, utc(2024, 5, 10, 2), None) == utc(2024, 5, 10, 11)


def test_one_day_is_judged_by_the_local_date_not_utc():
    # 23:30 UTC on the 9th is already the 10th in Tokyo, so no second check-in on the 10th there.
    settings = daily("Asia/Tokyo", hour=19)
    sent = utc(2024, 5, 9, 23, 30)
    assert next_checkin(settings, utc(2024, 5, 10, 0), sent) == utc(2024, 5, 11, 10)


# --- daylight saving ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "hour", "now", "expected"),
    [
        # Berlin springs forward 2024-03-31 02:00 CET -> 03:00 CEST (01:00 UTC).
        ("Europe/Berlin", 2, utc(2024, 3, 30, 12), utc(2024, 3, 31, 1)),  # gap: 03:00 CEST
        ("Europe/Berlin", 19, utc(2024, 3, 30, 19), utc(2024, 3, 31, 17)),
        ("Europe/Berlin", 2, utc(2024, 3, 31, 1), utc(2024, 4, 1, 0)),
        # Berlin falls back 2024-10-27 03:00 CEST -> 02:00 CET; 02:xx happens twice.
        ("Europe/Berlin", 2, utc(2024, 10, 26, 12), utc(2024, 10, 27, 0)),  # first 02:00
        ("Europe/Berlin", 19, utc(2024, 10, 26, 18), utc(2024, 10, 27, 18)),
        # New York springs forward 2024-03-10 02:00 EST -> 03:00 EDT (07:00 UTC).
        ("America/New_York", 2, utc(2024, 3, 9, 12), utc(2024, 3, 10, 7)),
        ("America/New_York", 19, utc(2024, 3, 10, 0), utc(2024, 3, 10, 23)),
        # New York falls back 2024-11-03 02:00 EDT -> 01:00 EST; 01:xx happens twice.
        ("America/New_York", 1, utc(2024, 11, 2, 12), utc(2024, 11, 3, 5)),  # first 01:00
        ("America/New_York", 19, utc(2024, 11, 2, 23, 30), utc(2024, 11, 4, 0)),
    ],
)
def test_daylight_saving_instants(tz, hour, now, expected):
    assert next_checkin(daily(tz, hour=hour, **NO_QUIET), now, None) == expected


def test_the_repeated_hour_never_gives_a_second_checkin():
    settings = daily("America/New_York", hour=1, **NO_QUIET)
    first = utc(2024, 11, 3, 5)  # 01:00 EDT
    # Even between the two 01:00s, and even if the send was not recorded, the next is tomorrow.
    assert next_checkin(settings, first, first) == utc(2024, 11, 4, 6)
    assert next_checkin(settings, utc(2024, 11, 3, 5, 30), None) == utc(2024, 11, 4, 6)


@pytest.mark.parametrize(
    ("tz", "start"),
    [
        ("Europe/Berlin", utc(2024, 3, 27)),
        ("Europe/Berlin", utc(2024, 10, 23)),
        ("America/New_York", utc(2024, 3, 7)),
        ("America/New_York", utc(2024, 10, 30)),
    ],
)
@pytest.mark.parametrize("hour", range(24))
def test_every_local_day_gets_exactly_one_checkin_across_a_change(tz, start, hour):
    settings = daily(tz, hour=hour, **NO_QUIET)
    local = zone(tz)
    now, sent, days = start, None, []
    for _ in range(8):
        slot = next_checkin(settings, now, sent)
        days.append(slot.astimezone(local).date())
        now = sent = slot
    assert days == [days[0] + timedelta(days=i) for i in range(8)]


# --- later today ---------------------------------------------------------------------------


def test_later_today_in_three_hours():
    settings = CheckinSettings(tz="Europe/Berlin")
    assert later_today(settings, utc(2024, 5, 10, 10)) == utc(2024, 5, 10, 13)
    assert later_today(settings, utc(2024, 5, 10, 10), after_hours=1) == utc(2024, 5, 10, 11)


def test_later_today_not_in_quiet_hours():
    settings = CheckinSettings(tz="Europe/Berlin")
    assert later_today(settings, utc(2024, 5, 10, 18)) is None  # 23:00 local is quiet


def test_later_today_not_past_local_midnight():
    settings = CheckinSettings(tz="Asia/Tokyo", **NO_QUIET)
    assert later_today(settings, utc(2024, 5, 10, 13)) is None  # 22:00 JST + 3h
    assert later_today(settings, utc(2024, 5, 10, 11)) == utc(2024, 5, 10, 14)


# --- check-in texts ------------------------------------------------------------------------

CHECKINS = load_texts().checkins


def test_checkin_text_is_deterministic_and_differs_on_consecutive_days():
    for user_id in (1, 42, 987654321):
        picks = [pick_checkin_text(CHECKINS, user_id, NOW + timedelta(days=d)) for d in range(30)]
        assert picks == [
            pick_checkin_text(CHECKINS, user_id, NOW + timedelta(days=d)) for d in range(30)
        ]
        assert all(a != b for a, b in zip(picks, picks[1:], strict=False))
        assert set(picks) == set(CHECKINS)


def test_checkin_text_follows_the_local_day():
    late = utc(2024, 5, 10, 23)  # already the 11th in Tokyo
    tomorrow_morning = utc(2024, 5, 11, 1)
    assert pick_checkin_text(CHECKINS, 7, late, tz="Asia/Tokyo") == pick_checkin_text(
        CHECKINS, 7, tomorrow_morning, tz="Asia/Tokyo"
    )
    assert pick_checkin_text(CHECKINS, 7, late) != pick_checkin_text(CHECKINS, 7, tomorrow_morning)


def test_checkin_texts_ask_and_never_pressure():
    assert len(CHECKINS) >= 4
    assert all("?" in text or "log" in text or "note" in text for text in CHECKINS)
    assert all("miss" not in text.lower() and "should" not in text.lower() for text in CHECKINS)


def test_pick_checkin_text_needs_variants():
    with pytest.raises(ValueError):
        pick_checkin_text([], 1, NOW)


def test_fixed_offset_zone_has_no_daylight_saving():
    assert zone("UTC+02:00") == timezone(timedelta(hours=2))


def test_no_checkin_until_the_user_names_their_time_zone():
    guessed = CheckinSettings(frequency="daily", hour=9)  # UTC only as a default
    assert guessed.tz_set is False
    assert next_checkin(guessed, NOW, None) is None
    assert later_today(guessed, NOW) is None
    named = CheckinSettings(tz="UTC", frequency="daily", hour=9, tz_set=True)
    assert next_checkin(named, NOW, None) is not None
    assert CheckinSettings.from_dict(named.as_dict()).tz_set is True
    assert CheckinSettings.from_dict({"tz": "Europe/Berlin"}).tz_set is True
    assert CheckinSettings.from_dict({"frequency": "daily"}).tz_set is False
