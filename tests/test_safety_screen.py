"""The safety screen and crisis replies in the engine: resources, coaching off and on, check-ins."""

import shutil
from datetime import UTC, datetime, timedelta

import pytest

from bot.content import CONTENT_ROOT, Content
from bot.engine import MENU, SAFETY_MENU, Command, Engine, Press, Session, Text
from bot.model import SaveCheckins, UserData
from bot.policy.plan import plan_from_answers
from bot.store import Store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ENGINE = Engine(Content.load())
ALARM, CHECK = "i wanna kil myself", "This is killing me"
SETTINGS = {"checkin_time": "19:00", "tz": "Europe/London"}


def press(session, label_part, data=None):
    """Press the current step's button whose label contains `label_part`."""
    reply = ENGINE.view(session, NOW, data)
    matches = [b for b in reply.buttons if label_part.lower() in b.label.lower()]
    assert matches, f"no button like {label_part!r} at {session.state}: {reply.buttons}"
    return ENGINE.handle(session, Press(matches[0].data), NOW, data)


def at_safety(answers=None) -> Session:
    return Session(state="walkthrough:safety", answers=dict(answers or {}))


@pytest.mark.parametrize(
    ("language", "country", "expected"),
    [
        ("en-GB", None, ["999", "0808 2000 247", "Citizens Advice"]),
        ("en", "US", ["911", "1-800-799-7233", "LawHelp.org"]),
        ("de", None, ["112", "116 016"]),
        (None, None, ["local emergency number", "findahelpline.com", "legal aid"]),
    ],
)
def test_concern_shows_the_users_own_resources(language, country, expected):
    answers = {"country": country} if country else {}
    outcome = press(at_safety(answers), "something here applies", UserData(language=language))
    text = outcome.replies[-1].text
    assert outcome.session.state == "walkthrough:safety_concern"
    assert "court order" in text and "dangerous" in text
    for piece in expected:
        assert piece in text


def test_concern_keeps_the_self_care_checkins_it_promises(tmp_path):
    store = Store(tmp_path / "bot.db")
    due = NOW + timedelta(hours=2)
    store.commit(7, Session(), [SaveCheckins(SETTINGS, due, "checkin")], NOW)
    data = store.load_user_data(7, NOW)
    outcome = press(at_safety(), "something here applies", data)
    assert "gentle check-ins" in outcome.replies[-1].text  # said, and kept
    store.commit(7, outcome.session, outcome.effects, NOW)
    row = store.db["checkins"].get(7)
    assert row["due_at"] == due.isoformat()
    assert store.load_user_data(7, NOW).checkins == SETTINGS


def test_concern_without_checkin_settings_changes_no_checkins():
    outcome = press(at_safety(), "something here applies")
    assert not any(isinstance(effect, SaveCheckins) for effect in outcome.effects)


def test_plan_is_refused_while_coaching_is_off():
    session = Session(state=SAFETY_MENU, answers={"safety": "concern"}, completed_at=NOW)
    session.plan = {"level": 2}
    outcome = ENGINE.handle(session, Command("plan"), NOW)
    assert "safety comes first" in outcome.replies[0].text.lower()
    assert outcome.session.state == SAFETY_MENU
    assert ENGINE.handle(session, Command("menu"), NOW).session.state == SAFETY_MENU


def test_every_needs_plan_command_is_refused_while_coaching_is_off():
    session = Session(state=SAFETY_MENU, answers={"safety": "concern"}, completed_at=NOW)
    session.plan = {"level": 2}
    for command in ENGINE.messages.commands:
        if command.needs == "plan":
            outcome = ENGINE.handle(session, Command(command.command), NOW)
            assert outcome.session.state == SAFETY_MENU, command.command


def test_safety_menu_offers_self_care_and_help_only():
    session = Session(state=SAFETY_MENU, answers={"safety": "concern"})
    labels = [b.label for b in ENGINE.view(session, NOW).buttons]
    assert "Ideas for looking after myself" in labels and "Where to find help" in labels
    assert not any("plan" in label.lower() for label in labels)
    helped = press(session, "where to find help", UserData(language="en-GB"))
    assert "999" in helped.replies[-1].text and "Samaritans" in helped.replies[-1].text


def test_revisiting_and_answering_clear_without_assessment_starts_it():
    session = Session(state=SAFETY_MENU, answers={"safety": "concern"})
    session = press(session, "safety questions again").session
    assert session.state == "walkthrough:safety"
    outcome = press(session, "none of this applies")
    # Clearing a reported danger is acknowledged and confirmed, with help shown.
    assert outcome.session.state == "walkthrough:safety_recheck"
    assert "Earlier you told me" in outcome.replies[-1].text
    assert "emergency" in outcome.replies[-1].text
    outcome = press(outcome.session, "yes, no order and i feel safe")
    assert outcome.session.answers["safety"] == "clear"
    assert outcome.session.state == "walkthrough:living_q"


