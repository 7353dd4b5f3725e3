"""The draft check: flags pressure in a message before it is sent (R3, R8, R10-R14, R16, R20)."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from bot.datafile import DataFileError, Problems, read_yaml

DEFAULT_RULES_PATH = Path(__file__).resolve().parents[2] / "flows" / "policy" / "draft_rules.yaml"
TELEGRAM_LIMIT = 4096

Verdict = Literal["ok", "soften", "wait"]
Severity = Literal["soften", "wait"]
SEVERITIES: tuple[str, ...] = ("soften", "wait")
VERDICT_RANK: dict[str, int] = {"ok": 0, "soften": 1, "wait": 2}
POINT_ID = re.compile(r"^R([1-9]|1[0-9]|2[01])$")
RULE_KEYS = {
    "id",
    "points",
    "severity",
    "patterns",
    "why",
    "suggestion",
    "must_flag",
    "must_not_flag",
}
FORM_CHECK_PARAMS: dict[str, tuple[str, ...]] = {
    "long_message": ("soften_over_words", "wait_over_words", "quote"),
    "question_stack": ("min_questions", "severity"),
    "shouting": ("min_caps_words", "min_caps_share", "severity"),
    "exclamations": ("min_marks", "severity"),
    "in_a_row": ("soften_at", "wait_at", "quote"),
}
TOP_KEYS = (
    "normalise",
    "guards",
    "rules",
    "form_checks",
    "scoring",
    "good_signs",
    "good_form",
    "texts",
)
SCORING_KEYS = (
    "id",
    "threshold",
    "wait_at",
    "kind_discount",
    "repeat_bonus",
    "question_weights",
    "max_quotes",
)

# One token of the original text: a word (with inner apostrophes), an emoticon or emoji,
# or a punctuation mark that ends a clause.
TOKEN = re.compile(
    r"[A-Za-z0-9]+(?:['’‘][A-Za-z]+)*"
    r"|[:;]-?[)(DPp]"
    r"|[\u2600-\u27BF\U0001F300-\U0001FAFF]"
    r"|[.,;:!?]|[—–]"
)
PUNCTUATION = frozenset(".,;:!?")
DASHES = frozenset("—–")
CURLY = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
WORD = re.compile(r"[A-Za-z0-9]+(?:['’‘][A-Za-z]+)*")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class DraftRulesError(ValueError):
    """The draft rules file is malformed."""


@dataclass(frozen=True)
class Example:
    """A draft a rule must (or must not) flag."""

    text: str
    recent_unanswered: int = 0


@dataclass(frozen=True)
class Rule:
    """One content rule: patterns on the normalised text and what to say when they match."""

    id: str
    points: tuple[str, ...]
    severity: Severity
    patterns: tuple[re.Pattern[str], ...]
    why: str
    suggestion: str
    must_flag: tuple[Example, ...]
    must_not_flag: tuple[Example, ...]


@dataclass(frozen=True)
class FormCheck:
    """One check on the form of the draft (length, questions, caps, marks, messages in a row)."""

    id: str
    points: tuple[str, ...]
    params: Mapping[str, Any]
    why: str
    suggestion: str
    must_flag: tuple[Example, ...]
    must_not_flag: tuple[Example, ...]


@dataclass(frozen=True)
class GoodSign:
    """Something good a draft can show, with the phrase that tells the user."""

    id: str
    phrase: str
    patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Normaliser:
    """Word-level fixes applied before matching."""

    contractions: Mapping[str, str]
    suffixes: tuple[tuple[str, str], ...]
    spellings: Mapping[str, str]


@dataclass(frozen=True)
class Guards:
    """What cancels a match: a negation or a validating lead-in just before it."""

    clause_breaks: frozenset[str]
    negation_window: int
    negations: frozenset[str]
    question_pronouns: frozenset[str]
    scope_breaks: frozenset[str]
    validation_window: int
    validations: re.Pattern[str]


@dataclass(frozen=True)
class Cue:
    """One weak sign of pressure and how much it weighs."""

    pattern: re.Pattern[str]
    weight: float


@dataclass(frozen=True)
class CueFamily:
    """A family of cues (blame, guilt, ...) that counts once, at its heaviest cue."""

    id: str
    points: tuple[str, ...]
    cues: tuple[Cue, ...]
    why: str
    suggestion: str


@dataclass(frozen=True)
class Scoring:
    """Weighted cue families: several weak signs together flag, one alone does not."""

    id: str
    threshold: float
    wait_at: float
    kind_discount: float
    repeat_bonus: float
    kind_cues: tuple[re.Pattern[str], ...]
    question_weights: Mapping[int, float]
    max_quotes: int
    families: tuple[CueFamily, ...]
    why_lead: str
    must_flag: tuple[Example, ...]
    must_not_flag: tuple[Example, ...]


@dataclass(frozen=True)
class CueHit:
    """A cue found in a draft: its family, its weight and where it sits."""

    family: CueFamily
    weight: float
    start: int
    end: int


@dataclass(frozen=True)
class PressureScore:
    """The summed weight of the cue families found, after the kind-context discount."""

    total: float
    hits: tuple[CueHit, ...]
    kind_context: bool


@dataclass(frozen=True)
class DraftRules:
    """Everything the checker needs, loaded once from the rules file."""

    normaliser: Normaliser
    guards: Guards
    rules: tuple[Rule, ...]
    form_checks: Mapping[str, FormCheck]
    scoring: Scoring
    good_signs: tuple[GoodSign, ...]
    good_form: Mapping[str, Any]
    texts: Mapping[str, Any]
    wait_at_flags: int = 3  # this many different signs in one draft: better not send it now


@dataclass(frozen=True)
class Flag:
    """One thing in the draft worth changing, with the reason and a better way to say it."""

    rule: str
    points: list[str]
    quote: str
    why: str
    suggestion: str
    severity: Severity = "soften"

    def as_json(self) -> dict[str, Any]:
        """Return the flag in the public JSON shape."""
        return {
            "rule": self.rule,
            "points": list(self.points),
            "quote": self.quote,
            "why": self.why,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class DraftResult:
    """The verdict on one draft, its flags, and what is good in it."""

    verdict: Verdict
    flags: list[Flag]
    good: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return {"verdict": ..., "flags": [...]}, the shape the CLI prints."""
        return {"verdict": self.verdict, "flags": [flag.as_json() for flag in self.flags]}


