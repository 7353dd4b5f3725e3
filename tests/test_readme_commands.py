"""The README's command table lists exactly the bot's commands (hidden ones marked so)."""

import re
from pathlib import Path

from bot.flows import load_messages

ROOT = Path(__file__).resolve().parent.parent


def test_readme_lists_every_command_and_no_other():
    commands = load_messages().commands
    table = set(re.findall(r"^\| `/(\w+)`", (ROOT / "README.md").read_text(), re.M))
    listed = {c.command for c in commands if c.listed}
    hidden = {c.command for c in commands if c.hidden}
    assert listed <= table, f"missing from the README: {sorted(listed - table)}"
    assert table <= listed | hidden, f"not a command: {sorted(table - listed - hidden)}"
