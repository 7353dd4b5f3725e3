"""Issue 14 item 3: one read of the user's state, the duplicate check folded into the write."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.engine import Command, Session
from bot.model import AddContact, SaveCheckins
from bot.policy.contacts import Contact
from bot.service import Service, build_engine
from bot.store import Store
from bot.store.users import CONTACT_HISTORY

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "bot.db")
    yield store
    store.close()


def contact(days_ago: float, outcome: str | None = "warm") -> Contact:
    return Contact(at=NOW - timedelta(days=days_ago), initiator="me", kind="text", outcome=outcome)


def test_one_read_gives_what_the_separate_reads_gave(store):
    session = Session(state="hub:menu", answers={"living": "apart"}, plan={"level": 1})
    effects = [
        AddContact(contact(1)),
        AddContact(contact(3, outcome="cold")),
        AddContact(contact(2)),
        AddContact(contact(CONTACT_HISTORY.days + 1)),  # too old to load
        SaveCheckins({"frequency": "daily"}, NOW, "checkin"),
    ]
    store.commit(5, session, effects, NOW, language="de", update_id=50)
    state = store.load_state(5, 51, NOW, is_admin=True)
    assert not state.seen and not state.unreadable
    assert state.session == store.load_session(5) == session
    assert state.data == store.load_user_data(5, NOW, is_admin=True)
    assert [c.at for c in state.data.contacts] == [contact(3).at, contact(2).at, contact(1).at]
    assert store.load_state(5, 50, NOW).seen  # the update that wrote it is known


def test_someone_new_reads_as_nothing_stored(store):
    state = store.load_state(9, None, NOW)
    assert (state.seen, state.session, state.unreadable) == (False, None, False)
    assert state.data == store.load_user_data(9, NOW)


def test_a_duplicate_update_writes_nothing_else(store):
    first = Session(state="hub:menu")
    assert store.commit(5, first, [AddContact(contact(1))], NOW, update_id=70) is True
    again = Session(state="hub:plan")
    assert store.commit(5, again, [AddContact(contact(2))], NOW, update_id=70) is False
    assert store.load_session(5) == first
    assert len(store.load_user_data(5, NOW).contacts) == 1
    revision = next(store.db.query("SELECT revision FROM sessions WHERE user_id = 5"))
    assert revision["revision"] == 1


def test_an_update_handled_between_its_read_and_its_write_is_a_duplicate(store, monkeypatch):
    service = Service(store, build_engine(), clock=lambda: NOW)
    service.handle(5, Command("start", ""), "en", update_id=1)
    before = store.load_session(5)
    read = store.load_state

    def read_then_race(*args, **kwargs):  # another delivery commits the same update meanwhile
        state = read(*args, **kwargs)
        store.mark_processed(2, 5, NOW)
        return state

    monkeypatch.setattr(store, "load_state", read_then_race)
    result = service.handle(5, Command("delete", ""), "en", update_id=2)
    assert result.duplicate and result.replies == []
    assert store.load_session(5) == before


def test_a_read_only_duplicate_is_found_by_the_read(store):
    service = Service(store, build_engine(), clock=lambda: NOW)
    service.handle(5, Command("start", ""), "en", update_id=1)
    first = service.handle(5, Command("help", ""), "en", update_id=2)
    assert first.written is not None and first.replies
    first.written.result(5)
    assert service.handle(5, Command("help", ""), "en", update_id=2).duplicate
