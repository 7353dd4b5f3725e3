"""Check-ins and the contact features without Telegram: sweep decisions, storage, flows."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.content import Content
from bot.engine import Command, Engine, Press, Text
from bot.features.checkins import (
    MAX_LATENESS,
    checkin_reply,
    command_from_press,
    decide_due_checkin,
    describe_settings,
)
from bot.features.texts import FEATURE_TEXTS
from bot.model import AddContact, SaveCheckins, Session, UserData
from bot.policy.checkins import CheckinSettings
from bot.policy.contacts import Contact
from bot.service import Service
from bot.store import Store
from tests.store_helper import checkin_row, counter, save_session, user_row

NOW = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)  # 19:00 in Berlin
BERLIN = CheckinSettings(tz="Europe/Berlin", frequency="daily", hour=19)
CONTENT = Content.load()
ENGINE = Engine(CONTENT)
TEXTS = CONTENT.file(FEATURE_TEXTS)
NO_DATA = UserData()
DONE = {"safety": "clear", "response": "brief", "living": "moved_out", "feelings": "not_sure"}


# --- the sweep's decision -----------------------------------------------------------------


def test_a_due_check_in_is_sent_and_the_next_is_tomorrow():
    decision = decide_due_checkin(BERLIN, NOW, None, NOW)
    assert decision.send and decision.next_kind == "checkin"
    assert decision.next_due == NOW + timedelta(days=1)


def test_at_most_one_checkin_a_local_day():
    decision = decide_due_checkin(BERLIN, NOW, NOW - timedelta(hours=3), NOW)
    assert not decision.send and decision.next_due == NOW + timedelta(days=1)


def test_a_follow_up_counts_as_the_days_checkin():
    follow_up_at = NOW - timedelta(hours=4)  # 15:00 Berlin
    decision = decide_due_checkin(BERLIN, follow_up_at, None, follow_up_at)
    assert decision.send and decision.next_due == NOW + timedelta(days=1)  # not today at 19:00


def test_an_asked_for_follow_up_is_kept_even_with_check_ins_off_or_paused():
    off = replace(BERLIN, frequency="off")
    paused = replace(BERLIN, paused_until=NOW + timedelta(days=3))
    for settings in (off, paused):
        decision = decide_due_checkin(settings, NOW, None, NOW, kind="followup")
        assert decision.send
    late = NOW + timedelta(hours=3, minutes=30)  # 22:30 in Berlin: quiet, so not even then
    assert not decide_due_checkin(BERLIN, late, None, late, kind="followup").send


def test_nothing_is_sent_in_quiet_hours():
    late = NOW + timedelta(hours=3, minutes=30)  # 22:30 in Berlin
    decision = decide_due_checkin(BERLIN, late - timedelta(minutes=1), None, late)
    assert not decision.send and decision.next_due == NOW + timedelta(days=1)


def test_a_long_overdue_check_in_is_skipped_not_sent_at_an_odd_hour():
    settings = replace(BERLIN, hour=9)
    decision = decide_due_checkin(settings, NOW - MAX_LATENESS - timedelta(hours=1), None, NOW)
    assert not decision.send and decision.next_due > NOW


def test_pause_and_off_are_respected():
    paused = replace(BERLIN, paused_until=NOW + timedelta(days=3))
    decision = decide_due_checkin(paused, NOW, None, NOW)
    assert not decision.send and decision.next_due == NOW + timedelta(days=3)
    off = decide_due_checkin(replace(BERLIN, frequency="off"), NOW, None, NOW)
    assert not off.send and off.next_due is None and off.next_kind is None


def test_a_user_without_a_finished_walkthrough_gets_nothing():
    decision = decide_due_checkin(BERLIN, NOW, None, NOW, eligible=False)
    assert not decision.send and decision.next_due is None


def test_checkin_texts_vary_by_day_and_every_checkin_has_one_tap_buttons():
    texts, policy = TEXTS, ENGINE.policy.contact_texts
    days = {checkin_reply("checkin", 7, "UTC", NOW + timedelta(days=d), policy, texts).text
            for d in range(6)}  # fmt: skip
    assert len(days) > 1
    follow_up = checkin_reply("followup", 7, "UTC", NOW, policy, texts)
    assert follow_up.text in texts.followups
    commands = {command_from_press(b.data).name for b in follow_up.buttons}
    assert commands == {"mood", "log", "menu", "checkins", "stopcheckins"}
    moods = [command_from_press(b.data) for b in follow_up.buttons[:3]]
    assert [(c.name, c.args) for c in moods] == [("mood", m) for m in ("good", "okay", "low")]


@pytest.mark.parametrize(
    ("mode", "commands"),
    [
        ("coaching", ["log", "menu", "checkins", "stopcheckins"]),
        ("walkthrough", ["start", "checkins", "stopcheckins"]),  # no logging before a plan
        ("safety", ["menu", "checkins", "stopcheckins"]),  # self-care only
    ],
)
def test_checkin_buttons_fit_where_the_user_is(mode, commands):
    texts, policy = TEXTS, ENGINE.policy.contact_texts
    reply = checkin_reply("checkin", 7, "UTC", NOW, policy, texts, mode)
    assert [command_from_press(b.data).name for b in reply.buttons[3:]] == commands
    if mode == "safety":
        assert reply.text in texts.safety_checkins


@pytest.mark.parametrize("data", ["x.reset_yes", "s.abcdef.1", "c.", "c.Bad Name", "c." + "a" * 40])
def test_only_command_buttons_become_commands(data):
    assert command_from_press(data) is None


def test_settings_in_words():
    words = describe_settings(replace(BERLIN, frequency="weekly", weekday=0), NOW, TEXTS)
    assert "every Monday at 19:00, Europe/Berlin" in words and "22:00 to 08:00" in words
    paused = replace(BERLIN, paused_until=NOW + timedelta(days=2))
    assert "paused until Thursday 12 Mar" in describe_settings(paused, NOW, TEXTS)
    assert "off" in describe_settings(CheckinSettings(), NOW, TEXTS)


# --- storage --------------------------------------------------------------------------------


@pytest.fixture
def service(tmp_path):
    store = Store(tmp_path / "bot.db")
    clock = {"now": NOW}
    yield Service(store, ENGINE, clock=lambda: clock["now"]), clock
    store.close()


def due_messages(svc: Service) -> list:
    """What one sweep would send: claim the due check-ins, then take each (marking it sent)."""
    return [m for claim in svc.claim_due_checkins() if (m := svc.take_checkin(claim)) is not None]


def finished(store: Store, user: int, settings: CheckinSettings, due: datetime, kind="checkin"):
    session = Session(state="hub:menu", answers=dict(DONE), plan=None, completed_at=NOW)
    store.commit(
        user, session, [SaveCheckins(settings.as_dict(), due, kind)], NOW - timedelta(days=1)
    )


def test_a_claimed_checkin_is_marked_sent_in_the_same_transaction(service):
    svc, _ = service
    finished(svc.store, 1, BERLIN, NOW)
    (message,) = due_messages(svc)
    assert message.user_id == 1 and message.reply.buttons
    row = checkin_row(svc.store, 1)
    assert row["last_sent_at"] == NOW.isoformat() and row["due_at"] > NOW.isoformat()
    assert due_messages(svc) == []  # a second sweep finds nothing
    assert counter(svc.store, "checkins_sent") == 1


def test_a_follow_up_is_sent_then_the_regular_schedule_returns(service):
    svc, clock = service
    follow_up_at = NOW - timedelta(hours=3)
    finished(svc.store, 2, BERLIN, follow_up_at, kind="followup")
    clock["now"] = follow_up_at
    (message,) = due_messages(svc)
    assert message.reply.text in TEXTS.followups
    row = checkin_row(svc.store, 2)
    assert row["due_kind"] == "checkin" and row["due_at"] == (NOW + timedelta(days=1)).isoformat()


def test_release_puts_it_back_unless_the_user_changed_settings_meanwhile(service):
    svc, clock = service
    finished(svc.store, 3, BERLIN, NOW)
    (message,) = due_messages(svc)
    svc.release_checkin(message, after_seconds=60)
    row = checkin_row(svc.store, 3)
    assert row["due_at"] == (NOW + timedelta(seconds=60)).isoformat()
    assert row["last_sent_at"] is None and counter(svc.store, "checkins_sent") == 0
    clock["now"] = NOW + timedelta(seconds=60)
    (again,) = due_messages(svc)
    svc.store.commit(3, None, [SaveCheckins(CheckinSettings().as_dict(), None)], NOW)  # turned off
    svc.release_checkin(again)
    assert checkin_row(svc.store, 3)["due_at"] is None


def test_blocked_user_is_inactive_with_check_ins_off(service):
    svc, _ = service
    finished(svc.store, 4, BERLIN, NOW)
    svc.user_blocked(4)
    assert user_row(svc.store, 4)["active"] == 0
    data = svc.store.load_user_data(4, NOW)
    assert data.checkins["frequency"] == "off" and checkin_row(svc.store, 4)["due_at"] is None
    assert due_messages(svc) == []


def test_reset_or_safety_concern_keeps_check_ins_in_the_right_mode(service):
    """Setting check-ins is enough: they never silently stop when the walk-through is not
    finished (reset) or coaching is off (safety); they fit the mode instead."""
    svc, _ = service
    finished(svc.store, 5, BERLIN, NOW)
    save_session(svc.store, 5, Session(answers={"safety": "concern"}), NOW)
    (message,) = due_messages(svc)
    assert message.reply.text in TEXTS.safety_checkins
    assert "Log a contact" not in [b.label for b in message.reply.buttons]
    finished(svc.store, 6, BERLIN, NOW)
    save_session(svc.store, 6, Session(), NOW)  # /reset: the walk-through again
    (again,) = due_messages(svc)
    assert "Go on with the walk-through" in [b.label for b in again.reply.buttons]
    assert checkin_row(svc.store, 6)["due_at"] is not None  # the next one is planned


def test_nothing_is_claimed_twice_and_only_one_taker_may_send(service):
    svc, _ = service
    for user in range(10, 16):
        finished(svc.store, user, BERLIN, NOW - timedelta(minutes=user))
    first = svc.store.claim_due_checkins(NOW, 4)
    assert [c.user_id for c in first] == [15, 14, 13, 12]  # oldest due first, up to the limit
    second = svc.store.claim_due_checkins(NOW, 10)
    assert [c.user_id for c in second] == [11, 10]  # pending claims are not claimed again
    assert svc.store.claim_due_checkins(NOW, 10) == []
    assert svc.take_checkin(first[0]) is not None
    assert svc.take_checkin(first[0]) is None  # a second taker of the same claim sends nothing
    assert counter(svc.store, "checkins_sent") == 1


def test_a_crash_after_claiming_sends_each_checkin_once_after_restart(service, tmp_path):
    svc, _ = service
    finished(svc.store, 20, BERLIN, NOW)
    finished(svc.store, 21, BERLIN, NOW)
    (claim, _) = svc.claim_due_checkins()  # claimed, then the process dies before taking them
    restarted = Service(Store(tmp_path / "bot.db"), ENGINE, clock=lambda: NOW)
    assert {m.user_id for m in due_messages(restarted)} == {20, 21}  # left-over claims first
    assert due_messages(restarted) == []
    assert svc.take_checkin(claim) is None  # the old sweeper cannot send it as well
    assert counter(restarted.store, "checkins_sent") == 2
    restarted.store.close()


def test_a_crash_after_taking_never_sends_it_again(service, tmp_path):
    svc, _ = service
    finished(svc.store, 22, BERLIN, NOW)
    (claim,) = svc.claim_due_checkins()
    assert svc.take_checkin(claim) is not None  # marked sent; the process dies mid-send
    restarted = Service(Store(tmp_path / "bot.db"), ENGINE, clock=lambda: NOW)
    assert restarted.claim_due_checkins() == [] and due_messages(restarted) == []
    assert checkin_row(restarted.store, 22)["last_sent_at"] == NOW.isoformat()
    restarted.store.close()


def test_a_claim_taken_after_the_user_changed_their_schedule_sends_nothing(service):
    svc, _ = service
    finished(svc.store, 23, BERLIN, NOW)
    (claim,) = svc.claim_due_checkins()
    later = NOW + timedelta(hours=2)
    svc.store.commit(23, None, [SaveCheckins(BERLIN.as_dict(), later, "checkin")], NOW)
    assert svc.take_checkin(claim) is None
    row = checkin_row(svc.store, 23)
    assert row["due_at"] == later.isoformat() and row["last_sent_at"] is None


def test_eligibility_and_quiet_hours_are_judged_when_the_claim_is_taken(service):
    svc, clock = service
    finished(svc.store, 24, BERLIN, NOW)
    finished(svc.store, 25, BERLIN, NOW)
    blocked, quiet = svc.claim_due_checkins()
    svc.user_blocked(24)
    assert svc.take_checkin(blocked) is None and checkin_row(svc.store, 24)["due_at"] is None
    clock["now"] = NOW + timedelta(hours=3, minutes=30)  # 22:30 in Berlin by the time it is sent
    assert svc.take_checkin(quiet) is None
    assert checkin_row(svc.store, 25)["due_at"] == (NOW + timedelta(days=1)).isoformat()
    assert counter(svc.store, "checkins_sent") == 0


def test_a_released_checkin_is_claimed_and_sent_again_once(service):
    svc, clock = service
    finished(svc.store, 26, BERLIN, NOW)
    (message,) = due_messages(svc)
    svc.release_checkin(message, after_seconds=30)
    assert svc.claim_due_checkins() == []  # not before the retry time
    clock["now"] = NOW + timedelta(seconds=30)
    (again,) = due_messages(svc)
    assert again.user_id == 26 and due_messages(svc) == []
    assert counter(svc.store, "checkins_sent") == 1


# --- the flows through the engine -----------------------------------------------------------


def at_menu(plan_level: int = 2) -> Session:
    from bot.policy.plan import plan_for_level

    plan = plan_for_level(plan_level, ENGINE.policy.dose_table).as_dict()
    return Session(state="hub:menu", answers=dict(DONE), plan=plan, completed_at=NOW)


def tap(outcome_or_session, label, data=NO_DATA, now=NOW):
    session = getattr(outcome_or_session, "session", outcome_or_session)
    reply = ENGINE.view(session, now, data)
    (button,) = [b for b in reply.buttons if b.label == label]
    return ENGINE.handle(session, Press(button.data), now, data)


def test_logging_stores_a_contact_and_leaves_no_answers_behind():
    session = ENGINE.handle(at_menu(), Command("log"), NOW).session
    for label in ("I did", "A call", "Cold"):
        session = tap(session, label).session
    outcome = ENGINE.handle(session, Text("  short and tense  "), NOW)
    (effect,) = outcome.effects
    assert isinstance(effect, AddContact) and effect.note == "short and tense"
    assert effect.contact == Contact(NOW, "me", "call", "cold")
    assert not any(k.startswith("log_") for k in outcome.session.answers)
    assert "first" in outcome.replies[-1].text


def test_a_contact_that_tips_outcomes_warm_points_to_the_plan_suggestion():
    warm = tuple(Contact(NOW - timedelta(days=d), "them", "message", "warm") for d in (9, 6, 3))
    data = UserData(contacts=warm)
    session = ENGINE.handle(at_menu(), Command("log"), NOW, data).session
    for label in ("They did", "A message", "Warm", "Skip"):
        outcome = tap(session, label, data)
        session = outcome.session
    assert "suggestion about your plan" in outcome.replies[-1].text
    plan_view = tap(
        session, "See my plan", replace(data, contacts=(*warm, outcome.effects[0].contact))
    )
    assert "slightly warmer plan" in plan_view.replies[-1].text


@pytest.mark.parametrize(
    ("level", "direction", "expected", "says"),
    [(2, "Warmer: a little more contact", 1, "now on level 1"),
     (2, "Cooler: more room for them", 3, "not a step back"),
     (1, "Warmer: a little more contact", 1, "already on the warmest"),
     (4, "Cooler: more room for them", 4, "already on the level with the most room")],
)  # fmt: skip
def test_changing_the_level_with_a_reason(level, direction, expected, says):
    session = ENGINE.handle(at_menu(level), Command("plan"), NOW).session
    session = tap(tap(session, "Change my level"), direction).session
    outcome = tap(session, "It feels right for me")
    assert outcome.session.plan["level"] == expected
    assert outcome.session.answers["plan_reason"] == "own_sense"
    assert says in outcome.replies[-1].text


def test_an_unknown_time_zone_gets_a_kind_retry_and_a_city_works():
    session = ENGINE.handle(at_menu(), Command("timezone"), NOW).session
    unknown = ENGINE.handle(session, Text("Atlantis"), NOW)
    assert "couldn't match" in unknown.replies[-1].text and not unknown.effects
    found = ENGINE.handle(unknown.session, Text("Tokyo"), NOW)
    (effect,) = found.effects
    assert effect.settings["tz"] == "Asia/Tokyo" and "03:00" in found.replies[-1].text


def test_weekly_check_ins_with_pause_and_quiet_hours():
    data = UserData()
    outcome = ENGINE.handle(at_menu(), Command("checkins"), NOW, data)
    for label in ("How often and when", "Once a week", "Friday", "Morning, 9:00",
                  "Skip for now"):  # fmt: skip
        outcome = tap(outcome, label, data)
    (saved,) = outcome.effects
    assert saved.settings["frequency"] == "weekly" and saved.settings["weekday"] == 4
    assert saved.due_at is None  # no check-in before the user names their time zone
    assert "/timezone" in outcome.replies[-1].text
    data = UserData(checkins=saved.settings)
    outcome = ENGINE.handle(at_menu(), Command("timezone"), NOW, data)
    outcome = ENGINE.handle(outcome.session, Text("UTC"), NOW, data)
    (saved,) = outcome.effects
    assert saved.due_at == datetime(2026, 3, 13, 9, tzinfo=UTC) and saved.due_kind == "checkin"
    data = UserData(checkins=saved.settings)
    outcome = tap(outcome, "Go on", data)
    outcome = tap(tap(outcome, "Change something", data), "Pause for a while", data)
    (paused,) = tap(outcome, "Two weeks", data).effects
    assert paused.due_at == datetime(2026, 3, 27, 9, tzinfo=UTC)
    opened = ENGINE.handle(at_menu(), Command("checkins"), NOW, data)
    outcome = tap(tap(opened, "Quiet hours", data), "20:00 to 10:00", data)
    (quiet,) = outcome.effects
    assert CheckinSettings.from_dict(quiet.settings).quiet_end == time(10)
    assert quiet.due_at == datetime(2026, 3, 13, 10, tzinfo=UTC)  # moved out of quiet hours


def test_stop_turns_check_ins_off():
    data = UserData(checkins=BERLIN.as_dict())
    outcome = ENGINE.handle(at_menu(), Command("stopcheckins"), NOW, data)
    (effect,) = outcome.effects
    assert effect.settings["frequency"] == "off" and effect.due_at is None


def test_sweep_interval_setting(monkeypatch):
    from bot.config import SettingsError, load_settings

    monkeypatch.delenv("CHECKIN_SWEEP_SECONDS", raising=False)
    assert load_settings(require_token=False, env_file=None).checkin_sweep_seconds == 60
    monkeypatch.setenv("CHECKIN_SWEEP_SECONDS", "15")
    assert load_settings(require_token=False, env_file=None).checkin_sweep_seconds == 15
    monkeypatch.setenv("CHECKIN_SWEEP_SECONDS", "0")
    with pytest.raises(SettingsError, match="CHECKIN_SWEEP_SECONDS"):
        load_settings(require_token=False, env_file=None)
