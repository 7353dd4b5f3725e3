"""Shared fixtures: the fake Bot API server, a bot token and a database path."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_bot_api import FakeBotApi


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
