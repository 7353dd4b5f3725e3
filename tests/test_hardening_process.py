"""Issue 11 as real processes: start-up failures (items 4, 11), doctor and health."""

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.bots import bot_process_env

pytestmark = pytest.mark.slow  # real bot processes

ROOT = Path(__file__).resolve().parent.parent


def run_bot(env: dict, cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=timeout,
    )  # fmt: skip


def assert_one_clear_line(result: subprocess.CompletedProcess, token: str, *words: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    assert token not in output and token.split(":")[1] not in output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), last
    for word in words:
        assert word in last, last


def test_a_rejected_token_ends_with_one_line_and_never_shows_it(fake_api, bot_token, tmp_path):
    fake_api.fail("getMe", error_code=401, times=None)
    env = bot_process_env(fake_api, bot_token, tmp_path / "bot.db")
    assert_one_clear_line(run_bot(env, tmp_path, "run"), bot_token, "TELEGRAM_BOT_TOKEN")


def test_a_mistyped_api_url_ends_with_one_line(fake_api, bot_token, tmp_path):
    env = bot_process_env(fake_api, bot_token, tmp_path / "bot.db")
    env["TELEGRAM_API_URL"] = fake_api.base_url.replace("/bot", "/bto")
    assert_one_clear_line(run_bot(env, tmp_path, "run"), bot_token, "TELEGRAM_API_URL")


def test_an_unreachable_api_ends_with_one_line(fake_api, bot_token, tmp_path):
    from tests.support.bots import free_port

    env = bot_process_env(fake_api, bot_token, tmp_path / "bot.db")
    env["TELEGRAM_API_URL"] = f"http://127.0.0.1:{free_port()}/bot"
    assert_one_clear_line(run_bot(env, tmp_path, "run"), bot_token, "reach")


def make_database(path: Path) -> None:
    from datetime import UTC, datetime

    from bot.model import Session
    from bot.store import Store

    store = Store(path)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    for user in range(1, 400):
        store.commit(user, Session(answers={"x": "y" * 200}), [], now)
    store.close()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_database_ends_with_one_line_and_doctor_says_what_to_do(
    fake_api, bot_token, tmp_path, damage
):
    path = tmp_path / "bot.db"
    if damage == "garbage":
        path.write_bytes(b"this is not a database at all" * 200)
    else:
        make_database(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    env = bot_process_env(fake_api, bot_token, path)
    assert_one_clear_line(run_bot(env, tmp_path, "run"), bot_token, "doctor")
    doctor = run_bot(env, tmp_path, "doctor")
    assert doctor.returncode == 2, doctor.stdout + doctor.stderr
    assert "Traceback" not in doctor.stderr
    assert "backup" in (doctor.stdout + doctor.stderr)


def test_doctor_passes_a_healthy_database(fake_api, bot_token, tmp_path):
    make_database(tmp_path / "bot.db")
    env = bot_process_env(fake_api, bot_token, tmp_path / "bot.db")
    doctor = run_bot(env, tmp_path, "doctor")
    assert doctor.returncode == 0, doctor.stderr
    assert "ok" in doctor.stdout


def test_health_needs_a_writable_database_and_a_recent_poll(fake_api, bot_token, tmp_path):
    from bot.health import heartbeat_path, touch_heartbeat

    path = tmp_path / "bot.db"
    make_database(path)
    env = bot_process_env(fake_api, bot_token, path)
    assert run_bot(env, tmp_path, "health").returncode == 1  # never polled
    touch_heartbeat(path)
    assert run_bot(env, tmp_path, "health").returncode == 0
    old = time.time() - 3600
    import os

    os.utime(heartbeat_path(path), (old, old))
    assert run_bot(env, tmp_path, "health").returncode == 1  # stale
    touch_heartbeat(path)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = run_bot(env, tmp_path, "health")
        assert result.returncode == 1 and "writ" in result.stdout + result.stderr
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
