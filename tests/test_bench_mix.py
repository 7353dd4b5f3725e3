"""The benchmark's mix takes the paths it names: free text at the menu and mid-walk, check-in
answers and drafts are what the bot sees them as (no timing here; speed is `python -m bench`)."""

import random
import shutil

import pytest

from bench.datagen import CHECKED_IN, FIRST_USER_ID, NOW, generate
from bench.stub import StubRequest
from bench.updates import SCENARIOS, Mix
from bot.flows import MENU
from bot.model import Command, Text
from bot.service import Service
from bot.store import Store

USERS = 200


@pytest.fixture(scope="module")
def generated(tmp_path_factory, engine):
    path = tmp_path_factory.mktemp("bench") / "users.db"
    generate(path, USERS, engine, due=20)
    return path


@pytest.fixture
def mix(generated, tmp_path, engine):
    shutil.copyfile(generated, tmp_path / "bench.db")
    store = Store(tmp_path / "bench.db")
    service = Service(store, engine, clock=lambda: NOW)
    yield Mix(users=USERS, rng=random.Random(3), stub=StubRequest(), service=service)
    store.close()


def typed(mix: Mix, scenario: str) -> tuple[int, str]:
    """The user and text of the one update a typing scenario makes."""
    (op,) = list(SCENARIOS[scenario][1](mix))
    assert op.kind == scenario and op.update is not None
    message = op.update["message"]
    return message["from"]["id"], message["text"]


def test_free_text_at_the_menu_is_answered_by_intent_and_the_menu(mix):
    ack = mix.service.engine.policy.free_text.checkin_ack
    for _ in range(20):
        user, text = typed(mix, "text_menu")
        assert mix.service.store.load_session(user).state == MENU
        result = mix.service.handle(user, Text(text), "en")
        assert not result.replies[0].text.startswith((ack.feelings, ack.other))  # not one


def test_free_text_mid_walk_comes_from_users_still_walking(mix):
    for _ in range(20):
        user, _ = typed(mix, "text_walk")
        assert mix.service.store.load_session(user).completed_at is None


def test_a_checkin_answer_is_answered_as_one(mix):
    ack = mix.service.engine.policy.free_text.checkin_ack
    for _ in range(20):
        user, text = typed(mix, "checkin_answer")
        assert (user - FIRST_USER_ID) % 10 == CHECKED_IN
        result = mix.service.handle(user, Text(text), "en")
        assert result.replies[0].text.startswith((ack.feelings, ack.other)), text


def test_a_draft_is_typed_at_the_draft_step(mix):
    open_, typed_draft = list(SCENARIOS["draft"][1](mix))
    assert (open_.kind, typed_draft.kind) == ("draft_open", "draft")
    user = open_.update["message"]["from"]["id"]
    mix.service.handle(user, Command("draft"), "en")
    step = mix.service.engine.flows.step(mix.service.store.load_session(user).state)
    assert step.text_input is not None  # the draft is typed where a draft is asked for


def test_the_stock_bot_taps_through_its_walk_one_update_at_a_time(tmp_path):
    from bench.stock import generate as generate_pickle
    from bench.stock import run_sync, steps

    path = tmp_path / "stock.pickle"
    generate_pickle(path, 50, len(steps()))
    result = run_sync(path, 50, 20, on_flush=True)
    assert result["updates"] == 20 and result["updates_per_s"] > 0
    # Every tap is answered and followed by the next step, warm-up included.
    assert result["api_calls"]["answerCallbackQuery"] == result["api_calls"]["sendMessage"]
