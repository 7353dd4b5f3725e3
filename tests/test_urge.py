"""The urge pause and draft check: pure timing policy, and the actions through the engine."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.content import Content
from bot.engine import Command, Engine, Press, Session, Text
from bot.features.urge import URGE_TEXTS
from bot.model import RecordDraftCheck, SaveCheckins, UserData
from bot.policy.checkins import CheckinSettings, is_quiet
from bot.policy.contacts import Contact
from bot.policy.plan import plan_for_level
from bot.policy.urge import fit_line, next_fit, unanswered_in_a_row

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday
CONTENT = Content.load()
POLICY = CONTENT.policy
ENGINE = Engine(CONTENT)
PLAN = {level: plan_for_level(level, POLICY.dose_table) for level in (1, 2, 3, 4)}
PRESSURING = "Please just come home, you promised forever and the kids need their dad back"


def mine(days_ago: float, outcome="neutral", kind="message") -> Contact:
    return Contact(NOW - timedelta(days=days_ago), "me", kind, outcome)


def theirs(days_ago: float) -> Contact:
    return Contact(NOW - timedelta(days=days_ago), "them", "message", "warm")


# --- when a contact next fits ------------------------------------------------------------------


def test_with_no_contacts_a_contact_fits_now():
    assert next_fit(PLAN[2], [], NOW) == NOW


def test_one_a_week_fits_again_a_week_after_the_last():
    last = mine(3)
    assert next_fit(PLAN[2], [last], NOW) == last.at + timedelta(days=7)


def test_contacts_they_start_and_practical_ones_do_not_count():
    assert next_fit(PLAN[2], [theirs(1), mine(1, kind="practical")], NOW) == NOW


def test_spacing_alone_can_hold_the_next_contact_back():
    # Level 1: three a week but 24 hours apart; one 10 hours ago leaves 14 hours to go.
    assert next_fit(PLAN[1], [mine(10 / 24)], NOW) == NOW + timedelta(hours=14)


def test_the_most_distant_plan_still_fits_one_light_touch_a_month():
    assert next_fit(PLAN[4], [], NOW) == NOW
    assert next_fit(PLAN[4], [mine(10)], NOW) == NOW + timedelta(days=20)


def test_fit_line_names_the_weekday_in_the_user_s_zone():
    texts = CONTENT.file(URGE_TEXTS)
    line = fit_line(PLAN[2], [mine(3)], NOW, "UTC", texts)  # Monday 12:00 + 7 days
    assert line == texts.fit["weekday"].format(weekday="Monday", dose="", days=4)
    assert "right now" in fit_line(PLAN[2], [], NOW, "UTC", texts)
    assert "tomorrow" in fit_line(PLAN[2], [mine(6.5)], NOW, "UTC", texts)
    assert "right now" in fit_line(PLAN[4], [], NOW, "UTC", texts)


def test_fit_line_counts_days_by_local_date():
    # The fit is 03:00 UTC on Friday: "tomorrow" in UTC, but 22:00 on Thursday in New York.
    texts = CONTENT.file(URGE_TEXTS)
    contact = mine(6 + 9 / 24)
    assert "tomorrow" in fit_line(PLAN[2], [contact], NOW, "UTC", texts)
    assert "22:00 today" in fit_line(PLAN[2], [contact], NOW, "America/New_York", texts)


# --- messages in a row --------------------------------------------------------------------------


def test_unanswered_run_counts_back_to_their_last_word():
    contacts = [theirs(5), mine(3, "no_answer"), mine(2, "no_answer"), mine(1, "no_answer")]
    assert unanswered_in_a_row(contacts, NOW) == 3


def test_an_answered_message_or_old_silence_ends_the_run():
    assert unanswered_in_a_row([mine(3, "no_answer"), mine(1, "warm")], NOW) == 0
    assert unanswered_in_a_row([mine(30, "no_answer"), mine(1, "no_answer")], NOW) == 1


# --- the actions through the engine -----------------------------------------------------------


def hub_session(state: str = "hub:menu") -> Session:
    return Session(
        state=state,
        answers={"feelings": "not_sure"},
        plan=PLAN[2].as_dict(),
        completed_at=NOW - timedelta(days=1),
    )


def test_a_checked_draft_is_answered_and_only_its_verdict_recorded():
    outcome = ENGINE.handle(hub_session("draft:paste"), Text(PRESSURING), NOW)
    verdict_text = outcome.replies[0].text
    # pleading, the vows and the children: three different signs add up to "hold it for now"
    assert verdict_text.startswith(POLICY.draft_rules.texts["headlines"]["wait"])
    assert "come home" in verdict_text and "Try instead" in verdict_text
    assert outcome.effects == [RecordDraftCheck("wait")]
    assert outcome.session.state == "draft:result"
    stored = json.dumps(outcome.session.__dict__, default=str)
    for word in ("promised", "forever", "dad"):
        assert word not in stored


def test_a_kind_draft_passes():
    outcome = ENGINE.handle(
        hub_session("draft:paste"), Text("Hope the new job is going well!"), NOW
    )
    assert outcome.replies[0].text.startswith(POLICY.draft_rules.texts["headlines"]["ok"])
    assert outcome.effects == [RecordDraftCheck("ok")]


def test_pasting_again_on_the_result_checks_the_new_draft():
    first = ENGINE.handle(hub_session("draft:paste"), Text("Thanks for today."), NOW)
    second = ENGINE.handle(first.session, Text("ANSWER ME RIGHT NOW"), NOW)
    assert second.effects == [RecordDraftCheck("wait")]


def test_several_logged_unanswered_messages_make_one_more_a_wait():
    data = UserData(user_id=1, contacts=tuple(mine(d, "no_answer") for d in (4, 3, 2, 1)))
    outcome = ENGINE.handle(
        hub_session("draft:paste"), Text("Morning, hope you slept ok"), NOW, data
    )
    assert outcome.effects == [RecordDraftCheck("wait")]
    assert "4 unanswered messages" in outcome.replies[0].text


def press(session: Session, label: str, now=NOW, data=None):
    reply = ENGINE.view(session, now, data)
    button = next(b for b in reply.buttons if b.label == label)
    return ENGINE.handle(session, Press(button.data), now, data)


def test_waiting_schedules_a_followup_and_keeps_checkin_settings():
    settings = CheckinSettings(tz="Europe/Berlin", frequency="daily", hour=19).as_dict()
    data = UserData(user_id=1, checkins=settings)
    outcome = press(hub_session("urge:wait"), "Yes, check in later", data=data)
    assert outcome.effects == [
        SaveCheckins(settings=settings, due_at=NOW + timedelta(hours=3), due_kind="followup")
    ]
    assert "16:00" in outcome.replies[0].text  # 15:00 UTC is 16:00 in Berlin


@pytest.mark.parametrize("hour", [19, 20, 23])
def test_no_followup_lands_in_quiet_hours_or_tomorrow(hour):
    late = NOW.replace(hour=hour)
    on_utc = UserData(user_id=1, checkins=CheckinSettings(tz="UTC", tz_set=True).as_dict())
    outcome = press(hub_session("urge:wait"), "Yes, check in later", now=late, data=on_utc)
    for effect in outcome.effects:
        assert not is_quiet(CheckinSettings(), effect.due_at)
    assert outcome.effects == []
    assert outcome.replies[0].text == CONTENT.file(URGE_TEXTS).followup["too_late"]


def test_no_followup_while_the_time_zone_is_unknown():
    outcome = press(hub_session("urge:wait"), "Yes, check in later", now=NOW.replace(hour=10))
    assert outcome.effects == []
    assert outcome.replies[0].text == CONTENT.file(URGE_TEXTS).followup["no_tz"]


def test_urge_and_draft_work_from_day_one_and_return_to_the_walkthrough():
    no_plan = Session(state="walkthrough:living_q")
    paused = ENGINE.handle(no_plan, Command("urge"), NOW).session
    assert paused.state == "urge:pause" and paused.answers["return_to"] == "walkthrough:living_q"
    back = ENGINE.handle(paused, Command("menu"), NOW)
    assert back.session.state == "walkthrough:living_q" and back.session.completed_at is None
    assert ENGINE.handle(no_plan, Command("draft"), NOW).session.state == "draft:paste"
    safety = Session(state="hub:safety_menu", answers={"safety": "concern"})
    assert ENGINE.handle(safety, Command("urge"), NOW).session.state == "urge:safe_pause"
    assert "safety comes first" in ENGINE.handle(safety, Command("draft"), NOW).replies[0].text
    assert ENGINE.handle(hub_session(), Command("urge"), NOW).session.state == "urge:pause"
    assert ENGINE.handle(hub_session(), Command("draft"), NOW).session.state == "draft:paste"


def test_urge_reminder_shows_plan_and_next_fit():
    session = hub_session("urge:goal_miss")
    data = UserData(user_id=1, contacts=(mine(3),))
    outcome = press(session, "Go on", data=data)
    text = outcome.replies[-1].text
    assert PLAN[2].dose_text in text and "Monday" in text
