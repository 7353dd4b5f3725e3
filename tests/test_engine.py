"""The engine on the real flows: every branch reaches the plan and the hub; commands; bad input."""

import itertools
from datetime import UTC, datetime

import pytest

from bot.content import Content
from bot.engine import MENU, Command, Engine, Media, Press, Session, Text, step_token
from bot.flows import ENTRY

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ENGINE = Engine(Content.load())


def press(session, label_part):
    """Press the current step's button whose label contains `label_part`."""
    reply = ENGINE.view(session, NOW)
    matches = [b for b in reply.buttons if label_part.lower() in b.label.lower()]
    assert matches, f"no button like {label_part!r} at {session.state}: {reply.buttons}"
    return ENGINE.handle(session, Press(matches[0].data), NOW)


def walk(answers: dict[str, str]) -> Session:
    """Walk from the start, choosing stored answers by value, otherwise the first button."""
    outcome = ENGINE.handle(None, Command("start"), NOW)
    session = outcome.session
    for _ in range(200):
        if session.state == MENU:
            return session
        step = ENGINE.flows.step(session.state)
        index = 0
        if step.answer in answers:
            values = [b.value for b in step.buttons]
            index = values.index(answers[step.answer])
        outcome = ENGINE.handle(session, Press(ENGINE.view(session, NOW).buttons[index].data), NOW)
        assert outcome.changed
        session = outcome.session
    raise AssertionError(f"stuck at {session.state}")


ASSESSMENTS = [
    dict(zip(("living", "feelings", "response", "frequency"), combo, strict=True))
    for combo in itertools.product(
        ("moved_out", "i_moved_out", "together", "divorce"),
        ("intervention", "out_of_love", "divorce", "someone_else", "not_sure"),
        ("warm", "brief", "cold", "ignored"),
        ("several_daily", "none"),
    )
]


@pytest.mark.parametrize("answers", ASSESSMENTS, ids=lambda a: "-".join(a.values()))
def test_every_branch_reaches_the_plan_and_the_hub(answers):
    session = walk({"safety": "clear", **answers})
    assert session.plan is not None and 1 <= session.plan["level"] <= 4
    assert session.completed_at == NOW
    assert {k: session.answers[k] for k in answers} == answers


def test_branches_cover_their_cases():
    def visited(answers):
        seen, outcome = [], ENGINE.handle(None, Command("start"), NOW)
        session = outcome.session
        while session.state != MENU:
            seen.append(session.state)
            step = ENGINE.flows.step(session.state)
            values = [b.value for b in step.buttons]
            index = values.index(answers[step.answer]) if step.answer in answers else 0
            session = ENGINE.handle(
                session, Press(ENGINE.view(session, NOW).buttons[index].data), NOW
            ).session
        return {p for s in seen for p in ENGINE.flows.step(s).covers}

    base = {"safety": "clear", "response": "warm", "frequency": "none"}
    intervention = visited({**base, "living": "moved_out", "feelings": "intervention"})
    out_of_love = visited({**base, "living": "moved_out", "feelings": "out_of_love"})
    together = visited({**base, "living": "together", "feelings": "out_of_love"})
    assert {"R4", "R7"} <= intervention and "R5" not in intervention
    assert {"R5", "R6", "R8", "R17", "R19", "R20"} <= out_of_love and "R7" not in out_of_love
    assert "R18" in together and "R18" not in out_of_love
    everyone = {"R1", "R2", "R3", "R10", "R11", "R12", "R13", "R14", "R15", "R16", "R9", "R21"}
    assert everyone <= intervention & out_of_love & together


def test_safety_concern_stops_contact_coaching():
    session = ENGINE.handle(None, Command("start"), NOW).session
    session = press(session, "begin").session
    outcome = press(session, "something here applies")
    assert outcome.session.answers["safety"] == "concern"
    texts = []
    session = outcome.session
    for _ in range(5):
        texts.append(ENGINE.view(session, NOW).text)
        if session.state == "hub:safety_menu":
            break
        session = ENGINE.handle(
            session, Press(ENGINE.view(session, NOW).buttons[0].data), NOW
        ).session
    assert session.state == "hub:safety_menu"
    assert session.plan is None
    assert any("emergency" in t.lower() for t in texts)