def test_revisiting_and_answering_clear_with_a_plan_turns_coaching_back_on():
    answers = {"safety": "clear", "living": "moved_out", "feelings": "intervention",
               "response": "warm", "frequency": "weekly"}  # fmt: skip
    plan = plan_from_answers(answers, ENGINE.policy.dose_table).as_dict()
    session = Session(state=MENU, answers=answers, plan=plan, completed_at=NOW)
    session = ENGINE.handle(session, Command("safety"), NOW).session
    session = press(session, "something here applies").session
    assert "safety comes first" in ENGINE.handle(session, Command("plan"), NOW).replies[0].text
    session = ENGINE.handle(session, Command("safety"), NOW).session
    session = press(session, "not sure").session
    session = press(session, "none of this is true").session
    assert session.state == "walkthrough:safety_recheck"
    still = press(session, "something still applies").session
    assert still.state == "walkthrough:safety_concern" and still.coaching_off
    session = press(session, "yes, no order and i feel safe").session
    assert session.state == "walkthrough:safety_clear_again"
    session = press(session, "open the menu").session
    assert session.state == MENU
    outcome = ENGINE.handle(session, Command("plan"), NOW)
    assert outcome.session.state == "hub:plan"
    assert f"level {plan['level']}" in outcome.replies[0].text.lower()


# ---------------------------------------------------------------- crisis anywhere


def crisis_everywhere_cases():
    walkthrough = Session(state="walkthrough:living_q", answers={"safety": "clear"})
    hub = Session(state=MENU, answers={"safety": "clear"}, plan={"level": 2}, completed_at=NOW)
    safety = Session(state=SAFETY_MENU, answers={"safety": "concern"})
    return [None, walkthrough, hub, safety]


@pytest.mark.parametrize("session", crisis_everywhere_cases(), ids=["new", "walk", "hub", "safe"])
def test_alarm_stops_the_flow_with_help_buttons_and_stores_nothing(session):
    outcome = ENGINE.handle(session, Text(ALARM), NOW, UserData(language="en-US"))
    assert not outcome.changed and outcome.effects == [] and outcome.session == session
    (reply,) = outcome.replies
    assert "pausing our coaching" in reply.text and "911" in reply.text
    urls = [b.url for b in reply.buttons if b.url]
    assert "https://988lifeline.org" in urls
    assert [b.data for b in reply.buttons if b.data] == ["x.crisis_later.self_harm"]


def test_check_phrase_gets_the_softer_check_and_ok_returns_to_the_step():
    session = Session(state="walkthrough:living_q", answers={"safety": "clear"})
    outcome = ENGINE.handle(session, Text(CHECK), NOW)
    (reply,) = outcome.replies
    assert "Are you safe right now?" in reply.text and "pausing" not in reply.text
    ok = next(b for b in reply.buttons if b.data and b.data.startswith("x.crisis_ok"))
    after = ENGINE.handle(session, Press(ok.data), NOW)
    assert "Thank you for letting me know" in after.replies[0].text
    assert "living situation" in after.replies[0].text
    assert after.session.state == session.state
    helped = ENGINE.handle(session, Press(reply.buttons[0].data), NOW)
    assert "pausing our coaching" in helped.replies[0].text


def test_continue_later_is_kind_and_keeps_the_place():
    session = Session(state="walkthrough:living_q", answers={"safety": "clear"})
    outcome = ENGINE.handle(session, Text(ALARM), NOW)
    later = next(b for b in outcome.replies[0].buttons if b.label.startswith("I'm safe"))
    after = ENGINE.handle(session, Press(later.data), NOW)
    assert "/start" in after.replies[0].text
    assert after.session.state == session.state


def test_crisis_country_setting_chooses_the_resources():
    session = Session(state=MENU, answers={"country": "GB"}, completed_at=NOW)
    outcome = ENGINE.handle(session, Text(ALARM), NOW, UserData(language="en-US"))
    assert "999" in outcome.replies[0].text and "911" not in outcome.replies[0].text


def test_crisis_in_a_free_text_step_stops_before_the_answer_is_taken(tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(CONTENT_ROOT, flows)
    (flows / "notes.yaml").write_text(
        "flow: notes\nstart: ask\nsteps:\n"
        "  ask:\n    text: Type a note.\n"
        "    input: {answer: note, max_chars: 500, to: done}\n"
        "  done:\n    text: Saved.\n"
        "    buttons:\n      - {label: Back, to: 'hub:menu'}\n",
        encoding="utf-8",
    )
    engine = Engine(Content.load(flows))
    session = Session(state="notes:ask", answers={"safety": "clear"}, completed_at=NOW)
    outcome = engine.handle(session, Text("i want to kill myself tonight"), NOW)
    assert not outcome.changed and outcome.session == session and "note" not in session.answers
    assert "pausing our coaching" in outcome.replies[0].text
    fine = engine.handle(session, Text("I'd kill for a coffee"), NOW)
    assert fine.session.state == "notes:done" and fine.session.answers["note"]


def test_not_sure_keeps_coaching_off_until_none_applies():
    answers = {"safety": "concern", "frequency": "weekly"}
    session = Session(state=SAFETY_MENU, answers=answers, plan={"level": 2}, completed_at=NOW)
    session = press(session, "safety questions again").session
    session = press(session, "not sure").session
    assert session.state == "walkthrough:safety_unsure"
    assert "safety comes first" in ENGINE.handle(session, Command("plan"), NOW).replies[0].text


@pytest.mark.parametrize(("days", "rechecked"), [(0, True), (90, True), (91, False)])
def test_clearing_is_confirmed_within_90_days_of_reported_danger(days, rechecked):
    reported = (NOW - timedelta(days=days)).date().isoformat()
    session = at_safety({"safety": "clear", "safety_concern_on": reported})
    session = ENGINE.handle(session, Command("safety"), NOW).session
    outcome = press(session, "none of this applies")
    assert (outcome.session.state == "walkthrough:safety_recheck") is rechecked


def test_reporting_danger_keeps_its_day():
    outcome = press(at_safety(), "something here applies")
    assert outcome.session.answers["safety_concern_on"] == NOW.date().isoformat()
