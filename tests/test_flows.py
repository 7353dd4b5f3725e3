"""The flow loader: valid content loads; each kind of mistake is named with file and step."""

from pathlib import Path

import pytest
import yaml

from bot.flows import FLOWS_DIR, POINT_IDS, FlowError, load_flows, load_messages


def valid_walkthrough() -> dict:
    """A tiny walkthrough that passes every check."""
    return {
        "flow": "walkthrough",
        "start": "welcome",
        "steps": {
            "welcome": {
                "covers": ["R1"],
                "text": "Hello there.",
                "buttons": [{"label": "Begin", "to": "living"}],
            },
            "living": {
                "covers": [],
                "text": "Where do things stand?",
                "answer": "living",
                "buttons": [
                    {"label": "They moved out", "value": "moved_out"},
                    {"label": "Still together", "value": "together"},
                ],
                "next": [{"if": {"living": "together"}, "to": "together"}, {"to": "plan"}],
            },
            "together": {
                "covers": ["R18"],
                "text": "Under one roof.",
                "buttons": [{"label": "Go on", "to": "plan"}],
            },
            "plan": {
                "covers": list(POINT_IDS),
                "actions": ["save_plan"],
                "text": "Level {plan.level}: {plan.dose_text}.",
                "buttons": [{"label": "Again", "to": "welcome"}],
            },
        },
    }


def write(directory: Path, *flows: dict) -> Path:
    for flow in flows:
        (directory / f"{flow['flow']}.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    return directory


def problems_for(tmp_path: Path, flow: dict) -> str:
    with pytest.raises(FlowError) as caught:
        load_flows(write(tmp_path, flow))
    return str(caught.value)


def test_valid_flow_loads(tmp_path):
    flows = load_flows(write(tmp_path, valid_walkthrough()))
    assert set(flows.steps) == {
        "walkthrough:welcome",
        "walkthrough:living",
        "walkthrough:together",
        "walkthrough:plan",
    }
    assert flows.covered_points() == set(POINT_IDS)
    routes = flows.step("walkthrough:living").routes
    assert routes[0].matches({"living": "together"}) and not routes[0].matches({"living": "x"})


def test_unknown_target_is_named(tmp_path):
    flow = valid_walkthrough()
    flow["steps"]["together"]["buttons"][0]["to"] = "nowhere"
    assert "walkthrough.yaml: step 'together': unknown target 'walkthrough:nowhere'" in (
        problems_for(tmp_path, flow)
    )


def test_unreachable_step_is_named(tmp_path):
    flow = valid_walkthrough()
    flow["steps"]["orphan"] = {"text": "Alone.", "buttons": [{"label": "Back", "to": "welcome"}]}
    assert "step 'orphan': unreachable" in problems_for(tmp_path, flow)


def test_dead_end_is_named(tmp_path):
    flow = valid_walkthrough()
    flow["steps"]["together"]["buttons"] = []
    assert "step 'together': dead end" in problems_for(tmp_path, flow)


def test_unknown_point_id_is_named(tmp_path):
    flow = valid_walkthrough()
    flow["steps"]["welcome"]["covers"] = ["R22"]
    assert "step 'welcome': unknown point id 'R22'" in problems_for(tmp_path, flow)


def test_uncovered_point_is_reported(tmp_path):
    flow = valid_walkthrough()
    flow["steps"]["plan"]["covers"] = ["R15"]
    assert "points not covered by any reachable step" in problems_for(tmp_path, flow)


def test_duplicate_step_id_is_named(tmp_path):
    write(tmp_path, valid_walkthrough())
    path = tmp_path / "walkthrough.yaml"
    path.write_text(
        path.read_text() + "  welcome:\n    text: again\n    buttons: [{label: x, to: plan}]\n"
    )
    with pytest.raises(FlowError, match=r"walkthrough.yaml, line \d+: 'welcome' appears twice"):
        load_flows(tmp_path)


def test_over_long_text_and_label_are_named(tmp_path):
    flow = valid_walkthrough()
    flow["steps"]["welcome"]["text"] = "word " * 81
    flow["steps"]["together"]["buttons"][0]["label"] = "x" * 41
    problems = problems_for(tmp_path, flow)
    assert "step 'welcome': text has 81 words" in problems
    assert "step 'together': button 'xxxx" in problems and "label must be 1..40" in problems


def test_conditions_must_use_stored_answers(tmp_path):
    flow = valid_walkthrough()
    flow["steps"]["living"]["next"][0]["if"] = {"living": "on_the_moon"}
    assert "value 'on_the_moon' is never stored for 'living'" in problems_for(tmp_path, flow)
    flow["steps"]["living"]["next"][0]["if"] = {"mood": "sunny"}
    assert "condition on unknown answer 'mood'" in problems_for(tmp_path, flow)


def test_last_route_must_be_unconditional(tmp_path):
    flow = valid_walkthrough()
    flow["steps"]["living"]["next"] = [{"if": {"living": "together"}, "to": "together"}]
    assert "the last route must have no 'if'" in problems_for(tmp_path, flow)


def test_unknown_placeholder_and_action(tmp_path):
    flow = valid_walkthrough()
    flow["steps"]["plan"]["text"] = "Hello {user.name}"
    flow["steps"]["plan"]["actions"] = ["launch_rockets"]
    problems = problems_for(tmp_path, flow)
    assert "unknown placeholder '{user.name}'" in problems
    assert "unknown action 'launch_rockets'" in problems


def test_button_value_required_when_step_stores_an_answer(tmp_path):
    flow = valid_walkthrough()
    del flow["steps"]["living"]["buttons"][0]["value"]
    assert "needs a 'value'" in problems_for(tmp_path, flow)


def test_every_problem_is_reported_at_once(tmp_path):
    flow = valid_walkthrough()
    flow["steps"]["welcome"]["covers"] = ["R99"]
    flow["steps"]["together"]["buttons"][0]["label"] = ""
    assert len(problems_for(tmp_path, flow).splitlines()) >= 3


def test_project_messages_load_and_list_commands():
    messages = load_messages()
    assert {c.command for c in messages.commands} >= {"start", "help", "about", "reset"}
    assert "Jack Ito" in messages["about"]


def test_flow_texts_have_one_style_and_no_empty_covers():
    """Every step text is a literal block (`text: |`): the file shows the lines that are sent."""
    for path in sorted(FLOWS_DIR.glob("*.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if "flow:" not in {line.split(" ")[0] for line in lines}:
            continue  # not a flow file
        for number, line in enumerate(lines, 1):
            stripped = line.strip()
            assert stripped != "covers: []", f"{path.name}:{number}: drop the empty covers"
            if stripped.startswith("text:"):
                assert stripped == "text: |", f"{path.name}:{number}: write texts as 'text: |'"
