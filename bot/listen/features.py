"""Text to hashed n-gram features, the same at training and at run time (plain Python).

A message is normalised (lower case, curly quotes straight, no accents, runs of a letter cut
to two), then split into word unigrams and bigrams and the UTF-8 byte 3- to 5-grams inside
each of its first 256 distinct words (with a space on each side, like scikit-learn's
`char_wb`). Each n-gram is hashed with CRC-32 into `BUCKETS` slots; the set of slots (not
counts) is the message's features.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from functools import lru_cache
from zlib import crc32

BUCKETS = 1 << 17
MASK = BUCKETS - 1  # BUCKETS is a power of two: `& MASK` is `% BUCKETS`
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_REPEATS = re.compile(r"(.)\1{2,}")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
CHAR_SIZES = (3, 4, 5)
MAX_CHARS = 4096  # Telegram's limit for one message; a longer text is cut here first
# Character n-grams are read for a message's first CHAR_WORDS distinct words (the longest
# labelled message has 118): a 4,096-character message's cost is bounded, and its later words
# still count as words and word pairs (and the crisis rules read all of it).
CHAR_WORDS = 256
CACHED_WORDS = 4096  # distinct words whose character n-gram slots are kept (see slots_of)
CACHED_LENGTH = 16  # longer words are hashed every time


def normalise(text: str) -> str:
    """Lower case, straight quotes, no accents, letter runs cut to two."""
    text = text[:MAX_CHARS].translate(_QUOTES).lower()
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate becomes "?"
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _REPEATS.sub(r"\1\1", text)


def words(text: str) -> list[str]:
    """The words of a normalised text (apostrophes inside a word kept, emoji as words)."""
    return _WORD.findall(text)


def hashed(text: str) -> list[int]:
    """The message's feature slots (what the models score), in no particular order."""
    return slots_of(words(normalise(text)))


def slots_of(tokens: list[str]) -> list[int]:
    """Feature slots of a message's words (see `hashed`).

    Word unigrams and bigrams, and byte 3- to 5-grams of each distinct word (the first
    CHAR_WORDS of them) padded with a space on each side, each hashed with CRC-32 into
    `BUCKETS` slots.
    """
    slots = {crc32(b"w:" + t.encode()) & MASK for t in tokens}
    slots.update(
        crc32(f"b:{a} {b}".encode()) & MASK for a, b in zip(tokens, tokens[1:], strict=False)
    )
    for token in list(dict.fromkeys(tokens))[:CHAR_WORDS]:
        short = len(token) <= CACHED_LENGTH
        slots.update(_cached_char_slots(token) if short else _char_slots(token))
    return list(slots)


def _char_slots(token: str) -> array[int]:
    """The byte 3- to 5-gram slots of one word."""
    padded = b" " + token.encode() + b" "
    return array(
        "I",
        {
            crc32(padded[i : i + size]) & MASK
            for size in CHAR_SIZES
            for i in range(len(padded) - size + 1)
        },
    )


# Most words of a message are everyday ones seen before: a long message costs look-ups, not
# hashing. Only words of up to CACHED_LENGTH characters are kept, so a full cache stays
# under 3 MB whatever people type.
_cached_char_slots = lru_cache(maxsize=CACHED_WORDS)(_char_slots)


def forget_words() -> None:
    """Empty the words' n-gram cache (the benchmark times its worst inputs cold)."""
    _cached_char_slots.cache_clear()
