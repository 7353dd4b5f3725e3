"""Crisis detection, safety resources and crisis replies, all driven by data (issue 5)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Literal, cast, get_args

from bot.datafile import Problems, read_mapping
from bot.policy.wordgate import (
    Gate,
    Masker,
    StartIndex,
    gate_of_indexes,
    masker,
    start_index,
    words_of,
)

POLICY_DIR = Path(__file__).resolve().parents[2] / "flows" / "policy"
DEFAULT_CRISIS_PATH = POLICY_DIR / "crisis.yaml"
DEFAULT_RESOURCES_PATH = POLICY_DIR / "resources.yaml"

Level = Literal["alarm", "check"]
Category = Literal["self_harm", "harm_others", "danger_now", "distress"]
LEVELS: tuple[str, ...] = get_args(Level)
CATEGORIES: tuple[str, ...] = get_args(Category)

ACTION_HELP = "crisis_help"
ACTION_LATER = "crisis_later"
ACTION_OK = "crisis_ok"

REPLY_PLACEHOLDERS = frozenset(
    {"emergency_advice", "crisis_line", "finder_url", "dv_help", "legal_help"}
)
PIECE_PLACEHOLDERS = frozenset({"name", "phone", "url", "finder_url"})
REPLY_KEYS = ("alarm", "check", "danger_now", "safety_stop")
PIECE_KEYS = (
    "crisis_line",
    "crisis_line_missing",
    "dv_help",
    "dv_help_missing",
    "legal_help",
    "legal_help_url",
)
BUTTON_KEYS = ("help", "finder", "later", "ok")

_QUOTES = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'", "\u2032": "'"}
)
_TOKEN = re.compile(r"[\w']+|[.!?;]")
_TEXT_REPEATS = re.compile(r"([^\W\d_])\1+")
# In a pattern, a letter after a backslash is an escape (\b, \s), so it is never squeezed.
_PATTERN_REPEATS = re.compile(r"(?<!\\)([^\W\d_])\1+")
_TERM = re.compile(r"\{([a-z_]+)\}")
_MASK = " # "
# Masked words: "*" stands for any letter; digits and signs for the letters they look like.
_MASKS = r"*@$|+!0-9"
_LOOKALIKES = {"a": "@4", "e": "3", "i": "1!|", "l": "1|", "o": "0", "s": "$5", "t": "7+"}
_MASK_HINT = re.compile(r"[*@$|+]|\d[^\W\d_]|[^\W\d_][\d!][^\W\d_]")


class SafetyDataError(ValueError):
    """A safety data file (crisis rules or resources) is malformed."""


# ---------------------------------------------------------------- data types


@dataclass(frozen=True)
class CrisisSignal:
    """What a message shows: how urgent (level) and what kind (category)."""

    level: Level
    category: Category


@dataclass(frozen=True)
class Example:
    """A must-flag or must-not-flag example; level None means no signal at all."""

    text: str
    level: Level | None
    category: Category


@dataclass(frozen=True)
class CategoryRules:
    """One category's compiled patterns and its examples."""

    name: Category
    # The alarm and check patterns, each filed by the words it can start with (a StartIndex:
    # tried only where such a word begins); None: the category has no such patterns.
    alarm: StartIndex | None
    check: StartIndex | None
    exclusions: Masker | None
    must_flag: tuple[Example, ...]
    must_not_flag: tuple[Example, ...]
    # The words every alarm and check pattern starts with (see bot/policy/wordgate.py);
    # None: some pattern can start anywhere, so the category is always searched.
    gate: Gate | None = None


