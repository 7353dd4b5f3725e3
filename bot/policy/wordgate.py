"""Word gates: which words a set of patterns can start with, to skip a search that cannot match.

A crisis category's patterns are searched over the whole message (up to 4,096 characters),
and the search costs about the same for every word of the message. A category whose every
pattern must start with one of a known set of words ("he", "i", "kms") or word beginnings
("kil..." for `kil\\w*`) cannot match a message without one of them, so its search is
skipped. The gate is worked out once, when the rules load, from the patterns themselves; a
pattern whose start is not literal (`\\w+`, a character class) leaves its category ungated.
The gate is only a shortcut: with it or without it, the result is the same (a test checks
this on every labelled message).

The same analysis, pattern by pattern, gives a start index (`StartIndex`): each pattern is
tried only at the words it can start with, instead of at every word of the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

try:  # the standard library's own pattern parser (3.11+); without it nothing is gated
    import re._constants as _const  # type: ignore[import-not-found]
    import re._parser as _parser  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    _parser = None
    _const = None

_MAX_STARTS = 400  # more possible starts than this: not worth gating
_SEPARATORS = " .!?;"  # a literal one of these ends the leading word (as normalise splits)

# A possible start of a match: its literal characters so far, and how the leading word ends:
# "open" (the sequence ended while literal), "word" (a separator or the end of the whole
# pattern follows: the word is complete) or "prefix" (something not literal follows).
_Start = tuple[str, str]


@dataclass(frozen=True)
class Gate:
    """Whole words and word beginnings; a text can match only if it has one of them."""

    words: frozenset[str]
    prefixes: frozenset[str]

    @cached_property
    def _beginnings(self) -> tuple[str, ...]:
        return tuple(self.prefixes)  # for one str.startswith test per word

    def opens_for(self, words: set[str]) -> bool:
        """Whether a text with these words may match (a whole word, or one's beginning)."""
        if not self.words.isdisjoint(words):
            return True
        beginnings = self._beginnings
        return bool(beginnings) and any(word.startswith(beginnings) for word in words)


def gate_of(sources: Iterable[str]) -> Gate | None:
    """The gate of these patterns (each matched as whole words), or None if unknown."""
    if _parser is None:
        return None
    words: set[str] = set()
    prefixes: set[str] = set()
    for source in sources:
        try:
            parsed = _parser.parse(source)
            if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
                return None  # letters of another case, or spaces that are not spaces
            starts = _starts(list(parsed), 0)
        except (_Unknown, RecursionError, ValueError, re.error):
            return None
        for text, how in starts:
            if not text:
                return None
            if how == "prefix":
                prefixes.add(text)
            else:  # "open" at the end of a whole pattern: the word ends with the match
                words.add(text)
    return Gate(frozenset(words), frozenset(prefixes))


Compile = Callable[[list[str]], "re.Pattern[str] | None"]


@dataclass(frozen=True)
class StartIndex:
    """Patterns filed under the words they can start with, tried only where such a word begins.

    Searching one long alternation tries every pattern at every word of the message. Here each
    pattern is tried (with `match`, at that word) only where a word it can start with begins;
    the few that can start anywhere are searched as before. The answer is the same as searching
    them all (a test checks every labelled message); a long message costs far less.
    """

    sources: tuple[str, ...]
    by_word: Mapping[str, tuple[int, ...]]
    by_prefix: Mapping[str, tuple[int, ...]]
    free: re.Pattern[str] | None
    compile: Compile
    # False: search with one alternation of every pattern, tried at every word (the reference
    # the tests compare the index with; the bot never turns it off).
    indexed: bool = True
    # Patterns filed under exactly the same words and beginnings form a group (a pattern that
    # starts with a list of 60 drug names is one group, not 60 copies); each group is one
    # alternation, compiled on first use, and a word tries the groups filed under it. So each
    # pattern is compiled once, whatever words users type: 457 alternations for the crisis
    # rules, 0.15 s in all here, where one alternation per word compiled the popular patterns
    # again for every word they can start with (2,026 alternations, 0.83 s).
    _group_patterns: dict[int, re.Pattern[str] | None] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @cached_property
    def _prefixes(self) -> tuple[str, ...]:
        return tuple(self.by_prefix)

    @cached_property
    def _groups(
        self,
    ) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]], list[list[int]]]:
        """The groups under each word and each beginning, and each group's patterns."""
        keys: dict[int, set[tuple[bool, str]]] = {}
        for prefix, filed in ((False, self.by_word), (True, self.by_prefix)):
            for key, chosen in filed.items():
                for index in chosen:
                    keys.setdefault(index, set()).add((prefix, key))
        members: dict[frozenset[tuple[bool, str]], list[int]] = {}
        for index in sorted(keys):
            members.setdefault(frozenset(keys[index]), []).append(index)
        by_word: dict[str, list[int]] = {}
        by_prefix: dict[str, list[int]] = {}
        for group, keyset in enumerate(members):
            for prefix, key in keyset:
                (by_prefix if prefix else by_word).setdefault(key, []).append(group)
        return (
            {key: tuple(found) for key, found in by_word.items()},
            {key: tuple(found) for key, found in by_prefix.items()},
            list(members.values()),
        )

    @cached_property
    def _everywhere(self) -> re.Pattern[str] | None:
        return self.compile(list(self.sources))

    def compile_all(self) -> int:
        """Compile every group not compiled yet (the bot does this after start-up, in the
        background, so no user's long message waits for it); returns how many it compiled."""
        missing = [
            group for group in range(len(self._groups[2])) if group not in self._group_patterns
        ]
        for group in missing:
            self._compile_group(group)
        return len(missing)

    def _compile_group(self, group: int) -> re.Pattern[str] | None:
        """Compile one group's alternation and keep it (see `_group_patterns`)."""
        sources = [self.sources[index] for index in self._groups[2][group]]
        pattern = self._group_patterns[group] = self.compile(sources)
        return pattern

    def search(self, normal: str) -> bool:
        """Whether any pattern matches the normalised text (words joined by single spaces)."""
        if not self.indexed:
            return self._everywhere is not None and self._everywhere.search(normal) is not None
        if self.free is not None and self.free.search(normal):
            return True
        word_groups, prefixes = self._groups[0], self._prefixes
        position = 0
        for word in normal.split(" "):
            groups = word_groups.get(word, ())
            if prefixes and word.startswith(prefixes):
                groups = self._with_prefixes(word, groups)
            if groups and self._matches(groups, normal, position):
                return True
            position += len(word) + 1
        return False

    def _with_prefixes(self, word: str, groups: tuple[int, ...]) -> tuple[int, ...]:
        """The word's groups and those of every beginning it has, each once (a pattern filed
        under both "kil" and "kil..." is one group, tried once)."""
        found = set(groups)
        for prefix, filed in self._groups[1].items():
            if word.startswith(prefix):
                found.update(filed)
        return tuple(sorted(found))

    def _matches(self, groups: tuple[int, ...], normal: str, position: int) -> bool:
        """Whether a pattern of these groups matches at position (each compiled on first use)."""
        compiled = self._group_patterns
        for group in groups:
            pattern = compiled[group] if group in compiled else self._compile_group(group)
            if pattern is not None and pattern.match(normal, position) is not None:
                return True
        return False


