"""Crisis detection, safety resources and crisis replies (issue 5)."""

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.policy.safety import (
    ACTION_HELP,
    ACTION_LATER,
    ACTION_OK,
    DEFAULT_CRISIS_PATH,
    DEFAULT_RESOURCES_PATH,
    CrisisSignal,
    SafetyDataError,
    crisis_example_failures,
    crisis_reply,
    detect_crisis,
    is_https_url,
    load_crisis,
    load_resources,
    normalise,
    resources_for,
    safety_stop_text,
)

RULES = load_crisis()
RESOURCES = load_resources()
FINDER = "https://findahelpline.com"
TELEGRAM_LIMIT = 4096


def _level(text: str) -> str | None:
    """Return just the level detected in a text."""
    signal = detect_crisis(text, RULES)
    return signal.level if signal else None


# ---------------------------------------------------------------- data-driven examples

MUST_FLAG = [e for c in RULES.categories for e in c.must_flag]
MUST_NOT_FLAG = [e for c in RULES.categories for e in c.must_not_flag]


@pytest.mark.parametrize("example", MUST_FLAG, ids=lambda e: f"{e.category}:{e.text}")
def test_must_flag_examples(example):
    assert detect_crisis(example.text, RULES) == CrisisSignal(example.level, example.category)


@pytest.mark.parametrize("example", MUST_NOT_FLAG, ids=lambda e: f"{e.category}:{e.text}")
def test_must_not_flag_examples(example):
    assert _level(example.text) == example.level


def test_every_category_has_both_kinds_of_examples():
    names = {c.name for c in RULES.categories}
    assert names == {"self_harm", "harm_others", "danger_now", "distress"}
    for category in RULES.categories:
        assert category.must_flag and category.must_not_flag, category.name
    assert any(e.level == "alarm" for e in MUST_FLAG)
    assert any(e.level is None for e in MUST_NOT_FLAG)


# ---------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "text",
    [
        "I want to kill myself",
        "i want to kill myself",
        "I WANT TO KILL MYSELF",
        "I want to kil myself",
        "I want to killll myselffff",
        "i wanna kill myself",
        "I want to kill my self",
        "I want to kill myslef",
        "I want to un-alive myself",
        "Im going to end it all",
        "I’m going to end it all",
        "I\u2019m going to end my life.",
        "Ｉ want to kill myself",  # full-width letter
        "I’ve been having thoughts of sucide",
        "I feel suicidal",
        "dont want to be here anymore",
        "don’t want to be here anymore",
        "do not want to be here anymore",
        "they'd all be better off without me",
        "theyd be better off without me",
        "I just want to hurt myself",
        "I've started cutting myself again",
    ],
)
def test_self_harm_copes_with_spelling_case_quotes_and_contractions(text):
    assert detect_crisis(text, RULES) == CrisisSignal("alarm", "self_harm")


@pytest.mark.parametrize(
    "text",
    [
        "I want to kill him",
        "I could kill her!!!",
        "I'm going to KILL THEM",
        "im gonna make her pay",
        "I’m going to make him pay for what he did",
    ],
)
def test_harm_to_others_is_an_alarm(text):
    assert detect_crisis(text, RULES) == CrisisSignal("alarm", "harm_others")


@pytest.mark.parametrize(
    "text",
    [
        "he is outside and threatening me",
        "HE'S OUTSIDE AND THREATENING ME",
        "I'm scared he'll hurt me tonight",
        "im scared hes going to hurt me tonight",
        "I’m scared she’ll hurt me tonight",
    ],
)
def test_danger_now_is_an_alarm(text):
    assert detect_crisis(text, RULES) == CrisisSignal("alarm", "danger_now")


@pytest.mark.parametrize(
    "text",
    [
        "I'd kill for a coffee",
        "Id kill for a coffee",
        "I’d kill for a coffee",
        "my phone died",
        "killer headache",
        "I'm dying to see them",
        "the kids would die laughing",
        "the deadline is killing me",
        "Good morning! We talked about the kids' school today.",
        "",
        "   ",
    ],
)
def test_common_false_alarms_give_no_signal(text):
    assert detect_crisis(text, RULES) is None


@pytest.mark.parametrize(
    "text",
    [
        "this is killing me",
        "This is KILLING me",
        "I can't go on like this",
        "i cant go on like this",
        "I don't know how much more I can take",
        "I dont know how much more i can take",
    ],
)
def test_ambiguous_distress_is_a_check_not_an_alarm(text):
    assert detect_crisis(text, RULES) == CrisisSignal("check", "distress")


