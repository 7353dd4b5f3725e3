"""One content object: every file through one reader, every problem in one report."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.content import CONTENT_ROOT, Content, ContentError
from bot.engine import Command, Engine

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped content."""
    return Path(shutil.copytree(CONTENT_ROOT, tmp_path / "flows"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_content_loads_and_its_rule_examples_pass():
    content = Content.load()
    assert "walkthrough" in content.flows.flows and content.messages["help"]
    assert content.example_failures() == []


def test_every_problem_in_every_file_is_reported_at_once(content_dir):
    edit(content_dir / "hub.yaml", "steps:", "steps: [oops")  # a YAML syntax error
    edit(content_dir / "messages.yaml", "  stale:", "  stale_typo:")  # a message gone
    rules = content_dir / "policy" / "draft_rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + "wait_at_flags: 3\n", encoding="utf-8")
    edit(content_dir / "policy" / "countries.yaml", "names:", "names: 7\nnot_names:")
    edit(content_dir / "policy" / "urge_texts.yaml", "weekdays:", "weekdays_gone:")
    with pytest.raises(ContentError) as raised:
        Content.load(content_dir)
    problems = raised.value.problems
    assert len(problems) >= 5, problems
    joined = "\n".join(problems)
    assert "hub.yaml, line " in joined and "never closed" in joined
    assert "messages.yaml: message 'stale' is missing" in joined
    assert "draft_rules.yaml, line " in joined and "'wait_at_flags' appears twice" in joined
    assert "countries.yaml" in joined and "urge_texts.yaml" in joined
    assert str(raised.value).startswith(f"the content has {len(problems)} problems")


def test_duplicate_keys_are_refused_in_policy_files_too(content_dir):
    crisis = content_dir / "policy" / "crisis.yaml"
    crisis.write_text(crisis.read_text(encoding="utf-8") + "spellings: {}\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"crisis.yaml, line \d+: 'spellings' appears twice"):
        Content.load(content_dir)


def test_an_engine_runs_on_a_temporary_content_folder(content_dir):
    edit(content_dir / "messages.yaml", "  help: |\n", "  help: |\n    Edited help.\n")
    engine = Engine(Content.load(content_dir))
    (reply,) = engine.handle(None, Command("help"), NOW).replies
    assert reply.text.startswith("Edited help.")
    (shipped,) = Engine(Content.load()).handle(None, Command("help"), NOW).replies
    assert "Edited" not in shipped.text


def test_check_flows_reports_rule_examples_the_rules_get_wrong(content_dir, capsys):
    edit(
        content_dir / "policy" / "crisis.yaml",
        '      - {text: "he has a knife", level: alarm}',
        '      - {text: "he has a knife", level: alarm}\n'
        '      - {text: "we had a lovely picnic", level: alarm}',
    )
    edit(
        content_dir / "policy" / "draft_rules.yaml",
        '    must_flag:\n      - "Honestly you\'re wrong about all of it."',
        '    must_flag:\n      - "Honestly you\'re wrong about all of it."\n'
        '      - "Thanks for the photos of the kids"',
    )
    failures = Content.load(content_dir).example_failures()
    assert len(failures) == 2, failures
    assert failures[0].startswith("crisis.yaml: categories.danger_now: should flag as alarm")
    assert "'we had a lovely picnic', but nothing was flagged" in failures[0]
    assert failures[1].startswith("draft_rules.yaml: ") and "Thanks for the photos" in failures[1]
    assert main(["check-flows", "--content", str(content_dir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("2 rule examples the rules get wrong:") and "lovely picnic" in err


def test_several_problems_inside_one_rules_file_are_all_named(content_dir):
    rules = content_dir / "policy" / "draft_rules.yaml"
    text = rules.read_text(encoding="utf-8").replace("severity: soften", "severity: loud", 2)
    rules.write_text(text, encoding="utf-8")
    crisis = content_dir / "policy" / "crisis.yaml"
    text = crisis.read_text(encoding="utf-8")
    text = text.replace('threatening me", level: alarm}', 'threatening me", level: loud}', 1)
    crisis.write_text(text, encoding="utf-8")
    with pytest.raises(ContentError) as raised:
        Content.load(content_dir)
    problems = raised.value.problems
    assert any("decision_wrong" in p and "severity" in p for p in problems), problems
    assert any("feelings_overruled" in p and "severity" in p for p in problems), problems
    assert any(p.startswith("crisis.yaml: categories.danger_now") for p in problems), problems


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("policy/dose.yaml", 'style: "Positive and light."', 'style: "Go no contact for now."'),
        (
            "policy/dose.yaml",
            'note: "Trying to prove',
            'note: "Stop all contact for a month. Trying to prove',
        ),
        ("texts/contacts.yaml", "  over_dose:\n", '  over_dose:\n    - "Go silent for a while."\n'),
        ("texts/plan.yaml", 'plan_suggestion: "', "plan_suggestion: \"Don't contact them. "),
    ],
)
def test_a_plan_text_that_tells_users_to_go_no_contact_is_refused(content_dir, file, old, new):
    edit(content_dir / file, old, new)
    with pytest.raises(ContentError) as refused:
        Content.load(content_dir)
    assert "no contact" in str(refused.value) or "never zero" in str(refused.value)


def test_the_dead_no_contact_texts_are_gone():
    contacts = (CONTENT_ROOT / "texts" / "contacts.yaml").read_text(encoding="utf-8")
    assert "closed:" not in contacts and "start no contact" not in contacts
