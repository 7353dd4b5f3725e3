"""`python -m bot run` as a real process against the fake Bot API server."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bots import bot_process_env

pytestmark = pytest.mark.slow  # a real bot process

ROOT = Path(__file__).resolve().parent.parent


def test_run_starts_answers_and_stops_cleanly(fake_api, bot_token, tmp_path):
    log_path = tmp_path / "bot.log"
    env = bot_process_env(fake_api, bot_token, tmp_path / "bot.db", LOG_LEVEL="DEBUG")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    try:
        fake_api.wait_for_sync(lambda: "Reconnect is running" in log_path.read_text(), 20)
        fake_api.command(77, "/start")
        fake_api.wait_for_sync(lambda: fake_api.sent_texts(77), 10)
        fake_api.text(77, "my secret words")
        fake_api.wait_for_sync(lambda: len(fake_api.sent_texts(77)) >= 2, 10)
        assert "self-help" in fake_api.sent_texts(77)[0]
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    assert code == 0
    log = log_path.read_text()
    assert bot_token not in log and bot_token.split(":")[1] not in log
    assert "my secret words" not in log
    assert oct((tmp_path / "bot.db").stat().st_mode & 0o777) == "0o600"
