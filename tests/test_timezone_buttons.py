"""An ambiguous time zone offers its choices as buttons; a tap sets the zone as typing it would."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.content import CONTENT_ROOT, Content, ContentError
from bot.engine import Command, Engine, Press, Text
from bot.features.contacts import MAX_TZ_BUTTONS, tz_choice_buttons
from bot.features.texts import FEATURE_TEXTS
from bot.model import MAX_CALLBACK_BYTES, Session, UserData

NOW = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)  # 14:00 in New York, 13:00 at UTC-05:00
CONTENT = Content.load()
ENGINE = Engine(CONTENT)
TEXTS = CONTENT.file(FEATURE_TEXTS).timezone
DONE = {"safety": "clear", "response": "brief", "living": "moved_out", "feelings": "not_sure"}
STATIC = ["Go on", "Back to menu"]  # tz_check's own buttons


def at_menu() -> Session:
    return Session(state="hub:menu", answers=dict(DONE), plan={"level": 2}, completed_at=NOW)


def typed_at_tz(text: str):
    """At the check-ins' time zone question, the user types `text`."""
    asked = ENGINE.handle(at_menu(), Command("timezone"), NOW)
    assert asked.session.state == "checkins:tz"
    return ENGINE.handle(asked.session, Text(text), NOW)


def labels(outcome) -> list[str]:
    return [button.label for button in outcome.replies[-1].buttons]


def press(outcome, label: str, data: UserData | None = None, session: Session | None = None):
    """Press the button called `label` of `outcome`'s last message (from `session` if given)."""
    (button,) = [b for b in outcome.replies[-1].buttons if b.label == label]
    return ENGINE.handle(session or outcome.session, Press(button.data), NOW, data)


@pytest.mark.parametrize(
    ("typed", "choices"),
    [
        ("usa", ["New York", "Chicago", "Los Angeles", "Denver", "Anchorage", "Honolulu"]),
        ("Portland", ["Los Angeles", "New York"]),
        ("Eastern", ["New York", "Kyiv"]),
        ("EST", ["New York", "UTC-05:00 all year"]),
    ],
)
def test_an_ambiguous_zone_offers_each_choice_as_a_button_before_the_steps_own(typed, choices):
    outcome = typed_at_tz(typed)
    assert outcome.session.state == "checkins:tz_check" and not outcome.effects
    assert labels(outcome) == [*choices, *STATIC]
    text = outcome.replies[-1].text
    for label in choices:
        assert label in text  # each button is named as the text names the choice
        assert len(label) <= 30
    for button in outcome.replies[-1].buttons[: len(choices)]:
        assert button.data.startswith("c.timezone ")
        assert len(button.data.encode()) <= MAX_CALLBACK_BYTES


def test_a_zone_that_fits_one_place_or_none_offers_no_choice_buttons():
    assert labels(typed_at_tz("Tokyo")) == STATIC
    assert labels(typed_at_tz("Atlantis")) == STATIC
    asked_again = ENGINE.handle(at_menu(), Command("timezone", "usa"), NOW)  # /timezone usa
    assert labels(asked_again)[:2] == ["New York", "Chicago"]


@pytest.mark.parametrize(
    ("typed", "label", "zone", "says"),
    [
        ("Portland", "Los Angeles", "America/Los_Angeles", "11:00"),
        ("usa", "Honolulu", "Pacific/Honolulu", "08:00"),
        ("EST", "New York", "America/New_York", "14:00"),
        ("EST", "UTC-05:00 all year", "UTC-05:00", "13:00"),
    ],
)
def test_tapping_a_choice_sets_that_zone_as_typing_it_would(typed, label, zone, says):
    tapped = press(typed_at_tz(typed), label)
    (effect,) = tapped.effects
    assert effect.settings["tz"] == zone and effect.settings["tz_set"] is True
    assert tapped.session.state == "checkins:tz_check"
    reply = tapped.replies[-1]
    assert f"Your time zone is {zone}" in reply.text and says in reply.text  # local time
    assert [b.label for b in reply.buttons] == STATIC  # settled: no choices any more
    by_typing = ENGINE.handle(typed_at_tz(typed).session, Text(zone), NOW)
    assert by_typing.effects == tapped.effects and by_typing.replies == tapped.replies


def test_a_choice_tapped_on_an_old_message_still_just_sets_that_zone():
    """Choice buttons are command buttons (/timezone <zone>), which work from any step: a tap
    after the user moved on does exactly what typing `/timezone America/New_York` would (it
    sets the zone and shows it), which is harmless; it is not refused as a passed button."""
    offered = typed_at_tz("Portland")
    moved_on = press(offered, "Back to menu")
    assert moved_on.session.state == "hub:menu"
    late = press(offered, "New York", session=moved_on.session)
    (effect,) = late.effects
    assert effect.settings["tz"] == "America/New_York"
    assert late.session.state == "checkins:tz_check" and not late.notice
    assert "Your time zone is America/New_York" in late.replies[-1].text


def test_a_choice_whose_button_would_pass_64_bytes_is_left_out_and_six_at_most():
    long_zone = "America/" + "Argentina/" * 6 + "Salta"  # a short label, 84 bytes of data
    assert len(f"c.timezone {long_zone}".encode()) > MAX_CALLBACK_BYTES
    buttons = tz_choice_buttons(("Europe/Lisbon", long_zone, "UTC-05:00"), TEXTS)
    assert [b.label for b in buttons] == ["Lisbon", "UTC-05:00 all year"]
    many = tuple(f"Europe/Place_{i}" for i in range(9))
    assert len(tz_choice_buttons(many, TEXTS)) == MAX_TZ_BUTTONS == 6


def test_a_fixed_offset_button_text_over_30_characters_is_refused_at_load(tmp_path):
    root = Path(shutil.copytree(CONTENT_ROOT, tmp_path / "flows"))
    path = root / "texts" / "timezone.yaml"
    old = 'choice_button_fixed: "{offset} all year"'
    text = path.read_text(encoding="utf-8")
    assert old in text
    long = 'choice_button_fixed: "{offset} all year round, no summer"'
    path.write_text(text.replace(old, long), encoding="utf-8")
    with pytest.raises(ContentError, match="choice_button_fixed: a button label"):
        Content.load(root)


def test_the_loader_lists_the_time_zone_choices_among_known_buttons_from(tmp_path):
    root = Path(shutil.copytree(CONTENT_ROOT, tmp_path / "flows"))
    path = root / "checkins.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("buttons_from: checkins.tz_choices", "buttons_from: tz"))
    with pytest.raises(ContentError) as caught:
        Content.load(root)
    assert "checkins.yaml: step 'tz_check': 'buttons_from: tz' names no buttons" in str(
        caught.value
    )
    assert "known: ['checkins.tz_choices']" in str(caught.value)
