"""Moved to tests/support/fake_bot_api.py; this name stays for branches still importing it."""

from tests.support.fake_bot_api import *  # noqa: F403