@dataclass(frozen=True)
class Normaliser:
    """Word-level rewrites applied after squeezing repeated letters."""

    spellings: Mapping[str, str]
    suffixes: tuple[tuple[str, str], ...]
    symbols: Mapping[int, str] = field(default_factory=dict)  # emoji read as words ("😂": lol)
    masked: tuple[str, ...] = ()  # words read through masks ("k*lling", "su1c1de"), squeezed

    @cached_property
    def endings(self) -> tuple[str, ...]:
        """The suffixes' endings, for one `str.endswith` test per word."""
        return tuple(ending for ending, _ in self.suffixes)

    @cached_property
    def _masked_search(self) -> re.Pattern[str] | None:
        """One pattern for every masked word, a named group per word."""
        if not self.masked:
            return None
        words = "|".join(
            f"(?P<w{index}>{''.join(_mask_class(letter) for letter in word)})"
            for index, word in enumerate(self.masked)
        )
        return re.compile(rf"(?<![\w{_MASKS}])(?:{words})(?![\w{_MASKS}])")

    def unmask(self, text: str) -> str:
        """Return text with masked words spelled out ("k*ling" -> "kiling")."""
        search = self._masked_search
        if search is None or not _MASK_HINT.search(text):
            return text
        return search.sub(self._unmasked, text)

    def _unmasked(self, match: re.Match[str]) -> str:
        """The word a masked match stands for, if at least two of its letters are real."""
        found = match.group(0)
        if sum(char.isalpha() for char in found) < 2:
            return found
        return self.masked[int(str(match.lastgroup)[1:])]


@dataclass(frozen=True)
class ButtonLabels:
    """Labels of the crisis reply buttons."""

    help: str
    finder: str
    later: str
    ok: str


@dataclass(frozen=True)
class CrisisTexts:
    """Reply templates, the pieces that fill them, and button labels."""

    alarm: str
    check: str
    danger_now: str
    safety_stop: str
    pieces: Mapping[str, str]
    buttons: ButtonLabels


@dataclass(frozen=True)
class CrisisRules:
    """Everything loaded from crisis.yaml, ready to use."""

    normaliser: Normaliser
    categories: tuple[CategoryRules, ...]
    texts: CrisisTexts
    # About the past, someone else, a story or a joke, and nothing said of now: see not_now.
    not_now: Masker | None = None
    unless_now: Masker | None = None
    # Said of now by such a message: "I'm safe now", "got help" (see not_now.safe_now).
    safe_now: Masker | None = None
    # Words the model needs to see before its own full reply (see model_alarm_needs).
    alarm_evidence: Masker | None = None
    # Figures of speech read past by the rules and the model's words of risk (see hyperbole).
    hyperbole: Masker | None = None
    hyperbole_examples: tuple[str, ...] = ()

    def compile_all(self) -> int:
        """Compile every category's pattern groups now (see StartIndex.compile_all)."""
        indexes = [index for rules in self.categories for index in (rules.alarm, rules.check)]
        return sum(index.compile_all() for index in indexes if index is not None)

    def model_may_alarm(self, text: str) -> bool:
        """Whether a message has the words that let the model alone give the full reply."""
        return self._has_risk_words(normalise(text, self.normaliser))

    def model_alarm_allowed(self, text: str, *, sure: bool) -> bool:
        """Whether the model alone may give the full reply: never to a figure of speech, and
        otherwise to a message with a word of risk, or without one when very sure."""
        normal = normalise(text, self.normaliser)
        if self._figure_in(normal):
            return False
        return sure or self._has_risk_words(normal)

    def hyperbolic(self, text: str) -> bool:
        """Whether a message uses a figure of speech from the hyperbole list."""
        return self._figure_in(normalise(text, self.normaliser))

    def _figure_in(self, normal: str) -> bool:
        return self.hyperbole is not None and self.hyperbole.search(normal) is not None

    def _has_risk_words(self, normal: str) -> bool:
        if self.alarm_evidence is None:
            return True
        return self.alarm_evidence.search(self.literal(normal)) is not None

    def literal(self, normal: str) -> str:
        """A normalised message with its figures of speech blanked out."""
        return self.hyperbole.sub(_MASK, normal) if self.hyperbole else normal

    def about_then(self, normal: str) -> bool:
        """Whether a normalised message speaks of another time or person, not of now."""
        if self.not_now is None or not self.not_now.search(normal):
            return False
        return self.unless_now is None or not self.unless_now.search(normal)

    def past_and_safe(self, normal: str) -> bool:
        """Whether a normalised message speaks of another time or person and says that the
        writer is safe now: the rules then ask nothing (the model still may)."""
        if self.safe_now is None or not self.safe_now.search(normal):
            return False
        # The past must show in more than the safety said ("I'm fine now" is also a not-now
        # phrase): "I'm fine now. I want to kill myself" is not about the past.
        return self.about_then(self.safe_now.sub(_MASK, normal))

    def speaks_of_then(self, text: str) -> bool:
        """Whether a message speaks of another time or person (not_now), and not of now."""
        return self.about_then(normalise(text, self.normaliser))

    def soften(self, signal: CrisisSignal | None, text: str) -> CrisisSignal | None:
        """An alarm about another time or person becomes the gentle question (never nothing)."""
        if signal is None or signal.level != "alarm":
            return signal
        if self.speaks_of_then(text):
            return CrisisSignal("check", signal.category)
        return signal

    def examples(self) -> tuple[Example, ...]:
        """Return every must-flag and must-not-flag example, in file order."""
        return tuple(
            example
            for category in self.categories
            for example in (*category.must_flag, *category.must_not_flag)
        )


