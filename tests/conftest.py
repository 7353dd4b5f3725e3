"""Shared fixtures: the fake Bot API server, a bot token and a database path."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_bot_api import FakeBotApi

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bot_process_env(api: FakeBotApi, token: str, db_path: Path, **extra: str) -> dict[str, str]:
    """The environment for `python -m bot run` as a real process against the fake server."""
    import os

    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": api.base_url,
        "BOT_DB_PATH": str(db_path),
        **extra,
    }


@pytest.fixture
def fake_api() -> Iterator[FakeBotApi]:
    """A started fake Bot API server on 127.0.0.1, stopped after the test."""
    with FakeBotApi() as api:
        yield api


@pytest.fixture
def bot_token() -> str:
    """A well-formed token for the fake server (its bot id is 123456)."""
    return "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11x"


@pytest.fixture
def tmp_db_path(tmp_path: Path) -> Path:
    """Where a test's SQLite database lives."""
    return tmp_path / "bot.db"


class RunningBot:
    """The real PTB Application, polling the fake Bot API, on a real database."""

    def __init__(self, fake_api: FakeBotApi, token: str, db_path: Path, clock):
        from bot.config import Settings
        from bot.service import Service, build_engine
        from bot.store import Store

        self.store = Store(db_path)
        self.service = Service(self.store, build_engine(), clock=clock)
        settings = Settings(
            token=token, api_url=fake_api.base_url, db_path=db_path, log_level="INFO"
        )
        from bot.telegram import build_application

        self.application = build_application(settings, self.service)

    async def start(self) -> "RunningBot":
        from bot.telegram import ALLOWED_UPDATES, on_startup

        await self.application.initialize()
        await on_startup(self.application)  # post_init runs only under run_polling
        await self.application.start()
        await self.application.updater.start_polling(
            poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES
        )
        return self

    async def stop(self) -> None:
        await self.application.updater.stop()
        await self.application.stop()
        await self.application.shutdown()
        self.store.close()


class Clock:
    """A clock tests move by hand."""

    def __init__(self):
        from datetime import UTC, datetime

        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    """An injected clock, starting at 2026-11-26 12:00 UTC."""
    return Clock()


@pytest.fixture
async def start_bot(fake_api, bot_token, tmp_db_path, clock):
    """Start (and at the end stop) bots on the same database; call it again to 'restart'."""
    running: list[RunningBot] = []

    async def start() -> RunningBot:
        bot = await RunningBot(fake_api, bot_token, tmp_db_path, clock).start()
        running.append(bot)
        return bot

    yield start
    for bot in running:
        if bot.application.running:
            await bot.stop()