def test_start_resumes_at_the_same_step():
    session = press(ENGINE.handle(None, Command("start"), NOW).session, "begin").session
    outcome = ENGINE.handle(session, Command("start"), NOW)
    assert outcome.session.state == session.state
    assert "/reset" in outcome.replies[0].text
    assert ENGINE.view(session, NOW).text in outcome.replies[0].text
    assert not outcome.changed


def test_reset_yes_clears_answers_and_shows_welcome():
    session = walk({"safety": "clear"})
    asked = ENGINE.handle(session, Command("reset"), NOW)
    assert asked.session.state == MENU and asked.session.pending == "reset"
    yes = next(b for b in asked.replies[0].buttons if b.data == "x.reset_yes")
    done = ENGINE.handle(asked.session, Press(yes.data), NOW)
    assert done.session.state == ENTRY
    assert done.session.answers == {} and done.session.plan is None
    assert done.session.completed_at is None
    assert done.replies[-1].text == ENGINE.view(Session(), NOW).text


def test_reset_cancel_changes_nothing():
    session = walk({"safety": "clear"})
    asked = ENGINE.handle(session, Command("reset"), NOW)
    kept = ENGINE.handle(asked.session, Press("x.reset_no"), NOW)
    assert kept.session == session


def test_old_reset_confirmation_cannot_wipe_later():
    session = walk({"safety": "clear"})
    asked = ENGINE.handle(session, Command("reset"), NOW)
    moved = ENGINE.handle(asked.session, Command("plan"), NOW)  # any other input drops it
    late = ENGINE.handle(moved.session, Press("x.reset_yes"), NOW)
    assert late.session.answers == session.answers
    assert late.notice and "passed" in late.notice


def test_stale_button_gets_the_current_step():
    session = ENGINE.handle(None, Command("start"), NOW).session
    old_data = ENGINE.view(session, NOW).buttons[0].data
    session = press(session, "begin").session
    outcome = ENGINE.handle(session, Press(old_data), NOW)
    assert outcome.session.state == session.state
    assert "passed" in outcome.replies[0].text
    assert ENGINE.view(session, NOW).text in outcome.replies[0].text


@pytest.mark.parametrize(
    "data", ["", "garbage", "s.zzzzzz.0", f"s.{step_token(ENTRY)}.9", "x.nothing", "s..", "💥" * 30]
)
def test_malformed_button_data_is_stale_not_a_crash(data):
    session = ENGINE.handle(None, Command("start"), NOW).session
    outcome = ENGINE.handle(session, Press(data), NOW)
    assert outcome.session.state == ENTRY and "passed" in outcome.replies[0].text


@pytest.mark.parametrize(
    ("event", "phrase"),
    [
        (Text("hello?"), "Here is where we were"),
        (Text("x" * 10_000), "Here is where we were"),
        (Media("sticker"), "stickers"),
        (Command("frobnicate"), "don't know that command"),
    ],
)
def test_bad_input_gets_a_kind_reply_and_the_current_step(event, phrase):
    session = press(ENGINE.handle(None, Command("start"), NOW).session, "begin").session
    outcome = ENGINE.handle(session, event, NOW)
    assert phrase in outcome.replies[-1].text
    assert outcome.replies[-1].buttons == ENGINE.view(session, NOW).buttons
    assert outcome.session == session
    assert all(type(effect).__name__ == "CountHeard" for effect in outcome.effects)  # a count
    assert all("x" * 50 not in reply.text for reply in outcome.replies)  # never echoed back


