"""Mood and days within the plan over time (/progress): per week, never reset by a slip."""

from datetime import UTC, date, datetime, timedelta

from bot.charts import render_progress_png
from bot.features.mood import weekly_moods
from bot.policy.contacts import Contact, load_texts, weekly_within_plan
from bot.policy.plan import load_dose_table, plan_for_level
from tests.test_charts import png_size

NOW = datetime(2024, 5, 10, 12, tzinfo=UTC)
WEEKLY = plan_for_level(2, load_dose_table())  # about one contact a week
TEXTS = load_texts()


def mine(days_ago: float, outcome: str = "no_answer") -> Contact:
    return Contact(NOW - timedelta(days=days_ago), "me", "message", outcome)


def test_a_slip_is_one_day_less_in_its_week_and_the_other_weeks_stay_whole():
    history = [mine(20), mine(9), mine(8.5), mine(0.5)]  # two in one day's reach: one slip
    weeks = weekly_within_plan(WEEKLY, history, NOW, NOW - timedelta(days=27), 4)
    assert weeks == [(7, 7), (7, 7), (6, 7), (7, 7)]
    assert all(days > 0 for days, _ in weeks)  # nothing ever goes back to zero


def test_weeks_before_the_plan_are_not_counted():
    weeks = weekly_within_plan(WEEKLY, [], NOW, NOW - timedelta(days=9), 4)
    assert weeks == [(0, 0), (0, 0), (3, 3), (7, 7)]


def test_moods_are_counted_per_week_oldest_first():
    today = date(2024, 5, 10)
    entries = [["2024-05-10", "good"], ["2024-05-09", "okay"], ["2024-05-02", "low"]]
    entries.append(["2024-01-01", "low"])  # too old for the chart: left out
    assert weekly_moods(entries, today, 3) == [
        {"good": 0, "okay": 0, "low": 0},
        {"good": 0, "okay": 0, "low": 1},
        {"good": 1, "okay": 1, "low": 0},
    ]


def test_the_chart_grows_a_panel_for_the_days_and_draws_moods_without_contacts():
    history = [mine(1, "warm"), mine(8)]
    plain = render_progress_png(history, WEEKLY, NOW, 6, texts=TEXTS)
    within = weekly_within_plan(WEEKLY, history, NOW, NOW - timedelta(days=20), 6)
    moods = [{"good": 1, "okay": 0, "low": 2}] * 6
    full = render_progress_png(history, WEEKLY, NOW, 6, texts=TEXTS, within=within, moods=moods)
    assert png_size(plain) == (800, 500)
    assert png_size(full)[0] == 800 and png_size(full)[1] > 500
    only_moods = render_progress_png([], WEEKLY, NOW, 6, texts=TEXTS, moods=moods)
    assert png_size(only_moods)[1] > 500  # moods noted before any contact still show
