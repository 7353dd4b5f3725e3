"""The dose table and the level: every answer weighs in, how they respond now weighs most."""

import shutil

import pytest
import yaml

from bot.policy.plan import (
    DoseTableError,
    damage_level,
    level_reasons,
    load_dose_table,
    plan_for_level,
    plan_from_answers,
)

TABLE = load_dose_table()


@pytest.mark.parametrize(
    ("answers", "level"),
    [
        ({"feelings": "intervention", "response": "warm"}, 1),
        ({"feelings": "intervention", "response": "brief"}, 2),
        ({"feelings": "out_of_love", "response": "warm"}, 2),  # a warm reply counts most
        ({"feelings": "out_of_love", "response": "cold"}, 3),
        ({"feelings": "not_sure", "response": "ignored"}, 3),
        ({"feelings": "divorce", "response": "ignored"}, 4),
        # A divorce under way does not outweigh a spouse who responds warmly (R17).
        ({"living": "divorce", "feelings": "intervention", "response": "warm"}, 1),
        ({"living": "divorce", "feelings": "divorce", "response": "warm"}, 2),
        ({}, 2),
    ],
)
def test_the_level_weighs_every_answer(answers, level):
    assert damage_level(answers, TABLE) == level


def test_no_level_says_no_contact_and_the_dose_never_reaches_zero():
    for row in TABLE.levels:
        assert row.max_contacts >= 1, row
        assert "no contact" not in row.dose_text.lower()
    distant = plan_from_answers({"response": "ignored", "feelings": "divorce"}, TABLE)
    assert distant.level == 4 and "once a month" in distant.dose_text
    assert "never a request" in distant.dose_text


def test_a_table_that_says_no_contact_is_refused(tmp_path):
    raw = yaml.safe_load((TABLE_PATH := _table_path()).read_text(encoding="utf-8"))
    raw["levels"][3]["max_contacts"] = 0
    bad = tmp_path / "dose.yaml"
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(DoseTableError, match="never zero"):
        load_dose_table(bad)
    shutil.copy(TABLE_PATH, tmp_path / "ok.yaml")
    assert load_dose_table(tmp_path / "ok.yaml") == TABLE


def _table_path():
    from bot.policy.plan import DOSE_TABLE_PATH

    return DOSE_TABLE_PATH


def test_why_names_the_answers_that_led_there_strongest_first():
    answers = {"living": "divorce", "feelings": "not_sure", "response": "warm"}
    assert level_reasons(answers, TABLE) == [
        "they respond warmly",
        "you're not sure how they feel",
        "a divorce is under way",
    ]


def test_the_style_fits_the_case():
    raised = plan_for_level(1, TABLE, {"feelings": "out_of_love", "response": "warm"})
    assert "asked you to change" not in raised.style  # not for an out-of-love spouse (R8)
    assert "prove" in raised.style
    intervention = plan_for_level(1, TABLE, {"feelings": "intervention"})
    assert "asked you to change" in intervention.style  # R7


def test_living_together_gets_a_plan_about_daily_moments_not_a_count():
    plan = plan_from_answers({"living": "together", "response": "brief"}, TABLE)
    assert plan.together and plan.min_gap_hours is None
    assert "good moments" in plan.dose_text and "a week" not in plan.dose_text