@pytest.mark.parametrize(
    "text",
    [
        "I would never hurt myself",
        "I'd never kill myself",
        "I wouldn't hurt myself",
        "I’m not suicidal",
        "I am not going to kill myself",
        "I would never hurt him",
    ],
)
def test_negations_are_not_alarms(text):
    assert _level(text) in (None, "check")


def test_a_denial_does_not_hide_a_real_alarm_later_in_the_message():
    text = "I would never hurt myself. But honestly I want to die."
    assert detect_crisis(text, RULES) == CrisisSignal("alarm", "self_harm")


def test_alarm_beats_check_in_one_message():
    text = "This is killing me and I want to kill myself"
    assert detect_crisis(text, RULES) == CrisisSignal("alarm", "self_harm")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_detection_never_fails_and_is_repeatable(text):
    first = detect_crisis(text, RULES)
    assert first is None or first.level in ("alarm", "check")
    assert detect_crisis(text, RULES) == first


def test_normalise_squeezes_expands_and_straightens_quotes():
    assert normalise("I’M  Soooo DONE, I can’t!", RULES.normaliser) == "i am so done i can not !"
    assert normalise("Café", RULES.normaliser) == "cafe"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thinking about k*lling myself", "thinking about kiling myself"),
        ("k!ll myself", "kil myself"),
        ("su1c1de", "suicide"),
        ("s*icidal", "suicidal"),
        ("wanna d!e", "want to die"),
        ("overd0se", "overdose"),
        ("sh*t day", "sh t day"),  # not a word the rules read through masks
        ("at 4am b4 work", "at 4am b4 work"),  # digits in ordinary words stay
        ("** d* **", "d"),  # fewer than two real letters: left as typed
    ],
)
def test_masked_words_are_read_through_their_masks(text, expected):
    assert normalise(text, RULES.normaliser) == expected


def test_masked_words_raise_the_alarm_their_plain_spelling_would():
    assert _level("i want to k*ll myself") == _level("i want to kill myself") == "alarm"
    assert _level("been thinking about su1c1de") == "alarm"
    assert _level("what a sh*t day, 4am start tomorrow") is None


# ---------------------------------------------------------------- resources


@pytest.mark.parametrize(
    ("language_code", "country", "expected"),
    [
        ("en-GB", None, "GB"),
        ("en_gb", None, "GB"),
        ("en-US", None, "US"),
        ("de", None, "DE"),
        ("de-AT", None, None),  # the region wins over the language, and AT has no entry
        ("en", None, None),
        (None, None, None),
        ("", "", None),
        ("en-GB", "US", "US"),  # explicit country beats the language
        ("de", "au", "AU"),
        ("en-GB", "FR", None),  # an explicit country without an entry gets the default
        ("en", "UK", "GB"),  # alias
        ("en", "ZZ", None),
    ],
)
def test_resources_are_chosen_by_country_then_language(language_code, country, expected):
    chosen = resources_for(RESOURCES, language_code=language_code, country=country)
    assert chosen.country == expected


def test_default_set_is_international():
    default = RESOURCES.default
    assert default.country is None
    assert default.emergency_numbers == ()
    assert "local emergency number" in default.emergency_advice
    assert default.finder_url == FINDER
    assert default.crisis_line is None


@pytest.mark.parametrize(
    ("country", "number", "crisis_phone", "dv_phone"),
    [
        ("US", "911", "988", "1-800-799-7233"),
        ("GB", "999", "116 123", "0808 2000 247"),
        ("IE", "112", "116 123", None),
        ("CA", "911", "9-8-8", None),
        ("AU", "000", "13 11 14", "1800 737 732"),
        ("NZ", "111", "1737", None),
        ("DE", "112", "0800 111 0 111", "116 016"),
    ],
)
def test_country_sets_carry_their_numbers(country, number, crisis_phone, dv_phone):
    chosen = resources_for(RESOURCES, language_code=None, country=country)
    assert number in chosen.emergency_numbers
    assert number in chosen.emergency_advice
    assert chosen.crisis_line is not None and chosen.crisis_line.phone == crisis_phone
    assert (chosen.domestic_violence.phone if chosen.domestic_violence else None) == dv_phone
    assert chosen.legal_help.name  # inherited from the default when the country has none


