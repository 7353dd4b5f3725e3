"""Property test: thousands of random, odd and hostile updates through Application.process_update.

No handler raises, a private update gets at most one reply (one or two messages, all to the
sender, the last showing the sender's current step or a kind note), nothing else is answered,
and every stored session is a valid step with valid answers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.request import BaseRequest

from bot.config import Settings
from bot.engine import step_token
from bot.features.urge import RETURN_TO
from bot.service import Service, build_engine
from bot.store import Store
from bot.telegram import build_application

pytestmark = pytest.mark.slow  # thousands of random updates (about 50 s)

USERS = [11, 12, 13]
TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11x"
SEND = {"sendMessage", "sendPhoto", "sendDocument"}


class StubApi(BaseRequest):
    """An in-process Bot API: answers every call plausibly and records it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.ids = itertools.count(1000)

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def do_request(self, url, method, request_data=None, *args, **kwargs):
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        self.calls.append((name, params))
        if name == "getMe":
            result = {"id": 123456, "is_bot": True, "first_name": "T", "username": "t_bot"}
        elif name in SEND:
            chat = params.get("chat_id")
            result = {
                "message_id": next(self.ids),
                "date": 0,
                "chat": {"id": chat, "type": "private"},
                "text": params.get("text", "x"),
            }
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()


def user(uid: int) -> dict:
    return {"id": uid, "is_bot": False, "first_name": "U", "language_code": "en"}


def message(uid: int, chat: dict, **content) -> dict:
    return {"message_id": 5, "date": 0, "chat": chat, "from": user(uid), **content}


PRIVATE = st.sampled_from(USERS).map(lambda u: (u, {"id": u, "type": "private"}))
TEXT = st.one_of(
    st.text(max_size=50),
    st.text(min_size=4000, max_size=5000),
    st.sampled_from(
        [
            "/start",
            "/reset",
            "/help x",
            "/menu",
            "/plan",
            "/zz a b",
            "/log",
            "/urge",
            "/draft",
            "/progress",
            "/checkins",
            "/timezone",
            "/stopcheckins",
            "/safety",
            "/country xx",
            "/privacy",
            "/export",
            "/delete",
            "/stats",
            "/about",
        ]
    ),
)
DATA = st.one_of(
    st.text(max_size=64),
    st.sampled_from(
        [
            "x.resume",
            "x.reset_yes",
            "x.reset_no",
            "x.crisis_help.danger_now",
            "s.000000.0",
            "s..",
            "x.",
            "x.delete_yes",
            "x.delete_no",
            "x.crisis_later.self_harm",
            "x.crisis_ok",
            "c.log",
            "c.stopcheckins",
            "c.nope",
        ]
    ),
)


