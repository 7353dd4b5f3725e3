"""Word gates and start indexes: a crisis search skipped or narrowed only where it cannot match."""

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.listen import data as labelled
from bot.policy.safety import _MASK, _alternation, detect_crisis, load_crisis, normalise
from bot.policy.wordgate import Gate, gate_of, masker, start_index, words_of
from tests.support.bots import Clock, RunningBot
from tests.support.fake_bot_api import FakeBotApi

RULES = load_crisis()


def plain(found: Any) -> Any:
    """A start index or masker searched everywhere, as one alternation: the reference."""
    return found and dataclasses.replace(found, indexed=False)


MASKERS = ("not_now", "unless_now", "safe_now", "alarm_evidence", "hyperbole")
# Every pattern searched everywhere, as one alternation per category and tier: the reference.
UNGATED = dataclasses.replace(
    RULES,
    categories=tuple(
        dataclasses.replace(
            c,
            gate=None,
            alarm=plain(c.alarm),
            check=plain(c.check),
            exclusions=plain(c.exclusions),
        )
        for c in RULES.categories
    ),
    **{name: plain(getattr(RULES, name)) for name in MASKERS},
)


def test_a_gate_holds_the_words_a_pattern_can_start_with():
    assert gate_of([r"(?:i )?(?:just )?got (?:choked|strangled)"]) == Gate(
        frozenset({"i", "just", "got"}), frozenset()
    )
    assert gate_of([r"kil\w* me|suicide"]) == Gate(
        frozenset({"kil", "suicide"}), frozenset({"kil"})
    )
    # "(?:lo|la)" is parsed as "l" and [oa]; the letters after the set still count.
    assert gate_of(["[oa]bc d"]) == Gate(frozenset({"obc", "abc"}), frozenset())
    assert gate_of([r"(?<!never )again"]) == Gate(frozenset({"again"}), frozenset())


def test_a_pattern_that_can_start_anywhere_leaves_its_category_ungated():
    assert gate_of([r"(?:\w+ ){0,3}pills", "kms"]) is None
    assert gate_of([r"\d\d pills"]) is None
    assert gate_of([r"[^a]bc"]) is None
    assert gate_of([r"(?i)kms"]) is None  # another case could match: not gated


def test_the_gate_opens_on_a_whole_word_or_a_beginning():
    gate = Gate(frozenset({"i"}), frozenset({"kil"}))
    assert gate.opens_for(words_of("i am here"))
    assert gate.opens_for(words_of("so kiling it"))
    assert not gate.opens_for(words_of("it is fine"))  # "it" is not "i"


def test_a_start_index_tries_a_pattern_only_where_it_can_start():
    patterns = [r"i (?:want|need) to die", r"kil\w* me", r"(?:\w+ ){0,2}pills"]
    index = start_index(patterns, _alternation)
    assert index.by_word == {"i": (0,), "kil": (1,)} and index.by_prefix == {"kil": (1,)}
    assert index.free is not None  # "(?:\w+ ){0,2}pills" can start anywhere: searched as before
    assert index.search("so i need to die now")
    assert index.search("this is kiling me")
    assert index.search("took all the pills")
    assert not index.search("hi i want to dine")  # "i" starts a try; "dine" is not "die"
    assert not index.search("skill me")  # "skill" does not begin with "kil"


def test_every_crisis_category_has_a_gate():
    assert all(category.gate is not None for category in RULES.categories)


def texts(sample: int | None = None) -> list[str]:
    found = [
        example.text
        for task in labelled.TASKS
        for example in labelled.read_all(
            labelled.train_files(task) + labelled.heldout_files(task), task
        )
    ]
    found += [e.text for c in RULES.categories for e in c.must_flag + c.must_not_flag]
    return found if sample is None else random.Random(7).sample(found, sample)


def test_gated_and_ungated_agree_on_a_sample_of_labelled_messages():
    for text in texts(3000):
        assert detect_crisis(text, RULES) == detect_crisis(text, UNGATED)


def maskers() -> list[Any]:
    found = [getattr(RULES, name) for name in MASKERS]
    return [m for m in found + [c.exclusions for c in RULES.categories] if m is not None]


def test_maskers_find_and_replace_what_their_plain_pattern_does():
    every = maskers()
    assert any(m.anywhere is not None for m in every)  # patterns that can start anywhere too
    rng = random.Random(3)
    sample = texts(3000)
    sample += [" ".join(rng.sample(sample, 30))[:4096] for _ in range(30)]  # long ones too
    for text in sample:
        normal = normalise(text, RULES.normaliser)
        for m in every:
            ours, reference = m.search(normal), m.pattern.search(normal)
            assert (ours and ours.span()) == (reference and reference.span())
            assert m.sub(_MASK, normal) == m.pattern.sub(_MASK, normal)


