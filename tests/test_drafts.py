"""The draft check: rules file, matching, guards, form checks, verdicts, reply text and CLI."""

import io
import json
from pathlib import Path

import pytest
import yaml

from bot.draft_cli import DEFAULT_LABELLED_PATH, read_labelled, run_check_draft, run_eval_drafts
from bot.policy.drafts import (
    DEFAULT_RULES_PATH,
    TELEGRAM_LIMIT,
    DraftResult,
    DraftRulesError,
    Flag,
    check_draft,
    example_failures,
    format_result,
    load_rules,
)

RULES = load_rules()
ALL_CHECKS = [*RULES.rules, *RULES.form_checks.values()]


def rule_ids(text: str, recent_unanswered: int = 0) -> set[str]:
    """The ids of the rules that flag a draft."""
    result = check_draft(text, RULES, recent_unanswered=recent_unanswered)
    return {flag.rule for flag in result.flags}


def verdict(text: str, recent_unanswered: int = 0) -> str:
    """The verdict on a draft."""
    return check_draft(text, RULES, recent_unanswered=recent_unanswered).verdict


# ---------------------------------------------------------------- rule examples


@pytest.mark.parametrize(
    ("check", "example"),
    [(check, example) for check in ALL_CHECKS for example in check.must_flag],
    ids=lambda value: getattr(value, "id", None) or getattr(value, "text", "")[:30],
)
def test_rule_flags_its_must_flag_examples(check, example):
    assert check.id in rule_ids(example.text, example.recent_unanswered)


@pytest.mark.parametrize(
    ("check", "example"),
    [(check, example) for check in ALL_CHECKS for example in check.must_not_flag],
    ids=lambda value: getattr(value, "id", None) or getattr(value, "text", "")[:30],
)
def test_rule_spares_its_must_not_flag_examples(check, example):
    assert check.id not in rule_ids(example.text, example.recent_unanswered)


def test_example_failures_is_empty_for_the_shipped_rules():
    assert example_failures(RULES) == []


def test_the_brief_s_rules_are_all_there_with_their_points():
    points = {rule.id: set(rule.points) for rule in RULES.rules}
    assert {"R14", "R12"} <= points["decision_wrong"]
    for rule_id in ("children_guilt", "marriage_contract", "religious_duty"):
        assert "R14" in points[rule_id]
    assert "R3" in points["criticism"]
    assert "R10" in points["pleading"]
    assert "R8" in points["proving_change"]
    assert "R20" in points["work_on_it"]
    assert {"R10", "R13"} <= points["ultimatum"]


# ---------------------------------------------------------------- negation and validation


@pytest.mark.parametrize(
    "text",
    [
        "You didn't make a wrong decision.",
        "you didnt make the wrong decision",
        "I understand why you decided to leave.",
        "It makes sense that you needed space.",
        "I don't think you're wrong to want time alone.",
        "I'm not saying you're wrong.",
        "It's okay that you don't want to talk about us.",
        "It's completely understandable that you don't want to come back right now.",
        "I'm not going to beg or chase you.",
        "I respect your decision.",
    ],
)
def test_negated_or_validating_uses_pass(text):
    assert verdict(text) == "ok"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("You made the wrong decision.", "decision_wrong"),
        ("You're wrong about us.", "decision_wrong"),
        ("I'm not saying you're wrong, but you are making a mistake.", "decision_wrong"),
        ("I don't want to pressure you but please come back", "pleading"),
        ("Can't we try again?", "work_on_it"),
        ("Im not going to stop fighting for us", "pleading"),
    ],
)
def test_negation_does_not_hide_the_pressure_next_to_it(text, rule):
    assert rule in rule_ids(text)


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("youre wrong about us", "decision_wrong"),
        ("You’re wrong about us", "decision_wrong"),
        ("YOU ARE WRONG ABOUT US", "decision_wrong"),
        ("you are wrong about us", "decision_wrong"),
        ("why wont you answer", "pleading"),
        ("Why won’t you answer", "pleading"),
        ("why will not you answer", "pleading"),
        ("That desicion was so wrong.", "decision_wrong"),
        ("our mariage means something", "marriage_contract"),
        ("think of the childern", "children_guilt"),
        ("give our relashionship one more try", "work_on_it"),
        ("this is definately a huge mistake", "decision_wrong"),
        ("dont you care about the kids", "children_guilt"),
        ("pls just talk to me", "pleading"),
        ("Ive changed so much", "proving_change"),
    ],
)
def test_matching_copes_with_contractions_typos_quotes_and_case(text, rule):
    assert rule in rule_ids(text)


