"""A bot to talk to: the real PTB Application in-process, or the environment of a real process."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.fake_bot_api import FakeBotApi

if TYPE_CHECKING:
    from bot.engine import Engine

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bot_process_env(api: FakeBotApi, token: str, db_path: Path, **extra: str) -> dict[str, str]:
    """The environment for `python -m bot run` as a real process against the fake server."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": api.base_url,
        "BOT_DB_PATH": str(db_path),
        **extra,
    }


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class RunningBot:
    """The real PTB Application, polling the fake Bot API, on a real database."""

    def __init__(
        self,
        fake_api: FakeBotApi,
        token: str,
        db_path: Path,
        clock: Clock,
        engine: Engine | None = None,
        compile_rules: bool = False,
    ):
        from bot.config import Settings
        from bot.service import Service, build_engine
        from bot.store import Store
        from bot.telegram import build_application

        self.store = Store(db_path)
        self.service = Service(self.store, engine or build_engine(), clock=clock)
        settings = Settings(
            token=token, api_url=fake_api.base_url, db_path=db_path, log_level="INFO"
        )
        self.application = build_application(settings, self.service, compile_rules=compile_rules)

    async def start(self) -> RunningBot:
        from bot.telegram import ALLOWED_UPDATES, on_startup

        await self.application.initialize()
        await on_startup(self.application)  # post_init runs only under run_polling
        await self.application.start()
        await self.application.updater.start_polling(
            poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES
        )
        return self

    def write(self, sql: str, params: list[Any] | None = None) -> None:
        """Run a test's own write on the writer thread, committed with the bot's writes.

        The write connection belongs to the writer thread: a statement from the test's thread
        could land inside a group the writer has open (a queued read-only mark, say)."""
        self.store.writer.call(lambda: self.store.db.execute(sql, params or []))

    def checkpoint(self) -> None:
        """Wait for every queued write, then copy the WAL into the database file.

        From a connection of its own: a checkpoint on the write connection fails
        ("database table is locked") while the writer has a transaction open."""
        self.store.flush()
        with contextlib.closing(sqlite3.connect(self.store.path, timeout=10)) as conn:
            conn.execute("PRAGMA wal_checkpoint(FULL)")

    async def stop(self) -> None:
        await self.application.updater.stop()
        await self.application.stop()
        await self.application.shutdown()
        self.store.close()