def test_a_masker_tries_only_where_a_pattern_can_start():
    m = masker([r"(?:pills|tablets) are gone", r"\d+ years ago", r"^so what"], _alternation)
    assert m is not None and m.anywhere is not None  # the last two have no word gate
    text = "so what . the pills are gone and 3 years ago the tablets are gone"
    assert m.sub("#", text) == m.pattern.sub("#", text) == "# . the # and # the #"
    assert m.search("nothing here") is None
    assert m.search("it was 12 years ago").span() == (7, 19)


@pytest.mark.slow
def test_gated_and_ungated_agree_on_every_labelled_message():
    every = texts()
    rng = random.Random(5)
    every += [" ".join(rng.sample(every, 30))[:4096] for _ in range(300)]  # long ones too
    assert [detect_crisis(t, RULES) for t in every] == [detect_crisis(t, UNGATED) for t in every]


GATE_WORDS = sorted({w for c in RULES.categories if c.gate for w in c.gate.words})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(GATE_WORDS) | st.text(max_size=8), max_size=25))
def test_gated_and_ungated_agree_on_made_up_messages(words):
    text = " ".join(words)
    assert detect_crisis(text, RULES) == detect_crisis(text, UNGATED)


PATTERNS = [r"(?:pills|tablets|meds) are gone", r"i (?:want|need) to die", r"i feel nothing"]


def counting_index(patterns: list[str]) -> tuple[Any, list[tuple[str, ...]]]:
    """A start index of these patterns, and the list of what it compiles, in order."""
    compiled: list[tuple[str, ...]] = []

    def counting(sources: list[str]):
        compiled.append(tuple(sources))
        return _alternation(sources)

    return start_index(patterns, counting), compiled


def test_a_pattern_is_compiled_once_however_many_words_it_can_start_with():
    index, compiled = counting_index(PATTERNS)
    for text in ("the pills are gone", "tablets are gone", "meds are gone", "i need to die"):
        assert index.search(text)
    assert not index.search("i feel fine and the tablets are here")
    # One alternation for the three drug words, one for the two patterns filed under "i".
    assert sorted(compiled) == sorted([(PATTERNS[0],), (PATTERNS[1], PATTERNS[2])])


def test_compile_all_compiles_each_group_once_and_first_use_then_compiles_nothing():
    index, compiled = counting_index(PATTERNS)
    assert index.compile_all() == 2
    assert index.compile_all() == 0
    assert index.search("the meds are gone") and index.search("i want to die")
    assert not index.search("i feel fine")
    assert sorted(compiled) == sorted([(PATTERNS[0],), (PATTERNS[1], PATTERNS[2])])


def all_compiled(rules: Any) -> bool:
    """Whether every pattern group of the crisis rules' alarm and check indexes is compiled."""
    indexes = [i for c in rules.categories for i in (c.alarm, c.check) if i is not None]
    return all(len(i._group_patterns) == len(i._groups[2]) for i in indexes)


def test_the_bot_compiles_every_crisis_group_in_the_background_after_start_up():
    from bot.service import build_engine, compile_rules_in_background

    engine = build_engine()
    rules = engine.policy.listener.crisis_rules
    compile_rules_in_background(engine).join(timeout=60)
    assert all_compiled(rules)
    assert rules.compile_all() == 0
    found = detect_crisis("i want to kill myself tonight", rules)
    assert found is not None and found.level == "alarm"


async def test_the_bot_starts_the_background_compile_in_on_startup_only_when_asked(
    fake_api: FakeBotApi, bot_token: str, tmp_db_path: Path, clock: Clock
) -> None:
    from bot.service import build_engine

    engine = build_engine()
    rules = engine.policy.listener.crisis_rules
    plain = await RunningBot(fake_api, bot_token, tmp_db_path, clock, engine).start()
    assert "compiling" not in plain.application.bot_data and not all_compiled(rules)
    await plain.stop()
    asked = RunningBot(fake_api, bot_token, tmp_db_path, clock, engine, compile_rules=True)
    await asked.application.initialize()
    assert not all_compiled(rules)  # initialize() has the core to itself
    await asked.application.shutdown()
    await asked.start()  # initialize(), then on_startup
    asked.application.bot_data["compiling"].join(timeout=60)
    assert all_compiled(rules) and rules.compile_all() == 0
    await asked.stop()