@dataclass(frozen=True)
class Normalised:
    """A draft in matching form, with a map back to the user's own words."""

    original: str
    text: str
    words: tuple[str, ...]
    starts: tuple[int, ...]
    token_spans: tuple[tuple[int, int], ...]
    word_tokens: tuple[int, ...]


# ---------------------------------------------------------------- loading


def _fail(path: Path, where: str, problem: str) -> DraftRulesError:
    """Build an error naming the file, the place in it and what is wrong."""
    return DraftRulesError(f"{path.name}: {where}: {problem}")


def _text(path: Path, where: str, raw: Mapping[str, Any], key: str) -> str:
    """Return a required non-empty string field."""
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, where, f"'{key}' must be a non-empty text")
    return value.strip()


def _points(path: Path, where: str, raw: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the reasoning point ids, each R1..R21."""
    points = raw.get("points")
    if not isinstance(points, list) or not points:
        raise _fail(path, where, "'points' must be a non-empty list like [R14]")
    for point in points:
        if not isinstance(point, str) or not POINT_ID.match(point):
            raise _fail(path, where, f"'{point}' is not a reasoning point (R1..R21)")
    return tuple(points)


def _compile(path: Path, where: str, pattern: Any) -> re.Pattern[str]:
    """Compile one pattern, naming it in the error if it is broken."""
    if not isinstance(pattern, str) or not pattern:
        raise _fail(path, where, "a pattern must be a non-empty text")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise _fail(path, where, f"pattern {pattern!r} does not compile: {error}") from error


def _patterns(path: Path, where: str, raw: Mapping[str, Any]) -> tuple[re.Pattern[str], ...]:
    """Compile a required non-empty list of patterns."""
    patterns = raw.get("patterns")
    if not isinstance(patterns, list) or not patterns:
        raise _fail(path, where, "'patterns' must be a non-empty list")
    return tuple(_compile(path, where, pattern) for pattern in patterns)


def _examples(path: Path, where: str, raw: Mapping[str, Any], key: str) -> tuple[Example, ...]:
    """Read a required non-empty list of examples (text or {text, recent_unanswered})."""
    items = raw.get(key)
    if not isinstance(items, list) or not items:
        raise _fail(path, where, f"'{key}' must list at least one example")
    examples = []
    for item in items:
        if isinstance(item, str) and item.strip():
            examples.append(Example(item))
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            examples.append(Example(item["text"], int(item.get("recent_unanswered", 0))))
        else:
            raise _fail(path, where, f"'{key}' has an example that is not a text: {item!r}")
    return tuple(examples)


def _rule(path: Path, index: int, raw: Any) -> Rule:
    """Read and validate one content rule."""
    if not isinstance(raw, dict):
        raise _fail(path, f"rule #{index + 1}", "must be a mapping")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise _fail(path, f"rule #{index + 1}", "'id' is missing")
    where = f"rule '{rule_id}'"
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise _fail(path, where, f"unknown keys {sorted(unknown)}")
    if raw.get("severity") not in SEVERITIES:
        raise _fail(path, where, "'severity' must be soften or wait")
    return Rule(
        id=rule_id,
        points=_points(path, where, raw),
        severity=raw["severity"],
        patterns=_patterns(path, where, raw),
        why=_text(path, where, raw, "why"),
        suggestion=_text(path, where, raw, "suggestion"),
        must_flag=_examples(path, where, raw, "must_flag"),
        must_not_flag=_examples(path, where, raw, "must_not_flag"),
    )


def _form_check(path: Path, check_id: str, raw: Any) -> FormCheck:
    """Read and validate one form check."""
    where = f"form check '{check_id}'"
    if not isinstance(raw, dict):
        raise _fail(path, where, "is missing or not a mapping")
    for key in FORM_CHECK_PARAMS[check_id]:
        if key not in raw:
            raise _fail(path, where, f"'{key}' is missing")
    if "severity" in raw and raw["severity"] not in SEVERITIES:
        raise _fail(path, where, "'severity' must be soften or wait")
    return FormCheck(
        id=check_id,
        points=_points(path, where, raw),
        params={key: raw[key] for key in FORM_CHECK_PARAMS[check_id]},
        why=_text(path, where, raw, "why"),
        suggestion=_text(path, where, raw, "suggestion"),
        must_flag=_examples(path, where, raw, "must_flag"),
        must_not_flag=_examples(path, where, raw, "must_not_flag"),
    )


def _cue_family(path: Path, raw: Any) -> CueFamily:
    """Read one cue family: groups of patterns, each group with its weight."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise _fail(path, "scoring.families", f"entry without an id: {raw!r}")
    where = f"cue family '{raw['id']}'"
    groups = raw.get("cues")
    if not isinstance(groups, list) or not groups:
        raise _fail(path, where, "'cues' must list groups of {weight, patterns}")
    cues = []
    for group in groups:
        weight = group.get("weight") if isinstance(group, dict) else None
        if not isinstance(weight, int | float) or weight <= 0:
            raise _fail(path, where, "every cue group needs a positive 'weight'")
        cues += [Cue(pattern, float(weight)) for pattern in _patterns(path, where, group)]
    return CueFamily(
        id=raw["id"],
        points=_points(path, where, raw),
        cues=tuple(cues),
        why=_text(path, where, raw, "why"),
        suggestion=_text(path, where, raw, "suggestion"),
    )


def _scoring(path: Path, raw: Any) -> Scoring:
    """Read the scoring layer: thresholds, kind-context cues and cue families."""
    if not isinstance(raw, dict):
        raise _fail(path, "scoring", "must be a mapping")
    for key in SCORING_KEYS:
        if key not in raw:
            raise _fail(path, "scoring", f"'{key}' is missing")
    if not isinstance(raw.get("families"), list) or not raw["families"]:
        raise _fail(path, "scoring", "'families' must be a non-empty list")
    try:
        questions = {int(count): float(weight) for count, weight in raw["question_weights"].items()}
        numbers = [
            float(raw[key]) for key in ("threshold", "wait_at", "kind_discount", "repeat_bonus")
        ]
    except (AttributeError, TypeError, ValueError) as error:
        raise _fail(path, "scoring", f"malformed number: {error}") from error
    return Scoring(
        id=str(raw["id"]),
        threshold=numbers[0],
        wait_at=numbers[1],
        kind_discount=numbers[2],
        repeat_bonus=numbers[3],
        kind_cues=_patterns(path, "scoring.kind_cues", {"patterns": raw.get("kind_cues")}),
        question_weights=questions,
        max_quotes=int(raw["max_quotes"]),
        families=tuple(_cue_family(path, item) for item in raw["families"]),
        why_lead=_text(path, "scoring", raw, "why_lead"),
        must_flag=_examples(path, "scoring", raw, "must_flag"),
        must_not_flag=_examples(path, "scoring", raw, "must_not_flag"),
    )


def _good_sign(path: Path, raw: Any) -> GoodSign:
    """Read one good sign."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise _fail(path, "good_signs", f"entry without an id: {raw!r}")
    where = f"good sign '{raw['id']}'"
    return GoodSign(raw["id"], _text(path, where, raw, "phrase"), _patterns(path, where, raw))


def _normaliser(path: Path, raw: Any) -> Normaliser:
    """Read the normalisation tables."""
    if not isinstance(raw, dict):
        raise _fail(path, "normalise", "must be a mapping")
    tables = {}
    for key in ("contractions", "suffixes", "spellings"):
        table = raw.get(key)
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise _fail(path, "normalise", f"'{key}' must map words to texts")
        tables[key] = {str(k).lower(): v.lower() for k, v in table.items()}
    suffixes = tuple(sorted(tables["suffixes"].items(), key=lambda item: -len(item[0])))
    return Normaliser(tables["contractions"], suffixes, tables["spellings"])


def _guards(path: Path, raw: Any) -> Guards:
    """Read the negation and validation guards."""
    if not isinstance(raw, dict):
        raise _fail(path, "guards", "must be a mapping")
    try:
        validations = "|".join(f"(?:{pattern})" for pattern in raw["validations"])
        return Guards(
            clause_breaks=frozenset(raw["clause_breaks"]),
            negation_window=int(raw["negation_window"]),
            negations=frozenset(raw["negations"]),
            question_pronouns=frozenset(raw.get("question_pronouns") or ()),
            scope_breaks=frozenset(raw.get("scope_breaks") or ()),
            validation_window=int(raw["validation_window"]),
            validations=_compile(path, "guards", validations),
        )
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, DraftRulesError):
            raise
        raise _fail(path, "guards", f"missing or malformed field: {error}") from error


def _texts(path: Path, raw: Any) -> Mapping[str, Any]:
    """Check the reply texts have a headline and a closing for every verdict."""
    if not isinstance(raw, dict):
        raise _fail(path, "texts", "must be a mapping")
    for key in ("headlines", "closing"):
        missing = [v for v in VERDICT_RANK if not (raw.get(key) or {}).get(v)]
        if missing:
            raise _fail(path, f"texts.{key}", f"missing for {missing}")
    for key in ("flag_intro", "flag_line", "suggestion_line", "good_intro", "truncated"):
        _text(path, "texts", raw, key)
    return raw


def load_rules(path: Path | str = DEFAULT_RULES_PATH) -> DraftRules:
    """Load and validate the draft rules, compiling every pattern once."""
    path = Path(path)
    try:
        raw = read_yaml(path)
    except DataFileError as error:
        raise DraftRulesError(str(error)) from error
    if not isinstance(raw, dict):
        raise _fail(path, "top level", "must be a mapping")
    missing = [key for key in TOP_KEYS if key not in raw]
    if missing:
        raise _fail(path, "top level", f"missing sections {missing}")
    if not isinstance(raw["rules"], list) or not raw["rules"]:
        raise _fail(path, "rules", "must be a non-empty list")
    # Each rule and section is checked on its own, so one report names every problem.
    problems = Problems(DraftRulesError)
    found = [
        problems.part(partial(_rule, path, index, item), None)
        for index, item in enumerate(raw["rules"])
    ]
    rules = tuple(rule for rule in found if rule is not None)
    ids = [rule.id for rule in rules]
    duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
    if duplicates:
        problems.found.append(str(_fail(path, "rules", f"duplicate ids {duplicates}")))
    form_raw = raw["form_checks"] or {}
    form_checks = {
        key: problems.part(partial(_form_check, path, key, form_raw.get(key)), None)
        for key in FORM_CHECK_PARAMS
    }
    normaliser = problems.part(lambda: _normaliser(path, raw["normalise"]), None)
    guards = problems.part(lambda: _guards(path, raw["guards"]), None)
    scoring = problems.part(lambda: _scoring(path, raw["scoring"]), None)
    good_signs = [
        problems.part(partial(_good_sign, path, item), None) for item in raw["good_signs"] or []
    ]
    texts = problems.part(lambda: _texts(path, raw["texts"]), None)
    wait_at_flags = problems.part(lambda: _wait_at_flags(path, raw.get("wait_at_flags")), 0)
    problems.check()
    # No problems, so every part was read.
    assert normaliser is not None and guards is not None
    assert scoring is not None and texts is not None
    return DraftRules(
        normaliser=normaliser,
        guards=guards,
        rules=rules,
        form_checks={key: check for key, check in form_checks.items() if check is not None},
        scoring=scoring,
        good_signs=tuple(sign for sign in good_signs if sign is not None),
        good_form=raw["good_form"] or {},
        texts=texts,
        wait_at_flags=wait_at_flags,
    )


def _wait_at_flags(path: Path, raw: Any) -> int:
    """How many different flags turn "soften" into "wait"."""
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 2:
        raise _fail(path, "wait_at_flags", "must be a whole number, 2 or more")
    return raw


# ---------------------------------------------------------------- normalising


def _expand(token: str, normaliser: Normaliser) -> str:
    """Spell one lower-case token out: misspellings fixed, contractions expanded."""
    token = normaliser.spellings.get(token, token)
    if token in normaliser.contractions:
        return normaliser.contractions[token]
    if "'" not in token:
        return token
    for suffix, expansion in normaliser.suffixes:
        if token.endswith(suffix):
            base = token[: -len(suffix)]
            return normaliser.spellings.get(base, base) + expansion
    base = token.removesuffix("'s").replace("'", "")
    return normaliser.spellings.get(base, base)


def normalise(text: str, normaliser: Normaliser) -> Normalised:
    """Turn a draft into lower-case, spelled-out words, remembering where each came from."""
    words: list[str] = []
    word_tokens: list[int] = []
    spans: list[tuple[int, int]] = []
    for match in TOKEN.finditer(text):
        raw = match.group().translate(CURLY).lower()
        expanded = "," if raw in DASHES else _expand(raw, normaliser)
        spans.append(match.span())
        for word in expanded.split():
            words.append(word)
            word_tokens.append(len(spans) - 1)
    starts, position = [], 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    return Normalised(
        text, " ".join(words), tuple(words), tuple(starts), tuple(spans), tuple(word_tokens)
    )


def _word_at(norm: Normalised, char: int) -> int:
    """Index of the word that covers (or follows) a character of the normalised text."""
    return max(0, min(bisect_right(norm.starts, char) - 1, len(norm.words) - 1))


def _quote(norm: Normalised, start: int, end: int) -> str:
    """The user's own words behind a span of the normalised text."""
    first = norm.word_tokens[_word_at(norm, start)]
    last = norm.word_tokens[_word_at(norm, max(start, end - 1))]
    return norm.original[norm.token_spans[first][0] : norm.token_spans[last][1]].strip()


def _clause_before(norm: Normalised, index: int, guards: Guards) -> list[str]:
    """The words of the same clause that come before word `index`."""
    words: list[str] = []
    for word in reversed(norm.words[:index]):
        if word in PUNCTUATION or word in guards.clause_breaks:
            break
        words.append(word)
    return list(reversed(words))


def _after_scope_break(words: list[str], guards: Guards) -> list[str]:
    """The words after the last scope break: in "I don't see why you ...", only "you ..."."""
    for index in range(len(words) - 1, -1, -1):
        if words[index] in guards.scope_breaks:
            return words[index + 1 :]
    return words


def _negates(before: list[str], next_word: str, guards: Guards) -> bool:
    """True when a negation sits in the last few words (not a question like "can't we")."""
    window = _after_scope_break([*before[-guards.negation_window :], next_word], guards)[:-1]
    following = [*window, next_word][1:]
    return any(
        word in guards.negations and after not in guards.question_pronouns
        for word, after in zip(window, following, strict=True)
    )


def _cancelled(norm: Normalised, start: int, guards: Guards) -> bool:
    """True when a negation or a validating lead-in just before a match changes its meaning."""
    index = _word_at(norm, start)
    before = _clause_before(norm, index, guards)
    if _negates(before, norm.words[index], guards):
        return True
    lead_in = " ".join(before[-guards.validation_window :])
    return bool(lead_in and guards.validations.search(lead_in))


# ---------------------------------------------------------------- checking


def _first_match(norm: Normalised, rule: Rule, guards: Guards) -> re.Match[str] | None:
    """The earliest match of a rule that no negation or validation cancels."""
    best: re.Match[str] | None = None
    for pattern in rule.patterns:
        for match in pattern.finditer(norm.text):
            if _cancelled(norm, match.start(), guards):
                continue
            if best is None or match.start() < best.start():
                best = match
            break
    return best


def _content_flags(norm: Normalised, rules: DraftRules) -> list[Flag]:
    """One flag per content rule that matches."""
    flags = []
    for rule in rules.rules:
        match = _first_match(norm, rule, rules.guards)
        if match is not None:
            quote = _quote(norm, match.start(), match.end())
            flags.append(
                Flag(rule.id, list(rule.points), quote, rule.why, rule.suggestion, rule.severity)
            )
    return flags


def _form_flag(check: FormCheck, quote: str, severity: Severity) -> Flag:
    """A flag for a form check."""
    return Flag(check.id, list(check.points), quote, check.why, check.suggestion, severity)


def _sentences_with(text: str, mark: str, limit: int = 160) -> str:
    """The sentences that contain a mark, trimmed for quoting."""
    parts = [part.strip() for part in SENTENCE_END.split(text) if mark in part]
    quote = " ".join(parts)
    return quote if len(quote) <= limit else quote[: limit - 1].rstrip() + "…"


def _length_flag(text: str, check: FormCheck) -> Flag | None:
    """Flag a long draft: soften above one word count, wait above another."""
    words = len(WORD.findall(text))
    if words > check.params["wait_over_words"]:
        severity: Severity = "wait"
    elif words > check.params["soften_over_words"]:
        severity = "soften"
    else:
        return None
    return _form_flag(check, str(check.params["quote"]).format(words=words), severity)


def _questions_flag(text: str, check: FormCheck) -> Flag | None:
    """Flag a stack of questions."""
    if text.count("?") < check.params["min_questions"]:
        return None
    return _form_flag(check, _sentences_with(text, "?"), check.params["severity"])


def _caps_run(text: str) -> tuple[int, int, str]:
    """Count all-caps words (two letters or more), all words, and quote the caps stretch."""
    words = [match for match in WORD.finditer(text) if sum(c.isalpha() for c in match.group()) > 1]
    caps = [match for match in words if match.group().isupper()]
    quote = text[caps[0].start() : caps[-1].end()] if caps else ""
    return len(caps), len(words), quote


def _shouting_flag(text: str, check: FormCheck) -> Flag | None:
    """Flag a draft written mostly in capitals."""
    caps, total, quote = _caps_run(text)
    if caps < check.params["min_caps_words"] or caps < check.params["min_caps_share"] * total:
        return None
    return _form_flag(check, quote, check.params["severity"])


def _exclamations_flag(text: str, check: FormCheck) -> Flag | None:
    """Flag many exclamation marks."""
    if text.count("!") < check.params["min_marks"]:
        return None
    return _form_flag(check, _sentences_with(text, "!"), check.params["severity"])


def _in_a_row_flag(recent_unanswered: int, check: FormCheck) -> Flag | None:
    """Flag one more message on top of several unanswered ones."""
    if recent_unanswered >= check.params["wait_at"]:
        severity: Severity = "wait"
    elif recent_unanswered >= check.params["soften_at"]:
        severity = "soften"
    else:
        return None
    quote = str(check.params["quote"]).format(count=recent_unanswered)
    return _form_flag(check, quote, severity)


def _form_flags(text: str, rules: DraftRules, recent_unanswered: int) -> list[Flag]:
    """Flags for the form of the draft."""
    checks = rules.form_checks
    found = [
        _length_flag(text, checks["long_message"]),
        _questions_flag(text, checks["question_stack"]),
        _shouting_flag(text, checks["shouting"]),
        _exclamations_flag(text, checks["exclamations"]),
        _in_a_row_flag(recent_unanswered, checks["in_a_row"]),
    ]
    return [flag for flag in found if flag is not None]


# ---------------------------------------------------------------- scoring


def _family_hit(norm: Normalised, family: CueFamily, rules: DraftRules) -> CueHit | None:
    """The family's heaviest uncancelled cue, plus a bonus when a second, different cue shows."""
    found: list[CueHit] = []
    for cue in family.cues:
        for match in cue.pattern.finditer(norm.text):
            if not _cancelled(norm, match.start(), rules.guards):
                found.append(CueHit(family, cue.weight, match.start(), match.end()))
                break
    if not found:
        return None
    best = max(found, key=lambda hit: hit.weight)
    # A second sign of the same kind adds a little: "you always ... selfish ... proves it".
    bonus = rules.scoring.repeat_bonus if len({(h.start, h.end) for h in found}) > 1 else 0.0
    return CueHit(family, best.weight + bonus, best.start, best.end)


def _cue_hits(norm: Normalised, rules: DraftRules) -> list[CueHit]:
    """One hit per cue family that shows in the draft, uncancelled by negation or validation."""
    hits = (_family_hit(norm, family, rules) for family in rules.scoring.families)
    return [hit for hit in hits if hit is not None]


def _question_weight(text: str, scoring: Scoring) -> float:
    """Weight of the question marks: a pair of questions is a weak sign of pressing."""
    count = text.count("?")
    weights = [weight for at_least, weight in scoring.question_weights.items() if count >= at_least]
    return max(weights, default=0.0)


def _pressure(norm: Normalised, rules: DraftRules) -> PressureScore:
    """Sum the cue families and the question weight, less a discount in a kind context."""
    scoring = rules.scoring
    hits = _cue_hits(norm, rules)
    kind = any(pattern.search(norm.text) for pattern in scoring.kind_cues)
    total = sum(hit.weight for hit in hits) + _question_weight(norm.original, scoring)
    if kind:
        total -= scoring.kind_discount
    return PressureScore(round(total, 3), tuple(hits), kind)


def pressure_score(text: str, rules: DraftRules) -> PressureScore:
    """The weighted pressure score of a draft (see `scoring` in the rules file)."""
    return _pressure(normalise(text, rules.normaliser), rules)


def _score_flag(norm: Normalised, score: PressureScore, scoring: Scoring) -> Flag | None:
    """One flag for a draft whose weak signs add up, led by its heaviest family."""
    if score.total < scoring.threshold or not score.hits:
        return None
    ranked = sorted(score.hits, key=lambda hit: (-hit.weight, hit.start))
    quoted = sorted(ranked[: scoring.max_quotes], key=lambda hit: hit.start)
    quote = " … ".join(_quote(norm, hit.start, hit.end) for hit in quoted)
    points = list(dict.fromkeys(point for hit in ranked for point in hit.family.points))
    lead = ranked[0].family
    severity: Severity = "wait" if score.total >= scoring.wait_at else "soften"
    why = f"{scoring.why_lead} {lead.why}"
    return Flag(scoring.id, points, quote, why, lead.suggestion, severity)


def _good(norm: Normalised, rules: DraftRules, flags: list[Flag]) -> list[str]:
    """Phrases naming what is good in the draft."""
    good = [
        sign.phrase
        for sign in rules.good_signs
        if any(pattern.search(norm.text) for pattern in sign.patterns)
    ]
    brief = rules.good_form.get("brief")
    if brief and 0 < len(WORD.findall(norm.original)) <= brief["max_words"]:
        good.append(brief["phrase"])
    question = rules.good_form.get("friendly_question")
    if question and norm.original.count("?") == 1 and not flags:
        good.append(question["phrase"])
    return good


def _verdict(flags: list[Flag], wait_at_flags: int) -> Verdict:
    """wait if any flag says wait or several different ones add up, soften if any, else ok."""
    if any(flag.severity == "wait" for flag in flags):
        return "wait"
    if len({flag.rule for flag in flags}) >= wait_at_flags:
        return "wait"
    return "soften" if flags else "ok"


def check_draft(text: str, rules: DraftRules, *, recent_unanswered: int = 0) -> DraftResult:
    """Check one draft: verdict, flags with reasons and suggestions, and what is good."""
    norm = normalise(text, rules.normaliser)
    flags = _content_flags(norm, rules)
    if not flags:
        # The rules say it best when they match; the score catches pressure in other words.
        score_flag = _score_flag(norm, _pressure(norm, rules), rules.scoring)
        flags += [score_flag] if score_flag else []
    flags += _form_flags(text, rules, recent_unanswered)
    return DraftResult(_verdict(flags, rules.wait_at_flags), flags, _good(norm, rules, flags))


def example_failures(rules: DraftRules) -> list[str]:
    """Every must_flag / must_not_flag example its rule gets wrong, described in words."""
    checks: list[Rule | FormCheck] = [*rules.rules, *rules.form_checks.values()]
    failures = []
    for check in checks:
        for example, wanted in [(e, True) for e in check.must_flag] + [
            (e, False) for e in check.must_not_flag
        ]:
            result = check_draft(example.text, rules, recent_unanswered=example.recent_unanswered)
            flagged = any(flag.rule == check.id for flag in result.flags)
            if flagged != wanted:
                verb = "should flag" if wanted else "should not flag"
                failures.append(f"{check.id} {verb}: {example.text!r}")
    return failures + _scoring_failures(rules)


def _scoring_failures(rules: DraftRules) -> list[str]:
    """Scoring examples on the wrong side of the threshold, described in words."""
    scoring, failures = rules.scoring, []
    for example, wanted in [(e, True) for e in scoring.must_flag] + [
        (e, False) for e in scoring.must_not_flag
    ]:
        total = pressure_score(example.text, rules).total
        if (total >= scoring.threshold) != wanted:
            verb = "should reach" if wanted else "should stay under"
            failures.append(f"{scoring.id} {verb} {scoring.threshold}: {example.text!r} ({total})")
    return failures


# ---------------------------------------------------------------- reply text


def format_result(result: DraftResult, texts: Mapping[str, Any]) -> str:
    """The bot's short, warm reply for a checked draft, within Telegram's length limit."""
    lines = [texts["headlines"][result.verdict]]
    if result.flags:
        lines += ["", texts["flag_intro"]]
        for flag in result.flags:
            lines.append(texts["flag_line"].format(quote=flag.quote, why=flag.why))
            lines.append(texts["suggestion_line"].format(suggestion=flag.suggestion))
    elif texts.get("no_flags"):
        lines.append(texts["no_flags"])
    if result.good:
        lines += ["", texts["good_intro"], *(f"• {phrase}" for phrase in result.good)]
    closing = texts["closing"][result.verdict]
    if result.flags and all(flag.rule == "in_a_row" for flag in result.flags):
        # Only the timing is the matter (kind words after unanswered ones): say so, and do not
        # speak of feelings running high.
        closing = texts["closing"].get("timing", closing)
    lines += ["", closing]
    reply = "\n".join(lines)
    if len(reply) <= TELEGRAM_LIMIT:
        return reply
    tail = "\n\n" + str(texts["truncated"])
    return reply[: TELEGRAM_LIMIT - len(tail) - 1].rstrip() + "…" + tail
