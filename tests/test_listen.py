"""Listening: features, the exported model, the Listener's tiers, free text, and the CLI."""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.content import CONTENT_ROOT, Content
from bot.engine import MENU, Engine, Session, Text
from bot.listen import Listener, features
from bot.listen import data as labelled
from bot.listen.cli import run_check_text, wilson
from bot.listen.features import MAX_CHARS, hashed, normalise
from bot.listen.model import MODEL_PATH, ModelError, TextModel
from bot.model import UserData

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CONTENT = Content.load()
POLICY = CONTENT.policy
LISTENER = POLICY.listener
ENGINE = Engine(CONTENT)
HUB = Session(state=MENU, answers={"safety": "clear"}, plan={"level": 2}, completed_at=NOW)


def test_features_are_stable_and_normalised():
    assert hashed("I'm SOOOO tired") == hashed("i’m sooo tired")
    assert normalise("Café ÉTÉ") == "cafe ete"
    assert hashed("") == []


def test_cached_word_slots_equal_fresh_ones_and_long_words_are_not_kept():
    words = ["tired", "überfordert", "😭", "я", "a" * features.CACHED_LENGTH, "b" * 3000]
    before = features._cached_char_slots.cache_info().currsize
    first = features.slots_of(words)
    assert sorted(features.slots_of(words)) == sorted(first)  # now from the cache
    fresh = set().union(*(features._char_slots(word) for word in words))
    assert fresh <= set(first)
    assert all(0 <= slot < features.BUCKETS for slot in first)
    grown = features._cached_char_slots.cache_info().currsize - before
    assert grown <= len(words) - 1  # the 3,000-letter word was hashed, not kept


def test_no_labelled_message_has_more_distinct_words_than_get_character_ngrams():
    # The cap bounds a long message's cost; it must never change what the model learned from.
    longest = max(
        len(set(features.words(normalise(example.text))))
        for task in labelled.TASKS
        for example in labelled.read_all(
            labelled.train_files(task) + labelled.heldout_files(task), task
        )
    )
    assert longest < features.CHAR_WORDS


def test_model_file_matches_the_training_data():
    model = TextModel.load()
    assert model.data_digest == labelled.training_digest(), "run: python -m bot train"
    assert set(model.heads) == {"crisis", "crisis_kind", "draft", "draft_kinds", "intent"}
    assert MODEL_PATH.stat().st_size < 2_000_000


def test_a_broken_or_missing_model_is_refused_in_plain_words(tmp_path: Path):
    with pytest.raises(ModelError, match="missing; run: python -m bot train"):
        TextModel.load(tmp_path / "nope.bin")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(zlib.compress(b"something else"))
    with pytest.raises(ModelError, match="not a Reconnect text model"):
        TextModel.load(bad)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(zlib.compress(zlib.decompress(MODEL_PATH.read_bytes())[:-10]))
    with pytest.raises(ModelError, match="weights do not match"):
        TextModel.load(cut)


@pytest.mark.parametrize(
    "text",
    ["I took a bunch of pills", "kms", "quiero morir", "je veux mourir", "хочу умереть"],
)
def test_clear_crisis_messages_get_the_full_reply(text):
    signal = LISTENER.crisis(text)
    assert signal is not None and signal.level == "alarm"


def test_the_model_adds_what_the_rules_miss():
    rules_only = Listener(None, POLICY.crisis, POLICY.draft_rules, LISTENER.draft_kinds)
    for missed in ("what's the point of living without her", "wrote letters to my kids tonight"):
        assert rules_only.crisis(missed) is None
        signal = LISTENER.crisis(missed)
        assert signal is not None and signal.level == "alarm"


def test_ordinary_messages_raise_nothing():
    for text in ["can you take the kids on saturday", "we had a nice coffee today"]:
        assert LISTENER.crisis(text) is None


