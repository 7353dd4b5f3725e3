"""The cost of understanding one typed message: the crisis check, and the intent for free text.

Messages come from the blind held-out sets (every task), as users typed them; each is timed
with nothing of the message cached (the crisis check and the intent share one message's
features, as in the bot; the words' n-gram cache is warm, as in a running bot). The worst case
is 4,096 characters timed with every cache cleared, twice: random words (nothing repeats, few
rules' word gates open) and real messages joined (every gate opens, every word is hashed).
Pinned to one core, like the update run.
"""

from __future__ import annotations

import json
import random
import string
import time
from typing import Any

from bot.listen import Listener, features
from bot.listen import data as labelled
from bot.listen.features import MAX_CHARS


def sample_texts() -> list[str]:
    """Every held-out message of every task."""
    texts = []
    for task in labelled.TASKS:
        for path in labelled.heldout_files(task):
            texts += [json.loads(line)["text"] for line in path.read_text().splitlines() if line]
    return texts


def worst_text(seed: int = 1) -> str:
    """A 4,096-character message of random, never repeated words (accents and Cyrillic too)."""
    rng = random.Random(seed)
    letters = string.ascii_letters + "éßжшя"
    words = ("".join(rng.choice(letters) for _ in range(rng.randint(3, 12))) for _ in range(900))
    return " ".join(words)[:MAX_CHARS]


def long_real_text(texts: list[str], seed: int = 1) -> str:
    """A 4,096-character message of real messages joined (every word a real one)."""
    rng = random.Random(seed)
    parts: list[str] = []
    while sum(len(part) + 1 for part in parts) < MAX_CHARS:
        parts.append(rng.choice(texts))
    return " ".join(parts)[:MAX_CHARS]


def understand(listener: Listener, text: str, cold: bool = False) -> float:
    """Milliseconds for what the bot does with a typed message: crisis check, then intent."""
    listener.forget()  # a new message: nothing cached
    if cold:
        features.forget_words()  # and no word seen before either
    start = time.perf_counter()
    if listener.crisis(text) is None:
        listener.intent(text)
    return (time.perf_counter() - start) * 1000


def measure(listener: Listener, rounds: int = 3) -> dict[str, Any]:
    """p50, p99 and max over the held-out messages, and the worst case."""
    texts = sample_texts()
    for text in texts[:200]:
        understand(listener, text)  # warm-up: first-use costs (regex caches) excluded
    times = sorted(understand(listener, t) for _ in range(rounds) for t in texts)
    worst = {}
    for name, text in (("random", worst_text()), ("real", long_real_text(texts))):
        runs = sorted(understand(listener, text, cold=True) for _ in range(7))
        worst[name] = runs[len(runs) // 2]  # the median of 7 runs, not their noise
    return {
        "messages": len(texts) * rounds,
        "p50_ms": times[len(times) // 2],
        "p99_ms": times[int(len(times) * 0.99)],
        "max_ms": times[-1],
        "worst_4096_ms": max(worst.values()),
        "worst_4096_random_ms": worst["random"],
        "worst_4096_real_ms": worst["real"],
    }
