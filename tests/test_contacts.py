"""Contact log against the plan: counting, spacing, advice, adjustments and summaries."""

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.policy.contacts import (
    TEXT_FILES,
    TEXTS_DIR,
    Contact,
    TextsError,
    assess_contact,
    counts_against_dose,
    days_since_last_initiated,
    load_texts,
    progress_summary,
    suggest_adjustment,
)
from bot.policy.plan import load_dose_table, plan_for_level

TABLE = load_dose_table()
TEXTS = load_texts()
NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
WARM, COOL, COLD, DISTANT = (plan_for_level(level, TABLE) for level in (1, 2, 3, 4))
TOGETHER = plan_for_level(2, TABLE, {"living": "together"})


def mine(ago: timedelta, kind="message", outcome="neutral") -> Contact:
    return Contact(at=NOW - ago, initiator="me", kind=kind, outcome=outcome)


def theirs(ago: timedelta, kind="message", outcome="warm") -> Contact:
    return Contact(at=NOW - ago, initiator="them", kind=kind, outcome=outcome)


def days(n: float) -> timedelta:
    return timedelta(days=n)


# --- what counts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contact", "counts"),
    [
        (mine(days(1)), True),
        (mine(days(1), kind="call"), True),
        (mine(days(1), kind="meeting"), True),
        (mine(days(1), kind="practical"), False),
        (theirs(days(1)), False),
        (theirs(days(1), kind="practical"), False),
    ],
)
def test_only_contacts_i_started_that_are_not_practical_count(contact, counts):
    assert counts_against_dose(contact) is counts


def test_contact_seven_days_and_a_minute_ago_is_outside_the_window():
    old = mine(days(7) + timedelta(minutes=1))
    result = assess_contact(COOL, [old], mine(days(0)), NOW, TEXTS)
    assert result.count == 1
    assert not result.over_dose


def test_contact_just_inside_seven_days_counts():
    recent = mine(days(7) - timedelta(minutes=1))
    result = assess_contact(COOL, [recent], mine(days(0)), NOW, TEXTS)
    assert result.count == 2
    assert result.over_dose
    assert result.allowance == 1


def test_second_contact_in_a_week_is_over_the_cool_dose_with_an_explained_advice():
    result = assess_contact(COOL, [mine(days(5))], mine(days(0)), NOW, TEXTS)
    assert result.over_dose
    assert not result.too_soon  # five days apart meets the four-day spacing
    assert "second" in result.fit_line
    assert COOL.dose_text in result.fit_line
    assert result.advice
    assert any(why in result.advice for why in TEXTS.advice["over_dose"])
    assert any(idea in result.advice for idea in TEXTS.advice["instead"])


def test_contacts_they_start_never_count_or_get_advice():
    history = [mine(days(1)), mine(days(2)), mine(days(3))]
    result = assess_contact(COOL, history, theirs(days(0)), NOW, TEXTS)
    assert not result.counted
    assert not result.over_dose and not result.too_soon
    assert result.advice is None
    assert result.fit_line == TEXTS.fit["them_warm"]  # theirs() went warmly
    cold = assess_contact(COOL, history, theirs(days(0), outcome="cold"), NOW, TEXTS)
    assert cold.fit_line == TEXTS.fit["them"] and "lovely" not in cold.fit_line.lower()


def test_practical_matters_do_not_count_even_on_the_most_distant_plan():
    result = assess_contact(DISTANT, [], mine(days(0), kind="practical"), NOW, TEXTS)
    assert not result.counted and result.count == 0
    assert result.advice is None
    assert result.fit_line == TEXTS.fit["practical"]


def test_their_contacts_and_practical_ones_do_not_fill_the_window():
    history = [theirs(days(1)), mine(days(2), kind="practical"), theirs(days(3))]
    result = assess_contact(COOL, history, mine(days(0)), NOW, TEXTS)
    assert result.count == 1
    assert not result.over_dose and not result.too_soon
    assert result.advice is None
    assert "first" in result.fit_line


def test_too_soon_within_the_dose_gets_a_spacing_advice():
    # Warm plan: three a week, at least 24 hours apart.
    result = assess_contact(WARM, [mine(timedelta(hours=20))], mine(days(0)), NOW, TEXTS)
    assert not result.over_dose
    assert result.too_soon
    assert result.hours_since_previous == pytest.approx(20)
    assert "a day" in result.advice
    assert any(why.format(gap="a day") in result.advice for why in TEXTS.advice["too_soon"])


def test_spacing_just_met_is_not_too_soon():
    result = assess_contact(WARM, [mine(timedelta(hours=24))], mine(days(0)), NOW, TEXTS)
    assert not result.too_soon
    assert result.advice is None


def test_spacing_compares_with_contacts_before_the_new_one_only():
    later = mine(timedelta(hours=1))
    new = mine(days(3))
    result = assess_contact(WARM, [mine(days(5)), later], new, NOW, TEXTS)
    assert result.hours_since_previous == pytest.approx(48)
    assert not result.too_soon