def test_quote_is_the_user_s_own_words():
    result = check_draft("Honestly, Youre making a HUGE mistake.", RULES)
    assert [flag.quote for flag in result.flags] == ["Youre making a HUGE mistake"]


def test_quote_keeps_curly_apostrophes_as_written():
    flag = check_draft("Why won’t you answer me", RULES).flags[0]
    assert flag.quote.startswith("Why won’t you answer")


# ---------------------------------------------------------------- form checks


def words(count: int) -> str:
    """A calm draft of exactly `count` words."""
    return " ".join(["fine"] * count)


@pytest.mark.parametrize(
    ("count", "expected"), [(80, "ok"), (81, "soften"), (200, "soften"), (201, "wait")]
)
def test_length_softens_past_80_words_and_waits_past_200(count, expected):
    assert verdict(words(count)) == expected


def test_length_quote_names_the_word_count():
    flag = check_draft(words(90), RULES).flags[0]
    assert (flag.rule, flag.quote) == ("long_message", "90 words")


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("How are you? And the kids? Work okay?", True),
        ("How are you? And the kids?", False),
    ],
)
def test_three_question_marks_make_a_stack(text, flagged):
    assert ("question_stack" in rule_ids(text)) is flagged


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("WHERE ARE YOU", True),
        ("I MISS YOU SO MUCH", True),
        ("THANK YOU for the lift", False),
        ("Saw the BBC piece on the NHS today", False),
    ],
)
def test_all_caps_reads_as_shouting(text, flagged):
    assert ("shouting" in rule_ids(text)) is flagged


def test_shouting_is_a_wait():
    assert verdict("WHERE ARE YOU") == "wait"


@pytest.mark.parametrize(("text", "flagged"), [("Yay!!!", True), ("Congrats! Well done!", False)])
def test_three_exclamation_marks_are_too_many(text, flagged):
    assert ("exclamations" in rule_ids(text)) is flagged


@pytest.mark.parametrize(
    ("recent", "expected"),
    [(0, "ok"), (1, "ok"), (2, "soften"), (3, "soften"), (4, "wait"), (9, "wait")],
)
def test_several_unanswered_messages_count_as_pressure(recent, expected):
    assert verdict("Hope your day went well.", recent) == expected


# ---------------------------------------------------------------- verdicts and JSON


def test_kind_messages_pass_with_something_good_named():
    result = check_draft("Thanks for taking the kids today, hope the trip was fun :)", RULES)
    assert result.verdict == "ok"
    assert result.flags == []
    phrases = {sign.id: sign.phrase for sign in RULES.good_signs}
    assert phrases["appreciation"] in result.good
    assert phrases["lightness"] in result.good
    assert RULES.good_form["brief"]["phrase"] in result.good


def test_one_easy_question_counts_as_good():
    result = check_draft("How did the interview go?", RULES)
    assert RULES.good_form["friendly_question"]["phrase"] in result.good


def test_any_wait_flag_wins_over_soften_flags():
    result = check_draft(
        "You always do this. If you don't call me tonight I will come over.", RULES
    )
    assert {flag.severity for flag in result.flags} == {"soften", "wait"}
    assert result.verdict == "wait"


def test_soften_only_gives_soften():
    assert verdict("You always do this.") == "soften"


def test_as_json_has_exactly_the_public_shape():
    data = check_draft("Please come back, think of the kids", RULES).as_json()
    assert set(data) == {"verdict", "flags"}
    assert data["verdict"] == "soften"
    for flag in data["flags"]:
        assert set(flag) == {"rule", "points", "quote", "why", "suggestion"}
        assert flag["points"] and all(point.startswith("R") for point in flag["points"])
        assert flag["quote"] and flag["why"] and flag["suggestion"]
    json.dumps(data)


def test_every_flag_explains_and_suggests():
    for check in ALL_CHECKS:
        assert len(check.why) > 40 and len(check.suggestion) > 30, check.id


# ---------------------------------------------------------------- reply text


