"""The real process `python -m bot run` against the fake Bot API: SIGTERM and SIGKILL.

The SIGKILL test drives three kinds of users at once while the process is killed and
restarted: walkers tap through the walk-through, loggers (walk-through already done) log
contacts by buttons, and check-in users have check-ins that fall due for real (their rows are
written, while the process is stopped, with a due time in the recent past and a time zone in
which it is early afternoon now).
"""

from __future__ import annotations

import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.model import Command, Press
from bot.policy.timezones import format_offset
from bot.service import Service, build_engine
from bot.store import Store
from tests.support.bots import bot_process_env
from tests.support.fake_bot_api import FakeBotApi, keyboard_rows

pytestmark = pytest.mark.slow  # real bot processes killed at random moments

ROOT = Path(__file__).resolve().parent.parent
HUB_LABEL = "Revisit the ideas"
# PTB's rate limiter keeps the bot at Telegram's 30 calls a second (three per tap), so the
# test walks each user a fixed number of acknowledged taps rather than to the end.
USERS = range(3001, 3021)
TAPS = 10
# Users who finished the walk-through (seeded before the first start) log contacts.
LOGGERS = range(3101, 3106)
CONTACTS_EACH = 3
LOG_CHOICES = (("I did", "They did"), ("A message", "A call", "We met", "A practical matter"),
               ("Warm", "Neutral", "Cold", "No answer"))  # fmt: skip
LOGGED = "Noted, thank you."
# Check-ins: a few users' check-ins are made due before every start; the sweep runs every
# SWEEP_SECONDS (the smallest interval the settings allow).
SWEEP_SECONDS = 5
CHECKIN_BATCH = 3
CHECKIND = range(3201, 3201 + CHECKIN_BATCH * 6)  # one batch per start (five kills, a last run)
NOT_DUE_USER, QUIET_USER = 3298, 3299  # due in an hour; due now, but it is night there
STOP_CHECKINS = "c.stopcheckins"  # the button only check-in messages carry
SWEEP_LINE = re.compile(r"checkin sweep: (\d+) due, (\d+) sent")
# How each run ends: "early" a random kill before the first sweep, "cut" a kill as soon as
# the sweep's first check-in reaches Telegram (the others are claimed, not sent), "settled" a
# random kill shortly after a sweep finished.
KILL_PLAN = ("early", "early", "early", "cut", "settled")


@dataclass
class Run:
    """One life of the process: how it was meant to end, when it started and ended."""

    kind: str
    log_path: Path
    started: datetime
    started_monotonic: float
    receipts_before: int
    kill_at: float | None = None
    ended: datetime | None = None
    killed: bool = False

    def log(self) -> str:
        return self.log_path.read_text()

    def sweeps(self) -> list[tuple[int, int]]:
        """(due, sent) of every finished sweep that had something due."""
        return [(int(a), int(b)) for a, b in SWEEP_LINE.findall(self.log())]

    def holds(self, moment: datetime) -> bool:
        return self.started < moment and (self.ended is None or moment < self.ended)


class BotProcess:
    """Start, kill and restart `python -m bot run` on one database."""

    def __init__(self, api: FakeBotApi, token: str, tmp_path: Path):
        self.api, self.tmp_path, self.starts = api, tmp_path, 0
        self.db_path = tmp_path / "bot.db"
        self.env = bot_process_env(
            api, token, self.db_path, LOG_LEVEL="INFO", CHECKIN_SWEEP_SECONDS=str(SWEEP_SECONDS)
        )
        self.process: subprocess.Popen | None = None
        self.runs: list[Run] = []

    def start(self, kind: str = "final") -> Run:
        self.starts += 1
        log_path = self.tmp_path / f"bot-{self.starts}.log"
        run = Run(kind, log_path, datetime.now(UTC), time.monotonic(), checkin_receipts(self.api))
        with log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], cwd=self.tmp_path, env=self.env,
                stdout=log, stderr=log,
            )  # fmt: skip
        self.runs.append(run)
        self.api.wait_for_sync(lambda: "Reconnect is running" in run.log(), 20)
        return run

    @property
    def log_path(self) -> Path:
        return self.runs[-1].log_path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.runs[-1].ended, self.runs[-1].killed = datetime.now(UTC), True

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=20)
        self.runs[-1].ended = datetime.now(UTC)
        return code