def test_the_whole_message_is_read():
    padding = "we talked about the kids and the house and the car. " * 70
    text = (padding + "i want to kill myself")[:MAX_CHARS]
    assert len(text) > 3000
    signal = LISTENER.crisis(text)
    assert signal is not None and signal.level == "alarm"


def test_a_threat_in_a_draft_is_better_not_sent():
    result = LISTENER.draft("i swear if you take the kids to his place i will lose it")
    assert result.verdict == "wait"


def test_intents_are_recognised_and_off_topic_is_not_understood():
    assert LISTENER.intent("she said she wants a divorce today")[0] == "divorce"
    assert LISTENER.intent("I texted him 6 times last night")[0] == "slipped"
    assert LISTENER.intent("what's a good recipe for banana bread")[0] is None


def test_free_text_at_the_menu_gets_a_reply_for_its_intent_and_keeps_the_place():
    outcome = ENGINE.handle(HUB, Text("she said she wants a divorce today"), NOW)
    reply, place = outcome.replies
    assert any(word in reply.text.lower() for word in ("divorce", "filing", "decision"))
    assert reply.buttons and all(b.data and len(b.data.encode()) <= 64 for b in reply.buttons)
    assert outcome.session.state == MENU and place.text == ENGINE.view(HUB, NOW).text
    assert "I follow buttons" not in reply.text


def test_a_review_button_opens_its_step():
    reply = ENGINE.handle(HUB, Text("she said she wants a divorce today"), NOW).replies[0]
    review = next(b for b in reply.buttons if b.data.startswith("x.open."))
    opened = ENGINE.handle(HUB, __import__("bot.model").model.Press(review.data), NOW)
    assert opened.session.state.startswith("review:")


def test_free_text_mid_walk_gets_a_reply_and_the_step_again():
    session = Session(state="walkthrough:welcome")
    outcome = ENGINE.handle(session, Text("I can't stop crying"), NOW)
    assert len(outcome.replies) == 2
    assert outcome.session.state == "walkthrough:welcome"
    assert POLICY.free_text.mid_walk in outcome.replies[1].text


def test_a_typed_answer_to_a_check_in_is_acknowledged():
    data = UserData(last_checkin_at=NOW - timedelta(hours=1))
    ack = POLICY.free_text.checkin_ack
    reply = ENGINE.handle(HUB, Text("not great, cried all morning"), NOW, data).replies[0]
    assert reply.text.startswith(ack.feelings)
    later = UserData(last_checkin_at=NOW - timedelta(days=2))
    reply = ENGINE.handle(HUB, Text("not great, cried all morning"), NOW, later).replies[0]
    assert not reply.text.startswith((ack.feelings, ack.other))


def test_news_typed_after_a_check_in_is_not_thanked_as_a_mood():
    data = UserData(last_checkin_at=NOW - timedelta(hours=1))
    ack = POLICY.free_text.checkin_ack
    reply = ENGINE.handle(HUB, Text("she told me today she filed for divorce"), NOW, data)
    assert reply.replies[0].text.startswith(ack.other)
    assert not reply.replies[0].text.startswith(ack.feelings)


def test_the_check_in_acknowledgements_are_checked_on_load(tmp_path):
    import yaml

    from bot.listen.replies import load_free_text_replies

    raw = yaml.safe_load((CONTENT_ROOT / "listen.yaml").read_text(encoding="utf-8"))
    raw["checkin_ack"] = {"feelings": "Thanks.", "intents": ["sad", "moody"]}
    (tmp_path / "listen.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_free_text_replies(tmp_path / "listen.yaml")
    assert "checkin_ack: 'other' is missing" in str(error.value)
    assert "checkin_ack: 'moody' is not an intent" in str(error.value)


def test_another_language_is_answered_kindly():
    reply = ENGINE.handle(HUB, Text("hola, no sé qué hacer con mi esposo"), NOW).replies[0]
    assert reply.text in POLICY.free_text.intents["other_language"].replies


def test_check_text_prints_one_json_object_per_message(tmp_path):
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"text": "I took a bunch of pills"}\n{"text": "hi there"}\n')
    out = io.StringIO()
    assert run_check_text(["--jsonl", str(lines)], LISTENER, io.StringIO(), out) == 0
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["crisis"] == "alarm" and second["crisis"] is None
    assert {"crisis", "draft", "intent", "scores"} <= set(first)