def test_format_result_for_a_kind_draft_is_warm_and_short():
    result = check_draft("Thanks for the update.", RULES)
    reply = format_result(result, RULES.texts)
    assert reply.startswith(RULES.texts["headlines"]["ok"])
    assert RULES.texts["good_intro"] in reply
    assert RULES.texts["closing"]["ok"] in reply


def test_format_result_shows_quote_reason_and_suggestion():
    result = check_draft("You made the wrong decision", RULES)
    reply = format_result(result, RULES.texts)
    flag = result.flags[0]
    assert flag.quote in reply and flag.why in reply and flag.suggestion in reply
    assert RULES.texts["closing"]["soften"] in reply


def test_format_result_stays_under_telegram_limit():
    flags = [Flag("criticism", ["R3"], "x" * 300, "why " * 100, "try " * 100)] * 20
    reply = format_result(DraftResult("soften", flags), RULES.texts)
    assert len(reply) <= TELEGRAM_LIMIT
    assert RULES.texts["truncated"] in reply


# ---------------------------------------------------------------- rule file validation


def write_rules(tmp_path: Path, change) -> Path:
    """Copy the shipped rules with one change applied, and return the new file."""
    raw = yaml.safe_load(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def rule(raw, rule_id):
    """The raw rule with this id."""
    return next(item for item in raw["rules"] if item["id"] == rule_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda raw: rule(raw, "criticism").update(patterns=["(unclosed"]),
            "rule 'criticism': pattern '(unclosed' does not compile",
        ),
        (
            lambda raw: rule(raw, "pleading").pop("must_flag"),
            "rule 'pleading': 'must_flag' must list at least one example",
        ),
        (
            lambda raw: rule(raw, "pleading").update(must_not_flag=[]),
            "rule 'pleading': 'must_not_flag' must list at least one example",
        ),
        (
            lambda raw: rule(raw, "ultimatum").update(severity="block"),
            "rule 'ultimatum': 'severity' must be soften or wait",
        ),
        (
            lambda raw: rule(raw, "work_on_it").update(points=["R99"]),
            "rule 'work_on_it': 'R99' is not a reasoning point",
        ),
        (
            lambda raw: rule(raw, "demands").update(why=""),
            "rule 'demands': 'why' must be a non-empty text",
        ),
        (
            lambda raw: rule(raw, "demands").update(colour="red"),
            "rule 'demands': unknown keys ['colour']",
        ),
        (
            lambda raw: raw["rules"].append(dict(rule(raw, "demands"))),
            "rules: duplicate ids ['demands']",
        ),
        (
            lambda raw: raw["form_checks"]["long_message"].pop("wait_over_words"),
            "form check 'long_message': 'wait_over_words' is missing",
        ),
        (
            lambda raw: raw["texts"]["headlines"].pop("wait"),
            "texts.headlines: missing for ['wait']",
        ),
        (lambda raw: raw.pop("good_signs"), "missing sections ['good_signs']"),
    ],
)
def test_bad_rule_files_are_refused_with_a_clear_message(tmp_path, change, message):
    path = write_rules(tmp_path, change)
    with pytest.raises(DraftRulesError) as error:
        load_rules(path)
    assert str(error.value).startswith("rules.yaml: ")
    assert message in str(error.value)


