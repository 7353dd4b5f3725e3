"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests with the real PTB stack."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import socket
import struct
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN_PATTERN = re.compile(r"^/bot(\d+:[A-Za-z0-9_-]+)/([A-Za-z]+)$")
COMMAND_PATTERN = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

# PTB sends str values as they are and JSON-dumps everything else; these stay strings.
TEXT_FIELDS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "action", "url", "secret_token",
        "language_code", "inline_message_id", "business_connection_id", "message_effect_id",
        "ip_address", "emoji", "title", "description", "short_description", "name", "query",
        "photo", "document", "sticker", "voice", "audio", "video",
    }
)  # fmt: skip
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    403: "Forbidden: bot was blocked by the user",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False, "error_code": self.code, "description": self.description,
        }  # fmt: skip
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True)
class UploadedFile:
    """A file uploaded in a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Call:
    """One request the server received; status and result are filled in once it is answered."""

    method: str
    params: dict[str, Any]
    chat_id: int | str | None
    at: float
    status: int | None = None  # HTTP status sent, 0 when the connection was dropped
    result: Any = None
    error: str | None = None


@dataclass
class _Fault:
    """A planned misbehaviour for the next matching calls."""

    method: str
    kind: str  # "fail" | "delay" | "drop"
    times: int | None
    chat_id: int | None = None
    error: ApiError | None = None
    seconds: float = 0.0
    apply: bool = False

    def matches(self, method: str, chat_id: Any) -> bool:
        """Whether this fault applies to a call of method for chat_id."""
        same_method = self.method.lower() == method.lower() or self.method == "*"
        return same_method and (self.chat_id is None or self.chat_id == chat_id)


@dataclass
class _RateLimit:
    """Rate limit state: at most per_second accepted sends within any one second."""

    per_second: float
    retry_after: int
    accepted_at: deque = field(default_factory=deque)
    accepted: int = 0
    rejected: int = 0


def decode_value(name: str, raw: str) -> Any:
    """Undo PTB's form encoding: JSON-decode every field that is not a plain text field."""
    if name in TEXT_FIELDS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Split a multipart/form-data body into text fields and uploaded files."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ApiError(400, "Bad Request: multipart boundary missing")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for part in body.split(b"--" + match.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = _part_headers(head.decode("utf-8", "replace"))
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "name") or ""
        filename = _header_param(disposition, "filename")
        if filename is None:
            fields[name] = content.decode("utf-8")
        else:
            files[name] = UploadedFile(filename, headers.get("content-type"), content)
    return fields, files


def _part_headers(head: str) -> dict[str, str]:
    """Parse the header lines of one multipart part."""
    headers = {}
    for line in head.split("\r\n"):
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return headers


def _header_param(header: str, param: str) -> str | None:
    """A quoted parameter such as name="photo" from a Content-Disposition header."""
    match = re.search(rf'(?:^|;)\s*{param}="((?:[^"\\]|\\.)*)"', header)
    return match.group(1).replace('\\"', '"') if match else None


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG image, or None when the bytes are not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 24:
        return None
    return struct.unpack(">II", data[16:24])


def keyboard_rows(markup: Any) -> list[list[tuple[str, str | None]]]:
    """Rows of (text, callback_data or url) of an inline or reply keyboard."""
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [[_button_pair(button) for button in row] for row in rows]


def _button_pair(button: Any) -> tuple[str, str | None]:
    """(text, callback_data or url) of one button; reply keyboard buttons may be plain str."""
    if isinstance(button, str):
        return button, None
    return button.get("text", ""), button.get("callback_data", button.get("url"))


