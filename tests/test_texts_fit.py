"""Every branch of the walk-through and plan says only what is true for that user."""

import itertools

import pytest

from bot.engine import Command
from tests.test_engine import ENGINE, NOW, Press

# Text written for another branch, by what the user answered.
WRONG_FOR = {
    ("living", "together"): ("moved out", "a week that you start", "every two weeks"),
    ("living", "i_moved_out"): ("they left because",),
    ("feelings", "out_of_love"): ("asked you to change",),
    ("feelings", "divorce"): ("asked you to change",),
    ("feelings", "someone_else"): ("asked you to change",),
    ("feelings", "not_sure"): ("asked you to change",),
}
EVERYONE = ("no contact that you start", "should have", "too late for you")

BRANCHES = [
    dict(zip(("living", "feelings", "response", "frequency"), combo, strict=True))
    for combo in itertools.product(
        ("moved_out", "i_moved_out", "together", "divorce"),
        ("intervention", "out_of_love", "divorce", "someone_else", "not_sure"),
        ("warm", "brief", "cold", "ignored"),
        ("daily",),
    )
]


def walked_texts(answers: dict[str, str]) -> list[str]:
    """Every text after the living situation is known (the welcome speaks to everyone)."""
    outcome = ENGINE.handle(None, Command("start"), NOW)
    session, seen, answered = outcome.session, [], False
    for _ in range(200):
        if session.state == "hub:menu":
            break
        step = ENGINE.flows.step(session.state)
        index = 0
        if step.answer in answers:
            index = [b.value for b in step.buttons].index(answers[step.answer])
        outcome = ENGINE.handle(session, Press(ENGINE.view(session, NOW).buttons[index].data), NOW)
        session = outcome.session
        answered = answered or "living" in session.answers
        if answered:
            seen += [r.text for r in outcome.replies]
    plan = ENGINE.handle(session, Command("plan"), NOW)
    seen += [r.text for r in plan.replies]
    return seen


@pytest.mark.parametrize("answers", BRANCHES, ids=lambda a: "-".join(a.values()))
def test_no_text_written_for_another_branch(answers):
    wrong = [*EVERYONE]
    for (question, value), phrases in WRONG_FOR.items():
        if answers.get(question) == value:
            wrong += phrases
    for text in walked_texts({"safety": "clear", **answers}):
        lowered = text.lower()
        for phrase in wrong:
            assert phrase not in lowered, f"{answers}: {phrase!r} in {text!r}"


def test_the_check_fails_on_a_mismatch():
    texts = walked_texts({"safety": "clear", "living": "moved_out", "feelings": "intervention"})
    assert any("asked you to change" in text.lower() for text in texts)  # right for this one