def test_new_contact_already_in_history_is_not_counted_twice():
    new = mine(days(0))
    result = assess_contact(COOL, [new], new, NOW, TEXTS)
    assert result.count == 1
    assert result.hours_since_previous is None
    assert not result.over_dose and not result.too_soon


def test_level_four_allows_one_light_touch_a_month_then_explains_gently():
    first = assess_contact(DISTANT, [], mine(days(0)), NOW, TEXTS)
    assert first.counted and not first.over_dose and first.advice is None
    second = assess_contact(DISTANT, [mine(days(10))], mine(days(0)), NOW, TEXTS)
    assert second.over_dose
    assert any(why.split(",")[0] in second.advice for why in TEXTS.advice["over_dose"])


def test_advice_varies_between_contacts():
    advice = {
        assess_contact(COOL, [mine(days(2))], mine(timedelta(hours=h)), NOW, TEXTS).advice
        for h in range(0, 48)
    }
    assert len(advice) > 2


def test_no_lecture_after_a_warm_contact_or_twice_in_a_few_days():
    warm = assess_contact(COOL, [mine(days(2))], mine(days(0), outcome="warm"), NOW, TEXTS)
    assert warm.over_dose and warm.advice is None
    # A slip two days ago already had its word; this one is noted without a second lecture.
    history = [mine(days(5)), mine(days(2))]
    again = assess_contact(COOL, history, mine(days(0)), NOW, TEXTS)
    assert again.over_dose and again.advice is None
    assert "plan suggests" in again.fit_line  # still honest about the count
    fresh = assess_contact(COOL, [mine(days(3.5))], mine(days(0)), NOW, TEXTS)
    assert fresh.advice  # first slip in a while: one gentle word


def test_living_together_is_never_counted_against_a_dose():
    history = [mine(days(1)), mine(days(2)), mine(days(3))]
    result = assess_contact(TOGETHER, history, mine(days(0)), NOW, TEXTS)
    assert not result.counted and not result.over_dose and result.advice is None
    assert result.fit_line == TEXTS.fit["together"]


# --- the texts file ---------------------------------------------------------------------

SHAMING = (
    "fail",
    "should have",
    "guilt",
    "shame",
    "miss out",
    "too late",
    "last chance",
    "must",
    "broke",
    "mistake",
    "weak",
)


