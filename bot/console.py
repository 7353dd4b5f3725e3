"""The terminal adapter: the same conversation, typed instead of tapped. No token needed."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from bot.model import Attachment, Button, Command, Event, Press, Reply, Text
from bot.service import Service

LOCAL_USER_ID = 0  # Telegram user ids are positive, so 0 never clashes with a real user
QUIT = {"/quit", "/exit", "quit", "exit"}


def run_console(
    service: Service,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
    user_id: int = LOCAL_USER_ID,
) -> None:
    """Chat in the terminal until /quit or end of input."""
    write("Reconnect in your terminal. Type a button's number, text, or a /command; /quit ends.")
    buttons = show(service.handle(user_id, Command("start")).replies, write)
    while True:
        try:
            line = read("> ").strip()
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if line.lower() in QUIT:
            return
        if not line:
            continue
        event = to_event(line, buttons)
        if event is None:
            continue
        result = service.handle(user_id, event)
        buttons = show(result.replies, write) or buttons


def save_attachment(attachment: Attachment) -> Path:
    """Write a reply's file (a chart, an export) to a private temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="reconnect-"))
    path = folder / attachment.filename
    path.write_bytes(attachment.render())
    path.chmod(0o600)
    return path


def to_event(line: str, buttons: list[Button]) -> Event | None:
    """Turn a typed line into an input: a number picks a button, /x is a command."""
    if line.isdigit() and 1 <= int(line) <= len(buttons):
        button = buttons[int(line) - 1]
        return Press(button.data) if button.data else None
    if line.startswith("/"):
        head, _, args = line.partition(" ")
        return Command(head[1:].lower(), args.strip())
    return Text(line)


def show(replies: list[Reply], write: Callable[[str], None]) -> list[Button]:
    """Print replies with numbered buttons and return the buttons of the last one that had any."""
    buttons: list[Button] = []
    for reply in replies:
        write("")
        write(reply.text)
        if reply.attachment is not None:
            write(f"  (file saved to {save_attachment(reply.attachment)})")
        if reply.buttons:
            buttons = list(reply.buttons)
            for number, button in enumerate(buttons, start=1):
                target = f"  ({button.url})" if button.url else ""
                write(f"  [{number}] {button.label}{target}")
    return buttons
