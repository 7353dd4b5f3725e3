"""Shared fixtures: the fake Bot API server, a bot token, a database path, running bots.

The helpers behind them live in tests/support/.
"""

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.service import build_engine
from tests.support.bots import ROOT, Clock, RunningBot, bot_process_env, free_port
from tests.support.chat import USER, seed_at_menu
from tests.support.fake_bot_api import FakeBotApi

__all__ = ["ROOT", "RunningBot", "bot_process_env", "free_port"]  # imported by tests


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


@pytest.fixture
def clock() -> Clock:
    """An injected clock, starting at 2026-11-26 12:00 UTC."""
    return Clock()


@pytest.fixture(scope="session", autouse=True)
def _one_tls_context() -> Iterator[None]:
    """Every PTB client builds a TLS context (0.1 s loading the CA bundle) that the plain-HTTP
    fake API never uses; build the default one once per test session instead."""
    from httpx._transports import default as transport  # httpx's internal: guarded below

    build = getattr(transport, "create_ssl_context", None)
    if build is None:
        yield
        return
    shared = functools.cache(build)

    def create_ssl_context(verify=True, cert=None, trust_env=True):  # noqa: ANN001
        if verify is True and cert is None:
            return shared(verify=verify, cert=cert, trust_env=trust_env)
        return build(verify=verify, cert=cert, trust_env=trust_env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transport, "create_ssl_context", create_ssl_context)
        yield


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The engine on the shipped content, built once: it keeps no state between inputs."""
    return build_engine()


@pytest.fixture
async def start_bot(
    fake_api: FakeBotApi, bot_token: str, tmp_db_path: Path, clock: Clock, engine: Engine
) -> AsyncIterator[Callable[[], Awaitable[RunningBot]]]:
    """Start (and at the end stop) bots on the same database; call it again to 'restart'."""
    running: list[RunningBot] = []

    async def start() -> RunningBot:
        bot = await RunningBot(fake_api, bot_token, tmp_db_path, clock, engine).start()
        running.append(bot)
        return bot

    yield start
    for bot in running:
        if bot.application.running:
            await bot.stop()


@pytest.fixture
def at_menu(
    start_bot: Callable[[], Awaitable[RunningBot]],
) -> Callable[..., Awaitable[RunningBot]]:
    """Start a bot whose users already finished the walk-through and sit at the menu.

    `await at_menu(choices, users=(USER, OTHER))`: each user is walked to the menu
    in-process (`seed_at_menu`: the real engine and store, no HTTP), tapping the labels in
    `choices` where offered, so a test starts where it means to instead of ~30 round trips.
    """

    async def start(choices: dict[str, str] | None = None, users=(USER,)) -> RunningBot:
        bot = await start_bot()
        for user in users:
            seed_at_menu(bot.service, choices, user)
        return bot

    return start
