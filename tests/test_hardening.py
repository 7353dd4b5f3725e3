"""Issue 11: the breaks a red-team pass found, each pinned by a test (fast, in-process ones).

Process-level ones (start-up failures, webhook, logs, locks and bursts) live in
test_hardening_process.py.
"""

from datetime import UTC, datetime, timedelta

import pytest

from bot.engine import Command, Press, Session, Text
from bot.model import AddContact, Media, SaveCheckins
from bot.policy.contacts import Contact
from bot.service import Service, build_engine
from bot.store import Store
from tests.store_helper import user_row

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ENGINE = build_engine()
CRISIS = "I want to kill myself"


@pytest.fixture
def service(tmp_path):
    store = Store(tmp_path / "bot.db")
    yield Service(store, ENGINE, clock=lambda: NOW)
    store.close()


def menu_session() -> Session:
    from tests.test_checkins import at_menu

    return at_menu()


# --- 1. crisis buttons work for anyone, with or without a session ----------------------------


@pytest.mark.parametrize("said", [CRISIS, "This is killing me"], ids=["alarm", "check"])
def test_crisis_buttons_of_a_new_user_never_start_the_walk_through(service, said):
    crisis = service.handle(7, Text(said), update_id=1).replies[0]
    pressable = [b for b in crisis.buttons if b.data]
    assert pressable, "the crisis reply offers buttons"
    welcome = ENGINE.view(Session(), NOW).text
    for number, button in enumerate(pressable, start=2):
        result = service.handle(7, Press(button.data), update_id=number)
        assert result.replies and result.replies[0].text
        assert all(welcome not in reply.text for reply in result.replies), button.label
        assert service.store.load_session(7) is None  # still nothing stored about them
        assert user_row(service.store, 7) is None


def test_get_help_now_for_a_new_user_shows_the_help_again(service):
    crisis = service.handle(7, Text("This is killing me")).replies[0]
    (help_button,) = [b for b in crisis.buttons if b.data and "crisis_help" in b.data]
    again = service.handle(7, Press(help_button.data)).replies[0]
    assert "crisis" in again.text.lower() or "help" in again.text.lower()
    assert again.text != ENGINE.view(Session(), NOW).text


# --- 3. crisis text anywhere in a message, caption or command argument -------------------


def test_crisis_text_past_four_thousand_characters_gets_the_crisis_reply():
    long = "we talked about the weekend and the kids. " * 100 + CRISIS
    assert len(long) > 4000
    outcome = ENGINE.handle(menu_session(), Text(long), NOW)
    assert (
        outcome.replies[0].text == ENGINE.handle(menu_session(), Text(CRISIS), NOW).replies[0].text
    )
    assert outcome.changed is False


def test_crisis_text_in_a_command_argument_gets_the_crisis_reply():
    crisis = ENGINE.handle(None, Text(CRISIS), NOW).replies[0]
    outcome = ENGINE.handle(None, Command("start", CRISIS), NOW)
    assert outcome.replies[0].text == crisis.text and outcome.changed is False


def test_crisis_text_in_a_caption_gets_the_crisis_reply():
    crisis = ENGINE.handle(menu_session(), Text(CRISIS), NOW).replies[0]
    outcome = ENGINE.handle(menu_session(), Media("photo", caption=CRISIS), NOW)
    assert outcome.replies[0].text == crisis.text


# --- 2. erase and export cover exactly the project's own tables --------------------------


def seed(store: Store, user_id: int) -> None:
    contact = Contact(at=NOW - timedelta(days=1), initiator="me", kind="text", outcome="warm")
    effects = [AddContact(contact, note="n"), SaveCheckins({"frequency": "daily"}, NOW, "checkin")]
    store.commit(user_id, Session(), effects, NOW, update_id=user_id * 10)


def test_delete_and_export_ignore_tables_of_litestream_and_analyze(service):
    store = service.store
    seed(store, 5)
    store.db.execute("CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER)")
    store.db.execute("CREATE TABLE _litestream_lock (id INTEGER)")
    store.db.execute("ANALYZE")
    store.db.conn.commit()
    assert "sqlite_stat1" in store.db.table_names()
    export = store.export_user(5)
    assert "_litestream_seq" not in export and "sqlite_stat1" not in export
    assert export["contacts"]
    store.commit(5, None, [__import__("bot.model").model.EraseUser()], NOW)
    assert user_row(store, 5) is None
    for table in ("sessions", "contacts", "checkins"):
        assert not list(store.db.query(f"SELECT 1 FROM [{table}] WHERE user_id = 5")), table


def test_every_table_the_migrations_create_is_in_the_erase_registry(tmp_path):
    from bot.store.schema import OWN_TABLES, connect

    db = connect(tmp_path / "fresh.db")
    created = {t for t in db.table_names() if not t.startswith("sqlite_")}
    assert created - {"_sqlite_migrations"} == set(OWN_TABLES), (
        "a new table must join OWN_TABLES in bot/store/schema.py, saying how /delete treats it"
    )


# --- 8. a redelivered update after /delete does not bring the user back --------------------


