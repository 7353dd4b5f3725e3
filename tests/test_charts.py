"""The progress chart: a real PNG of sensible size, for full and empty logs."""

import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bot.charts import render_progress_png, weekly_counts
from bot.policy.contacts import Contact, load_texts
from bot.policy.plan import load_dose_table, plan_for_level

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOW = datetime(2024, 5, 10, 12, tzinfo=UTC)
COOL = plan_for_level(2, load_dose_table())
OUTCOMES = ("warm", "neutral", "cold", "no_answer")
TEXTS = load_texts()


def render(*args, **kwargs) -> bytes:
    """The chart with the shipped texts."""
    return render_progress_png(*args, texts=TEXTS, **kwargs)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def busy_history() -> list[Contact]:
    contacts = []
    for i in range(40):
        contacts.append(
            Contact(
                at=NOW - timedelta(hours=17 * i + 3),
                initiator="me" if i % 3 else "them",
                kind="practical" if i % 7 == 0 else "message",
                outcome=OUTCOMES[i % 4],
            )
        )
    return contacts


@pytest.mark.parametrize("history", [busy_history(), []], ids=["busy", "empty"])
def test_chart_is_a_png_of_sensible_size(history):
    data = render(history, COOL, NOW)
    width, height = png_size(data)
    assert (width, height) == (800, 500)
    assert 5_000 < len(data) < 200_000


def test_empty_and_busy_charts_differ():
    assert render([], COOL, NOW) != render(busy_history(), COOL, NOW)


def test_chart_renders_for_every_plan_level_and_zone():
    table = load_dose_table()
    for level in (1, 2, 3, 4):
        data = render(
            busy_history(), plan_for_level(level, table), NOW, weeks=4, tz="Asia/Kathmandu"
        )
        assert png_size(data) == (800, 500)


def test_charts_render_in_parallel_threads():
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: render(busy_history(), COOL, NOW), range(4)))
    assert all(png_size(data) == (800, 500) for data in results)


def test_chart_module_does_not_use_pyplot():
    code = "import sys, bot.charts; sys.exit('matplotlib.pyplot' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_weekly_counts_split_mine_theirs_and_outcomes():
    history = [
        Contact(NOW - timedelta(days=1), "me", "message", "warm"),
        Contact(NOW - timedelta(days=2), "me", "practical", "neutral"),  # not "mine"
        Contact(NOW - timedelta(days=3), "them", "call", "warm"),
        Contact(NOW - timedelta(days=7), "me", "call", "cold"),  # a week ago exactly: last week
        Contact(NOW - timedelta(days=7, minutes=1), "me", "call", "no_answer"),  # last week
        Contact(NOW - timedelta(days=30), "them", "message", "warm"),  # before the chart
    ]
    weeks = weekly_counts(history, NOW, 3)
    assert [w.mine for w in weeks] == [0, 2, 1]
    assert [w.theirs for w in weeks] == [0, 0, 1]
    assert weeks[-1].outcomes == {"warm": 2, "neutral": 1, "cold": 0, "no_answer": 0}
    assert weeks[1].outcomes == {"warm": 0, "neutral": 0, "cold": 1, "no_answer": 1}
    assert weeks[-1].end == NOW and weeks[0].start == NOW - timedelta(days=21)
