"""The benchmark runs end to end at a tiny size, so it cannot rot (no timed assertions)."""

import json
import os
import pstats
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the benchmark end to end

ROOT = Path(__file__).resolve().parent.parent


def test_bench_runs_end_to_end_at_a_tiny_size(tmp_path):
    out = tmp_path / "result.json"
    command = [
        sys.executable, "-m", "bench", "--users", "200", "--updates", "200",
        "--memory-sizes", "200,300", "--memory-updates", "50", "--startup-users", "300",
        "--sweep-users", "300", "--due", "40", "--deliver", "12",
        "--workdir", str(tmp_path / "db"), "--out", str(out), "--sequential", "--compare",
        "--compare-rounds", "2",
        "--profile", str(tmp_path / "profile.txt"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # A guard against a hang, not a speed check: the run takes about two minutes on a slow,
    # idle machine and more under load (180 s was once too little there).
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "| updates/s, one core" in done.stdout and "lost / doubled" in done.stdout
    results = json.loads(out.read_text())
    updates = results["updates"]
    assert updates["updates"] == 200
    assert updates["drive"] == "polling" and updates["batch_mean"] > 1  # users in flight together
    assert updates["commit_groups"] > 0 and updates["jobs_per_commit"] >= 1
    assert results["updates_sequential"]["drive"] == "sequential"
    assert results["updates_sequential"]["updates"] == 200
    profile = (tmp_path / "profile.txt").read_text()
    assert "Service.decide" in profile and "writer: groups" in profile
    profiled = pstats.Stats(str(tmp_path / "profile.pstats")).stats  # type: ignore[attr-defined]
    assert not any(name == "load_crisis" for (_, _, name) in profiled)  # start-up left out
    kinds = {"tap", "command", "text_menu", "text_walk", "checkin_answer", "draft", "log", "urge"}
    assert kinds <= set(updates["kinds"])
    assert all(figures["p99_ms"] > 0 for figures in updates["kinds"].values())
    assert "| checkin_answer |" in done.stdout  # per-kind p50 and p99 are printed
    assert updates["api_calls"]["sendMessage"] > 0
    assert updates["api_calls"]["answerCallbackQuery"] > 0  # taps are answered
    assert "editMessageReplyMarkup" not in updates["api_calls"]  # tapped keyboards stay
    stock = results["stock"]  # stock PTB on the same 200 users, in memory and durable
    assert stock["memory"]["updates"] == 200 and stock["durable"]["updates"] == 3
    assert stock["memory"]["drive"] == "polling"
    for run in stock.values():
        assert run["api_calls"]["answerCallbackQuery"] == run["api_calls"]["sendMessage"]
        assert run["updates_per_s"] > 0 and run["rss_mb"] > 0
    assert "ratio: Reconnect's updates/s" in done.stdout
    rounds = results["compare_rounds"]  # Reconnect and stock back to back, twice
    assert len(rounds) == 2 and all(r["stock_per_s"] > 0 and r["taps_cpu_ms"] > 0 for r in rounds)
    assert "median of 2 rounds" in done.stdout
    assert set(results["updates_taps"]["kinds"]) <= {"tap", "start"}  # like stock's walk
    assert set(results["memory"]) == {"200", "300"}
    assert all(run["rss_mb"] > 0 for run in results["memory"].values())
    assert results["startup"]["ready_s"] > 0
    sweep = results["sweep"]
    assert sweep["claimed"] == 40 and sweep["claimed_again"] == 0
    assert sweep["taken"] == sweep["taken_to_send"] == 40  # the real take: decided, marked sent
    assert any("idx_checkins_due_at" in line for line in sweep["query_plan"])
    delivery = sweep["delivery"]  # through the real checkin_sweep job and default rate limiter
    assert delivery["delivered"] == delivery["messages"] == 12
    assert delivery["lost"] == 0 and delivery["doubled"] == 0
    assert delivery["sent_by_second_sweep"] == 0
    assert not list((tmp_path / "db").glob("run-*"))  # working copies are cleaned up