def test_all_resource_urls_are_https():
    sets = [RESOURCES.default, *RESOURCES.by_country.values()]
    for resource_set in sets:
        assert is_https_url(resource_set.finder_url)
        lines = (resource_set.crisis_line, resource_set.domestic_violence, resource_set.legal_help)
        for line in lines:
            assert line is None or line.url is None or is_https_url(line.url)


# ---------------------------------------------------------------- replies

ALL_SETS = [RESOURCES.default, *RESOURCES.by_country.values()]
SIGNALS = [
    CrisisSignal("alarm", "self_harm"),
    CrisisSignal("alarm", "harm_others"),
    CrisisSignal("alarm", "danger_now"),
    CrisisSignal("check", "distress"),
    CrisisSignal("check", "danger_now"),
]


@pytest.mark.parametrize("resource_set", ALL_SETS, ids=lambda s: s.country or "default")
@pytest.mark.parametrize("signal", SIGNALS, ids=lambda s: f"{s.level}-{s.category}")
def test_replies_give_emergency_advice_finder_and_fit_telegram(signal, resource_set):
    reply = crisis_reply(signal, resource_set, RULES.texts)
    assert resource_set.emergency_advice in reply.text
    assert FINDER in reply.text
    assert len(reply.text) <= TELEGRAM_LIMIT
    assert "{" not in reply.text and "}" not in reply.text
    for label, target in reply.buttons:
        assert label.strip()
        assert is_https_url(target) or target in (ACTION_HELP, ACTION_LATER, ACTION_OK)


@pytest.mark.parametrize("resource_set", ALL_SETS, ids=lambda s: s.country or "default")
def test_alarm_names_the_crisis_line_and_offers_help_and_later(resource_set):
    reply = crisis_reply(CrisisSignal("alarm", "self_harm"), resource_set, RULES.texts)
    if resource_set.crisis_line:
        assert resource_set.crisis_line.phone in reply.text
    targets = [target for _, target in reply.buttons]
    assert is_https_url(targets[0])
    assert targets[-1] == ACTION_LATER
    assert FINDER in targets
    assert "pausing" in reply.text


def test_us_alarm_buttons_lead_to_the_lifeline_then_the_finder():
    us = resources_for(RESOURCES, language_code="en-US", country=None)
    reply = crisis_reply(CrisisSignal("alarm", "self_harm"), us, RULES.texts)
    assert reply.buttons == [
        ("Get help now", "https://988lifeline.org"),
        ("Find a helpline", FINDER),
        ("I'm safe, continue later", ACTION_LATER),
    ]
    assert "call 911" in reply.text


def test_danger_now_reply_points_to_domestic_violence_help():
    gb = resources_for(RESOURCES, language_code="en-GB", country=None)
    reply = crisis_reply(CrisisSignal("alarm", "danger_now"), gb, RULES.texts)
    assert "0808 2000 247" in reply.text
    assert "call 999" in reply.text
    assert reply.buttons[0][1] == "https://www.nationaldahelpline.org.uk"


def test_default_danger_now_reply_falls_back_to_the_finder():
    reply = crisis_reply(CrisisSignal("alarm", "danger_now"), RESOURCES.default, RULES.texts)
    assert reply.buttons == [("Get help now", FINDER), ("I'm safe, continue later", ACTION_LATER)]


def test_check_reply_asks_if_safe_with_help_and_ok_actions():
    reply = crisis_reply(CrisisSignal("check", "distress"), RESOURCES.default, RULES.texts)
    assert "Are you safe right now?" in reply.text
    assert reply.buttons == [("Get help now", ACTION_HELP), ("I'm okay, carry on", ACTION_OK)]


@pytest.mark.parametrize("resource_set", ALL_SETS, ids=lambda s: s.country or "default")
def test_safety_stop_text_explains_and_points_to_help(resource_set):
    text = safety_stop_text(resource_set, RULES.texts)
    assert "court order" in text
    assert "dangerous" in text
    assert resource_set.emergency_advice in text
    assert resource_set.legal_help.name in text
    assert FINDER in text
    if resource_set.domestic_violence:
        assert resource_set.domestic_violence.phone in text
    assert len(text) <= TELEGRAM_LIMIT


def test_reply_templates_are_short():
    texts = RULES.texts
    for template in (texts.alarm, texts.check, texts.danger_now, texts.safety_stop):
        words = re.sub(r"\{\w+\}", "", template).split()
        assert len(words) <= 90