def test_help_and_about_do_not_move_the_user():
    session = press(ENGINE.handle(None, Command("start"), NOW).session, "begin").session
    help_reply = ENGINE.handle(session, Command("help"), NOW)
    assert "/reset" in help_reply.replies[0].text and not help_reply.changed
    about = ENGINE.handle(session, Command("about"), NOW)
    assert "Jack Ito" in about.replies[0].text and "Reconciling Marriages" in about.replies[0].text
    back = ENGINE.handle(session, Press(about.replies[0].buttons[0].data), NOW)
    assert back.replies[0].text == ENGINE.view(session, NOW).text


def test_menu_and_plan_wait_for_the_end_of_the_walkthrough():
    session = ENGINE.handle(None, Command("start"), NOW).session
    assert "end of the walk-through" in ENGINE.handle(session, Command("menu"), NOW).replies[0].text
    assert "plan comes" in ENGINE.handle(session, Command("plan"), NOW).replies[0].text
    done = walk({"safety": "clear", "feelings": "out_of_love", "response": "cold"})
    shown = ENGINE.handle(done, Command("plan"), NOW)
    assert shown.session.state == "hub:plan" and "level 3" in shown.replies[0].text


def test_hub_offers_review_plan_and_start_over():
    session = walk({"safety": "clear"})
    labels = [b.label for b in ENGINE.view(session, NOW).buttons]
    assert any("plan" in label.lower() for label in labels)
    assert any("revisit" in label.lower() for label in labels)
    start_over = press(session, "start over")
    assert start_over.session.pending == "reset"
    topics = press(session, "revisit").session
    assert topics.state == "review:topics"


def test_step_removed_from_the_flows_recovers():
    stale = Session(state="walkthrough:no_longer_exists", answers={"living": "together"})
    outcome = ENGINE.handle(stale, Command("start"), NOW)
    assert outcome.session.state == ENTRY and outcome.changed


def test_every_text_and_button_fits_telegram():
    for name in ENGINE.flows.steps:
        reply = ENGINE.view(Session(state=name, answers={"response": "cold"}), NOW)
        assert len(reply.text) <= 4096 and "{" not in reply.text
        for button in reply.buttons:
            assert len(button.data.encode()) <= 64


def test_input_is_not_mutated():
    session = ENGINE.handle(None, Command("start"), NOW).session
    before = Session(**vars(session))
    press(session, "begin")
    assert session == before


def test_crisis_message_stops_the_flow_and_stores_nothing():
    session = press(ENGINE.handle(None, Command("start"), NOW).session, "begin").session
    outcome = ENGINE.handle(session, Text("i dont want to live anymore"), NOW)
    assert not outcome.changed and outcome.session == session
    reply = outcome.replies[0]
    assert "emergency" in reply.text.lower()
    assert any(b.url and b.url.startswith("https://") for b in reply.buttons)
    later = next(b for b in reply.buttons if b.data and b.data.startswith("x.crisis_later"))
    after = ENGINE.handle(session, Press(later.data), NOW)
    assert "/start" in after.replies[0].text and after.session.state == session.state


def test_a_figure_of_speech_is_not_an_alarm():
    session = press(ENGINE.handle(None, Command("start"), NOW).session, "begin").session
    outcome = ENGINE.handle(session, Text("I'd kill for a coffee right now"), NOW)
    assert "Here is where we were" in outcome.replies[-1].text  # an ordinary answer, no alarm
    assert all("emergency" not in reply.text.lower() for reply in outcome.replies)


def test_a_newcomer_can_read_privacy_and_help_without_being_stored():
    for name in ("privacy", "help", "about"):
        outcome = ENGINE.handle(None, Command(name), NOW)
        assert outcome.session is None and not outcome.changed and outcome.replies


def test_an_over_long_typed_answer_says_the_limit():
    from bot.model import UserData

    done = walk({"safety": "clear"})
    at_tz = ENGINE.handle(done, Command("timezone"), NOW, UserData()).session
    step = ENGINE.flows.step(at_tz.state)
    outcome = ENGINE.handle(at_tz, Text("x" * (step.text_input.max_chars + 1)), NOW)
    assert str(step.text_input.max_chars) in outcome.replies[0].text
    assert outcome.session == at_tz
