"""Webhook mode: its settings, and `python -m bot run --webhook` as a real process."""

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import SettingsError, load_settings
from tests.support.bots import bot_process_env, free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-webhook-token_0123456789"
WEBHOOK_VARS = ("WEBHOOK_LISTEN", "WEBHOOK_PORT", "WEBHOOK_URL", "WEBHOOK_SECRET")


@pytest.fixture
def webhook_env(monkeypatch, tmp_path):
    """A clean environment (no .env) with valid webhook settings."""
    monkeypatch.chdir(tmp_path)
    for name in WEBHOOK_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/telegram/hook")
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    return monkeypatch


def test_webhook_settings_have_sensible_defaults(webhook_env):
    settings = load_settings(require_token=False, env_file=None, webhook=True)
    assert settings.webhook_listen == "127.0.0.1"
    assert settings.webhook_port == 8443
    assert settings.webhook_url == "https://bot.example.org/telegram/hook"
    assert settings.webhook_secret == SECRET
    assert SECRET not in repr(settings)


def test_polling_mode_needs_no_webhook_settings(webhook_env):
    webhook_env.delenv("WEBHOOK_URL")
    webhook_env.delenv("WEBHOOK_SECRET")
    assert load_settings(require_token=False, env_file=None).webhook_url is None


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("WEBHOOK_SECRET", "", "WEBHOOK_SECRET must be set"),
        ("WEBHOOK_SECRET", "short", "WEBHOOK_SECRET"),
        ("WEBHOOK_SECRET", "has spaces in it, which Telegram refuses", "WEBHOOK_SECRET"),
        ("WEBHOOK_URL", "", "WEBHOOK_URL is not set"),
        ("WEBHOOK_URL", "http://bot.example.org/hook", "https"),
        ("WEBHOOK_URL", "bot.example.org/hook", "https"),
        ("WEBHOOK_PORT", "http", "WEBHOOK_PORT"),
        ("WEBHOOK_PORT", "70000", "WEBHOOK_PORT"),
    ],
)
def test_bad_webhook_settings_are_refused(webhook_env, name, value, complaint):
    webhook_env.setenv(name, value)
    with pytest.raises(SettingsError, match=complaint):
        load_settings(require_token=False, env_file=None, webhook=True)


def test_http_is_allowed_for_a_local_server_only(webhook_env):
    webhook_env.setenv("WEBHOOK_URL", "http://127.0.0.1:9000/hook")
    settings = load_settings(require_token=False, env_file=None, webhook=True)
    assert settings.webhook_url == "http://127.0.0.1:9000/hook"


def test_run_webhook_without_a_secret_stops_with_one_line(webhook_env, bot_token, capsys):
    webhook_env.setenv("TELEGRAM_BOT_TOKEN", bot_token)
    webhook_env.delenv("WEBHOOK_SECRET")
    assert main(["run", "--webhook"]) == 2
    assert "WEBHOOK_SECRET" in capsys.readouterr().err


def post(url: str, update: dict, secret: str | None) -> int:
    """POST an update as Telegram would; return the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, json.dumps(update).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.slow  # a real bot process
def test_webhook_process_answers_start_and_refuses_a_wrong_secret(fake_api, bot_token, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    log_path = tmp_path / "bot.log"
    env = bot_process_env(
        fake_api, bot_token, tmp_path / "bot.db",
        LOG_LEVEL="DEBUG", WEBHOOK_PORT=str(port), WEBHOOK_URL=url, WEBHOOK_SECRET=SECRET,
    )  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--webhook"],
            cwd=tmp_path, env=env, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        fake_api.wait_for_sync(lambda: "Reconnect is running" in log_path.read_text(), 20)
        fake_api.wait_for_sync(lambda: fake_api.webhook_url == url, 10)
        fake_api.command(77, "/start")  # the fake server posts it with the secret header
        fake_api.wait_for_sync(lambda: fake_api.sent_texts(77), 10)
        assert "self-help" in fake_api.sent_texts(77)[0]

        forged = {"update_id": 999_001, "message": {
            "message_id": 1, "date": 1_790_000_000, "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            "chat": {"id": 78, "type": "private", "first_name": "Someone"},
            "from": fake_api.user(78),
        }}  # fmt: skip
        assert post(url, forged, "not-the-secret-at-all") == 403
        assert post(url, forged, None) == 403
        fake_api.command(79, "/start")  # a genuine update after the forged ones still works
        fake_api.wait_for_sync(lambda: fake_api.sent_texts(79), 10)
        assert fake_api.sent_texts(78) == []  # refused before it reached the update queue
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=20)
    assert code == 0
    log = log_path.read_text()
    assert SECRET not in log and bot_token.split(":")[1] not in log