def test_a_redelivered_update_after_delete_changes_nothing(service):
    first = service.handle(9, Command("start"), update_id=100)
    assert first.replies
    service.handle(9, Command("delete"), update_id=101)
    service.handle(9, Press("x.delete_yes"), update_id=102)
    assert user_row(service.store, 9) is None
    again = service.handle(9, Command("start"), update_id=100)  # Telegram redelivers
    assert again.duplicate and user_row(service.store, 9) is None
    rows = list(service.store.db.query("SELECT user_id FROM processed_updates"))
    assert rows and all(row["user_id"] is None for row in rows)  # kept, naming nobody


# --- 9. secure deletion by setting, not by luck -------------------------------------------


def test_erased_text_is_overwritten_even_where_sqlite_does_not_do_it_by_default(
    tmp_path, monkeypatch
):
    import sqlite3

    from bot.store import schema

    real = sqlite3.connect

    def without_secure_delete(*args, **kwargs):  # as a SQLite build without SECURE_DELETE
        conn = real(*args, **kwargs)
        conn.execute("PRAGMA secure_delete = OFF")
        return conn

    monkeypatch.setattr(schema.sqlite3, "connect", without_secure_delete)
    path = tmp_path / "bot.db"
    store = Store(path)
    marker = "zebra-ostrich-secret-4711"
    contact = Contact(at=NOW, initiator="me", kind="text", outcome="warm")
    store.commit(1, Session(), [AddContact(contact, note=marker * 20)], NOW)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.erase_user(1)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    leftovers = [p for p in tmp_path.iterdir() if marker.encode() in p.read_bytes()]
    assert leftovers == []


def test_privacy_says_how_long_backups_keep_erased_data():
    from bot.model import UserData

    replies = ENGINE.handle(None, Command("privacy"), NOW, UserData(backup_retention_hours=72))
    joined = "\n".join(r.text for r in replies.replies)
    assert "3 days" in joined and "backup" in joined.lower()


# --- 10. one malformed stored row never locks a user out ----------------------------------


@pytest.mark.parametrize(
    "column, value",
    [("answers", "{not json"), ("answers", "[1, 2]"), ("completed_at", "yesterday"),
     ("plan", "42")],
)  # fmt: skip
def test_a_malformed_session_row_gets_a_kind_message_and_delete_works(service, column, value):
    service.handle(3, Command("start"), update_id=1)
    seed(service.store, 3)
    service.store.db.execute(f"UPDATE sessions SET {column} = ? WHERE user_id = 3", [value])
    service.store.db.conn.commit()
    started = service.handle(3, Command("start"), update_id=2)
    assert "could not read" in started.replies[0].text
    assert service.handle(3, Command("export"), update_id=3).replies
    asked = service.handle(3, Command("delete"), update_id=4)
    yes = [b for b in asked.replies[-1].buttons if "delete_yes" in (b.data or "")]
    done = service.handle(3, Press(yes[0].data), update_id=5)
    assert "erased" in done.replies[0].text
    assert user_row(service.store, 3) is None


def test_a_malformed_contact_row_is_skipped_not_fatal(service):
    service.handle(3, Command("start"), update_id=1)
    seed(service.store, 3)
    service.store.db.execute("UPDATE contacts SET at = 'garbage' WHERE user_id = 3")
    service.store.db.execute("UPDATE checkins SET settings = '{bad' WHERE user_id = 3")
    service.store.db.conn.commit()
    assert service.handle(3, Command("help"), update_id=2).replies


# --- 12. odd input: a lone surrogate at the note step ------------------------------------


def test_a_lone_surrogate_at_the_note_step_gets_a_reply_and_is_stored_safely(service):
    from tests.test_checkins import tap

    session = ENGINE.handle(menu_session(), Command("log"), NOW).session
    for label in ("I did", "A call", "Cold"):
        session = tap(session, label).session
    service.store.commit(4, session, [], NOW)
    result = service.handle(4, Text("we talked \ud800 about the school run"), update_id=8)
    assert result.replies and not result.failed
    (note,) = [r["note"] for r in service.store.db.query("SELECT note FROM contacts")]
    assert note.encode("utf-8")  # storable and sendable: no lone surrogate left


# --- 5. answers never reach the logs, at the default level or any other -------------------


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_state_names_that_reveal_answers_never_reach_the_logs(level, capsys):
    import logging

    from bot.config import configure_logging
    from tests.test_engine import press

    configure_logging(level)
    try:
        session = ENGINE.handle(None, Command("start"), NOW).session
        while session.state != "walkthrough:safety":
            session = press(session, "").session  # the first button, up to the safety screen
        outcome = press(session, "Something here applies")
        assert outcome.session.state == "walkthrough:safety_concern"
    finally:
        logging.basicConfig(level=logging.WARNING, force=True)
    err = capsys.readouterr().err
    assert "safety_concern" not in err and "concern" not in err


# --- 6. the cost of checking one message is bounded -------------------------------------


def test_a_huge_message_is_checked_in_bounded_time_and_its_end_still_counts():
    import time

    huge = "we talked about the weekend and the kids. " * 25_000 + CRISIS  # ~1 MB
    started = time.perf_counter()
    outcome = ENGINE.handle(menu_session(), Text(huge), NOW)
    elapsed = time.perf_counter() - started
    crisis = ENGINE.handle(menu_session(), Text(CRISIS), NOW).replies[0]
    assert outcome.replies[0].text == crisis.text
    assert elapsed < 2.0, elapsed  # the whole megabyte would take seconds