def test_wilson_interval():
    low, high = wilson(95, 100)
    assert 0.88 < low < 0.9 and 0.97 < high < 0.99
    assert wilson(0, 0) == (0.0, 0.0)


def test_every_labelled_file_reads_cleanly():
    for task in labelled.TASKS:
        for path in labelled.train_files(task) + labelled.heldout_files(task):
            assert labelled.read(path, task), path


def test_typed_text_is_never_stored(tmp_path):
    from bot.store import Store

    store = Store(tmp_path / "bot.db")
    from bot.service import Service

    service = Service(store, ENGINE, clock=lambda: NOW)
    service.handle(7, Text("hi"))  # a new user (typed text starts the walk-through)
    secret = "Zanzibar flamingo my wife wants a divorce"
    service.handle(7, Text(secret))
    dump = "\n".join(repr(r) for t in store.db.table_names() for r in store.db[t].rows)
    assert "Zanzibar" not in dump and "flamingo" not in dump
    counts = {row["name"]: row["value"] for row in store.db["counters"].rows}
    assert counts.get("heard_divorce") == 1  # only a count by intent
    store.close()


@pytest.mark.slow
def test_training_is_reproducible(tmp_path):
    pytest.importorskip("sklearn")
    from bot.listen.train import build

    assert zlib.decompress(build()) == zlib.decompress(MODEL_PATH.read_bytes())


def with_thresholds(**changed: float) -> Listener:
    """The bot's listener with some of the model's thresholds changed."""
    assert LISTENER.model is not None
    thresholds = {**LISTENER.model.thresholds, **changed}
    model = replace(LISTENER.model, thresholds=thresholds)
    return Listener(model, POLICY.crisis, POLICY.draft_rules, LISTENER.draft_kinds)


def test_a_model_alarm_about_another_time_or_person_is_only_the_question():
    eager = with_thresholds(crisis_alarm=0.0, crisis_rule_veto=0.0, crisis_alarm_bare=0.0)
    about_then = eager.crisis("my uncle passed away when i was twelve, we talk about him")
    assert about_then is not None and about_then.level == "check"
    about_now = eager.crisis("we talked about the kids again today")
    assert about_now is not None and about_now.level == "alarm"


def test_the_model_still_asks_about_the_past_said_to_be_safe_now():
    text = "Tried to end my life back in 2015. I'm in a much better place now"
    assert with_thresholds(crisis_check=1.01, crisis_check_risky=1.01).crisis(text) is None
    asked = with_thresholds(crisis_check=0.0).crisis(text)  # the rules say nothing; the model asks
    assert asked is not None and asked.level == "check"


def test_a_rules_question_about_the_past_is_dropped_only_when_the_model_is_sure():
    past = "I tried to kill myself when I was 19, a long time ago"
    assert LISTENER.crisis_rules.speaks_of_then(past)
    asked = with_thresholds(crisis_past_veto=0.0).crisis(past)
    assert asked is not None and asked.level == "check"  # the rules soften it to the question
    assert with_thresholds(crisis_past_veto=1.01).crisis(past) is None
    now = "I want to kill myself"  # not about another time: the veto never applies
    alarm = with_thresholds(crisis_past_veto=1.01, crisis_rule_veto=0.0).crisis(now)
    assert alarm is not None and alarm.level == "alarm"
    again = "I tried when I was 19 and tonight I want to kill myself again"
    assert not LISTENER.crisis_rules.speaks_of_then(again)
    assert with_thresholds(crisis_past_veto=1.01).crisis(again) is not None