# ---------------------------------------------------------------- validation errors


def _write(tmp_path: Path, name: str, data) -> Path:
    """Write data as YAML to a temporary file and return its path."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def crisis_data():
    return yaml.safe_load(DEFAULT_CRISIS_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def resources_data():
    return yaml.safe_load(DEFAULT_RESOURCES_PATH.read_text(encoding="utf-8"))


def test_bad_pattern_names_file_category_and_entry(tmp_path, crisis_data):
    crisis_data["categories"]["self_harm"]["alarm"][1] = "kill (myself"
    path = _write(tmp_path, "broken.yaml", crisis_data)
    with pytest.raises(SafetyDataError, match=r"broken\.yaml.*self_harm\.alarm\[1\].*bad pattern"):
        load_crisis(path)


def test_masked_words_must_be_plain_words(tmp_path, crisis_data):
    crisis_data["masked"] = ["kill", "k*ll"]
    path = _write(tmp_path, "crisis.yaml", crisis_data)
    with pytest.raises(SafetyDataError, match=r"crisis\.yaml\.masked: expected a list"):
        load_crisis(path)


def test_unknown_term_is_reported(tmp_path, crisis_data):
    crisis_data["categories"]["distress"]["check"].append("{nonsense} is killing me")
    path = _write(tmp_path, "crisis.yaml", crisis_data)
    with pytest.raises(SafetyDataError, match=r"distress\.check\[\d+\].*unknown term \{nonsense\}"):
        load_crisis(path)


def test_example_with_bad_level_is_reported(tmp_path, crisis_data):
    crisis_data["categories"]["harm_others"]["must_flag"][0]["level"] = "panic"
    path = _write(tmp_path, "crisis.yaml", crisis_data)
    with pytest.raises(SafetyDataError, match=r"harm_others\.must_flag\[0\].*level"):
        load_crisis(path)


def test_must_not_flag_cannot_expect_an_alarm(tmp_path, crisis_data):
    crisis_data["categories"]["distress"]["must_not_flag"][0]["level"] = "alarm"
    path = _write(tmp_path, "crisis.yaml", crisis_data)
    with pytest.raises(SafetyDataError, match=r"distress\.must_not_flag\[0\]"):
        load_crisis(path)


def test_missing_category_and_unknown_category_are_reported(tmp_path, crisis_data):
    crisis_data["categories"]["weather"] = crisis_data["categories"].pop("distress")
    path = _write(tmp_path, "crisis.yaml", crisis_data)
    with pytest.raises(SafetyDataError, match=r"categories\.weather.*unknown category"):
        load_crisis(path)
    crisis_data["categories"].pop("weather")
    path = _write(tmp_path, "crisis.yaml", crisis_data)
    with pytest.raises(SafetyDataError, match=r"missing \['distress'\]"):
        load_crisis(path)


def test_unknown_placeholder_in_reply_is_reported(tmp_path, crisis_data):
    crisis_data["texts"]["alarm"] += " {hotline}"
    path = _write(tmp_path, "crisis.yaml", crisis_data)
    with pytest.raises(SafetyDataError, match=r"texts\.alarm.*hotline"):
        load_crisis(path)


def test_missing_button_label_is_reported(tmp_path, crisis_data):
    del crisis_data["texts"]["buttons"]["later"]
    path = _write(tmp_path, "crisis.yaml", crisis_data)
    with pytest.raises(SafetyDataError, match=r"texts\.buttons: missing 'later'"):
        load_crisis(path)


def test_unreadable_and_malformed_files_are_reported(tmp_path):
    with pytest.raises(SafetyDataError, match=r"absent\.yaml"):
        load_crisis(tmp_path / "absent.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(SafetyDataError, match=r"list\.yaml.*mapping"):
        load_resources(path)


def test_http_url_in_resources_is_rejected(tmp_path, resources_data):
    resources_data["countries"]["US"]["crisis_line"]["url"] = "http://988lifeline.org"
    path = _write(tmp_path, "resources.yaml", resources_data)
    with pytest.raises(SafetyDataError, match=r"countries\.US\.crisis_line\.url.*https"):
        load_resources(path)


def test_unquoted_phone_number_is_rejected(tmp_path, resources_data):
    resources_data["countries"]["NZ"]["crisis_line"]["phone"] = 1737
    path = _write(tmp_path, "resources.yaml", resources_data)
    with pytest.raises(SafetyDataError, match=r"countries\.NZ\.crisis_line\.phone"):
        load_resources(path)


def test_language_mapped_to_missing_country_is_rejected(tmp_path, resources_data):
    resources_data["language_countries"]["fr"] = "FR"
    path = _write(tmp_path, "resources.yaml", resources_data)
    with pytest.raises(SafetyDataError, match=r"language_countries\.fr.*'FR'"):
        load_resources(path)


def test_bad_country_code_is_rejected(tmp_path, resources_data):
    resources_data["countries"]["Germany"] = resources_data["countries"]["DE"]
    path = _write(tmp_path, "resources.yaml", resources_data)
    with pytest.raises(SafetyDataError, match=r"'Germany' is not a two-letter"):
        load_resources(path)


def test_a_hyperbole_example_the_rules_still_flag_is_reported(tmp_path, crisis_data):
    crisis_data["hyperbole"]["examples"].append("dying to see you, then I will kill myself")
    crisis_data["hyperbole"]["examples"].append("a plain sentence about the weekend")
    rules = load_crisis(_write(tmp_path, "crisis.yaml", crisis_data))
    failures = crisis_example_failures(rules)
    assert any("then I will kill myself" in f and "self_harm" in f for f in failures)
    assert any("no pattern reads 'a plain sentence" in f for f in failures)


def test_bad_hyperbole_section_is_reported_with_the_others(tmp_path, crisis_data):
    crisis_data["hyperbole"]["patterns"].append("dead (")
    crisis_data["categories"]["self_harm"]["alarm"][1] = "kill (myself"
    with pytest.raises(SafetyDataError) as caught:
        load_crisis(_write(tmp_path, "crisis.yaml", crisis_data))
    assert "hyperbole.patterns" in str(caught.value) and "self_harm.alarm[1]" in str(caught.value)
    del crisis_data["hyperbole"]["examples"]
    crisis_data["categories"]["self_harm"]["alarm"][1] = "kill myself"
    with pytest.raises(SafetyDataError, match="hyperbole: expected a mapping"):
        load_crisis(_write(tmp_path, "crisis.yaml", crisis_data))


def test_bad_not_now_pattern_is_reported_with_the_others(tmp_path, crisis_data):
    crisis_data["not_now"]["unless"].append("again (")
    crisis_data["categories"]["self_harm"]["alarm"][1] = "kill (myself"
    path = _write(tmp_path, "crisis.yaml", crisis_data)
    with pytest.raises(SafetyDataError) as caught:
        load_crisis(path)
    assert "not_now.unless" in str(caught.value) and "self_harm.alarm[1]" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "Tried to end my life back in 2015. I'm in a much better place now",
        "I used to cut myself as a teenager. I got help and I'm fine now",
        "my ex threatened me with a knife years ago, it's long over",
    ],
)
def test_the_past_with_safety_said_now_gets_nothing_from_the_rules(text):
    assert detect_crisis(text, RULES) is None


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("I tried to kill myself in 2015", "check"),  # the past, nothing said of now: ask
        ("I tried to kill myself in 2015. I was fine but the thoughts are back tonight", "alarm"),
        ("I'm fine now. I want to kill myself", "check"),  # the safety said is no past
    ],
)
def test_safety_said_now_counts_only_for_the_past_and_not_against_now(text, level):
    signal = detect_crisis(text, RULES)
    assert signal is not None and signal.level == level


@pytest.mark.parametrize(
    "text",
    [
        "Tried to end my life back in 2015. I'm in a much better place now",
        "my uncle took his own life when i was 12",
        "a patient on my ward asked how many pills would be too many",
        "want to die lol these forms",
    ],
)
def test_an_alarm_about_another_time_or_person_becomes_the_question(text):
    alarm = CrisisSignal("alarm", "self_harm")
    assert RULES.soften(alarm, text) == CrisisSignal("check", "self_harm")


@pytest.mark.parametrize(
    "text",
    [
        "I want to end my life",
        "years ago I tried, and the thoughts are back tonight",
        "i tried when i was 19 and i am feeling that way again",
    ],
)
def test_an_alarm_about_now_stays_an_alarm(text):
    alarm = CrisisSignal("alarm", "self_harm")
    assert RULES.soften(alarm, text) == alarm
    assert RULES.soften(None, text) is None
