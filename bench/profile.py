"""A profile of every thread (`python -m bench --profile FILE`).

The update path runs on three kinds of threads: the event loop (PTB, the handlers, replies),
asyncio's default executor (Service.handle: the store's read and the engine) and the store's
writer (group commits). pyinstrument and cProfile see one thread; this starts a cProfile
in the profiling thread and in every thread started after it, and merges them. Each thread's
CPU time is measured (time.thread_time), so a waiting thread is charged nothing. Start-up and
the warm-up (first-use costs: compiling the rules' patterns, caches) are left out: every
profile is cleared when the warm-up ends. Deterministic
profiling slows Python calls down (the figures are not the timed ones): read it for where
the time goes, not for how much there is.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import threading
import time
from typing import Any

# Buckets for the summary: the first pattern found in a function's file path names it.
BUCKETS = (
    ("store: SQL (sqlite3 calls)", "<method 'execute' of 'sqlite3"),
    ("store: SQL (sqlite3 calls)", "<method 'fetchone' of 'sqlite3"),
    ("store: SQL (sqlite3 calls)", "<method 'fetchall' of 'sqlite3"),
    ("store: Python", "/bot/store/"),
    ("engine and content", "/bot/engine.py"),
    ("engine and content", "/bot/features/"),
    ("engine and content", "/bot/policy/"),
    ("engine and content", "/bot/listen/"),
    ("engine and content", "/bot/flows.py"),
    ("engine and content", "/bot/content.py"),
    ("engine and content", "/bot/model.py"),
    ("engine and content", "/transitions/"),
    ("service", "/bot/service.py"),
    ("adapter (bot/telegram.py, reliability)", "/bot/telegram.py"),
    ("adapter (bot/telegram.py, reliability)", "/bot/incoming.py"),
    ("adapter (bot/telegram.py, reliability)", "/bot/reliability.py"),
    ("adapter (bot/telegram.py, reliability)", "/bot/locks.py"),
    ("PTB", "/telegram/"),
    ("JSON", "/json/"),
    ("JSON", "<built-in method _json"),
    ("JSON", "<method 'encode' of '_json"),
    ("asyncio and threads", "/asyncio/"),
    ("asyncio and threads", "/concurrent/"),
    ("asyncio and threads", "/threading.py"),
    ("asyncio and threads", "<built-in method select"),
    ("asyncio and threads", "<method 'poll' of 'select"),
    ("benchmark itself", "/bench/"),
)


class AllThreads:
    """cProfile in this thread and in every thread started from now on."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def _new(self) -> cProfile.Profile:
        # CPU time of the thread, not wall time: with the GIL, wall time would charge a call
        # for the time its thread waited to get the GIL back (SQLite, sockets, fsync).
        profile = cProfile.Profile(time.thread_time)
        with self._lock:
            self.profiles.append(profile)
        return profile

    def _start_in_thread(self, *_: Any) -> None:
        sys.setprofile(None)
        self._new().enable()

    def start(self) -> None:
        threading.setprofile(self._start_in_thread)
        self._new().enable()

    def reset(self) -> None:
        """Forget what every thread's profile saw so far (start-up, warm-up); they go on."""
        # Safe for a profile enabled in another thread: the GIL is held here, and a profile
        # whose call stack was cleared ignores the returns of calls it no longer knows.
        with self._lock:
            for profile in self.profiles:
                profile.clear()

    def stop(self) -> pstats.Stats:
        threading.setprofile(None)  # type: ignore[arg-type]
        with self._lock:
            profiles = list(self.profiles)
        stats = pstats.Stats(profiles[0])  # this thread's: disabled here
        for profile in profiles[1:]:
            profile.create_stats()
            stats.add(profile)
        return stats


# Inclusive CPU time of the update path's main steps: (label, file ending, function name).
STEPS = (
    ("reading the getUpdates batch (bot/incoming.py: PTB's objects)", "bot/incoming.py",
     "read_update"),
    ("Service.decide on a worker: read, engine, queue the write", "bot/service.py", "decide"),
    ("  store: the one read (load_state)", "bot/store/users.py", "load_state"),
    ("  engine: Engine.handle", "bot/engine.py", "handle"),
    ("Service.finish (after the commit)", "bot/service.py", "finish"),
    ("writer: groups (BEGIN, jobs, COMMIT)", "bot/store/writer.py", "_run_group"),
    ("  the jobs (store.users.commit)", "bot/store/users.py", "commit"),
    ("Bot API calls through PTB (Bot._post, limiter, stub)", "telegram/_bot.py", "_post"),
    ("  the stub transport (bench)", "bench/stub.py", "do_request"),
    ("Application.process_update: handlers and replies, loop steps", "telegram/ext/_application.py",
     "process_update"),
    ("asyncio: one loop iteration (everything on the loop)", "asyncio/base_events.py",
     "_run_once"),
)  # fmt: skip


def bucket_of(key: tuple[str, int, str]) -> str:
    """The summary bucket of a pstats function key (file, line, name)."""
    where = f"{key[0]}:{key[2]}"
    for name, pattern in BUCKETS:
        if pattern in where:
            return name
    return "other (stdlib, C)"


def report(stats: pstats.Stats, top: int = 40) -> str:
    """Own time by bucket (all threads, idle waits left out), then the top functions."""
    idle = ("acquire' of '_thread.lock", "method 'get' of '_queue", "method 'wait'",
            "built-in method select", "method 'poll' of 'select", "method 'control'")  # fmt: skip
    own: dict[str, float] = {}
    waited = 0.0
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for key, (_, _, tottime, _, _) in raw.items():
        if any(name in f"{key[0]}:{key[2]}" for name in idle):
            waited += tottime
            continue
        bucket = bucket_of(key)
        own[bucket] = own.get(bucket, 0.0) + tottime
    total = sum(own.values())
    lines = [f"CPU time by part, all threads, {total:.2f} s (waits left out: {waited:.2f} s):"]
    for name, seconds in sorted(own.items(), key=lambda item: -item[1]):
        lines.append(f"  {100 * seconds / total:5.1f}%  {seconds:7.2f} s  {name}")
    lines += ["", "CPU time of the main steps (inclusive; they overlap):"]
    for label, ending, function in STEPS:
        found = [(calls, cumulative) for key, (_, calls, _, cumulative, _) in raw.items()
                 if key[0].endswith(ending) and key[2] == function]  # fmt: skip
        calls = sum(c for c, _ in found)
        seconds = sum(t for _, t in found)
        share = 100 * seconds / total
        lines.append(f"  {share:5.1f}%  {seconds:7.2f} s  {calls:8d} calls  {label}")
    buffer = io.StringIO()
    stats.stream = buffer  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    lines += ["", "top functions by own time:", buffer.getvalue()]
    buffer = io.StringIO()
    stats.stream = buffer  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(top)
    lines += ["", "top functions by cumulative time:", buffer.getvalue()]
    return "\n".join(lines)