def test_the_model_alone_needs_a_word_of_risk_for_the_full_reply():
    eager = with_thresholds(crisis_alarm=0.0, crisis_alarm_bare=1.01)
    bare = eager.crisis("I'm going to call her tonight, I decided")
    assert bare is not None and bare.level == "check"
    risky = eager.crisis("I'm going to say goodbye to everyone tonight, I decided")
    assert risky is not None and risky.level == "alarm"


def test_a_figure_of_speech_gets_at_most_the_question_from_the_model_alone():
    eager = with_thresholds(crisis_alarm=0.0, crisis_alarm_bare=0.0)
    figure = eager.crisis("the price gun is killing me one sticker at a time, it is all over")
    assert figure is not None and figure.level == "check"
    plain = eager.crisis("the shift is killing me, it is all over")
    assert plain is not None and plain.level == "alarm"


def test_only_the_figure_of_speech_is_read_past():
    figure = LISTENER.crisis("I'm dying to see the kids on Saturday")
    assert figure is None or figure.level == "check"
    both = LISTENER.crisis("I'm dying to see the kids on Saturday, and after that I want to die")
    assert both is not None and both.level == "alarm"


def test_the_question_comes_sooner_when_the_message_has_a_word_of_risk():
    keen = with_thresholds(crisis_alarm=1.01, crisis_check=1.01, crisis_check_risky=0.0)
    assert keen.crisis("I'm going to call her tonight, I decided") is None
    risky = keen.crisis("I'm going to say goodbye to everyone tonight, I decided")
    assert risky is not None and risky.level == "check"


def test_the_question_thresholds_are_chosen_together_within_the_limits():
    np = pytest.importorskip("numpy")
    from bot.listen.train import check_thresholds

    scores = np.array([0.9, 0.6, 0.55, 0.8, 0.3, 0.7])
    positive = np.array([True, True, True, False, False, False])
    risky = np.array([True, True, False, False, True, True])
    negatives = ~positive
    bare_at, risky_at, recall = check_thresholds(scores, positive, risky, [(negatives, 0.34)])
    asked = scores >= np.where(risky, risky_at, bare_at)
    assert asked[negatives].mean() <= 0.34
    # One negative may be asked about: the risky one at 0.7 costs less recall than the bare 0.8.
    assert 0.3 < risky_at <= 0.6 and bare_at > 0.8
    assert (bare_at, risky_at) == (0.95, 0.6)  # ties keep the higher thresholds
    assert asked[positive].sum() == 2
    assert recall == 2 / 3


@pytest.mark.parametrize("argv, code", [(["--help"], 0), (["--outt", "x"], 2)])
def test_train_help_or_a_typo_exits_without_training(argv, code, capsys):
    pytest.importorskip("sklearn")
    from bot.listen import train

    before = MODEL_PATH.stat().st_mtime_ns
    with pytest.raises(SystemExit) as exit_:
        train.main(argv)
    assert exit_.value.code == code
    assert MODEL_PATH.stat().st_mtime_ns == before


def test_the_benchmark_s_worst_real_texts_are_fixed_and_joined_from_training_messages():
    from bench.listening import worst_texts
    from bot.listen import data as labelled

    texts = worst_texts()
    assert set(texts) == set(labelled.TASKS)
    for task, text in texts.items():
        assert len(text) == MAX_CHARS
        training = labelled.read_all(labelled.train_files(task), task)
        words = {word for example in training for word in example.text.split()}
        assert set(text.split()[:-1]) <= words  # the last word may be cut


def test_the_benchmark_times_its_worst_inputs_with_nothing_cached():
    from bench.listening import long_real_text, understand

    messages = ["she left", "i can't sleep at all", "ok"]
    text = long_real_text(messages)
    assert len(text) == MAX_CHARS
    assert set(text.split()[:-1]) <= {w for m in messages for w in m.split()}  # the last is cut
    understand(LISTENER, "a warm word cache")
    assert features._cached_char_slots.cache_info().currsize > 0
    assert understand(LISTENER, "I want to die", cold=True) > 0
    assert features._cached_char_slots.cache_info().currsize == 4  # only this message's words
