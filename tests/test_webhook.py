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
        pressed = fake_api.press(77, "Let's begin")  # read without its message (bot/incoming.py)
        fake_api.wait_for_sync(lambda: len(fake_api.sent_texts(77)) == 2, 10)
        assert "protective order" in fake_api.sent_texts(77)[1]
        assert fake_api.callback_answer(pressed["callback_query"]["id"]) is not None

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


# --- issue 11 item 7: answer only after the commit; limits before reading ---------------------


class WebhookBot:
    """`python -m bot run --webhook` as a process that can be killed and restarted."""

    def __init__(self, api, token: str, tmp_path: Path):
        self.api, self.tmp_path, self.starts = api, tmp_path, 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram/hook"
        self.db_path = tmp_path / "bot.db"
        self.env = bot_process_env(
            api, token, self.db_path, LOG_LEVEL="INFO", WEBHOOK_PORT=str(self.port),
            WEBHOOK_URL=self.url, WEBHOOK_SECRET=SECRET,
        )  # fmt: skip
        self.process = None

    @property
    def log_path(self) -> Path:
        return self.tmp_path / f"webhook-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--webhook"],
                cwd=self.tmp_path, env=self.env, stdout=log, stderr=log,
            )  # fmt: skip
        self.api.wait_for_sync(lambda: "Reconnect is running" in self.log_path.read_text(), 20)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)

    def logs(self) -> str:
        return "".join(p.read_text() for p in self.tmp_path.glob("webhook-*.log"))


def announce_body(port: int, length: int, secret: str | None) -> int:
    """Send only the headers of a POST announcing `length` bytes; return the status."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest("POST", "/telegram/hook")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        if secret is not None:
            conn.putheader("X-Telegram-Bot-Api-Secret-Token", secret)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def handled_ids(db_path: Path) -> set[int]:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        return {row[0] for row in conn.execute("SELECT update_id FROM processed_updates")}


@pytest.mark.slow  # real bot processes, killed
def test_webhook_loses_no_update_across_sigkills(fake_api, bot_token, tmp_path):
    import random
    import time

    rng = random.Random(11)
    fake_api.delay("sendMessage", 0.5, times=None)  # replies are slow; commits are not
    bot = WebhookBot(fake_api, bot_token, tmp_path)
    bot.start()
    pushed = [fake_api.command(5000 + n, "/start")["update_id"] for n in range(120)]
    for _ in range(3):
        time.sleep(rng.uniform(0.5, 1.5))
        bot.kill()
        bot.start()
    try:
        fake_api.wait_for_sync(lambda: set(pushed) <= handled_ids(bot.db_path), 60)
    finally:
        assert bot.stop() == 0
    assert set(pushed) <= handled_ids(bot.db_path)  # 0 of 120 lost


@pytest.mark.slow  # a real bot process
def test_webhook_refuses_big_bodies_and_malformed_json_without_logging_them(
    fake_api, bot_token, tmp_path
):
    bot = WebhookBot(fake_api, bot_token, tmp_path)
    bot.start()
    try:
        # 90 MB announced, nothing sent: refused from the headers, the body never read.
        assert announce_body(bot.port, 90 * 1024 * 1024, None) == 403  # the secret first
        assert announce_body(bot.port, 90 * 1024 * 1024, SECRET) == 413
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        for body in (
            b"{not json my secret words",
            b'{"update_id": 7, "message": "my secret words"}',
        ):
            request = urllib.request.Request(bot.url, body, headers, method="POST")
            try:
                urllib.request.urlopen(request, timeout=5)
                status = 200
            except urllib.error.HTTPError as error:
                status = error.code
            assert status == 400
        fake_api.command(81, "/start")  # still serving
        fake_api.wait_for_sync(lambda: fake_api.sent_texts(81), 10)
    finally:
        assert bot.stop() == 0
    assert "my secret words" not in bot.logs()
    assert bot_token.split(":")[1] not in bot.logs()