class FakeBotApi:
    """A threaded HTTP server speaking enough of the Bot API for PTB's Bot and Application."""

    BOT_USERNAME = "reconnect_test_bot"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = itertools.count(1)
        self._confirmed_offset = 0
        self._allowed_updates: list[str] = []
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._message_ids: dict[int | str, itertools.count] = {}
        self._messages: dict[tuple[Any, int], dict[str, Any]] = {}
        self._deleted: set[tuple[Any, int]] = set()
        self._sent: dict[Any, list[dict[str, Any]]] = {}
        self._user_messages: dict[Any, list[dict[str, Any]]] = {}
        self._callback_ids: set[str] = set()
        self._answered_callbacks: dict[str, dict[str, Any]] = {}
        self._next_callback_id = itertools.count(1)
        self._next_file_id = itertools.count(1)
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._faults: list[_Fault] = []
        self._rate: _RateLimit | None = None
        self._webhook: dict[str, Any] = {}
        self._webhook_thread: threading.Thread | None = None
        self.bot_id = 123456

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeBotApi:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="fake-bot-api", daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake every waiting request, stop serving and close all open connections."""
        if self._server is None:
            return
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            _close_quietly(conn)
        for thread in (self._thread, self._webhook_thread):
            if thread is not None:
                thread.join(timeout=2)
        self._server = None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """Bot API base URL for PTB (it appends <token>/<method>)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Base URL for file downloads (not served; present for completeness)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ---------------------------------------------------------------- fault injection

    def fail(
        self,
        method: str,
        *,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next `times` matching calls (None: all) with this error."""
        text = description or DEFAULT_DESCRIPTIONS.get(error_code, "Error")
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if error_code == 429 and description is None:
            text = f"Too Many Requests: retry after {retry_after}"
        params = {"retry_after": retry_after} if retry_after is not None else None
        error = ApiError(error_code, text, params)
        self._add_fault(_Fault(method, "fail", times, chat_id, error=error))

    def delay(
        self,
        method: str,
        seconds: float,
        times: int | None = 1,
        *,
        chat_id: int | None = None,
        apply: bool = True,
    ) -> None:
        """Answer late; with apply=True the call takes effect even if the client gave up."""
        self._add_fault(_Fault(method, "delay", times, chat_id, seconds=seconds, apply=apply))

    def drop_connection(
        self, method: str, times: int | None = 1, *, chat_id: int | None = None,
        apply: bool = False,
    ) -> None:  # fmt: skip
        """Close the socket without an answer; with apply=True the call still takes effect."""
        self._add_fault(_Fault(method, "drop", times, chat_id, apply=apply))

    def clear_faults(self) -> None:
        """Forget every planned fault and the rate limit."""
        with self._lock:
            self._faults.clear()
            self._rate = None

    def rate_limit(self, per_second: float | None, *, retry_after: int = 1) -> None:
        """Answer 429 to send* calls beyond per_second accepted in the last second (None: off)."""
        with self._lock:
            self._rate = _RateLimit(per_second, retry_after) if per_second else None

    def rate_stats(self) -> dict[str, int]:
        """Counts of send* calls accepted and rejected by the rate limit."""
        with self._lock:
            if self._rate is None:
                return {"accepted": 0, "rejected": 0}
            return {"accepted": self._rate.accepted, "rejected": self._rate.rejected}

    def _add_fault(self, fault: _Fault) -> None:
        """Queue a fault."""
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, chat_id: Any) -> _Fault | None:
        """The first planned fault matching this call, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, chat_id):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _check_rate(self, method: str) -> None:
        """Apply the rate limit to message-sending methods."""
        if self._rate is None or not _is_send(method):
            return
        now = time.monotonic()
        window = self._rate.accepted_at
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self._rate.per_second:
            self._rate.rejected += 1
            retry = self._rate.retry_after
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        window.append(now)
        self._rate.accepted += 1

    # ---------------------------------------------------------------- request handling

    def handle(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        """Answer one request: (HTTP status, JSON body), or body None to drop the connection."""
        match = TOKEN_PATTERN.match(urlsplit(path).path)
        if not match:
            if re.match(r"^/bot[^/]*/", path):
                return 401, ApiError(401, "Unauthorized").payload()
            return 404, ApiError(404, "Not Found").payload()
        method = match.group(2)
        chat_id = params.get("chat_id")
        call = self._record(method, params, chat_id)
        fault = self._take_fault(method, chat_id)
        if fault is not None and fault.kind == "fail":
            return self._finish(call, error=fault.error)
        if fault is not None and not fault.apply:
            return self._fault_without_effect(call, fault)
        try:
            with self._lock:
                self._check_rate(method)
            result = self._dispatch(method, params)
        except ApiError as error:
            return self._finish(call, error=error)
        if fault is not None and fault.kind == "drop":
            return self._finish(call, result=result, dropped=True)
        if fault is not None:
            self._stopping.wait(fault.seconds)
        return self._finish(call, result=result)

    def _fault_without_effect(self, call: Call, fault: _Fault) -> tuple[int, dict | None]:
        """A delay or drop for a call that never takes effect."""
        if fault.kind == "drop":
            return self._finish(call, dropped=True)
        self._stopping.wait(fault.seconds)
        return self._finish(call, error=ApiError(504, "Gateway Timeout"))

    def _record(self, method: str, params: dict[str, Any], chat_id: Any) -> Call:
        """Append a Call to the log."""
        call = Call(method, params, chat_id, self._clock())
        with self._lock:
            self._calls.append(call)
        return call

    def _finish(
        self, call: Call, *, result: Any = None, error: ApiError | None = None,
        dropped: bool = False,
    ) -> tuple[int, dict | None]:  # fmt: skip
        """Store the outcome on the Call and build the HTTP answer."""
        with self._lock:
            call.result = result
            if dropped:
                call.status, call.error = 0, "dropped"
                return 0, None
            if error is not None:
                call.status, call.error = error.code, error.description
                return error.code, error.payload()
            call.status = 200
        return 200, {"ok": True, "result": result}

    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        """Run the method implementation."""
        implementation = getattr(self, f"_api_{method.lower()}", None)
        if implementation is None:
            raise ApiError(404, "Not Found: method not found")
        if method.lower() == "getupdates":
            return implementation(params)
        with self._lock:
            return implementation(params)

    # ---------------------------------------------------------------- API methods

    def bot_user(self) -> dict[str, Any]:
        """The User object of the bot, as getMe returns it."""
        return {
            "id": self.bot_id, "is_bot": True, "first_name": "Reconnect Test",
            "username": self.BOT_USERNAME, "can_join_groups": False,
            "can_read_all_group_messages": False, "supports_inline_queries": False,
            "can_connect_to_business": False, "has_main_web_app": False,
        }  # fmt: skip

    def _api_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user()

    def _api_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._changed:
            if self._webhook.get("url"):
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self._confirm(params.get("offset"))
            if "allowed_updates" in params:
                self._allowed_updates = list(params["allowed_updates"] or [])
            limit = max(1, min(100, int(params.get("limit") or 100)))
            while True:
                batch = self._deliverable()[:limit]
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or self._stopping.is_set():
                    return copy.deepcopy(batch)
                self._changed.wait(remaining)

    def _confirm(self, offset: Any) -> None:
        """Drop updates below offset (negative: keep only the last -offset)."""
        if offset is None:
            return
        offset = int(offset)
        if offset < 0:
            offset = self._updates[offset]["update_id"] if -offset <= len(self._updates) else 0
        self._confirmed_offset = max(self._confirmed_offset, offset)
        self._updates = [u for u in self._updates if u["update_id"] >= self._confirmed_offset]

    def _deliverable(self) -> list[dict[str, Any]]:
        """Pending updates of an allowed type; others are dropped as Telegram never sends them."""
        if self._allowed_updates:
            allowed = set(self._allowed_updates)
            self._updates = [u for u in self._updates if _update_type(u) in allowed]
        return self._updates

    def _api_deletewebhook(self, params: dict[str, Any]) -> bool:
        self._webhook = {}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _api_setwebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if url and not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {
            "url": url, "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": params.get("max_connections", 40),
        }  # fmt: skip
        if url:
            self._start_webhook_delivery()
        return True

    def _api_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self._webhook.get("url", ""), "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }  # fmt: skip
        if self._webhook.get("url"):
            info["max_connections"] = self._webhook["max_connections"]
            if self._webhook.get("allowed_updates"):
                info["allowed_updates"] = self._webhook["allowed_updates"]
        return info

    def _api_setmycommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            if not COMMAND_PATTERN.match(command.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[_commands_key(params)] = [dict(c) for c in commands]
        return True

    def _api_getmycommands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return copy.deepcopy(self._commands.get(_commands_key(params), []))

    def _api_deletemycommands(self, params: dict[str, Any]) -> bool:
        self._commands.pop(_commands_key(params), None)
        return True

    def _api_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = params.get("text") or ""
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return self._new_bot_message(params, {"text": text})

    def _api_sendphoto(self, params: dict[str, Any]) -> dict[str, Any]:
        photo = params.get("photo")
        if photo is None:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        width, height = _photo_size(photo)
        sizes = [self._file_ref(photo, width=width, height=height)]
        return self._new_bot_message(params, {"photo": sizes, **self._caption(params)})

    def _api_senddocument(self, params: dict[str, Any]) -> dict[str, Any]:
        document = params.get("document")
        if document is None:
            raise ApiError(400, "Bad Request: there is no document in the request")
        ref = self._file_ref(document)
        if isinstance(document, UploadedFile):
            ref["file_name"] = document.filename
            ref["mime_type"] = document.content_type or "application/octet-stream"
        return self._new_bot_message(params, {"document": ref, **self._caption(params)})

    def _api_sendchataction(self, params: dict[str, Any]) -> bool:
        self._chat(params.get("chat_id"))
        if not params.get("action"):
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _api_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message_to_edit(params)
        text = params.get("text") or ""
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = _inline_markup(params.get("reply_markup"))
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise ApiError(400, NOT_MODIFIED)
        message["text"] = text
        return self._apply_edit(message, markup)

    def _api_editmessagereplymarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message_to_edit(params)
        markup = _inline_markup(params.get("reply_markup"))
        if message.get("reply_markup") == markup:
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(message, markup)

    def _api_deletemessage(self, params: dict[str, Any]) -> bool:
        key = (params.get("chat_id"), int(params.get("message_id") or 0))
        if key not in self._messages or key in self._deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        self._deleted.add(key)
        return True

    def _api_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query_id = params.get("callback_query_id")
        if query_id not in self._callback_ids:
            raise ApiError(400, QUERY_TOO_OLD)
        text = params.get("text") or ""
        if len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._answered_callbacks[query_id] = dict(params)
        return True

    def _api_close(self, params: dict[str, Any]) -> bool:
        return True

    def _api_logout(self, params: dict[str, Any]) -> bool:
        return True

    # ---------------------------------------------------------------- message store

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        """The chat object for chat_id; unknown ids become a private chat (or a group if < 0)."""
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if chat_id not in self._chats:
            if isinstance(chat_id, int) and chat_id > 0:
                self._chats[chat_id] = {"id": chat_id, "type": "private", "first_name": "User"}
            elif isinstance(chat_id, int):
                self._chats[chat_id] = {"id": chat_id, "type": "group", "title": "Group"}
            else:
                raise ApiError(400, "Bad Request: chat not found")
        return self._chats[chat_id]

    def _next_message_id(self, chat_id: Any) -> int:
        """Message ids grow per chat, shared by the bot and the user as in Telegram."""
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _new_bot_message(self, params: dict[str, Any], content: dict[str, Any]) -> dict:
        """Store and return a message sent by the bot."""
        chat = self._chat(params.get("chat_id"))
        _check_markup(params.get("reply_markup"))
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]), "from": self.bot_user(),
            "chat": dict(chat), "date": int(self._clock()), **content,
        }  # fmt: skip
        markup = _inline_markup(params.get("reply_markup"))
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat["id"], message["message_id"])] = message
        self._sent.setdefault(chat["id"], []).append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _caption(self, params: dict[str, Any]) -> dict[str, str]:
        """The caption field for a media message, validated."""
        caption = params.get("caption")
        if not caption:
            return {}
        if len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        return {"caption": caption}

    def _file_ref(self, source: Any, **extra: Any) -> dict[str, Any]:
        """A file object (file_id, file_unique_id, file_size) for an upload or a file id."""
        number = next(self._next_file_id)
        size = len(source.data) if isinstance(source, UploadedFile) else 0
        file_id = source if isinstance(source, str) else f"file-{number}"
        return {"file_id": file_id, "file_unique_id": f"uniq-{number}", "file_size": size, **extra}

    def _message_to_edit(self, params: dict[str, Any]) -> dict[str, Any]:
        """The stored bot message an edit refers to."""
        _check_markup(params.get("reply_markup"))
        key = (params.get("chat_id"), int(params.get("message_id") or 0))
        message = self._messages.get(key)
        if message is None or key in self._deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _apply_edit(self, message: dict[str, Any], markup: dict | None) -> dict[str, Any]:
        """Set the new markup and edit date on a stored message and return a copy."""
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = int(self._clock())
        return copy.deepcopy(message)

    # ---------------------------------------------------------------- webhook delivery

    def _start_webhook_delivery(self) -> None:
        """Start the thread that POSTs pending updates to the webhook URL."""
        if self._webhook_thread is not None and self._webhook_thread.is_alive():
            self._changed.notify_all()
            return
        self._webhook_thread = threading.Thread(
            target=self._deliver_webhooks, name="fake-bot-api-webhook", daemon=True
        )
        self._webhook_thread.start()

    def _deliver_webhooks(self) -> None:
        """POST updates in order while a webhook is set; retry until the receiver says 2xx."""
        while not self._stopping.is_set():
            with self._changed:
                webhook = dict(self._webhook)
                pending = self._deliverable()
                if not webhook.get("url"):
                    return
                if not pending:
                    self._changed.wait(0.5)
                    continue
                update = copy.deepcopy(pending[0])
            if _post_update(webhook, update):
                with self._lock:
                    self._confirm(update["update_id"] + 1)
            else:
                self._stopping.wait(0.1)

    # ---------------------------------------------------------------- injecting updates

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update (update_id assigned if missing) and wake pollers; returns it."""
        with self._changed:
            if "update_id" not in update:
                update["update_id"] = next(self._next_update_id)
            self._updates.append(copy.deepcopy(update))
            self._changed.notify_all()
        return update

    def user(self, user_id: int, *, language_code: str = "en") -> dict[str, Any]:
        """A User object for a person."""
        return {
            "id": user_id, "is_bot": False, "first_name": f"User{user_id}",
            "language_code": language_code,
        }  # fmt: skip

    def text(
        self, user_id: int, text: str, *, chat_id: int | None = None,
        chat_type: str = "private", language_code: str = "en",
    ) -> dict[str, Any]:  # fmt: skip
        """Push a text message from a user."""
        return self._push_user_message(
            user_id, {"text": text}, chat_id=chat_id, chat_type=chat_type,
            language_code=language_code,
        )  # fmt: skip

    def command(
        self, user_id: int, command_text: str, *, chat_id: int | None = None,
        chat_type: str = "private", language_code: str = "en",
    ) -> dict[str, Any]:  # fmt: skip
        """Push a command such as "/start arg" with its bot_command entity."""
        name = command_text.split(maxsplit=1)[0]
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(name)}
        content = {"text": command_text, "entities": [entity]}
        return self._push_user_message(
            user_id, content, chat_id=chat_id, chat_type=chat_type, language_code=language_code
        )

    def group_text(self, chat_id: int, user_id: int, text: str) -> dict[str, Any]:
        """Push a text message from a user in a group chat."""
        return self.text(user_id, text, chat_id=chat_id, chat_type="group")

    def sticker(self, user_id: int, *, language_code: str = "en") -> dict[str, Any]:
        """Push a sticker from a user."""
        sticker = {
            **self._inbound_file(), "width": 512, "height": 512, "emoji": "🙂",
            "is_animated": False, "is_video": False, "type": "regular",
        }  # fmt: skip
        return self._push_user_message(user_id, {"sticker": sticker}, language_code=language_code)

    def photo(self, user_id: int, *, language_code: str = "en") -> dict[str, Any]:
        """Push a photo from a user."""
        sizes = [{**self._inbound_file(), "width": 90, "height": 60}]
        sizes.append({**self._inbound_file(), "width": 1280, "height": 853})
        return self._push_user_message(user_id, {"photo": sizes}, language_code=language_code)

    def voice(self, user_id: int, *, language_code: str = "en") -> dict[str, Any]:
        """Push a voice note from a user."""
        voice = {**self._inbound_file(), "duration": 7, "mime_type": "audio/ogg"}
        return self._push_user_message(user_id, {"voice": voice}, language_code=language_code)

    def document(self, user_id: int, *, language_code: str = "en") -> dict[str, Any]:
        """Push a document from a user."""
        doc = {**self._inbound_file(), "file_name": "notes.pdf", "mime_type": "application/pdf"}
        return self._push_user_message(user_id, {"document": doc}, language_code=language_code)

    def edited_text(self, user_id: int, text: str, *, language_code: str = "en") -> dict:
        """Push an edit of the user's latest message in their private chat (or a new one)."""
        with self._lock:
            earlier = self._user_messages.get(user_id) or []
            original = copy.deepcopy(earlier[-1]) if earlier else None
        if original is None:
            original = self._user_message(user_id, {}, user_id, "private", language_code)
        original.update(text=text, edit_date=int(self._clock()))
        original.pop("entities", None)
        return self.push_update({"edited_message": original})

    def channel_post(self, chat_id: int, text: str) -> dict[str, Any]:
        """Push a post in a channel the bot is in."""
        chat = {"id": chat_id, "type": "channel", "title": f"Channel {chat_id}"}
        with self._lock:
            self._chats.setdefault(chat_id, chat)
            message_id = self._next_message_id(chat_id)
        post = {
            "message_id": message_id, "sender_chat": chat, "chat": chat,
            "date": int(self._clock()), "text": text,
        }  # fmt: skip
        return self.push_update({"channel_post": post})

    def callback(
        self, user_id: int, data: str, *, message_id: int | None = None,
        chat_id: int | None = None, language_code: str = "en",
    ) -> dict[str, Any]:  # fmt: skip
        """Push a button press; the message defaults to the latest bot message with buttons."""
        chat_id = user_id if chat_id is None else chat_id
        with self._lock:
            query_id = f"cbq-{next(self._next_callback_id)}"
            self._callback_ids.add(query_id)
            message = self._callback_message(chat_id, message_id)
        query = {
            "id": query_id, "from": self.user(user_id, language_code=language_code),
            "chat_instance": f"ci-{chat_id}", "data": data, "message": message,
        }  # fmt: skip
        return self.push_update({"callback_query": query})

    def press(self, user_id: int, button_text: str, *, chat_id: int | None = None) -> dict:
        """Press the inline button with this text on the latest keyboard of the chat."""
        chat_id = user_id if chat_id is None else chat_id
        with self._lock:
            message = self._latest_with_keyboard(chat_id)
        rows = keyboard_rows(message.get("reply_markup") if message else None)
        for text, data in itertools.chain.from_iterable(rows):
            if text == button_text and message is not None:
                return self.callback(
                    user_id, data or "", message_id=message["message_id"], chat_id=chat_id
                )
        raise AssertionError(f"no button {button_text!r} in chat {chat_id}; keyboard: {rows}")

    def _callback_message(self, chat_id: int, message_id: int | None) -> dict[str, Any]:
        """The message a button press is attached to, as Telegram would send it."""
        if message_id is None:
            message = self._latest_with_keyboard(chat_id) or self._latest_bot_message(chat_id)
        else:
            key = (chat_id, message_id)
            message = None if key in self._deleted else self._messages.get(key)
        if message is None:
            # Telegram sends an InaccessibleMessage (date 0) for unknown or deleted messages.
            chat = self._chats.get(chat_id) or {"id": chat_id, "type": "private"}
            return {"message_id": message_id or 0, "chat": dict(chat), "date": 0}
        return copy.deepcopy(message)

    def _latest_bot_message(self, chat_id: Any) -> dict[str, Any] | None:
        """The newest undeleted message the bot sent in this chat, in its current state."""
        for sent in reversed(self._sent.get(chat_id, [])):
            key = (chat_id, sent["message_id"])
            if key not in self._deleted:
                return self._messages[key]
        return None

    def _latest_with_keyboard(self, chat_id: Any) -> dict[str, Any] | None:
        """The newest undeleted bot message that currently has an inline keyboard."""
        for sent in reversed(self._sent.get(chat_id, [])):
            key = (chat_id, sent["message_id"])
            current = self._messages[key]
            if key not in self._deleted and current.get("reply_markup"):
                return current
        return None

    def _push_user_message(
        self, user_id: int, content: dict[str, Any], *, chat_id: int | None = None,
        chat_type: str = "private", language_code: str = "en",
    ) -> dict[str, Any]:  # fmt: skip
        """Build, store and push a message update from a user."""
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else -abs(user_id)
        message = self._user_message(user_id, content, chat_id, chat_type, language_code)
        with self._lock:
            self._user_messages.setdefault(chat_id, []).append(copy.deepcopy(message))
        return self.push_update({"message": message})

    def _user_message(
        self, user_id: int, content: dict[str, Any], chat_id: int, chat_type: str,
        language_code: str,
    ) -> dict[str, Any]:  # fmt: skip
        """A Message object sent by a user into a chat."""
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": f"User{user_id}"}
        else:
            chat = {"id": chat_id, "type": chat_type, "title": f"Group {chat_id}"}
        with self._lock:
            self._chats[chat_id] = chat
            message_id = self._next_message_id(chat_id)
        return {
            "message_id": message_id, "from": self.user(user_id, language_code=language_code),
            "chat": dict(chat), "date": int(self._clock()), **content,
        }  # fmt: skip

    def _inbound_file(self) -> dict[str, Any]:
        """file_id and file_unique_id for media a user sends."""
        with self._lock:
            number = next(self._next_file_id)
        return {"file_id": f"in-file-{number}", "file_unique_id": f"in-uniq-{number}"}

    # ---------------------------------------------------------------- queries

    def calls(self, method: str | None = None, chat_id: Any = None) -> list[Call]:
        """Recorded calls in arrival order, optionally of one method and/or chat."""
        with self._lock:
            return [
                call
                for call in self._calls
                if (method is None or call.method.lower() == method.lower())
                and (chat_id is None or call.chat_id == chat_id)
            ]

    def sent_messages(self, chat_id: Any) -> list[dict[str, Any]]:
        """Messages the bot sent to the chat (sendMessage/Photo/Document), as first returned."""
        with self._lock:
            return copy.deepcopy(self._sent.get(chat_id, []))

    def sent_texts(self, chat_id: Any) -> list[str]:
        """Texts (or captions) of the messages the bot sent to the chat."""
        return [m.get("text", m.get("caption", "")) for m in self.sent_messages(chat_id)]

    def message(self, chat_id: Any, message_id: int) -> dict[str, Any] | None:
        """The current state of a stored message (edits applied), None if unknown or deleted."""
        with self._lock:
            key = (chat_id, message_id)
            if key in self._deleted or key not in self._messages:
                return None
            return copy.deepcopy(self._messages[key])

    def last_keyboard(self, chat_id: Any) -> list[list[tuple[str, str | None]]]:
        """Rows of (text, callback_data or url) of the newest keyboard sent or edited in."""
        with self._lock:
            for call in reversed(self._calls):
                outgoing = _is_send(call.method) or call.method.lower().startswith("edit")
                if call.chat_id != chat_id or not outgoing or call.status != 200:
                    continue
                rows = keyboard_rows(call.params.get("reply_markup"))
                if rows:
                    return rows
        return []

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """The answerCallbackQuery parameters for a query id, if it was answered."""
        with self._lock:
            return copy.deepcopy(self._answered_callbacks.get(query_id))

    def commands(self, scope_type: str = "default", language_code: str = "") -> list:
        """The (command, description) pairs set for a scope type and language."""
        key = (json.dumps({"type": scope_type}, sort_keys=True), language_code)
        with self._lock:
            return [(c["command"], c["description"]) for c in self._commands.get(key, [])]

    def pending_updates(self) -> int:
        """How many updates are queued and not yet confirmed."""
        with self._lock:
            return len(self._updates)

    @property
    def confirmed_offset(self) -> int:
        """The highest offset a client confirmed (updates below it are gone)."""
        with self._lock:
            return self._confirmed_offset

    @property
    def webhook_url(self) -> str:
        """The webhook URL currently set, or an empty string."""
        with self._lock:
            return self._webhook.get("url", "")

    # ---------------------------------------------------------------- waiting

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll predicate until it is truthy (and return it), else fail with recent calls."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_message(timeout))
            await asyncio.sleep(0.01)

    def wait_for_sync(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Blocking twin of wait_for, for tests that drive a bot in another process."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_message(timeout))
            time.sleep(0.01)

    def dump_calls(self, last: int = 20) -> str:
        """The last calls other than getUpdates, one line each, for failure messages."""
        lines = []
        for call in [c for c in self.calls() if c.method != "getUpdates"][-last:]:
            params = {k: _short(v) for k, v in call.params.items()}
            lines.append(f"  {call.method} chat={call.chat_id} status={call.status} {params}")
        return "\n".join(lines) or "  (no calls besides getUpdates)"

    def _timeout_message(self, timeout: float) -> str:
        """The AssertionError text of a wait that timed out."""
        return (
            f"condition not met within {timeout}s; pending updates: {self.pending_updates()}; "
            f"recent calls:\n{self.dump_calls()}"
        )


# -------------------------------------------------------------------- helpers


def _make_handler(api: FakeBotApi) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one FakeBotApi."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def setup(self) -> None:
            super().setup()
            with api._lock:
                api._connections.add(self.connection)

        def finish(self) -> None:
            with api._lock:
                api._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def do_POST(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def _answer(self) -> None:
            try:
                params = self._params()
            except ApiError as error:
                self._send(error.code, error.payload())
                return
            status, body = api.handle(self.path, params)
            if body is None:
                self.close_connection = True
                _close_quietly(self.connection)
                return
            self._send(status, body)

        def _params(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type", "")
            query = urlsplit(self.path).query
            fields = dict(parse_qsl(query, keep_blank_values=True))
            files: dict[str, Any] = {}
            if content_type.startswith("multipart/form-data"):
                more, files = parse_multipart(body, content_type)
                fields.update(more)
            elif content_type.startswith("application/json"):
                return {**fields, **json.loads(body or b"{}")}
            elif body:
                fields.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            params: dict[str, Any] = {k: decode_value(k, v) for k, v in fields.items()}
            params.update(files)
            return params

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                self.close_connection = True  # the client gave up (timeout or shutdown)

    return Handler


def _close_quietly(conn: socket.socket) -> None:
    """Shut a socket down without a response, ignoring errors."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def _post_update(webhook: dict[str, Any], update: dict[str, Any]) -> bool:
    """POST one update to the webhook; True when it was accepted."""
    headers = {"Content-Type": "application/json"}
    if webhook.get("secret_token"):
        headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
    request = urllib.request.Request(
        webhook["url"], data=json.dumps(update).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 200 <= response.status < 300
    except OSError:
        return False


def _is_send(method: str) -> bool:
    """Whether a method delivers a message (send*, but not sendChatAction)."""
    lowered = method.lower()
    return lowered.startswith("send") and lowered != "sendchataction"


def _update_type(update: dict[str, Any]) -> str:
    """The kind of an update: message, callback_query, edited_message, ..."""
    return next((key for key in update if key != "update_id"), "")


def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
    """Commands are stored per scope and language code."""
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), params.get("language_code") or ""


def _inline_markup(markup: Any) -> dict[str, Any] | None:
    """The markup a Message carries back: only inline keyboards are echoed by Telegram."""
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        return copy.deepcopy(markup)
    return None


def _check_markup(markup: Any) -> None:
    """Reject keyboards Telegram would reject: empty text, over-long callback data."""
    for row in (markup or {}).get("inline_keyboard", []) if isinstance(markup, dict) else []:
        for button in row:
            if not button.get("text"):
                raise ApiError(400, "Bad Request: inline keyboard button text is empty")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _photo_size(photo: Any) -> tuple[int, int]:
    """Dimensions of an uploaded photo (from the PNG header when possible)."""
    if isinstance(photo, UploadedFile):
        return png_size(photo.data) or (800, 600)
    return 800, 600


def _short(value: Any) -> str:
    """A value shortened for failure messages."""
    if isinstance(value, UploadedFile):
        return f"<file {value.filename} {value.content_type} {len(value.data)} bytes>"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