@st.composite
def updates(draw) -> tuple[str, int | None, dict]:
    """(kind, sender or None, update body) of one random update."""
    uid, chat = draw(PRIVATE)
    kind = draw(
        st.sampled_from(
            [
                "text",
                "text",
                "press",
                "press",
                "edit",
                "sticker",
                "photo",
                "document",
                "channel",
                "group",
                "group_command",
                "foreign",
            ]
        )
    )
    text = draw(TEXT)
    if kind == "text":
        entities = [{"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}]
        body = {
            "message": message(
                uid, chat, text=text, **({"entities": entities} if text.startswith("/") else {})
            )
        }
    elif kind in ("press", "foreign"):
        owner = draw(st.sampled_from(USERS)) if kind == "foreign" else uid
        body = {
            "callback_query": {
                "id": str(draw(st.integers(1, 10**9))),
                "from": user(uid),
                "chat_instance": "c",
                "data": draw(DATA),
                "message": message(owner, {"id": owner, "type": "private"}, text="old"),
            }
        }
    elif kind == "edit":
        body = {"edited_message": {**message(uid, chat, text=text), "edit_date": 1}}
    elif kind in ("sticker", "photo", "document"):
        media = {
            "sticker": {
                "file_id": "f",
                "file_unique_id": "u",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            },
            "photo": [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}],
            "document": {"file_id": "f", "file_unique_id": "u"},
        }[kind]
        body = {"message": message(uid, chat, **{kind: media})}
    elif kind == "channel":
        body = {
            "channel_post": {
                "message_id": 1,
                "date": 0,
                "text": text,
                "chat": {"id": -100, "type": "channel", "title": "c"},
            }
        }
    else:
        group = {"id": -5, "type": "group", "title": "g"}
        # Plain group chatter must not look like a command (that case is group_command).
        text = "/start" if kind == "group_command" else text.lstrip("/") or "hi"
        entities = [{"type": "bot_command", "offset": 0, "length": 6}]
        body = {
            "message": message(
                uid, group, text=text, **({"entities": entities} if text == "/start" else {})
            )
        }
    private = kind in ("text", "press", "foreign", "sticker", "photo", "document")
    return kind, uid if private else None, body


class Harness:
    """The real Application on a real database, fed updates directly."""

    def __init__(self, tmp_path: Path):
        self.loop = asyncio.new_event_loop()
        self.api = StubApi()
        self.store = Store(tmp_path / "bot.db")
        self.service = Service(self.store, build_engine())
        settings_ = Settings(
            token=TOKEN, api_url=None, db_path=tmp_path / "bot.db", log_level="INFO"
        )
        self.app = build_application(settings_, self.service, request=self.api)
        self.errors: list[BaseException] = []

        async def record(update, context):
            self.errors.append(context.error)

        self.app.add_error_handler(record)
        self.loop.run_until_complete(self.app.initialize())
        self.next_id = itertools.count(1)

    def feed(self, body: dict) -> list[tuple[str, dict]]:
        """Process one update; return the calls it made."""
        before = len(self.api.calls)
        update = Update.de_json({"update_id": next(self.next_id), **body}, self.app.bot)
        self.loop.run_until_complete(self.app.process_update(update))
        return self.api.calls[before:]

    def close(self) -> None:
        self.loop.run_until_complete(self.app.shutdown())
        self.loop.close()
        self.store.close()


def test_random_updates_never_break_the_bot(tmp_path):
    harness = Harness(tmp_path)
    engine = harness.service.engine
    answer_values = {}
    for step in engine.flows.steps.values():
        if step.answer:
            answer_values.setdefault(step.answer, set()).update(
                b.value for b in step.buttons if b.value is not None
            )
        if step.text_input:
            answer_values.setdefault(step.text_input.answer, None)

    @settings(max_examples=45, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(updates(), min_size=20, max_size=60))
    def run(batch):
        for kind, sender, body in batch:
            calls = harness.feed(body)
            sends = [params for name, params in calls if name in SEND]
            if sender is None and kind != "group_command":
                assert sends == [], kind  # edits, channel posts, group chatter: no reply
                continue
            if kind == "group_command":
                assert len(sends) == 1 and sends[0]["chat_id"] == -5
                continue
            # One answer: a note and/or the step, or /privacy's three short parts.
            assert 1 <= len(sends) <= 3, (kind, len(sends))
            assert all(p["chat_id"] == sender for p in sends)  # only ever to the sender
            assert all(0 < len(p["text"]) <= 4096 and "{" not in p["text"] for p in sends)
            edits = [p for name, p in calls if name.startswith("edit")]
            assert all(p["chat_id"] == sender for p in edits)  # never touches another chat
            assert_consistent(harness, sender, sends[-1], answer_values)
        assert harness.errors == []

    try:
        run()
    finally:
        harness.close()


def assert_consistent(harness: Harness, uid: int, last: dict, answer_values) -> None:
    """The stored session is a valid step with valid answers, and the reply shows it."""
    engine = harness.service.engine
    session = harness.store.load_session(uid)
    if session is None:
        return
    assert session.state in engine.flows.steps
    for key, value in session.answers.items():
        if key == RETURN_TO:  # kept by /urge or /draft before the plan: a step to go back to
            assert value in engine.flows.steps, value
            continue
        assert key in answer_values, key
        allowed = answer_values[key]
        assert allowed is None or value in allowed, (key, value)
    markup = last.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    rows = (markup or {}).get("inline_keyboard", [])
    data = [button.get("callback_data") for row in rows for button in row]
    steps = [d for d in data if d and d.startswith("s.")]
    if steps:  # the keyboard shown is the one of the step the user is on
        assert steps[0].split(".")[1] == step_token(session.state)
