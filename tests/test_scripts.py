"""The conversation scripts in tests/scripts/: one per persona, each well under a second."""

import time

import pytest

from bot.policy.timezones import resolve_timezone
from bot.service import build_engine
from tests.conversation_scripts import ScriptFailure, all_scripts, make_service_for, run_script

ENGINE = build_engine()
resolve_timezone("IST")  # the time zone data loads once per process, not per script


@pytest.mark.parametrize("path", all_scripts(), ids=lambda path: path.stem)
def test_script(path, tmp_path):
    started = time.perf_counter()
    run_script(path, make_service_for(ENGINE, tmp_path))
    assert time.perf_counter() - started < 1.0, "a script should run well under a second"


def test_a_script_fails_when_the_bot_says_something_else(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "persona: test\nnow: 2026-03-10T18:00:00+00:00\n"
        "steps:\n  - command: /start\n    expect: ['words the bot never says']\n",
        encoding="utf-8",
    )
    with pytest.raises(ScriptFailure, match="words the bot never says"):
        run_script(bad, make_service_for(ENGINE, tmp_path))


def test_there_is_a_script_for_every_persona():
    assert len(all_scripts()) >= 8
