"""A fresh bot's first long message: `python -m bench.first_message [--runs N]`.

Each run starts a new process, builds the engine as the bot does, and times the crisis
reading of the fixed 4,096-character intent text (`bench/worst_texts.json`) twice: once with
the pattern groups compiled on first use (as before the background compile), once after
`compile_rules_in_background` has finished (as the bot is a moment after start-up).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time


def child(compiled: bool) -> dict[str, float]:
    """In this process: build the engine, maybe compile the rules, time the first two reads."""
    from bench.listening import worst_texts
    from bot.service import build_engine, compile_rules_in_background

    engine = build_engine()
    listener = engine.policy.listener
    text = worst_texts()["intents"]
    began = time.perf_counter()
    if compiled:
        compile_rules_in_background(engine).join()
    compiling = time.perf_counter() - began
    times = []
    for _ in range(2):
        began = time.perf_counter()
        listener.crisis(text)
        times.append(time.perf_counter() - began)
    return {
        "compile_ms": 1000 * compiling,
        "first_ms": 1000 * times[0],
        "second_ms": 1000 * times[1],
    }


def measure(runs: int) -> dict[str, list[dict[str, float]]]:
    """Each kind `runs` times, each in a fresh process."""
    found: dict[str, list[dict[str, float]]] = {"on first use": [], "compiled after start-up": []}
    for _ in range(runs):
        for kind, flag in (
            ("on first use", "--on-first-use"),
            ("compiled after start-up", "--child"),
        ):
            command = [sys.executable, "-m", "bench.first_message", flag]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            found[kind].append(json.loads(out))
    return found


def main() -> None:
    """Parse the arguments and print one line a kind."""
    parser = argparse.ArgumentParser(prog="python -m bench.first_message", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--on-first-use", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child or arguments.on_first_use:
        print(json.dumps(child(compiled=arguments.child)))
        return
    for kind, runs in measure(arguments.runs).items():

        def listed(key: str, runs: list[dict[str, float]] = runs) -> str:
            return ", ".join(f"{run[key]:.0f}" for run in runs) + " ms"

        line = f"{kind}: first long message {listed('first_ms')}; the next {listed('second_ms')}"
        if kind != "on first use":
            line += f"; the background compile took {listed('compile_ms')}"
        print(line)


if __name__ == "__main__":
    main()