def read_db(path: Path, sql: str, args=()) -> list[sqlite3.Row]:
    """Read the live database from the test (WAL readers do not disturb the bot)."""
    conn = sqlite3.connect(path, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_sigterm_finishes_the_update_in_flight_and_closes_cleanly(fake_api, bot_token, tmp_path):
    bot = BotProcess(fake_api, bot_token, tmp_path)
    bot.start()
    try:
        fake_api.command(7, "/start")
        fake_api.wait_for_sync(lambda: fake_api.sent_texts(7), 10)
        fake_api.delay("sendMessage", 1.5, chat_id=7)  # the reply is on its way when we stop
        press = fake_api.press(7, "Let's begin")
        fake_api.wait_for_sync(lambda: len(fake_api.calls("sendMessage", 7)) == 2, 10)
    finally:
        code = bot.terminate()
    assert code == 0
    assert fake_api.calls("sendMessage", 7)[-1].status == 200  # the reply went out
    assert fake_api.confirmed_offset > press["update_id"]  # and will not come again
    rows = read_db(bot.db_path, "SELECT state FROM sessions WHERE user_id = 7")
    assert rows[0]["state"] == "walkthrough:safety"
    assert not Path(str(bot.db_path) + "-wal").exists()  # closed cleanly, WAL checkpointed
    assert "Reconnect stopped; the database is closed" in bot.log_path.read_text()


class Walker:
    """One simulated user tapping through the walkthrough, one update at a time."""

    def __init__(self, api: FakeBotApi, user: int, rng: random.Random):
        self.api, self.user, self.rng = api, user, rng
        self.pushed: list[dict] = []
        self.acked: list[int] = []
        self.waiting: tuple[int, int, float] | None = None  # update id, replies before, when
        self.resync, self.done = True, False
        self.latest: dict = {}  # the bot message the next choice is made on
        self.buttons: dict[str, str] = {}  # its buttons: label -> callback data

    def step(self) -> None:
        """Push the next update (see `next_update`), or be done."""
        messages = self.api.sent_messages(self.user)
        self.latest = messages[-1] if messages else {}
        rows = keyboard_rows(self.latest.get("reply_markup"))
        self.buttons = {label: data for row in rows for label, data in row}
        before = len(messages)
        update = self.next_update(list(self.buttons))
        if update is None:
            self.done = True
            return
        self.pushed.append(update)
        self.waiting = (update["update_id"], before, time.monotonic())

    def next_update(self, options: list[str]) -> dict | None:
        """/start to (re)sync, else a button of the latest keyboard; None at the end."""
        if HUB_LABEL in options or len(self.acked) >= TAPS:
            return None
        if self.resync or not options:
            self.resync = False
            return self.api.command(self.user, "/start")
        label = "None of this applies" if "None of this applies" in options else options[0]
        return self.tap(label)

    def tap(self, label: str) -> dict:
        """Tap a button of the message the choice was made on (a later one may have come)."""
        message_id = self.latest["message_id"]
        return self.api.callback(self.user, self.buttons[label], message_id=message_id)

    def check(self, processed: set[int]) -> None:
        """An answer acknowledges the update; a handled one without an answer needs a resync."""
        update_id, before, since = self.waiting
        if len(self.api.sent_texts(self.user)) > before:
            self.acked.append(update_id)
            self.waiting = None
        elif time.monotonic() - since > (1.0 if update_id in processed else 15.0):
            self.waiting, self.resync = None, True  # answered before a kill, or reply lost


class Logger(Walker):
    """A user past the walk-through logging contacts: /log, three taps, Skip the note."""

    def next_update(self, options: list[str]) -> dict | None:
        if len(acknowledged_logs(self.api, self.user)) >= CONTACTS_EACH:
            return None
        if self.resync or not options:
            self.resync = False
            return self.api.command(self.user, "/log")  # starts the log afresh, whatever step
        for choices in LOG_CHOICES:
            offered = [label for label in choices if label in options]
            if offered:
                return self.tap(self.rng.choice(offered))
        if "Skip" in options:
            return self.tap("Skip")
        return self.api.command(self.user, "/log")  # after "Noted": the next contact


def acknowledged_logs(api: FakeBotApi, user: int) -> list[str]:
    """The "Noted" answers the user saw: each one acknowledges one logged contact."""
    return [text for text in api.sent_texts(user) if text.startswith(LOGGED)]


def event_of(update: dict):
    """The engine input a pushed update stands for."""
    if "callback_query" in update:
        return Press(update["callback_query"]["data"])
    name, _, args = update["message"]["text"].lstrip("/").partition(" ")
    return Command(name, args)


def finish_walkthrough(service: Service, user: int) -> None:
    """Walk a user through to the menu in-process (as the bot would), first choices."""
    result = service.handle(user, Command("start"), "en")
    for _ in range(60):
        buttons = [button for reply in result.replies for button in reply.buttons]
        if any(button.label == HUB_LABEL for button in buttons):
            return
        safe = [b for b in buttons if b.label == "None of this applies"]
        result = service.handle(user, Press((safe or buttons)[0].data), "en")
    raise AssertionError(f"user {user} never reached the menu")


def seed_finished_users(service: Service, users) -> None:
    """Users who already walked through (their plan is set), as the bot would have saved them."""
    for user in users:
        finish_walkthrough(service, user)


def zone_where_it_is(hour: int, now: datetime) -> str:
    """A fixed-offset zone in which the local hour is now `hour` (offsets -12..+11 suffice)."""
    return format_offset(timedelta(hours=(hour - now.hour + 12) % 24 - 12))


def make_checkins_due(db_path: Path, users, rng: random.Random, *, local_hour: int = 13,
                    due_in: timedelta | None = None) -> None:  # fmt: skip
    """While the bot is stopped: daily check-ins due minutes ago, in a zone where it is day."""
    now = datetime.now(UTC)
    zone = zone_where_it_is(local_hour, now)
    settings = {"tz": zone, "frequency": "daily", "hour": local_hour, "weekday": 6,
                "quiet_start": "22:00", "quiet_end": "08:00", "paused_until": None,
                "tz_set": True}  # fmt: skip
    conn = sqlite3.connect(db_path, timeout=5)
    try:
        with conn:
            for user in users:
                due_at = now + (due_in or -timedelta(minutes=rng.uniform(1, 90)))
                conn.execute(
                    "INSERT INTO checkins (user_id, settings, due_at, due_kind) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(user_id) DO UPDATE SET settings = excluded.settings,"
                    " due_at = excluded.due_at, due_kind = excluded.due_kind,"
                    " last_sent_at = NULL, claimed_at = NULL",
                    [user, json.dumps(settings), due_at.isoformat(), "checkin"],
                )
    finally:
        conn.close()


def checkins_to(api: FakeBotApi, user: int) -> int:
    """Checkin messages Telegram accepted for the user (they alone carry the stop button)."""
    return sum(
        1
        for message in api.sent_messages(user)
        for row in keyboard_rows(message.get("reply_markup"))
        for _, data in row
        if data == STOP_CHECKINS
    )


def checkin_receipts(api: FakeBotApi) -> int:
    """Checkin messages accepted so far, all users."""
    return sum(checkins_to(api, user) for user in (*CHECKIND, NOT_DUE_USER, QUIET_USER))


class Cycles:
    """Kill and restart the bot by plan; a fresh batch of check-ins falls due before each start."""

    def __init__(self, bot: BotProcess, api: FakeBotApi, rng: random.Random):
        self.bot, self.api, self.rng = bot, api, rng
        self.plan = list(KILL_PLAN)
        rng.shuffle(self.plan)
        self.batches = [
            CHECKIND[i : i + CHECKIN_BATCH] for i in range(0, len(CHECKIND), CHECKIN_BATCH)
        ]
        self.due: list[int] = []

    @property
    def run(self) -> Run:
        return self.bot.runs[-1]

    def start(self) -> None:
        """Make the next batch due, then start the next run (the last one is "final")."""
        index = len(self.bot.runs)
        kind = self.plan[index] if index < len(self.plan) else "final"
        batch = self.batches[index]
        make_checkins_due(self.bot.db_path, batch, self.rng)
        self.due.extend(batch)
        if kind == "cut":  # slow sends, so the kill lands after the claim, before the rest
            for user in self.unclaimed():
                self.api.delay("sendMessage", 3.0, chat_id=user)
        run = self.bot.start(kind)
        if kind == "early":
            run.kill_at = time.monotonic() + self.rng.uniform(1, 2.5)

    def unclaimed(self) -> list[int]:
        rows = read_db(self.bot.db_path, "SELECT user_id, last_sent_at FROM checkins")
        return [r["user_id"] for r in rows if r["user_id"] in self.due and not r["last_sent_at"]]

    def tick(self) -> None:
        """Kill and restart when the current run has reached its planned end."""
        run = self.run
        if run.kind == "final":
            return
        assert time.monotonic() - run.started_monotonic < 40, f"{run.kind} run never ended"
        if run.kind == "cut":
            due = checkin_receipts(self.api) > run.receipts_before
        else:
            if run.kind == "settled" and run.kill_at is None and run.sweeps():
                # From now on getUpdates never answers, so the batch the bot last fetched is
                # handled but never confirmed: the next run gets it again (a redelivery) and
                # must skip it. (A faster bot leaves too small a window to rely on chance.)
                self.api.delay("getUpdates", 30.0, times=None, apply=False)
                run.kill_at = time.monotonic() + self.rng.uniform(1.0, 2.0)
            due = run.kill_at is not None and time.monotonic() >= run.kill_at
        if due:
            self.bot.kill()
            self.api.clear_faults()
            self.start()

    def finished(self) -> bool:
        """In the last run, once its sweep went out and no due check-in is left unclaimed."""
        return self.run.kind == "final" and bool(self.run.sweeps()) and not self.unclaimed()


def test_sigkill_at_random_moments_loses_and_doubles_nothing(fake_api, bot_token, tmp_path):
    rng = random.Random(6)
    bot = BotProcess(fake_api, bot_token, tmp_path)
    seeding = Service(Store(bot.db_path), build_engine())
    seed_finished_users(seeding, [*LOGGERS, *CHECKIND, NOT_DUE_USER, QUIET_USER])
    seeding.store.close()
    make_checkins_due(bot.db_path, [NOT_DUE_USER], rng, due_in=timedelta(hours=1))
    make_checkins_due(bot.db_path, [QUIET_USER], rng, local_hour=3)
    walkers = [Walker(fake_api, user, random.Random(user)) for user in USERS]
    walkers += [Logger(fake_api, user, random.Random(user)) for user in LOGGERS]
    cycles = Cycles(bot, fake_api, rng)
    cycles.start()
    deadline = time.monotonic() + 100
    try:
        while time.monotonic() < deadline:
            cycles.tick()
            if cycles.finished() and all(w.done for w in walkers):
                break
            processed = {r["update_id"] for r in read_db(
                bot.db_path, "SELECT update_id FROM processed_updates")}  # fmt: skip
            for walker in walkers:
                if walker.waiting is not None:
                    walker.check(processed)
                elif not walker.done:
                    walker.step()
            time.sleep(0.02)
    finally:
        assert bot.terminate() == 0
    stuck = [(w.user, len(w.pushed)) for w in walkers if not w.done]
    assert cycles.finished() and not stuck, stuck
    assert sum(run.killed for run in bot.runs) == len(KILL_PLAN)
    assert_exactly_once(bot.db_path, walkers)
    assert_checkins_at_most_once(bot, fake_api)
    logs = "".join(p.read_text() for p in tmp_path.glob("bot-*.log"))
    assert "already handled; skipped" in logs  # redeliveries really happened and were skipped


def assert_exactly_once(db_path: Path, walkers: list[Walker]) -> None:
    """Every pushed update handled once; the DB equals applying exactly those once, in order."""
    processed = {
        r["update_id"] for r in read_db(db_path, "SELECT update_id FROM processed_updates")
    }
    replica = Service(Store(":memory:"), build_engine())
    seed_finished_users(replica, [w.user for w in walkers if isinstance(w, Logger)])
    for walker in walkers:
        ids = [u["update_id"] for u in walker.pushed]
        assert set(walker.acked) <= processed  # every acknowledged step is saved
        assert set(ids) <= processed  # nothing lost: unconfirmed updates came again
        for update in walker.pushed:
            replica.handle(walker.user, event_of(update), "en", update_id=update["update_id"])
        row = read_db(db_path, "SELECT * FROM sessions WHERE user_id = ?", [walker.user])[0]
        expected = next(iter(replica.store.db.query(
            "SELECT * FROM sessions WHERE user_id = ?", [walker.user])))  # fmt: skip
        for column in ("state", "answers", "plan", "pending", "revision"):
            assert row[column] == expected[column], (walker.user, column)  # nothing doubled
        contacts_sql = "SELECT initiator, kind, outcome FROM contacts WHERE user_id = ? ORDER BY id"
        stored = [tuple(r) for r in read_db(db_path, contacts_sql, [walker.user])]
        replayed = [tuple(r.values()) for r in replica.store.db.query(contacts_sql, [walker.user])]
        assert stored == replayed, walker.user  # each logged contact once, none twice
        assert len(acknowledged_logs(walker.api, walker.user)) <= len(stored)  # none acked lost
    loggers = [w for w in walkers if isinstance(w, Logger)]
    assert all(len(acknowledged_logs(w.api, w.user)) == CONTACTS_EACH for w in loggers)


def assert_checkins_at_most_once(bot: BotProcess, api: FakeBotApi) -> None:
    """Each due check-in claimed once and sent once; lost only when a kill cut its sweep short.

    A check-in is marked sent when it is taken from its claim, just before its message goes out:
    a kill between the two loses that one (at most once); claims not yet taken survive a kill
    and are sent after the restart; nothing can double.
    """
    rows = {r["user_id"]: r for r in read_db(bot.db_path, "SELECT * FROM checkins")}
    for user in CHECKIND:
        assert checkins_to(api, user) <= 1, f"user {user} got a check-in twice"
        assert rows[user]["last_sent_at"] is not None, (
            f"user {user}'s due check-in was never claimed"
        )
    for user in (NOT_DUE_USER, QUIET_USER):  # not yet due, or due at night: nothing sent
        assert checkins_to(api, user) == 0 and rows[user]["last_sent_at"] is None, user
    claimed_in = {
        user: next(
            index
            for index, run in enumerate(bot.runs)
            if run.holds(datetime.fromisoformat(rows[user]["claimed_at"]))
        )
        for user in CHECKIND
    }
    for index, run in enumerate(bot.runs):
        claims = [user for user in CHECKIND if claimed_in[user] == index]
        lost = [user for user in claims if checkins_to(api, user) == 0]
        finished = sum(due for due, _ in run.sweeps())
        assert sum(sent for _, sent in run.sweeps()) == finished, run.kind  # no send failed
        cut_short = len(claims) - finished  # claimed by a sweep that never finished
        assert cut_short >= 0 and (run.killed or cut_short == 0), (run.kind, claims)
        assert len(lost) <= cut_short, (run.kind, lost)  # a finished sweep sent all it claimed
        if run.kind == "cut":
            # The kill came once the first check-in had arrived: only that one was taken (marked
            # sent) in this run; the batch's other claims wait in checkin_claims and are taken
            # and sent by a later run, so nothing is lost and nothing doubles.
            assert len(claims) == 1 and not lost, (claims, lost)
    # The operator count is kept with the claim, so a check-in lost at a kill still counts.
    counted = read_db(bot.db_path, "SELECT value FROM counters WHERE name = 'checkins_sent'")[0][0]
    assert sum(checkins_to(api, user) for user in CHECKIND) <= counted <= len(CHECKIND)
