"""A Bot API that answers instantly in process: the update path measured without a network."""

from __future__ import annotations

import itertools
import json
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Reconnect", "username": "reconnect_bot"}


class InProcessRequest(BaseRequest):
    """A transport that never leaves the process: nothing to open, close or time out."""

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float | None:
        return None


class StubRequest(InProcessRequest):
    """Answers every Bot API method at once and remembers each chat's latest keyboard."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.keyboards: dict[int, list[str]] = {}  # chat id -> callback data of the last keyboard
        self._message_ids = itertools.count(1)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Answer `url`'s method as Telegram would, without leaving the process."""
        name = url.rsplit("/", 1)[-1]
        self.calls[name] = self.calls.get(name, 0) + 1
        params = request_data.parameters if request_data else {}
        return 200, json.dumps({"ok": True, "result": self._result(name, params)}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        lowered = name.lower()
        if lowered == "getme":
            return {**BOT_USER, "can_join_groups": False, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}  # fmt: skip
        if lowered in ("sendmessage", "sendphoto", "senddocument"):
            return self._message(params)
        if lowered == "editmessagereplymarkup":
            return True
        return True  # answerCallbackQuery, setMyCommands, deleteWebhook, leaveChat...

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if markup and "inline_keyboard" in markup:
            self.keyboards[chat_id] = [
                button["callback_data"]
                for row in markup["inline_keyboard"]
                for button in row
                if "callback_data" in button
            ]
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": 1_790_000_000,
            "chat": {"id": chat_id, "type": "private", "first_name": "User"},
            "from": BOT_USER,
            "text": params.get("text") or params.get("caption") or "",
        }
        if markup:
            message["reply_markup"] = markup
        return message