def start_index(sources: list[str], compile: Compile) -> StartIndex:
    """File each pattern under the words it can start with (see StartIndex)."""
    by_word: dict[str, set[int]] = {}
    by_prefix: dict[str, set[int]] = {}
    free = []
    for index, source in enumerate(sources):
        gate = gate_of([source])
        if gate is None:
            free.append(source)
            continue
        for word in gate.words:
            by_word.setdefault(word, set()).add(index)
        for prefix in gate.prefixes:
            by_prefix.setdefault(prefix, set()).add(index)
    return StartIndex(
        sources=tuple(sources),
        by_word={word: tuple(sorted(found)) for word, found in by_word.items()},
        by_prefix={prefix: tuple(sorted(found)) for prefix, found in by_prefix.items()},
        free=compile(free) if free else None,
        compile=compile,
    )


def gate_of_indexes(indexes: Iterable[StartIndex]) -> Gate | None:
    """The gate of all these indexes' patterns (as gate_of them all, without parsing again)."""
    words: set[str] = set()
    prefixes: set[str] = set()
    for index in indexes:
        if index.free is not None:
            return None  # a pattern that can start anywhere: no gate
        words.update(index.by_word)
        prefixes.update(index.by_prefix)
    return Gate(frozenset(words), frozenset(prefixes))


def words_of(normal: str) -> set[str]:
    """The words of a normalised text (normalise joins them with single spaces)."""
    return set(normal.split())


class _Unknown(Exception):
    """A construct the analysis does not follow: the patterns stay ungated."""


