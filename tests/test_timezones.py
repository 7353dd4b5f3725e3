"""Time zones from maintained data (CLDR through Babel, GeoNames, IANA), never hand lists."""

import pytest

from bot.policy.timezones import resolve_timezone


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Mumbai", "Asia/Kolkata"),
        ("Delhi", "Asia/Kolkata"),
        ("India", "Asia/Kolkata"),
        ("Kolkata", "Asia/Kolkata"),
        ("NYC", "America/New_York"),
        ("LA", "America/Los_Angeles"),
        ("Pacific time", "America/Los_Angeles"),
        ("Texas", "America/Chicago"),
        ("EDT", "America/New_York"),  # a summer-time name means the region's time
        ("New York", "America/New_York"),
        ("UTC-5", "UTC-05:00"),
        ("GBR", "Europe/London"),
        ("UTC+5.5", "UTC+05:30"),
        ("utc+5:45", "UTC+05:45"),
        ("Lisbon", "Europe/Lisbon"),
    ],
)
def test_places_names_and_abbreviations(typed, zone):
    assert resolve_timezone(typed).zone == zone


@pytest.mark.parametrize(
    ("typed", "among"),
    [
        ("IST", {"Asia/Kolkata", "Europe/Dublin"}),
        ("Springfield", {"America/Chicago"}),
        ("Portland", {"America/Los_Angeles", "America/New_York"}),  # Oregon or Maine
        ("usa", {"America/New_York", "America/Chicago", "America/Los_Angeles"}),
        ("Eastern", {"America/New_York"}),
        ("Central", {"America/Chicago"}),
        ("Mountain", {"America/Denver"}),
        ("Pacific", {"America/Los_Angeles"}),
    ],
)
def test_an_ambiguous_name_asks_to_choose(typed, among):
    found = resolve_timezone(typed)
    assert found.zone is None and among <= set(found.choices)


@pytest.mark.parametrize("typed", ["UTC-13", "UTC+15", "UTC+5:20", "GMT-12:30", "hello there"])
def test_impossible_offsets_and_nonsense_are_refused(typed):
    assert resolve_timezone(typed) == resolve_timezone("")


def test_a_fixed_offset_is_marked_as_having_no_summer_time():
    assert resolve_timezone("UTC+2").fixed and not resolve_timezone("Berlin").fixed


@pytest.mark.parametrize(
    ("typed", "region", "fixed"),
    [
        ("EST", "America/New_York", "UTC-05:00"),
        ("CST", "America/Chicago", "UTC-06:00"),
        ("MST", "America/Denver", "UTC-07:00"),
        ("PST", "America/Los_Angeles", "UTC-08:00"),
        ("AEST", "Australia/Sydney", "UTC+10:00"),
    ],
)
def test_a_standard_time_abbreviation_asks_region_or_fixed_offset(typed, region, fixed):
    assert resolve_timezone(typed).choices == (region, fixed)


def test_the_zone_names_are_read_when_the_engine_is_built_not_on_the_first_typed_zone():
    from bot.policy import timezones
    from bot.service import build_engine

    timezones._babel_data.cache_clear()
    build_engine()
    assert timezones._babel_data.cache_info().currsize == 1  # first typed zone: a look-up
