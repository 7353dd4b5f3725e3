"""Storage: migrations from empty, owner-only file, WAL, round trips, one transaction per save."""

import sqlite3
import stat
from datetime import UTC, datetime

import pytest

from bot.engine import Command, Session
from bot.policy.plan import plan_for_level
from bot.service import Service, build_engine
from bot.store import Store, connect, migrations
from tests.store_helper import checkin_row, counter, save_session, user_row

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_migrations_from_empty_create_the_tables(tmp_path):
    db = connect(tmp_path / "fresh.db")
    assert {"users", "sessions", "_sqlite_migrations"} <= set(db.table_names())
    assert [m.name for m in migrations.applied(db)] == [m.name for m in migrations._migrations]
    assert migrations.pending(db) == []
    db.close()
    again = connect(tmp_path / "fresh.db")  # re-opening applies nothing twice
    assert len(list(again.query("SELECT * FROM _sqlite_migrations"))) == len(migrations._migrations)


def test_database_is_owner_only_in_a_new_directory(tmp_path):
    path = tmp_path / "nested" / "bot.db"
    store = Store(path)
    save_session(store, 1, Session(), NOW)
    assert (path.parent / "bot.db-wal").exists()
    for file in [path, *path.parent.glob("bot.db-*")]:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_wal_mode_and_busy_timeout(tmp_path):
    db = connect(tmp_path / "bot.db")
    assert next(db.query("PRAGMA journal_mode"))["journal_mode"] == "wal"
    assert next(db.query("PRAGMA busy_timeout"))["timeout"] == 5000


def test_session_round_trip_and_revision(tmp_path):
    store = Store(tmp_path / "bot.db")
    assert store.load_session(7) is None
    session = Session(
        state="hub:menu",
        answers={"living": "together"},
        plan={"level": 2, "name": "cool"},
        completed_at=NOW,
    )
    save_session(store, 7, session, NOW, language="de")
    save_session(store, 7, session, NOW)
    assert store.load_session(7) == session
    row = next(store.db.query("SELECT revision FROM sessions WHERE user_id = 7"))
    assert row["revision"] == 2
    assert user_row(store, 7)["language"] == "de"  # a missing language keeps the known one


def test_a_failed_save_leaves_nothing_half_written(tmp_path):
    store = Store(tmp_path / "bot.db")
    store.db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        save_session(store, 9, Session(), NOW)
    assert user_row(store, 9) is None  # the user row was rolled back with the session


def test_service_commits_before_replying_and_survives_a_restart(tmp_path):
    path = tmp_path / "bot.db"
    service = Service(Store(path), build_engine(), clock=lambda: NOW)
    replies = service.handle(5, Command("start")).replies
    assert replies and replies[0].buttons
    restarted = Store(path)
    assert restarted.load_session(5).state == "walkthrough:welcome"


def test_storage_failure_gets_a_kind_retry_message(tmp_path):
    store = Store(tmp_path / "bot.db")
    service = Service(store, build_engine(), clock=lambda: NOW)
    store.db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON users BEGIN SELECT RAISE(FAIL, 'x'); END"
    )
    result = service.handle(5, Command("start"))
    assert "try again" in result.replies[0].text
    assert store.load_session(5) is None


def test_erase_user_leaves_nothing_in_any_table(tmp_path):
    from bot.model import AddContact, RecordDraftCheck, SaveCheckins
    from bot.policy.contacts import Contact

    store = Store(tmp_path / "bot.db")
    effects = [
        AddContact(Contact(NOW, "me", "message", "warm"), note="short"),
        SaveCheckins({"frequency": "daily"}, NOW, "checkin"),
        RecordDraftCheck("ok"),
    ]
    for user in (1, 2):
        store.commit(user, Session(), effects, NOW)
        store.mark_processed(100 + user, user, NOW)  # issue 6: processed update ids
    assert len(store.claim_due_checkins(NOW, 10)) == 2  # a pending claim each (checkin_claims)
    store.erase_user(1)
    for table in store.user_tables():
        column = "id" if table == "users" else "user_id"
        rows = list(store.db.query(f"SELECT {column} AS who FROM [{table}]"))
        assert all(row["who"] != 1 for row in rows), table
        assert any(row["who"] == 2 for row in rows), table  # the other user is untouched


def test_a_changed_contact_is_one_row_replaced_with_its_note_kept(tmp_path):
    from datetime import timedelta

    from bot.model import AddContact, ChangeContact
    from bot.policy.contacts import Contact

    store = Store(tmp_path / "bot.db")
    twin = Contact(NOW, "me", "message", "cold")
    store.commit(1, Session(), [AddContact(twin, "first"), AddContact(twin, "second")], NOW)
    store.commit(2, Session(), [AddContact(twin, "another user")], NOW)
    moved = Contact(NOW - timedelta(days=2), "them", "call", "warm")
    store.commit(1, Session(), [ChangeContact(twin, moved)], NOW)
    assert store.load_user_data(1, NOW).contacts == (moved, twin)  # one of the two, not both
    notes = {r["note"]: r["kind"] for r in store.db.query("SELECT note, kind FROM contacts")}
    assert notes == {"first": "message", "second": "call", "another user": "message"}
    store.commit(1, Session(), [ChangeContact(twin, None)], NOW)
    assert store.load_user_data(1, NOW).contacts == (moved,)
    assert store.load_user_data(2, NOW).contacts == (twin,)  # nobody else's row is touched


