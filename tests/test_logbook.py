"""/contacts: changing a logged contact's kind or day, through the real service and store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.engine import Command, Press, Reply
from bot.flows import MENU
from bot.model import AddContact, SaveCheckins, Session
from bot.policy.checkins import CheckinSettings
from bot.policy.contacts import MOVE_DAYS, Contact, local_days_ago, moved_to_day
from bot.policy.plan import plan_from_answers
from bot.service import Service
from bot.store import Store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday
USER = 77
WEEKLY = {"living": "moved_out", "feelings": "not_sure", "response": "brief", "frequency": "weekly"}
BERLIN = ZoneInfo("Europe/Berlin")


class Chat:
    """One user at the menu, talking to the real service on a fresh database."""

    def __init__(self, engine, tmp_path, contacts=(), tz: str | None = None, now=NOW):
        self.now = now
        self.service = Service(Store(tmp_path / "bot.db"), engine, clock=lambda: self.now)
        answers = {"safety": "clear", **WEEKLY}
        plan = plan_from_answers(answers, engine.policy.dose_table).as_dict()
        session = Session(state=MENU, answers=answers, plan=plan, completed_at=now)
        effects: list = [AddContact(c) for c in contacts]
        if tz:
            effects.append(SaveCheckins(CheckinSettings(tz=tz).as_dict(), None))
        self.service.store.commit(USER, session, effects, now)
        self.last: list[Reply] = []

    def send(self, event) -> str:
        self.last = self.service.handle(USER, event).replies
        return "\n".join(reply.text for reply in self.last)

    def command(self, text: str) -> str:
        name, _, args = text.lstrip("/").partition(" ")
        return self.send(Command(name, args))

    def button(self, label: str) -> str:
        """The callback data of a button on the latest replies."""
        found = [b.data for r in self.last for b in r.buttons if b.label == label and b.data]
        assert found, f"no button {label!r} in {self.labels()}"
        return found[0]

    def tap(self, label: str) -> str:
        return self.send(Press(self.button(label)))

    def labels(self) -> list[str]:
        return [b.label for reply in self.last for b in reply.buttons]

    def stored(self) -> tuple[Contact, ...]:
        return self.service.store.load_user_data(USER, self.now).contacts


def mine(at: datetime, kind="message", outcome="neutral") -> Contact:
    return Contact(at, "me", kind, outcome)


LINE = "Wed 25 Nov, 12:00: you, a message, neutral"


# --- the policy: which moment a contact moves to ------------------------------------------------


def test_a_moved_contact_keeps_its_wall_time_in_the_user_s_zone():
    at = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)  # 21:30 in Berlin
    moved = moved_to_day(at, 1, NOW, BERLIN)
    assert moved == datetime(2026, 11, 25, 20, 30, tzinfo=UTC)
    assert moved.tzinfo == UTC


def test_a_moved_contact_keeps_its_wall_time_across_a_summer_time_change():
    now = datetime(2026, 10, 27, 12, 0, tzinfo=UTC)  # Berlin left summer time on 25 October
    at = datetime(2026, 10, 27, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (UTC+1)
    moved = moved_to_day(at, 3, now, BERLIN)  # to 24 October, still summer time (UTC+2)
    assert moved.astimezone(BERLIN).strftime("%d %H:%M") == "24 09:00"


def test_a_contact_moved_to_today_at_a_later_hour_is_never_in_the_future():
    at = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # 23:00 in Berlin
    assert moved_to_day(at, 0, NOW, BERLIN) == NOW  # 13:00 in Berlin: 23:00 hasn't come yet


@pytest.mark.parametrize("days", [-1, MOVE_DAYS, 30])
def test_a_contact_moves_only_to_today_or_the_six_days_before(days):
    with pytest.raises(ValueError):
        moved_to_day(NOW, days, NOW, BERLIN)


def test_days_ago_count_the_user_s_local_days():
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # already 26 November in Berlin
    assert local_days_ago(late, NOW, UTC) == 1
    assert local_days_ago(late, NOW, BERLIN) == 0


# --- the contact view --------------------------------------------------------------------------


def test_a_contact_offers_its_kind_and_its_day_besides_how_it_went(engine, tmp_path):
    chat = Chat(engine, tmp_path, [mine(NOW - timedelta(days=1))])
    chat.command("/contacts")
    opened = chat.tap(LINE)
    assert LINE in opened
    assert chat.labels() == [
        *("Warm", "Neutral", "Cold", "No answer"),
        *("Change the kind", "Change the day", "Remove it", "Go on"),
    ]


def test_every_button_of_the_contact_screens_fits_telegram_s_callback_data(engine, tmp_path):
    chat = Chat(engine, tmp_path, [Contact(NOW - timedelta(days=1), "them", "practical", "cold")])
    chat.command("/contacts")
    seen: set[str] = set()
    for path in (["Change the kind", "They did"], ["Change the day"]):
        chat.command("/contacts")
        chat.tap(chat.labels()[0])
        for label in path:
            chat.tap(label)
        seen |= {b.data for r in chat.last for b in r.buttons if b.data}
    assert any(data.endswith("-kind-them-practical") for data in seen)
    assert max(len(data.encode()) for data in seen) <= 64


# --- changing the kind --------------------------------------------------------------------------


def test_changing_the_kind_asks_who_then_what_kind_and_stores_both(engine, tmp_path):
    contact = mine(NOW - timedelta(days=1))
    chat = Chat(engine, tmp_path, [contact])
    chat.command("/contacts")
    chat.tap(LINE)
    assert "Who started it?" in chat.tap("Change the kind")
    assert chat.labels() == ["I did", "They did", "Go on"]
    assert "What kind of contact was it?" in chat.tap("They did")
    assert chat.labels() == ["A message", "A call", "We met", "A practical matter", "Go on"]
    done = chat.tap("A call")
    assert done.startswith("Thank you")
    assert "Wed 25 Nov, 12:00: them, a call, neutral" in done
    assert chat.labels() == ["Change something else", "Go on"]
    assert chat.stored() == (Contact(contact.at, "them", "call", "neutral"),)


def test_the_same_kind_again_changes_nothing_and_says_so(engine, tmp_path):
    chat = Chat(engine, tmp_path, [mine(NOW - timedelta(days=1))])
    chat.command("/contacts")
    chat.tap(LINE)
    chat.tap("Change the kind")
    chat.tap("I did")
    assert "nothing needed changing" in chat.tap("A message")
    assert chat.stored() == (mine(NOW - timedelta(days=1)),)


def test_the_note_stays_with_a_changed_contact(engine, tmp_path):
    contact = mine(NOW - timedelta(days=1))
    chat = Chat(engine, tmp_path)
    chat.service.store.commit(USER, None, [AddContact(contact, note="about the keys")], NOW)
    chat.command("/contacts")
    chat.tap(LINE)
    chat.tap("Change the kind")
    chat.tap("I did")
    chat.tap("A practical matter")
    rows = list(chat.service.store.db.query("SELECT kind, note FROM contacts"))
    assert rows == [{"kind": "practical", "note": "about the keys"}]


# --- changing the day ---------------------------------------------------------------------------


def test_the_day_is_chosen_from_today_and_the_six_days_before(engine, tmp_path):
    chat = Chat(engine, tmp_path, [mine(NOW - timedelta(days=1))])
    chat.command("/contacts")
    chat.tap(LINE)
    asked = chat.tap("Change the day")
    assert "Which day was it?" in asked and "UTC" in asked and "/timezone" in asked
    assert chat.labels() == [
        "Today",
        "Yesterday (as now)",
        "Tuesday, 2 days ago",
        "Monday, 3 days ago",
        "Sunday, 4 days ago",
        "Saturday, 5 days ago",
        "Friday, 6 days ago",
        "Go on",
    ]
    done = chat.tap("Monday, 3 days ago")
    assert done.startswith("Thank you") and "Mon 23 Nov, 12:00: you, a message, neutral" in done
    assert chat.stored() == (mine(datetime(2026, 11, 23, 12, 0, tzinfo=UTC)),)


def test_days_follow_the_user_s_time_zone(engine, tmp_path):
    # 23:30 UTC on Wednesday is already Thursday 00:30 in Berlin.
    now = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    contact = mine(datetime(2026, 11, 25, 21, 0, tzinfo=UTC))  # Wednesday 22:00 in Berlin
    chat = Chat(engine, tmp_path, [contact], tz="Europe/Berlin", now=now)
    chat.command("/contacts")
    chat.tap("Wed 25 Nov, 22:00: you, a message, neutral")
    asked = chat.tap("Change the day")
    assert "Days as they fall in Europe/Berlin" in asked
    assert chat.labels()[:3] == ["Today", "Yesterday (as now)", "Tuesday, 2 days ago"]
    done = chat.tap("Today")  # Thursday 22:00 in Berlin hasn't come yet: it moves to now
    assert "Thu 26 Nov, 00:30" in done
    (moved,) = chat.stored()
    assert moved.at == now


def test_the_day_it_is_on_already_changes_nothing(engine, tmp_path):
    contact = mine(NOW - timedelta(days=1))
    chat = Chat(engine, tmp_path, [contact])
    chat.command("/contacts")
    chat.tap(LINE)
    chat.tap("Change the day")
    assert "nothing needed changing" in chat.tap("Yesterday (as now)")
    assert chat.stored() == (contact,)


def test_a_contact_moved_onto_another_s_moment_stays_apart_from_it(engine, tmp_path):
    first, second = mine(NOW - timedelta(days=1)), mine(NOW - timedelta(days=2), outcome="cold")
    chat = Chat(engine, tmp_path, [first, second])
    chat.command("/contacts")
    chat.tap("Tue 24 Nov, 12:00: you, a message, cold")
    chat.tap("Change the day")
    chat.tap("Yesterday")
    stored = chat.stored()
    assert len(stored) == 2 and stored[0].at == first.at - timedelta(seconds=1)
    chat.command("/contacts")
    assert len(set(chat.labels())) == 3  # two contacts, each its own button, and "Go on"


@pytest.mark.parametrize("change", ["day-7", "day--1", "day-\u00b2", "day-1x", "kind-me-phone"])
def test_typed_or_forged_changes_outside_the_choices_change_nothing(engine, tmp_path, change):
    contact = mine(NOW - timedelta(days=1))
    chat = Chat(engine, tmp_path, [contact])
    key = str(int(contact.at.timestamp()))
    answer = chat.command(f"/contacts {key}-{change}")
    assert "Which day was it?" in answer or "What kind" in answer
    assert chat.stored() == (contact,)


# --- the plan's figures follow the edited log ---------------------------------------------------


def test_progress_and_days_within_the_plan_count_the_contact_as_changed(engine, tmp_path):
    # Two contacts started a day apart on a plan of one a week: the second was a slip.
    chat = Chat(engine, tmp_path, [mine(NOW - timedelta(days=3)), mine(NOW - timedelta(days=2))])
    chat.now = NOW
    before = chat.command("/progress")
    assert "2 started by you, 0 by them" in before
    assert "Days within your plan in the last weeks: 3 of 4." in before
    chat.command("/contacts")
    chat.tap("Tue 24 Nov, 12:00: you, a message, neutral")
    chat.tap("Change the kind")
    chat.tap("They did")
    chat.tap("A message")
    after = chat.command("/progress")
    assert "1 started by you, 1 by them" in after
    assert "Days within your plan in the last weeks: 4 of 4." in after


def urge_fit(chat: Chat) -> str:
    """The line of the urge pause on when a contact next fits the plan."""
    chat.command("/urge")
    chat.tap("I just miss them")
    return chat.tap("Go on").splitlines()[-2]


def test_the_urge_pause_weighs_the_contact_on_its_new_day(engine, tmp_path):
    chat = Chat(engine, tmp_path, [mine(NOW - timedelta(hours=2))])
    assert urge_fit(chat) == "Your next contact fits your plan in 7 days."
    chat.command("/contacts")
    chat.tap(chat.labels()[0])
    chat.tap("Change the day")
    chat.tap("Friday, 6 days ago")
    assert urge_fit(chat) == "Your next contact fits your plan from tomorrow."
    chat.command("/contacts")
    chat.tap(chat.labels()[0])
    chat.tap("Change the kind")
    chat.tap("I did")
    chat.tap("A practical matter")  # practical matters never count against the plan
    assert urge_fit(chat).startswith("A contact fits your plan right now")


# --- stale buttons ------------------------------------------------------------------------------


def test_a_button_for_a_removed_contact_gets_a_kind_word_and_the_list(engine, tmp_path):
    chat = Chat(engine, tmp_path, [mine(NOW - timedelta(days=1)), mine(NOW - timedelta(days=4))])
    chat.command("/contacts")
    chat.tap(LINE)
    change_kind, change_day = chat.button("Change the kind"), chat.button("Change the day")
    chat.tap("Remove it")
    for stale in (change_kind, change_day, change_kind + "-me-call", change_day + "-0"):
        answer = chat.send(Press(stale))
        assert answer.startswith("I can't find that contact as it was")
        assert "Nothing was changed" in answer and "Tap one to change" in answer
        assert chat.labels() == ["Sun 22 Nov, 12:00: you, a message, neutral", "Go on"]
    assert len(chat.stored()) == 1


def test_a_button_for_a_contact_moved_since_finds_nothing_to_change(engine, tmp_path):
    chat = Chat(engine, tmp_path, [mine(NOW - timedelta(days=1))])
    chat.command("/contacts")
    chat.tap(LINE)
    warm = chat.button("Warm")
    chat.tap("Change the day")
    chat.tap("Today")
    assert chat.send(Press(warm)).startswith("I can't find that contact")
    assert [c.outcome for c in chat.stored()] == ["neutral"]


def test_a_stale_button_after_the_last_contact_is_gone_says_so_kindly(engine, tmp_path):
    chat = Chat(engine, tmp_path, [mine(NOW - timedelta(days=1))])
    chat.command("/contacts")
    chat.tap(LINE)
    day = chat.button("Change the day")
    chat.tap("Remove it")
    answer = chat.send(Press(day))
    assert answer.startswith("I can't find that contact") and "haven't logged any" in answer