@dataclass(frozen=True)
class CrisisReply:
    """A reply to send: text, and buttons as (label, https URL or action id)."""

    text: str
    buttons: list[tuple[str, str]]


@dataclass(frozen=True)
class Helpline:
    """A service to contact; any of phone and url may be missing."""

    name: str
    phone: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class ResourceSet:
    """The safety resources for one place (country None: the international default)."""

    country: str | None
    emergency_numbers: tuple[str, ...]
    emergency_advice: str
    crisis_line: Helpline | None
    finder_url: str
    domestic_violence: Helpline | None
    legal_help: Helpline


@dataclass(frozen=True)
class Resources:
    """All resource sets, and how to pick one."""

    default: ResourceSet
    by_country: Mapping[str, ResourceSet]
    aliases: Mapping[str, str]
    language_countries: Mapping[str, str]


# ---------------------------------------------------------------- detection


def squeeze(word: str) -> str:
    """Squeeze runs of one repeated letter to a single letter ("killl" -> "kil")."""
    return _TEXT_REPEATS.sub(r"\1", word)


def _mask_class(letter: str) -> str:
    """The characters that may stand for a letter in a masked word."""
    return f"[{re.escape(letter)}*{re.escape(_LOOKALIKES.get(letter, ''))}]"


def _strip_accents(text: str) -> str:
    """Return text in compatibility form without combining accents."""
    if text.isascii():
        return text  # NFKD leaves ASCII as it is
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _rewrite(word: str, normaliser: Normaliser, endings: tuple[str, ...]) -> str:
    """Return a word's canonical spelling, expanding a contraction ending if needed."""
    spelled = normaliser.spellings.get(word)
    if spelled is not None:
        return spelled
    if not word.endswith(endings):  # most words: one test instead of one per suffix
        return word
    for ending, replacement in normaliser.suffixes:
        if word.endswith(ending) and len(word) > len(ending):
            return word[: -len(ending)] + replacement
    return word


def normalise(text: str, normaliser: Normaliser) -> str:
    """Return the text as the patterns see it: plain, lower case, squeezed, canonical words."""
    plain = _strip_accents(text.translate(normaliser.symbols)).casefold().translate(_QUOTES)
    # Squeezed once for the whole text: a run of one letter never crosses a word's edge.
    words = (token.strip("'") for token in _TOKEN.findall(normaliser.unmask(squeeze(plain))))
    endings = normaliser.endings
    return " ".join(_rewrite(word, normaliser, endings) for word in words if word)


def detect_crisis(text: str, rules: CrisisRules) -> CrisisSignal | None:
    """Return the most urgent signal in a message, or None if it shows none."""
    normal = normalise(text, rules.normaliser)
    literal = rules.literal(normal)
    check: CrisisSignal | None = None
    words: set[str] | None = None
    for category in rules.categories:
        if category.gate is not None:  # skip a search that cannot match (same result, cheaper)
            words = words_of(literal) if words is None else words
            if not category.gate.opens_for(words):
                continue
        visible = category.exclusions.sub(_MASK, literal) if category.exclusions else literal
        if category.alarm is not None and category.alarm.search(visible):
            if not rules.about_then(normal):
                return CrisisSignal("alarm", category.name)
            return None if rules.past_and_safe(normal) else CrisisSignal("check", category.name)
        if check is None and category.check is not None and category.check.search(visible):
            check = CrisisSignal("check", category.name)
    return None if check is not None and rules.past_and_safe(normal) else check


# ---------------------------------------------------------------- loading helpers


