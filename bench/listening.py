"""The cost of understanding one typed message: the crisis check, and the intent for free text.

Messages come from the blind held-out sets (every task), as users typed them; each is timed
with nothing of the message cached (the crisis check and the intent share one message's
features, as in the bot; the words' n-gram cache is warm, as in a running bot). The worst case
is 4,096 characters timed with every cache cleared: random words (nothing repeats, few rules'
word gates open) and real messages joined (every gate opens, every word is hashed). The joined
messages are fixed (`bench/worst_texts.json`, one text per task from its training messages), so
runs on different days time the same input: joined from the held-out sets, the text changed
whenever a round turned them into training data (6.9 to 20 ms on the same code).
Pinned to one core, like the update run.
"""

from __future__ import annotations

import json
import random
import string
import sys
import time
from pathlib import Path
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


WORST_TEXTS = Path(__file__).with_name("worst_texts.json")


def write_worst_texts(path: Path = WORST_TEXTS, seed: int = 1) -> dict[str, str]:
    """Write one 4,096-character text per task, joined from its training messages."""
    texts = {}
    for task in labelled.TASKS:
        messages = [e.text for e in labelled.read_all(labelled.train_files(task), task)]
        texts[task] = long_real_text(messages, seed)
    path.write_text(json.dumps(texts, ensure_ascii=False, indent=1) + "\n")
    return texts


def worst_texts(path: Path = WORST_TEXTS) -> dict[str, str]:
    """The fixed worst-case texts, one per task (see write_worst_texts)."""
    texts: dict[str, str] = json.loads(path.read_text())
    return texts


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
    inputs = {"random": worst_text()} | {f"real_{k}": v for k, v in worst_texts().items()}
    for name, text in inputs.items():
        runs = sorted(understand(listener, text, cold=True) for _ in range(7))
        worst[name] = runs[len(runs) // 2]  # the median of 7 runs, not their noise
    worst["real"] = max(worst[name] for name in inputs if name.startswith("real_"))
    return {
        "messages": len(texts) * rounds,
        "p50_ms": times[len(times) // 2],
        "p99_ms": times[int(len(times) * 0.99)],
        "max_ms": times[-1],
        "worst_4096_ms": max(worst.values()),
        "worst_4096_random_ms": worst["random"],
        "worst_4096_real_ms": worst["real"],
        "worst_4096_real_by_task_ms": {
            name.removeprefix("real_"): ms for name, ms in worst.items() if name.startswith("real_")
        },
    }


if __name__ == "__main__":  # python -m bench.listening --write-worst: new fixed texts
    if sys.argv[1:] != ["--write-worst"]:
        sys.exit("usage: python -m bench.listening --write-worst")
    for task, text in write_worst_texts().items():
        print(f"{task}: {len(text)} characters")