def _starts(items: list[Any], index: int) -> set[_Start]:
    """How a match of items[index:] can start."""
    if index >= len(items):
        return {("", "open")}
    op, arg = items[index]
    if op is _const.LITERAL:
        char = chr(arg)
        if char in _SEPARATORS:
            return {("", "word")}
        if not (char.isalnum() or char == "'"):
            return {("", "prefix")}  # normalised words hold only letters, digits and '
        return _capped({(char + text, how) for text, how in _starts(items, index + 1)})
    if op is _const.IN and arg and all(kind is _const.LITERAL for kind, _ in arg):
        # "(?:lo|la)" is parsed as "l" and the set [oa]: each letter is a literal branch.
        rest = _starts(items, index + 1)
        return _capped({(chr(code) + text, how) for _, code in arg for text, how in rest})
    if op in (_const.AT, _const.ASSERT, _const.ASSERT_NOT):
        return _starts(items, index + 1)  # zero width: the start is decided by what follows
    if op is _const.SUBPATTERN:
        return _then(_starts(list(arg[-1]), 0), items, index)
    if op is _const.BRANCH:
        inner: set[_Start] = set()
        for branch in arg[1]:
            inner |= _starts(list(branch), 0)
        return _then(inner, items, index)
    if op in (_const.MAX_REPEAT, _const.MIN_REPEAT, _const.POSSESSIVE_REPEAT):
        low, _, body = arg
        # However many times it repeats is unknown: its first word ends or it is a beginning.
        once = {(text, "prefix" if how == "open" else how) for text, how in _starts(list(body), 0)}
        return _capped(once | _starts(items, index + 1)) if low == 0 else once
    return {("", "prefix")}  # a class, any character, a back-reference: not literal


def _then(inner: set[_Start], items: list[Any], index: int) -> set[_Start]:
    """A group's starts, continued into what follows it where the group was all literal."""
    result: set[_Start] = set()
    for text, how in inner:
        if how == "open":
            result |= {(text + rest, then) for rest, then in _starts(items, index + 1)}
        else:
            result.add((text, how))
    return _capped(result)


def _capped(starts: set[_Start]) -> set[_Start]:
    if len(starts) > _MAX_STARTS:
        raise _Unknown
    return starts


@dataclass(frozen=True)
class Masker:
    """One alternation searched and substituted only where a match can start.

    `pattern.sub` and `pattern.search` try the alternation at every character of the
    message. A match can only start where one of its patterns can: at a word of the gate of
    the patterns whose start is known, or where one of the few others (`anywhere`, found by a
    zero-width search of those alone) matches. The whole alternation is tried with `match`
    at those places only, in order, so the first match is the one the plain search finds and
    each later one the one `sub` finds after it: the same results, which a test checks on
    every labelled message.
    """

    pattern: re.Pattern[str]
    gate: Gate
    anywhere: re.Pattern[str] | None  # where a pattern without a gate matches (zero width)
    indexed: bool = True  # False: the plain pattern (the reference the tests compare with)

    def search(self, normal: str) -> re.Match[str] | None:
        """The first match in a normalised text (words joined by single spaces), or None."""
        if not self.indexed:
            return self.pattern.search(normal)
        free = self.anywhere.search(normal) if self.anywhere is not None else None
        until = free.start() if free is not None else len(normal) + 1
        for start in self._gated(normal):
            if start >= until:
                break
            if found := self.pattern.match(normal, start):
                return found
        # A pattern without a gate matches at `until`, so the alternation does too.
        return self.pattern.search(normal, until) if free is not None else None

    def sub(self, replacement: str, normal: str) -> str:
        """The text with every match replaced, as `pattern.sub(replacement, normal)`."""
        if not self.indexed:
            return self.pattern.sub(replacement, normal)
        parts: list[str] = []
        done = 0
        for start in self._starts(normal):
            if start < done:
                continue  # inside the last match
            found = self.pattern.match(normal, start)
            if found is not None and found.end() > start:
                parts += (normal[done:start], replacement)
                done = found.end()
        return "".join(parts) + normal[done:] if parts else normal

    def _gated(self, normal: str) -> Iterator[int]:
        """Where a word the gated patterns can start with begins, in order."""
        words, beginnings = self.gate.words, self.gate._beginnings
        position = 0
        for word in normal.split(" "):
            if word in words or (beginnings and word.startswith(beginnings)):
                yield position
            position += len(word) + 1

    def _starts(self, normal: str) -> list[int]:
        """Where a match may start, in order."""
        starts = list(self._gated(normal))
        if self.anywhere is not None:
            others = [found.start() for found in self.anywhere.finditer(normal)]
            if others:
                return sorted(set(starts).union(others))
        return starts


def masker(sources: list[str], compile: Compile) -> Masker | None:
    """A Masker for these patterns (None if there are none)."""
    pattern = compile(sources) if sources else None
    if pattern is None:
        return None
    index = start_index(sources, compile)  # which words each pattern can start with, if known
    gate = Gate(frozenset(index.by_word), frozenset(index.by_prefix))
    anywhere = re.compile(f"(?={index.free.pattern})") if index.free is not None else None
    return Masker(pattern, gate, anywhere)