def _get(mapping: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    """Return mapping[key], checking that it exists and has the expected type."""
    if not isinstance(mapping, dict):
        raise SafetyDataError(f"{where}: must be a mapping")
    if key not in mapping:
        raise SafetyDataError(f"{where}: missing '{key}'")
    value = mapping[key]
    if not isinstance(value, kind):
        raise SafetyDataError(f"{where}.{key}: expected {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    """Name a type (or types) for an error message."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)


def _check_placeholders(template: str, allowed: frozenset[str], where: str) -> None:
    """Fail if a template uses a placeholder outside `allowed` or is not valid format text."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise SafetyDataError(f"{where}: bad template: {error}") from error
    unknown = sorted(fields - allowed)
    if unknown:
        raise SafetyDataError(f"{where}: unknown placeholder(s) {unknown}")


# ---------------------------------------------------------------- crisis.yaml


def _load_normaliser(raw: dict[str, Any], where: str) -> Normaliser:
    """Build the word rewrites, squeezed like the text they apply to."""
    spellings: dict[str, str] = {}
    for canonical, variants in _get(raw, "spellings", where, dict).items():
        entry = f"{where}.spellings.{canonical}"
        if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
            raise SafetyDataError(f"{entry}: expected a list of words")
        for variant in variants:
            if not re.fullmatch(r"[\w']+", variant):
                raise SafetyDataError(f"{entry}: variant {variant!r} must be one word")
            spellings[squeeze(variant.casefold())] = squeeze(str(canonical).casefold())
    suffixes = tuple(
        (squeeze(str(ending)), squeeze(str(replacement)))
        for ending, replacement in _get(raw, "suffixes", where, dict).items()
    )
    symbols = {}
    for symbol, word in (raw.get("symbols") or {}).items():
        if not isinstance(word, str) or not re.fullmatch(r"\w+", word) or len(str(symbol)) != 1:
            raise SafetyDataError(f"{where}.symbols.{symbol}: expected one character and a word")
        symbols[ord(str(symbol))] = f" {word} "
    masked = raw.get("masked") or []
    if not isinstance(masked, list) or not all(
        isinstance(word, str) and re.fullmatch(r"[a-z]{3,}", word) for word in masked
    ):
        raise SafetyDataError(f"{where}.masked: expected a list of lower-case words of 3+ letters")
    return Normaliser(
        spellings=spellings,
        suffixes=suffixes,
        symbols=symbols,
        masked=tuple(dict.fromkeys(squeeze(word) for word in masked)),
    )


def _expand_terms(pattern: str, terms: Mapping[str, str], where: str) -> str:
    """Replace {term} references (terms may use other terms) with their regex."""
    for _ in range(10):
        unknown = [name for name in _TERM.findall(pattern) if name not in terms]
        if unknown:
            raise SafetyDataError(f"{where}: unknown term {{{unknown[0]}}}")
        expanded = _TERM.sub(lambda match: terms[match.group(1)], pattern)
        if expanded == pattern:
            return pattern
        pattern = expanded
    raise SafetyDataError(f"{where}: terms nest too deeply (a term refers to itself?)")


def _masker(raw: Any, terms: Mapping[str, str], where: str) -> Masker | None:
    """A list of patterns, each as whole words, as one alternation tried only where a match
    can start (see wordgate.Masker)."""
    return masker(_pattern_sources(raw, terms, where), _alternation)


def _pattern_sources(raw: Any, terms: Mapping[str, str], where: str) -> list[str]:
    """A list of patterns as they are compiled (terms expanded, letters squeezed), checked."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SafetyDataError(f"{where}: expected a list of patterns")
    sources = []
    for index, pattern in enumerate(raw):
        entry = f"{where}[{index}]"
        if not isinstance(pattern, str) or not pattern.strip():
            raise SafetyDataError(f"{entry}: expected a non-empty pattern string")
        source = _PATTERN_REPEATS.sub(r"\1", _expand_terms(pattern, terms, entry))
        try:
            re.compile(source)
        except re.error as error:
            raise SafetyDataError(f"{entry}: bad pattern {pattern!r}: {error}") from error
        sources.append(source)
    return sources


def _alternation(sources: list[str]) -> re.Pattern[str] | None:
    """One regular expression matching any of the patterns, each as whole words."""
    if not sources:
        return None
    parts = [f"(?:{source})" for source in sources]
    # One word-start test for the whole alternation, not one per pattern: in the middle of a
    # word the search moves on after a single look-behind, which keeps a 4,096-character
    # message cheap however many patterns there are.
    return re.compile(rf"(?<![\w'])(?:{'|'.join(parts)})(?![\w'])")


def _load_examples(
    raw: Any, category: Category, where: str, allowed: tuple[str, ...], default: str | None
) -> tuple[Example, ...]:
    """Load must-flag or must-not-flag examples with their expected level."""
    if not isinstance(raw, list) or not raw:
        raise SafetyDataError(f"{where}: expected a non-empty list of examples")
    examples = []
    for index, item in enumerate(raw):
        entry = f"{where}[{index}]"
        text = _get(item, "text", entry, str)
        level = item.get("level", default)
        if level not in allowed:
            raise SafetyDataError(f"{entry}: level must be one of {list(allowed)}, got {level!r}")
        expected = None if level == "none" else level
        examples.append(Example(text=text, level=expected, category=category))
    return tuple(examples)


def _load_category(name: str, raw: Any, terms: Mapping[str, str], where: str) -> CategoryRules:
    """Load one category: compiled patterns and examples."""
    if name not in CATEGORIES:
        raise SafetyDataError(f"{where}: unknown category (expected one of {list(CATEGORIES)})")
    if not isinstance(raw, dict):
        raise SafetyDataError(f"{where}: must be a mapping")
    category: Category = name  # type: ignore[assignment]
    alarm = _pattern_sources(raw.get("alarm"), terms, f"{where}.alarm")
    check = _pattern_sources(raw.get("check"), terms, f"{where}.check")
    alarm_index = start_index(alarm, _alternation) if alarm else None
    check_index = start_index(check, _alternation) if check else None
    indexes = [index for index in (alarm_index, check_index) if index is not None]
    return CategoryRules(
        name=category,
        alarm=alarm_index,
        check=check_index,
        exclusions=_masker(raw.get("exclusions"), terms, f"{where}.exclusions"),
        must_flag=_load_examples(
            raw.get("must_flag"), category, f"{where}.must_flag", LEVELS, None
        ),
        must_not_flag=_load_examples(
            raw.get("must_not_flag"), category, f"{where}.must_not_flag", ("none", "check"), "none"
        ),
        gate=gate_of_indexes(indexes) if indexes else None,
    )


def _load_texts(raw: Any, where: str) -> CrisisTexts:
    """Load reply templates, pieces and button labels, checking their placeholders."""
    replies = {}
    for key in REPLY_KEYS:
        replies[key] = _get(raw, key, where, str)
        _check_placeholders(replies[key], REPLY_PLACEHOLDERS, f"{where}.{key}")
    raw_pieces = _get(raw, "pieces", where, dict)
    pieces = {}
    for key in PIECE_KEYS:
        pieces[key] = _get(raw_pieces, key, f"{where}.pieces", str)
        _check_placeholders(pieces[key], PIECE_PLACEHOLDERS, f"{where}.pieces.{key}")
    raw_buttons = _get(raw, "buttons", where, dict)
    labels = {key: _get(raw_buttons, key, f"{where}.buttons", str) for key in BUTTON_KEYS}
    return CrisisTexts(**replies, pieces=pieces, buttons=ButtonLabels(**labels))


def crisis_example_failures(rules: CrisisRules) -> list[str]:
    """Every must_flag / must_not_flag example the rules get wrong, described in words."""
    failures = []
    for category in rules.categories:
        where = f"categories.{category.name}"
        for example in category.must_flag:
            found = detect_crisis(example.text, rules)
            if found != CrisisSignal(cast(Level, example.level), example.category):
                failures.append(
                    f"{where}: should flag as {example.level} ({example.category}): "
                    f"{example.text!r}, but {_described(found)}"
                )
        for example in category.must_not_flag:
            found = detect_crisis(example.text, rules)
            if (found.level if found else None) != example.level:
                wanted = f"give only {example.level}" if example.level else "flag nothing"
                failures.append(
                    f"{where}: should {wanted}: {example.text!r}, but {_described(found)}"
                )
    for text in rules.hyperbole_examples:
        found = detect_crisis(text, rules)
        if not rules.hyperbolic(text):
            failures.append(f"hyperbole: no pattern reads {text!r} as a figure of speech")
        elif found is not None:
            failures.append(f"hyperbole: {text!r} should flag nothing, but {_described(found)}")
    return failures


def _described(signal: CrisisSignal | None) -> str:
    """What the rules made of an example, in words."""
    if signal is None:
        return "nothing was flagged"
    return f"it was flagged as {signal.level} ({signal.category})"


def load_crisis(path: Path = DEFAULT_CRISIS_PATH) -> CrisisRules:
    """Load and validate crisis.yaml: normalisation, patterns, examples and reply texts."""
    raw = read_mapping(path, SafetyDataError)
    where = path.name
    terms = _load_terms(_get(raw, "terms", where, dict), where)
    raw_categories = _get(raw, "categories", where, dict)
    # Each category and section is checked on its own, so one report names every problem.
    problems = Problems(SafetyDataError)
    found = [
        problems.part(
            partial(_load_category, str(name), value, terms, f"{where}: categories.{name}"), None
        )
        for name, value in raw_categories.items()
    ]
    categories = tuple(category for category in found if category is not None)
    missing = sorted(set(CATEGORIES) - {str(name) for name in raw_categories})
    if missing:
        problems.found.append(f"{where}: categories: missing {missing}")
    normaliser = problems.part(partial(_load_normaliser, raw, where), None)
    texts = problems.part(
        lambda: _load_texts(_get(raw, "texts", where, dict), f"{where}: texts"), None
    )
    nothing: _NotNow = (None, None, None)
    context = problems.part(
        lambda: _load_not_now(raw.get("not_now"), terms, f"{where}: not_now"), nothing
    )
    evidence = problems.part(
        lambda: _masker(raw.get("model_alarm_needs"), terms, f"{where}: model_alarm_needs"),
        None,
    )
    no_figures: tuple[Masker | None, tuple[str, ...]] = (None, ())
    figures = problems.part(
        lambda: _load_hyperbole(raw.get("hyperbole"), terms, f"{where}: hyperbole"), no_figures
    )
    problems.check()
    assert normaliser is not None and texts is not None  # no problems: every part was read
    return CrisisRules(
        normaliser,
        categories,
        texts,
        not_now=context[0],
        unless_now=context[1],
        safe_now=context[2],
        alarm_evidence=evidence,
        hyperbole=figures[0],
        hyperbole_examples=figures[1],
    )


def _load_hyperbole(
    raw: Any, terms: Mapping[str, str], where: str
) -> tuple[Masker | None, tuple[str, ...]]:
    """The optional hyperbole section: `patterns` and the `examples` they must read past."""
    if raw is None:
        return None, ()
    if not isinstance(raw, dict) or set(raw) != {"patterns", "examples"}:
        raise SafetyDataError(f"{where}: expected a mapping with 'patterns' and 'examples'")
    examples = raw["examples"]
    if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
        raise SafetyDataError(f"{where}.examples: expected a list of texts")
    return _masker(raw["patterns"], terms, f"{where}.patterns"), tuple(examples)


_NotNow = tuple[Masker | None, Masker | None, Masker | None]


def _load_not_now(raw: Any, terms: Mapping[str, str], where: str) -> _NotNow:
    """The optional not_now section: `patterns` (another time or person), `unless` (now) and
    `safe_now` (the writer says they are safe now)."""
    if raw is None:
        return None, None, None
    if not isinstance(raw, dict) or set(raw) - {"patterns", "unless", "safe_now"}:
        raise SafetyDataError(
            f"{where}: expected a mapping with 'patterns', 'unless' and 'safe_now'"
        )
    patterns = _masker(raw.get("patterns"), terms, f"{where}.patterns")
    unless = _masker(raw.get("unless"), terms, f"{where}.unless")
    safe = _masker(raw.get("safe_now"), terms, f"{where}.safe_now")
    return patterns, unless, safe


def _load_terms(raw: dict[Any, Any], where: str) -> dict[str, str]:
    """Load the named pattern pieces, each wrapped as a group."""
    terms = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            raise SafetyDataError(f"{where}: terms.{name}: expected a pattern string")
        terms[str(name)] = f"(?:{value})"
    return terms


# ---------------------------------------------------------------- resources.yaml


def _load_helpline(raw: Any, where: str, *, needs_phone: bool) -> Helpline | None:
    """Load a helpline entry (or null), checking phone text and https url."""
    if raw is None:
        return None
    name = _get(raw, "name", where, str)
    phone = raw.get("phone")
    url = raw.get("url")
    if phone is not None and not isinstance(phone, str):
        raise SafetyDataError(f"{where}.phone: write the number as text in quotes, got {phone!r}")
    if needs_phone and not phone:
        raise SafetyDataError(f"{where}: a phone number is required")
    if url is not None and not is_https_url(url):
        raise SafetyDataError(f"{where}.url: must be an https URL, got {url!r}")
    return Helpline(name=name, phone=phone, url=url)


def _emergency_advice(numbers: tuple[str, ...], advice: Mapping[str, str]) -> str:
    """Return 'call 911'-style advice, or the generic advice when no number is known."""
    if not numbers:
        return advice["no_number"]
    return advice["with_numbers"].format(numbers=advice["joiner"].join(numbers))


def _load_set(
    country: str | None,
    raw: Any,
    base: Mapping[str, Any],
    context: tuple[str, Mapping[str, str]],
    where: str,
) -> ResourceSet:
    """Build one resource set, taking fields the entry leaves out from `base`."""
    if not isinstance(raw, dict):
        raise SafetyDataError(f"{where}: must be a mapping")
    merged = {**base, **raw}
    numbers = merged.get("emergency_numbers") or []
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        raise SafetyDataError(f"{where}.emergency_numbers: expected a list of quoted numbers")
    finder_url, advice = context
    legal = _load_helpline(merged.get("legal_help"), f"{where}.legal_help", needs_phone=False)
    if legal is None:
        raise SafetyDataError(f"{where}: legal_help is required (in the default set at least)")
    return ResourceSet(
        country=country,
        emergency_numbers=tuple(numbers),
        emergency_advice=_emergency_advice(tuple(numbers), advice),
        crisis_line=_load_helpline(
            merged.get("crisis_line"), f"{where}.crisis_line", needs_phone=True
        ),
        finder_url=finder_url,
        domestic_violence=_load_helpline(
            merged.get("domestic_violence"), f"{where}.domestic_violence", needs_phone=True
        ),
        legal_help=legal,
    )


def _load_advice(raw: Any, where: str) -> dict[str, str]:
    """Load the emergency advice templates."""
    advice = {key: _get(raw, key, where, str) for key in ("no_number", "with_numbers", "joiner")}
    _check_placeholders(advice["with_numbers"], frozenset({"numbers"}), f"{where}.with_numbers")
    return advice


def _country_code(code: Any, where: str) -> str:
    """Check a country code is two upper-case letters."""
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z]{2}", code):
        raise SafetyDataError(f"{where}: {code!r} is not a two-letter upper-case country code")
    return code


def load_resources(path: Path = DEFAULT_RESOURCES_PATH) -> Resources:
    """Load and validate resources.yaml into ready-made resource sets."""
    raw = read_mapping(path, SafetyDataError)
    where = path.name
    finder_url = _get(raw, "finder_url", where, str)
    if not is_https_url(finder_url):
        raise SafetyDataError(f"{where}: finder_url must be an https URL")
    context = (finder_url, _load_advice(raw.get("emergency_advice"), f"{where}: emergency_advice"))
    base = _get(raw, "default", where, dict)
    default = _load_set(None, base, {}, context, f"{where}: default")
    by_country = {
        _country_code(code, f"{where}: countries"): _load_set(
            code, entry, base, context, f"{where}: countries.{code}"
        )
        for code, entry in _get(raw, "countries", where, dict).items()
    }
    aliases = _load_code_map(raw.get("aliases") or {}, by_country, f"{where}: aliases", str.upper)
    languages = _load_code_map(
        raw.get("language_countries") or {}, by_country, f"{where}: language_countries", str.lower
    )
    return Resources(
        default=default, by_country=by_country, aliases=aliases, language_countries=languages
    )


def _load_code_map(
    raw: Any, by_country: Mapping[str, ResourceSet], where: str, key_case: Callable[[str], str]
) -> dict[str, str]:
    """Load a code -> country map whose countries must all have entries."""
    if not isinstance(raw, dict):
        raise SafetyDataError(f"{where}: must be a mapping")
    for key, country in raw.items():
        if country not in by_country:
            raise SafetyDataError(f"{where}.{key}: {country!r} has no entry under countries")
    return {key_case(str(key)): country for key, country in raw.items()}


# ---------------------------------------------------------------- choosing resources


def _region(language_code: str) -> str | None:
    """Return the upper-case region of a language tag ("en-GB" -> "GB"), if it has one."""
    parts = re.split(r"[-_]", language_code.strip())
    regions = [part for part in parts[1:] if re.fullmatch(r"[A-Za-z]{2}", part)]
    return regions[0].upper() if regions else None


def _set_for_country(resources: Resources, country: str) -> ResourceSet:
    """Return the set for a country code or alias, else the default."""
    code = country.strip().upper()
    code = resources.aliases.get(code, code)
    return resources.by_country.get(code, resources.default)


def resources_for(
    resources: Resources, *, language_code: str | None, country: str | None
) -> ResourceSet:
    """Choose a resource set: explicit country, else language region or language, else default."""
    if country and country.strip():
        return _set_for_country(resources, country)
    if not language_code or not language_code.strip():
        return resources.default
    region = _region(language_code)
    if region:
        return _set_for_country(resources, region)
    language = re.split(r"[-_]", language_code.strip())[0].lower()
    mapped = resources.language_countries.get(language)
    return resources.by_country[mapped] if mapped else resources.default


# ---------------------------------------------------------------- replies


def is_https_url(target: Any) -> bool:
    """Tell whether a button target is an https URL (else it is an action id)."""
    return isinstance(target, str) and re.fullmatch(r"https://[^\s/$.?#][^\s]*", target) is not None


def _piece(template: str, helpline: Helpline | None, finder_url: str) -> str:
    """Fill a piece template with a helpline's fields and the finder URL."""
    fields = {"name": "", "phone": "", "url": ""}
    if helpline:
        fields.update(name=helpline.name, phone=helpline.phone or "", url=helpline.url or "")
    return template.format(**fields, finder_url=finder_url)


def _placeholders(resource_set: ResourceSet, texts: CrisisTexts) -> dict[str, str]:
    """Return the values of every reply placeholder for one resource set."""
    pieces, finder = texts.pieces, resource_set.finder_url
    crisis, dv, legal = (
        resource_set.crisis_line,
        resource_set.domestic_violence,
        resource_set.legal_help,
    )
    crisis_key = "crisis_line" if crisis else "crisis_line_missing"
    dv_key = "dv_help" if dv else "dv_help_missing"
    legal_key = "legal_help_url" if legal.url else "legal_help"
    return {
        "emergency_advice": resource_set.emergency_advice,
        "finder_url": finder,
        "crisis_line": _piece(pieces[crisis_key], crisis, finder),
        "dv_help": _piece(pieces[dv_key], dv, finder),
        "legal_help": _piece(pieces[legal_key], legal, finder),
    }


def _help_url(signal: CrisisSignal, resource_set: ResourceSet) -> str:
    """Return where "get help now" leads: the fitting helpline's site, else the finder."""
    helpline = (
        resource_set.domestic_violence
        if signal.category == "danger_now"
        else resource_set.crisis_line
    )
    return helpline.url if helpline and helpline.url else resource_set.finder_url


def crisis_reply(
    signal: CrisisSignal, resource_set: ResourceSet, texts: CrisisTexts
) -> CrisisReply:
    """Return the reply for a signal: a gentle check, or an alarm that pauses coaching."""
    values = _placeholders(resource_set, texts)
    labels = texts.buttons
    if signal.level == "check":
        return CrisisReply(
            text=texts.check.format(**values),
            buttons=[(labels.help, ACTION_HELP), (labels.ok, ACTION_OK)],
        )
    template = texts.danger_now if signal.category == "danger_now" else texts.alarm
    help_url = _help_url(signal, resource_set)
    buttons = [(labels.help, help_url)]
    if help_url != resource_set.finder_url:
        buttons.append((labels.finder, resource_set.finder_url))
    buttons.append((labels.later, ACTION_LATER))
    return CrisisReply(text=template.format(**values), buttons=buttons)


def safety_stop_text(resource_set: ResourceSet, texts: CrisisTexts) -> str:
    """Return the safety screen's message for users we must not coach towards contact."""
    return texts.safety_stop.format(**_placeholders(resource_set, texts))


def resource_lines(resource_set: ResourceSet, texts: CrisisTexts) -> dict[str, str]:
    """Return the ready-made help lines (emergency advice, crisis line, DV and legal help)."""
    return _placeholders(resource_set, texts)
