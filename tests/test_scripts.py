"""The conversation scripts in tests/scripts/: in-process (each well under a second) and
end to end through the real PTB Application and the fake Bot API (`slow`).

Issue 10's items, end to end, by script: 1 the dose and "Why this amount?" (01, 02, 03);
2 a plan change against the evidence (01); 3 "something changed" (09), edit or remove a
contact (11), past contacts (10); 4 /urge and /draft mid-walk (04); 5 safety mode check-ins,
the urge pause and re-clearing (05); 6 /reset (06); 7 check-ins set and left (07, 08);
8 texts that fit (03, and tests/test_texts_fit_tools.py); 9 time zones (12); 10 mood and
days within the plan (07, 10, 13).
"""

import pytest

from bot.policy.timezones import resolve_timezone
from bot.service import build_engine
from tests.conversation_scripts import (
    SCRIPTS_DIR,
    OverTelegram,
    ScriptFailure,
    all_scripts,
    load_script,
    make_service_for,
    play,
    run_script,
    start_run,
)
from tests.support.bots import RunningBot

ENGINE = build_engine()
resolve_timezone("IST")  # the time zone data loads once per process, not per script


@pytest.mark.parametrize("path", all_scripts(), ids=lambda path: path.stem)
async def test_script(path, tmp_path):
    await run_script(path, make_service_for(ENGINE, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("path", all_scripts(), ids=lambda path: path.stem)
async def test_script_end_to_end(path, fake_api, bot_token, tmp_db_path):
    await play_end_to_end(path, fake_api, bot_token, tmp_db_path)


BAD_SCRIPTS = {
    "expect": "steps:\n  - command: /start\n    expect: ['words the bot never says']\n",
    "never": "never: ['self-help']\nsteps:\n  - command: /start\n",
    "tap": "steps:\n  - command: /start\n  - tap: 'A button nobody offers'\n",
    "walk": "steps:\n  - command: /start\n  - walk: ['A label nobody offers']\n",
}
FAILS_WITH = {
    "expect": "expected 'words the bot never says'",
    "never": "must never say 'self-help'",
    "tap": "no button 'A button nobody offers'",
    "walk": "without tapping",
}


def bad_script(tmp_path, kind: str):
    bad = tmp_path / f"bad_{kind}.yaml"
    header = "persona: test\nnow: 2026-03-10T18:00:00+00:00\n"
    bad.write_text(header + BAD_SCRIPTS[kind], encoding="utf-8")
    return bad


@pytest.mark.parametrize("kind", list(BAD_SCRIPTS))
async def test_a_script_fails_when_the_bot_says_something_else(tmp_path, kind):
    with pytest.raises(ScriptFailure, match=FAILS_WITH[kind]):
        await run_script(bad_script(tmp_path, kind), make_service_for(ENGINE, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["expect", "walk"])
async def test_an_end_to_end_script_fails_too(tmp_path, fake_api, bot_token, tmp_db_path, kind):
    with pytest.raises(ScriptFailure, match=FAILS_WITH[kind]):
        await play_end_to_end(bad_script(tmp_path, kind), fake_api, bot_token, tmp_db_path)


async def play_end_to_end(path, fake_api, bot_token, db_path):
    """Play a script on the real PTB Application polling the fake Bot API."""
    run = start_run(path)
    bot = RunningBot(fake_api, bot_token, db_path, run.clock, ENGINE)
    driver = OverTelegram(fake_api, bot)
    await bot.start()
    try:
        await play(run, path, driver)
    finally:
        await bot.stop()


# The eight personas of issue 10, each a script that starts at /start (no seeded menu), with
# what the user must do in it (commands, typed text, taps or walk-through answers) and what
# the bot must never say to them.
PERSONAS = {
    "read 'go no contact', spouse out of love, texts unanswered": (
        "01_out_of_love_unanswered_wants_warmer",
        ["Out of love, wants out", "Warmer: a little more contact", "Go warmer anyway"],
        ["no contact that you start"],
    ),
    "warm reply, but a divorce is under way": (
        "02_warm_reply_divorce_under_way",
        ["A divorce is under way", "Warmly", "Why this amount?"],
        ["no contact"],
    ),
    "still living together": (
        "03_living_together",
        ["Together, but distant", "/log", "/urge", "/progress"],
        ["moved out"],
    ),
    "a new user types /urge and /draft mid-walk": (
        "04_new_user_urge_and_draft_on_day_one",
        ["/urge", "/draft"],
        [],
    ),
    "reports threats and fear, then tries to re-clear": (
        "05_safety_threats_then_clears",
        ["Something here applies", "/urge", "/checkins", "None of this applies"],
        [],
    ),
    "/reset": ("06_reset_keeps_the_log", ["/reset", "Walk-through again, keep my log"], []),
    "sets check-ins, then leaves": (
        "07_checkins_set_then_left",
        ["Yes, every day", "Lisbon", "Quiet hours"],
        [],
    ),
    "time zones by name": (
        "12_time_zones_by_name",
        ["Mumbai", "/timezone IST", "Pacific time", "UTC+5.5", "UTC-13", "/timezone Kolkata"],
        [],
    ),
}


def user_inputs(script: dict) -> list[str]:
    """Everything the user sends in a script: commands, typed text, taps, walk answers."""
    said: list[str] = []
    for step in script["steps"]:
        said += [str(step[key]) for key in ("command", "type", "tap") if key in step]
        said += [str(label) for label in step.get("walk") or []]
    return said


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_there_is_a_script_for_every_persona(persona):
    name, inputs, never = PERSONAS[persona]
    path = next((path for path in all_scripts() if path.stem == name), None)
    assert path is not None, f"no script for the persona {persona!r} ({name}.yaml)"
    script = load_script(path)
    assert "menu" not in script, "a persona walks the real walk-through, not a seeded menu"
    assert script["steps"][0].get("command") == "/start"
    said = user_inputs(script)
    for wanted in inputs:
        assert any(wanted in line for line in said), f"{name}: the user never does {wanted!r}"
    for text in never:
        assert text in script.get("never", []), f"{name}: must check it never says {text!r}"


def test_the_checkins_persona_never_opens_the_menu():
    script = load_script(SCRIPTS_DIR / "07_checkins_set_then_left.yaml")
    assert not {"Open the menu", "/menu"} & set(user_inputs(script))


def test_the_mid_walk_persona_uses_the_tools_before_the_plan():
    script = load_script(SCRIPTS_DIR / "04_new_user_urge_and_draft_on_day_one.yaml")
    states = [step["state"] for step in script["steps"] if "state" in step]
    assert states and all(state.startswith("walkthrough:") for state in states)
    assert not any("walk" in step for step in script["steps"])  # /urge before any plan


async def test_the_example_in_the_coaches_guide_runs(tmp_path):
    guide = (SCRIPTS_DIR.parents[1] / "docs" / "editing-content.md").read_text(encoding="utf-8")
    start = guide.index("```yaml\npersona:") + len("```yaml\n")
    example = tmp_path / "example.yaml"
    example.write_text(guide[start : guide.index("```", start)], encoding="utf-8")
    await run_script(example, make_service_for(ENGINE, tmp_path))
