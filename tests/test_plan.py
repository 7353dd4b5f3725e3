"""The dose table and the damage level."""

import pytest

from bot.policy.plan import damage_level, load_dose_table, plan_from_answers

TABLE = load_dose_table()


@pytest.mark.parametrize(
    ("answers", "level"),
    [
        ({"feelings": "intervention", "response": "warm"}, 1),
        ({"feelings": "intervention", "response": "brief"}, 2),
        ({"feelings": "out_of_love", "response": "warm"}, 3),
        ({"feelings": "not_sure", "response": "ignored"}, 4),
        ({"living": "divorce", "feelings": "intervention", "response": "warm"}, 4),
        ({}, 2),
    ],
)
def test_level_is_the_most_damaged_sign(answers, level):
    assert damage_level(answers, TABLE) == level


def test_closed_plan_starts_no_contact():
    plan = plan_from_answers({"response": "ignored"}, TABLE)
    assert plan.max_contacts == 0
    assert "practical" in plan.dose_text
