"""An incoming update as the bot reads it, before PTB builds objects from it.

With every button press Telegram sends back the whole message the button sat on: its text
(up to 4,096 characters) and its keyboard. The bot reads only who pressed, the query's id and
its data (replies go to the presser's own chat, see bot/telegram.py); building PTB objects for
that message was about half of a press's parsing (260 -> 40 µs a press in a micro-benchmark).
So a press in a private chat is read without it. A press anywhere else keeps its message: the
handler needs the chat to refuse it politely.

Applied where the bot receives updates: polling's transport (`ConfirmAfterHandled`, through
PTB's public `BaseRequest.parse_json_payload`) and the webhook's handler.
"""

from __future__ import annotations

from typing import Any


def without_tapped_message(update: Any) -> Any:
    """The update, with a private button press's message left out (changed in place)."""
    if not isinstance(update, dict):
        return update
    query = update.get("callback_query")
    if not isinstance(query, dict):
        return update
    message = query.get("message")
    if isinstance(message, dict):
        chat = message.get("chat")
        if isinstance(chat, dict) and chat.get("type") == "private":
            del query["message"]
    return update
