"""The scoring layer: weak signs of pressure add up; one weak sign in a kind draft does not."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from bot.draft_cli import read_labelled
from bot.policy.drafts import (
    DEFAULT_RULES_PATH,
    DraftRulesError,
    check_draft,
    example_failures,
    load_rules,
    pressure_score,
)

RULES = load_rules()
SCORING = RULES.scoring
DATA = Path(__file__).parent / "data"


def families(text: str) -> set[str]:
    """The cue families found in a draft."""
    return {hit.family.id for hit in pressure_score(text, RULES).hits}


def weight(family_id: str, text: str) -> float:
    """The weight one family contributes to a draft's score (0 when absent)."""
    hits = pressure_score(text, RULES).hits
    return next((hit.weight for hit in hits if hit.family.id == family_id), 0.0)


@pytest.mark.parametrize("example", SCORING.must_flag, ids=lambda e: e.text[:30])
def test_scoring_must_flag_examples_reach_the_threshold(example):
    assert pressure_score(example.text, RULES).total >= SCORING.threshold


@pytest.mark.parametrize("example", SCORING.must_not_flag, ids=lambda e: e.text[:30])
def test_scoring_must_not_flag_examples_stay_under_it(example):
    assert pressure_score(example.text, RULES).total < SCORING.threshold
    assert check_draft(example.text, RULES).verdict == "ok"


@pytest.mark.parametrize(
    "text",
    [
        "Heads up, pick up is at 4 on Friday.",
        "Sure, Tuesday works.",
        "You deserve a rest after that week.",
        "The kids made you a card, it's in Leo's bag.",
        "Please send the photos when you get a chance.",
    ],
)
def test_one_weak_sign_alone_does_not_flag(text):
    score = pressure_score(text, RULES)
    assert 0 < score.total < SCORING.threshold
    assert check_draft(text, RULES).verdict == "ok"


def test_weak_signs_from_different_families_add_up_and_flag():
    text = "We should sort this out. Our home feels empty. Stop hiding at your sister's."
    assert {"relationship_push", "blame", "command"} <= families(text)
    assert pressure_score(text, RULES).total >= SCORING.threshold
    assert check_draft(text, RULES).verdict != "ok"


def test_a_family_counts_once_with_a_small_bonus_for_a_second_cue():
    one = weight("sarcasm", "I am used to it by now.")
    two = weight("sarcasm", "I am used to it by now, like always.")
    three = weight("sarcasm", "Fine. I am used to it by now, like always.")
    assert two == one + SCORING.repeat_bonus
    assert three == two


def test_two_question_marks_add_the_question_weight():
    assert pressure_score("Where are you? Why?", RULES).total >= SCORING.question_weights[2]
    assert pressure_score("How was the trip?", RULES).total == 0


def test_a_kind_context_takes_the_discount_off():
    pressing = "It has been weeks. We should meet."
    kind = "I hear you. It has been weeks. We should meet."
    assert pressure_score(kind, RULES).kind_context
    assert pressure_score(pressing, RULES).total - pressure_score(kind, RULES).total == (
        SCORING.kind_discount
    )


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("You don't have to answer this.", "obligation"),
        ("You don't need to come back for the bike.", "obligation"),
        ("It makes sense that you would want us both to have room.", "relationship_push"),
    ],
)
def test_negated_or_validated_cues_do_not_count(text, family):
    assert family not in families(text)


def test_the_score_flag_quotes_the_user_s_words_and_explains_kindly():
    text = "Sure, go enjoy your ‘freedom’. I’ll just keep everything together here like always."
    result = check_draft(text, RULES)
    flag = next(flag for flag in result.flags if flag.rule == SCORING.id)
    for part in flag.quote.split(" … "):
        assert part in text
    assert flag.quote.startswith("Sure") and "go" in flag.quote
    assert flag.why.startswith(SCORING.why_lead)
    assert flag.suggestion and set(flag.points) >= {"R3", "R10"}


def test_the_quote_keeps_at_most_max_quotes_cues():
    text = "Fine. Stop hiding. Our home feels empty. It has been weeks. Selfish as always."
    flag = next(f for f in check_draft(text, RULES).flags if f.rule == SCORING.id)
    assert len(flag.quote.split(" … ")) <= SCORING.max_quotes


def test_the_score_adds_no_flag_when_a_rule_already_explains_the_draft():
    text = "I'm begging you, come home. Our marriage deserves it, it has been weeks."
    rules_flagged = {flag.rule for flag in check_draft(text, RULES).flags}
    assert "pleading" in rules_flagged and SCORING.id not in rules_flagged


def test_a_very_high_score_is_a_wait():
    text = (
        "Fine. You should come home whether you like it or not. Our marriage deserves it. "
        "Selfish as always, must be nice. It has been weeks."
    )
    assert pressure_score(text, RULES).total >= SCORING.wait_at
    assert check_draft(text, RULES).verdict == "wait"


def test_every_family_has_points_words_and_cues():
    for family in SCORING.families:
        assert family.points and family.why and family.suggestion and family.cues


def write_rules(tmp_path: Path, change) -> Path:
    """Copy the shipped rules with one change to the scoring section."""
    raw = yaml.safe_load(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    change(raw["scoring"])
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw.pop("threshold"), "scoring: 'threshold' is missing"),
        (lambda raw: raw.update(wait_at="soon"), "scoring: malformed number"),
        (lambda raw: raw["families"][0]["cues"][0].update(weight=0), "positive 'weight'"),
        (lambda raw: raw["families"][0].update(points=["R42"]), "'R42' is not a reasoning"),
        (lambda raw: raw["families"][1]["cues"][0].update(patterns=["(x"]), "does not compile"),
        (lambda raw: raw.update(must_flag=[]), "'must_flag' must list at least one example"),
    ],
)
def test_a_broken_scoring_section_is_refused(tmp_path, change, message):
    with pytest.raises(DraftRulesError, match=None) as error:
        load_rules(write_rules(tmp_path, change))
    assert message in str(error.value)


def test_example_failures_reports_a_scoring_example_on_the_wrong_side(tmp_path):
    path = write_rules(tmp_path, lambda raw: raw["must_flag"].append("Lovely weather today."))
    failures = example_failures(load_rules(path))
    assert failures == ["pressure_signs should reach 2.0: 'Lovely weather today.' (0.0)"]


def test_a_typical_draft_is_checked_in_well_under_5_ms():
    rows = read_labelled(DATA / "drafts_heldout_c.jsonl")
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for row in rows:
            check_draft(row["text"], RULES)
        best = min(best, (time.perf_counter() - started) / len(rows))
    assert best < 0.005