def test_unreadable_and_invalid_yaml_files_are_refused(tmp_path):
    with pytest.raises(DraftRulesError, match="missing.yaml: cannot be read"):
        load_rules(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(DraftRulesError, match=r"broken.yaml, line 1: a list .* never closed"):
        load_rules(broken)


def test_example_failures_reports_an_example_the_rule_misses(tmp_path):
    path = write_rules(
        tmp_path,
        lambda raw: rule(raw, "religious_duty")["must_flag"].append("Lovely weather today."),
    )
    failures = example_failures(load_rules(path))
    assert failures == ["religious_duty should flag: 'Lovely weather today.'"]


# ---------------------------------------------------------------- CLI


def test_check_draft_reads_stdin_and_prints_json():
    out = io.StringIO()
    code = run_check_draft([], io.StringIO("You're destroying this family.\n"), out)
    data = json.loads(out.getvalue())
    assert code == 0
    assert data["verdict"] == "soften"
    assert [flag["rule"] for flag in data["flags"]] == ["children_guilt"]


def test_check_draft_with_empty_stdin_is_an_error():
    out = io.StringIO()
    assert run_check_draft([], io.StringIO("  \n"), out) == 1
    assert "error" in json.loads(out.getvalue())


def test_check_draft_jsonl_keeps_going_past_a_bad_line(tmp_path):
    path = tmp_path / "drafts.jsonl"
    path.write_text(
        '{"text": "Thanks for the update."}\n'
        "not json\n"
        "\n"
        '{"nope": 1}\n'
        '{"text": "Morning", "recent_unanswered": 5}\n',
        encoding="utf-8",
    )
    out = io.StringIO()
    code = run_check_draft(["--jsonl", str(path)], io.StringIO(), out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 1
    assert len(lines) == 4
    assert lines[0] == {"verdict": "ok", "flags": []}
    assert lines[1]["line"] == 2 and "error" in lines[1]
    assert lines[2]["line"] == 4 and "text" in lines[2]["error"]
    assert lines[3]["verdict"] == "wait"


def test_check_draft_jsonl_all_good_exits_zero(tmp_path):
    path = tmp_path / "drafts.jsonl"
    path.write_text('{"text": "You never listen"}\n{"text": "Sure."}\n', encoding="utf-8")
    out = io.StringIO()
    assert run_check_draft(["--jsonl", str(path)], io.StringIO(), out) == 0
    verdicts = [json.loads(line)["verdict"] for line in out.getvalue().splitlines()]
    assert verdicts == ["soften", "ok"]


def test_check_draft_rejects_unknown_arguments():
    out = io.StringIO()
    assert run_check_draft(["--bogus"], io.StringIO("hi"), out) == 2
    assert "usage" in json.loads(out.getvalue())["error"]


def test_eval_drafts_prints_scores_counts_and_speed():
    out = io.StringIO()
    code = run_eval_drafts([], out)
    text = out.getvalue()
    assert code == 0
    assert "precision:" in text and "recall:" in text and "ms per draft" in text


def test_eval_drafts_json_and_failing_exit_code(tmp_path):
    data = tmp_path / "labelled.jsonl"
    data.write_text(
        '{"text": "You made the wrong decision", "label": "flag"}\n'
        '{"text": "Thanks for the update.", "label": "flag"}\n'
        '{"text": "Sure.", "label": "ok"}\n',
        encoding="utf-8",
    )
    out = io.StringIO()
    code = run_eval_drafts(["--data", str(data), "--json"], out)
    summary = json.loads(out.getvalue())
    assert code == 1
    assert (summary["tp"], summary["fp"], summary["fn"], summary["tn"]) == (1, 0, 1, 1)
    assert summary["precision"] == 1.0 and summary["recall"] == 0.5
    assert [row["text"] for row in summary["misclassified"]] == ["Thanks for the update."]


# ---------------------------------------------------------------- labelled set


def labelled_rows():
    """The labelled drafts."""
    return read_labelled(DEFAULT_LABELLED_PATH)


def test_labelled_set_is_large_and_balanced_enough():
    rows = labelled_rows()
    labels = [row["label"] for row in rows]
    assert len(rows) >= 170
    assert labels.count("ok") >= 60 and labels.count("flag") >= 60
    assert len({row["text"] for row in rows}) == len(rows)


def test_precision_and_recall_reach_0_9_on_the_labelled_set():
    out = io.StringIO()
    run_eval_drafts(["--json"], out)
    summary = json.loads(out.getvalue())
    assert summary["precision"] >= 0.9
    assert summary["recall"] >= 0.9


def test_several_different_signs_add_up_to_wait():
    rules = load_rules()
    one = check_draft("Please come back to me.", rules)
    assert one.verdict == "soften"
    several = check_draft(
        "Please come back to me. You made the wrong decision, and the kids need their dad.", rules
    )
    assert len({flag.rule for flag in several.flags}) >= rules.wait_at_flags
    assert several.verdict == "wait"


def test_a_kind_message_after_unanswered_ones_is_about_timing_not_feelings():
    result = check_draft("Happy birthday, hope it's a lovely day.", RULES, recent_unanswered=4)
    assert result.verdict == "wait"
    reply = format_result(result, RULES.texts)
    assert "running high" not in reply and "only the timing" in reply
    shouting = format_result(check_draft("STOP IGNORING ME", RULES), RULES.texts)
    assert "running high" in shouting
