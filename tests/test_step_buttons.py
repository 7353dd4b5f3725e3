"""Buttons built from the user's data (`buttons_from`), and command buttons with words."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.actions import STEP_BUTTONS, Context, command_button
from bot.content import CONTENT_ROOT, Content, ContentError
from bot.engine import Engine, Press
from bot.model import MAX_CALLBACK_BYTES, Button, Session

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ENGINE = Engine(Content.load())
DONE = {"safety": "clear", "response": "brief", "living": "moved_out", "feelings": "not_sure"}


def at_menu() -> Session:
    plan = {"level": 2}
    return Session(state="hub:menu", answers=dict(DONE), plan=plan, completed_at=NOW)


def content_with_menu_buttons_from(tmp_path: Path, name: str) -> Path:
    """A copy of the shipped content whose menu asks for the buttons called `name`."""
    root = Path(shutil.copytree(CONTENT_ROOT, tmp_path / "flows"))
    hub = root / "hub.yaml"
    text = hub.read_text(encoding="utf-8")
    old = "    actions: [back_to_walkthrough]\n"
    assert old in text
    hub.write_text(text.replace(old, f"{old}    buttons_from: {name}\n", 1), encoding="utf-8")
    return root


def test_an_unknown_buttons_from_is_named_with_its_file_and_step(tmp_path):
    root = content_with_menu_buttons_from(tmp_path, "hub.menu_extras")
    with pytest.raises(ContentError) as caught:
        Content.load(root)
    report = str(caught.value)
    assert "hub.yaml: step 'menu': 'buttons_from: hub.menu_extras' names no buttons" in report
    assert "(known: [" in report  # the names that do exist, to pick from


def test_a_steps_own_buttons_come_after_the_built_ones(tmp_path, monkeypatch):
    def extras(ctx: Context) -> list[Button]:
        return [Button(f"Plan level {ctx.plan().level}", data="c.plan")]

    monkeypatch.setitem(STEP_BUTTONS, "test.extras", extras)
    engine = Engine(Content.load(content_with_menu_buttons_from(tmp_path, "test.extras")))
    plain = ENGINE.view(at_menu(), NOW).buttons
    shown = engine.view(at_menu(), NOW).buttons
    assert shown[0] == Button("Plan level 2", data="c.plan")
    assert shown[1:] == plain
    opened = engine.handle(at_menu(), Press("c.plan"), NOW)
    assert opened.session.state == "hub:plan"


def test_a_command_button_with_words_runs_the_command_as_if_typed():
    outcome = ENGINE.handle(at_menu(), Press("c.timezone Asia/Tokyo"), NOW)
    (effect,) = outcome.effects
    assert effect.settings["tz"] == "Asia/Tokyo"
    assert outcome.session.state == "checkins:tz_check"
    assert "Asia/Tokyo" in outcome.replies[-1].text and "21:00" in outcome.replies[-1].text


def test_a_button_for_an_unknown_command_is_still_refused_kindly():
    for data in ("c.launch rockets", "c.launch", "c.timezonex Asia/Tokyo"):
        outcome = ENGINE.handle(at_menu(), Press(data), NOW)
        assert not outcome.effects and outcome.session == at_menu(), data
        assert outcome.notice  # the "that button has passed" toast


def test_a_command_button_fits_telegrams_limits_or_is_not_made():
    button = command_button("Tokyo", "timezone", "Asia/Tokyo")
    assert button == Button("Tokyo", data="c.timezone Asia/Tokyo")
    assert command_button("Menu", "menu") == Button("Menu", data="c.menu")
    room = MAX_CALLBACK_BYTES - len("c.timezone ")
    assert command_button("Just fits", "timezone", "x" * room) is not None
    assert command_button("One byte over", "timezone", "x" * (room + 1)) is None
    assert command_button("Two bytes a letter", "timezone", "é" * (room // 2 + 1)) is None
    assert command_button("x" * 30, "menu") is not None
    assert command_button("x" * 31, "menu") is None  # labels: at most 30 characters
    assert command_button("", "menu") is None
