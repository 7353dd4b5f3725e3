"""Text to hashed n-gram features, the same at training and at run time (plain Python).

A message is normalised (lower case, curly quotes straight, runs of a letter cut to two),
then split into word unigrams and bigrams and character 2- to 5-grams inside words
(with a space on each side, like scikit-learn's `char_wb`). Each n-gram is hashed with
CRC-32 into `BUCKETS` slots; the set of slots (not counts) is the message's features.
"""

from __future__ import annotations

import re
import unicodedata
import zlib

BUCKETS = 1 << 17
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_REPEATS = re.compile(r"(.)\1{2,}")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
CHAR_SIZES = (2, 3, 4, 5)
MAX_CHARS = 4096  # Telegram's limit for one message; a longer text is cut here first


def normalise(text: str) -> str:
    """Lower case, straight quotes, no accents, letter runs cut to two."""
    text = text[:MAX_CHARS].translate(_QUOTES).lower()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _REPEATS.sub(r"\1\1", text)


def words(text: str) -> list[str]:
    """The words of a normalised text (apostrophes inside a word kept, emoji as words)."""
    return _WORD.findall(text)


def grams(text: str) -> set[str]:
    """Every n-gram feature of a raw text, as strings (before hashing)."""
    tokens = words(normalise(text))
    found = {f"w:{t}" for t in tokens}
    found.update(f"b:{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False))
    for token in set(tokens):
        padded = f" {token} "
        for size in CHAR_SIZES:
            if len(padded) < size:
                break
            found.update(padded[i : i + size] for i in range(len(padded) - size + 1))
    return found


def hashed(text: str) -> list[int]:
    """The message's feature slots, sorted (what the models score)."""
    return sorted({zlib.crc32(g.encode()) % BUCKETS for g in grams(text)})