def all_texts(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from all_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_texts(value)


def texts_folder(tmp_path: Path, name: str, change) -> Path:
    """A copy of flows/texts/ with one file's YAML changed by `change`."""
    folder = tmp_path / "texts"
    shutil.copytree(TEXTS_DIR, folder)
    raw = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
    change(raw)
    (folder / name).write_text(yaml.safe_dump(raw), encoding="utf-8")
    return folder


def test_texts_never_shame_or_pressure():
    for name in TEXT_FILES:
        raw = yaml.safe_load((TEXTS_DIR / name).read_text(encoding="utf-8"))
        for text in all_texts(raw):
            lowered = text.lower()
            assert not any(word in lowered for word in SHAMING), text


def test_load_texts_rejects_unknown_placeholders_naming_the_file(tmp_path: Path):
    folder = texts_folder(
        tmp_path, "contacts.yaml", lambda raw: raw["fit"].update(within="Your {count}.")
    )
    with pytest.raises(TextsError, match=r"contacts\.yaml: fit\.within"):
        load_texts(folder)


@pytest.mark.parametrize(
    ("name", "section", "key"),
    [("progress.yaml", "summary", "slip"), ("contacts.yaml", "advice", "instead"),
     ("progress.yaml", "chart", "empty")],
)  # fmt: skip
def test_load_texts_rejects_missing_entries(tmp_path: Path, name, section, key):
    folder = texts_folder(tmp_path, name, lambda raw: raw[section].pop(key))
    with pytest.raises(TextsError, match=f"{name}: {section}"):
        load_texts(folder)


def test_load_texts_rejects_empty_checkins(tmp_path: Path):
    folder = texts_folder(tmp_path, "checkins.yaml", lambda raw: raw.update(checkins=[]))
    with pytest.raises(TextsError, match=r"checkins\.yaml: checkins"):
        load_texts(folder)


def test_a_section_in_the_wrong_file_is_refused(tmp_path: Path):
    folder = texts_folder(tmp_path, "plan.yaml", lambda raw: raw.update(weekdays=["Mon"]))
    with pytest.raises(TextsError, match=r"plan\.yaml: unknown sections \['weekdays'\]"):
        load_texts(folder)


# --- adjustments -------------------------------------------------------------------------


def test_consistently_warm_suggests_one_level_warmer():
    history = [theirs(days(d), outcome="warm") for d in (1, 5, 9)] + [mine(days(12), "call")]
    adjustment = suggest_adjustment(COLD, history, NOW, texts=TEXTS)
    assert adjustment is not None
    assert (adjustment.from_level, adjustment.to_level) == (3, 2)
    assert "3 of your last 4" in adjustment.reason


def test_consistently_cold_or_unanswered_suggests_one_level_cooler():
    history = [
        mine(days(2), outcome="no_answer"),
        mine(days(6), outcome="cold"),
        mine(days(10), outcome="no_answer"),
        mine(days(14), outcome="cold"),
        theirs(days(20), outcome="warm"),
    ]
    adjustment = suggest_adjustment(COOL, history, NOW, texts=TEXTS)
    assert adjustment is not None
    assert (adjustment.from_level, adjustment.to_level) == (2, 3)
    assert "4 of your last 5" in adjustment.reason


def test_mixed_outcomes_suggest_nothing():
    outcomes = ["warm", "cold", "warm", "neutral", "no_answer", "warm"]
    history = [mine(days(i * 3 + 1), outcome=o) for i, o in enumerate(outcomes)]
    assert suggest_adjustment(COOL, history, NOW, texts=TEXTS) is None


def test_too_few_contacts_suggest_nothing():
    history = [theirs(days(d), outcome="warm") for d in (1, 2, 3)]
    assert suggest_adjustment(COLD, history, NOW, texts=TEXTS) is None
    assert suggest_adjustment(COLD, history, NOW, min_contacts=3, texts=TEXTS) is not None


def test_contacts_older_than_four_weeks_are_not_considered():
    history = [theirs(days(d), outcome="warm") for d in (30, 35, 40, 45)]
    assert suggest_adjustment(COLD, history, NOW, texts=TEXTS) is None


def test_no_suggestion_beyond_the_warmest_or_coolest_level():
    warm = [theirs(days(d), outcome="warm") for d in (1, 2, 3, 4)]
    cold = [mine(days(d), outcome="cold") for d in (1, 2, 3, 4)]
    assert suggest_adjustment(WARM, warm, NOW, texts=TEXTS) is None
    assert suggest_adjustment(DISTANT, cold, NOW, texts=TEXTS) is None
    assert suggest_adjustment(DISTANT, warm, NOW, texts=TEXTS).to_level == 3
    assert suggest_adjustment(WARM, cold, NOW, texts=TEXTS).to_level == 2


# --- days since and summary ---------------------------------------------------------------


def test_days_since_last_initiated_ignores_their_and_practical_contacts():
    history = [mine(days(5) + timedelta(hours=3)), theirs(days(1)), mine(days(2), "practical")]
    assert days_since_last_initiated(history, NOW) == 5
    assert days_since_last_initiated([theirs(days(1))], NOW) is None
    assert days_since_last_initiated([], NOW) is None


def test_summary_counts_mine_and_theirs_against_the_dose():
    history = [
        mine(days(1), outcome="warm"),
        mine(days(9), outcome="cold"),  # outside the week
        theirs(days(2), outcome="warm"),
        theirs(days(3), outcome="neutral"),
        mine(days(4), kind="practical", outcome="neutral"),
    ]
    counts, went = progress_summary(history, COOL, NOW, TEXTS)
    assert counts == TEXTS.summary["counts"].format(
        window="the past week", mine=1, theirs=2, dose=COOL.dose_text
    )
    assert "2 warm, 2 neutral, 1 cold" in went
    assert TEXTS.summary["yesterday"] in went


def test_summary_uses_the_plans_window():
    history = [mine(days(10), outcome="warm"), theirs(days(12), outcome="warm")]
    counts, _ = progress_summary(history, COLD, NOW, TEXTS)
    assert "the past two weeks: 1 started by you, 1 by them" in counts


def test_summary_for_an_empty_log_is_two_friendly_lines():
    lines = progress_summary([], COOL, NOW, TEXTS)
    assert len(lines) == 2
    assert "0 started by you, 0 by them" in lines[0]
    assert lines[1] == f"{TEXTS.summary['no_outcomes']} {TEXTS.summary['never']}"


def test_summary_counts_days_since_reaching_out_within_the_plan():
    lines = progress_summary([mine(days(6), outcome="warm")], COOL, NOW, TEXTS)
    assert lines[1].endswith(TEXTS.summary["days"].format(days=6))


def test_a_slip_is_met_with_encouragement_not_a_reset():
    history = [mine(days(3)), mine(days(1), outcome="cold")]
    lines = progress_summary(history, COOL, NOW, TEXTS)
    assert len(lines) == 2
    expected = TEXTS.summary["slip"].format(ago=TEXTS.summary["ago_yesterday"])
    assert lines[1].endswith(expected)
    assert "0 days" not in lines[1]


def test_a_slip_two_days_ago_reads_as_days_ago():
    history = [mine(days(4)), mine(days(2))]
    lines = progress_summary(history, COOL, NOW, TEXTS)
    assert lines[1].endswith(TEXTS.summary["slip"].format(ago="2 days ago"))


def test_a_slip_a_week_ago_is_not_brought_up_again():
    history = [mine(days(9)), mine(days(7))]  # over the plan then; a week of room since
    lines = progress_summary(history, COOL, NOW, TEXTS)
    assert lines[1].endswith(TEXTS.summary["days"].format(days=7))
    assert "more than your plan" not in lines[1]


def test_contacts_in_the_future_are_ignored():
    future = replace(mine(days(0)), at=NOW + timedelta(hours=2))
    assert days_since_last_initiated([future], NOW) is None
    assert "0 started by you" in progress_summary([future], COOL, NOW, TEXTS)[0]
