"""One measurement per process, so memory and start-up are measured cleanly.

`python -m bench.child <kind> '<json args>'` prints one JSON line: kind is run, startup,
generate, sweep, listen, stock or generate_stock. The orchestrator (`python -m bench`)
starts these; see bench/__main__.py.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before any import of the bot: start-up counts its imports

import asyncio  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_mb() -> float:
    """The most resident memory this process has had, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pin_to_one_core() -> int | None:
    """Run on one core only, so 'updates per second on one core' means that."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def start_profiler() -> Any:
    """A started profiler of every thread (bench/profile.py); its figures are not the timed
    ones."""
    from bench.profile import AllThreads

    profiler = AllThreads()
    profiler.start()
    return profiler


def run(args: dict[str, Any]) -> dict[str, Any]:
    """The update mix on a database; rates, latencies and memory after the run."""
    # A random walk may or may not open the progress chart, which loads matplotlib (tens of
    # MB) on first use; load it up front so that runs at different sizes differ only in size.
    import bot.charts  # noqa: F401
    from bench import updates
    from bench.profile import report
    from bench.updates import CONCURRENCY, run_sync

    if args.get("only"):  # a mix of some scenarios only (--compare: the taps, as stock's walk)
        updates.SCENARIOS = {k: v for k, v in updates.SCENARIOS.items() if k in args["only"]}
    core = pin_to_one_core() if args.get("pin", True) else None
    profiler = start_profiler() if args.get("profile") else None
    result = run_sync(
        Path(args["db"]),
        args["users"],
        args["updates"],
        args.get("seed", 1),
        args.get("drive", "polling"),
        args.get("concurrency", CONCURRENCY),
        profiler.reset if profiler is not None else None,
    )
    if profiler is not None:
        stats = profiler.stop()
        Path(args["profile"]).write_text(report(stats))
        stats.dump_stats(Path(args["profile"]).with_suffix(".pstats"))  # for pstats' callers
    gc.collect()
    return result | {"core": core, "rss_mb": rss_mb(), "peak_rss_mb": peak_mb()}


def startup(args: dict[str, Any]) -> dict[str, Any]:
    """Time to ready: imports, engine, store (with migrations), application, initialize."""
    imported_at = time.perf_counter()
    from bench.updates import build

    imports = time.perf_counter() - imported_at
    began = time.perf_counter()
    application, _, service = build(Path(args["db"]))  # build_engine + Store + build_application

    async def initialize() -> None:
        await application.initialize()
        await application.shutdown()

    built = time.perf_counter()
    asyncio.run(initialize())
    ready = time.perf_counter()
    service.store.close()
    return {
        "ready_s": ready - began,
        "build_s": built - began,
        "initialize_s": ready - built,
        "imports_s": imports,
        "process_s": ready - STARTED,
        "rss_mb": rss_mb(),
    }


def generate(args: dict[str, Any]) -> dict[str, Any]:
    """Generate a database of stored users."""
    from bench.datagen import generate as generate_users
    from bot.service import build_engine

    return generate_users(Path(args["db"]), args["users"], build_engine(), due=args["due"])


def sweep(args: dict[str, Any]) -> dict[str, Any]:
    """Claim the due check-ins, then deliver some through the fake Bot API's rate limit."""
    from bench.sweep import sweep_sync

    return sweep_sync(Path(args["db"]), args["due"], args["deliver"])


def listen(args: dict[str, Any]) -> dict[str, Any]:
    """The cost of understanding one typed message (see bench/listening.py)."""
    from bench.listening import measure
    from bot.content import Content

    pin_to_one_core()
    listener = Content.load().policy.listener
    gc.collect()
    gc.freeze()  # as the bot does after start-up
    return measure(listener)


def stock(args: dict[str, Any]) -> dict[str, Any]:
    """A stock PTB bot (ConversationHandler + PicklePersistence) tapping through its walk, on
    one core like `run`; its memory is taken while it runs, since it holds every user (see
    bench/stock.py)."""
    from bench.stock import run_sync

    core = pin_to_one_core()
    drive = args.get("drive", "sequential")
    result = run_sync(
        Path(args["pickle"]), args["users"], args["updates"], args["on_flush"], drive=drive
    )
    return result | {"core": core, "peak_rss_mb": peak_mb()}


def generate_stock(args: dict[str, Any]) -> dict[str, Any]:
    """Generate the stock bot's pickle of stored users."""
    from bench.stock import generate as generate_pickle
    from bench.stock import steps

    return generate_pickle(Path(args["pickle"]), args["users"], len(steps()))


KINDS = {
    "run": run, "startup": startup, "generate": generate, "sweep": sweep, "listen": listen,
    "stock": stock, "generate_stock": generate_stock,
}  # fmt: skip


def main() -> None:
    """Run the measurement named on the command line and print its JSON."""
    kind, raw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
    print(json.dumps(KINDS[kind](json.loads(raw))))


if __name__ == "__main__":
    main()