def test_a_database_with_the_old_migration_names_is_renamed_not_migrated_again(tmp_path):
    from bot.store.schema import RENAMED_MIGRATIONS

    path = tmp_path / "old.db"
    db = connect(path)
    for old, new in RENAMED_MIGRATIONS.items():  # as a database made before the rename
        db.execute("UPDATE _sqlite_migrations SET name = ? WHERE name = ?", [old, new])
    db.conn.commit()
    db.close()
    again = connect(path)  # would fail with "table users already exists" if re-applied
    names = [m.name for m in migrations.applied(again)]
    assert names == [m.name for m in migrations._migrations]
    assert not set(RENAMED_MIGRATIONS) & set(names)


def test_checkin_eligibility_asks_the_session_whether_coaching_is_off(tmp_path, monkeypatch):
    from datetime import timedelta

    from bot.model import SaveCheckins

    store = Store(tmp_path / "bot.db")
    session = Session(state="hub:menu", answers={"safety": "none"}, completed_at=NOW)
    due = NOW + timedelta(hours=1)
    store.commit(1, session, [SaveCheckins({"checkin_time": "19:00"}, due, "checkin")], NOW)
    seen = []

    def decide(checkin):
        seen.append((checkin.eligible, checkin.mode))
        return type("D", (), {"send": False, "next_due": None, "next_kind": None})()

    (claim,) = store.claim_due_checkins(due, 10)
    store.take_checkin(claim, due, decide)
    monkeypatch.setattr(Session, "coaching_off", property(lambda self: True))
    store.commit(1, session, [SaveCheckins({"checkin_time": "19:00"}, due, "checkin")], NOW)
    (claim,) = store.claim_due_checkins(due, 10)
    store.take_checkin(claim, due, decide)
    # The SQL does not repeat the rule: Session decides. Safety mode keeps self-care check-ins.
    assert seen == [(True, "coaching"), (True, "safety")]


def test_the_checkin_rename_migration_keeps_an_old_database_working(tmp_path):
    """A database made before check-ins had one name keeps its rows under the new names."""
    path = tmp_path / "old.db"
    db = connect(path)
    applied = [m.name for m in migrations.applied(db)]
    assert "m005_rename_nudges_to_checkins" in applied
    # Rebuild the state before m005: the old tables, counter, step name and answer keys.
    db.execute("DROP INDEX idx_checkins_due_at")
    db.execute("ALTER TABLE checkins RENAME TO nudges")
    db.execute("ALTER TABLE checkin_claims RENAME TO nudge_claims")
    db["nudges"].create_index(["due_at"], index_name="idx_nudges_due_at")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm005_rename_nudges_to_checkins'")
    db.execute("INSERT INTO users (id, created_at, last_seen_at) VALUES (5, 'x', 'x')")
    db.execute(
        "INSERT INTO sessions (user_id, state, answers, updated_at, revision)"
        ' VALUES (5, \'nudges:hour\', \'{"nudge_frequency": "daily", "level": "2"}\', \'x\', 1)'
    )
    db.execute("INSERT INTO nudges (user_id, settings, due_at) VALUES (5, '{}', '2026-01-01')")
    db.execute("INSERT INTO counters (name, value) VALUES ('nudges_sent', 4)")
    db.conn.commit()
    db.close()

    store = Store(path)
    assert {"checkins", "checkin_claims"} <= set(store.db.table_names())
    assert not {"nudges", "nudge_claims"} & set(store.db.table_names())
    assert checkin_row(store, 5)["due_at"] == "2026-01-01"
    assert counter(store, "checkins_sent") == 4
    session = store.load_session(5)
    assert session.state == "checkins:hour"
    assert session.answers == {"checkin_frequency": "daily", "level": "2"}
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT user_id FROM checkins WHERE due_at <= '2026'"
    ).fetchall()
    assert "idx_checkins_due_at" in str(plan)


@pytest.mark.parametrize(
    ("old", "new", "step"),
    [("nudges", "checkins", "settings"), ("stopnudges", "stopcheckins", "stopped")],
)
def test_old_command_names_still_work_but_are_not_listed(old, new, step):
    engine = build_engine()
    plan = plan_for_level(2, engine.policy.dose_table).as_dict()
    at_menu = Session(state="hub:menu", plan=plan, completed_at=NOW)
    by_old = engine.handle(at_menu, Command(old), NOW)
    by_new = engine.handle(at_menu, Command(new), NOW)
    assert by_old.session.state == by_new.session.state == f"checkins:{step}"
    assert by_old.replies[-1].text == by_new.replies[-1].text
    help_text = engine.handle(at_menu, Command("help"), NOW).replies[-1].text
    assert f"/{new} " in help_text and f"/{old} " not in help_text


def test_opening_a_reader_keeps_the_wal_safe_from_other_processes(tmp_path):
    """Opening a reader must not drop this process's locks on the database file (closing any
    descriptor of it does), or another process closing its connection deletes the WAL
    under ours and reads fail with SQLITE_IOERR_SHORT_READ (found by the SIGKILL test)."""
    import subprocess
    import sys
    import threading

    path = tmp_path / "bot.db"
    store = Store(path)
    for user in range(200):
        store.commit(user, Session(answers={"x": "y" * 500}), [], NOW)
    errors: list[str] = []

    def read() -> None:
        try:
            assert store.load_session(7) is not None  # opens this thread's reader
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    thread = threading.Thread(target=read)
    thread.start(), thread.join()
    other = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        " c.execute('SELECT 1 FROM users'); c.close()"
    )
    subprocess.run([sys.executable, "-c", other, str(path)], check=True)
    assert (tmp_path / "bot.db-wal").exists()  # still ours: the other process left it alone
    for user in range(200, 260):
        store.commit(user, Session(), [], NOW)
    assert store.load_session(250) is not None and not errors
    store.close()
