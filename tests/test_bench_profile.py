"""The benchmark's all-thread profiler leaves out what ran before the warm-up ended."""

import threading

from bench.profile import AllThreads


def before_warm_up() -> int:
    """Work that must not show in the profile."""
    return sum(range(1000))


def after_warm_up() -> int:
    """Work that must show in the profile."""
    return sum(range(1000))


def names(stats) -> set[str]:
    return {name for (_, _, name) in stats.stats}


def test_reset_forgets_every_threads_earlier_calls_and_keeps_profiling():
    profiler = AllThreads()
    profiler.start()
    warm = threading.Event()
    go_on = threading.Event()

    def worker() -> None:  # a thread started before the reset, like the store's writer
        before_warm_up()
        warm.set()
        go_on.wait()
        after_warm_up()

    thread = threading.Thread(target=worker)
    thread.start()
    before_warm_up()
    warm.wait()
    profiler.reset()
    go_on.set()
    thread.join()
    after_warm_up()
    stats = profiler.stop()
    found = names(stats)
    assert "after_warm_up" in found and "before_warm_up" not in found
    calls = sum(v[1] for k, v in stats.stats.items() if k[2] == "after_warm_up")
    assert calls == 2  # once in the worker thread, once here
