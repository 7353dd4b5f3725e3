"""The cost of understanding one typed message: the crisis check, and the intent for free text.

Messages come from the blind held-out sets (every task), as users typed them; each is timed
on a cold feature cache, as in the bot (the crisis check and the intent share one message's
features). The worst case is a 4,096-character message of random words: nothing repeats, so
no work is shared. Pinned to one core, like the update run.
"""

from __future__ import annotations

import json
import random
import string
import time
from typing import Any

from bot.listen import Listener
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


def understand(listener: Listener, text: str) -> float:
    """Milliseconds for what the bot does with a typed message: crisis check, then intent."""
    listener.forget()  # a new message: nothing cached
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
    worst = worst_text()
    runs = sorted(understand(listener, worst) for _ in range(7))
    worst_ms = runs[len(runs) // 2]  # the worst input's cost: the median of 7 runs, not their noise
    return {
        "messages": len(texts) * rounds,
        "p50_ms": times[len(times) // 2],
        "p99_ms": times[int(len(times) * 0.99)],
        "max_ms": times[-1],
        "worst_4096_ms": worst_ms,
    }
