"""Issue 14 item 1: an acknowledged update survives a power cut.

A power cut keeps, of each file, only what was synced to the disk. The bot runs as a real
process (`python -m bot run` against the fake Bot API) with tests/support/powercut.c
preloaded: after every fsync/fdatasync of a file in the database's folder, it copies the
file as it is right then (what the disk now holds) and logs when. For every state-changing
update whose reply reached the fake Bot API, the test rebuilds the disk as it was at that
moment (each file's latest synced copy before the reply arrived, nothing of a file never
synced), opens that copy with SQLite (which recovers from the WAL as after a real cut) and
checks that the update's id and its state change are there.

The same drive with `PRAGMA synchronous = NORMAL` (the bot's setting before issue 14) must
lose acknowledged updates under this model, or the test proves nothing: it is run too, and
its losses are asserted.
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.bots import ROOT, bot_process_env
from tests.support.fake_bot_api import FakeBotApi, keyboard_rows

pytestmark = pytest.mark.slow  # compiles a shim, runs two real bot processes

SHIM = ROOT / "tests" / "support" / "powercut.c"
USERS = range(4001, 4007)  # their updates arrive together, so groups hold several
ROUNDS = 5  # /start, then four taps each: every one changes the user's step
# Each sync takes this long (a slow disk): a reply sent before its commit's sync would reach
# the fake Bot API before the sync is logged, and count as lost.
SYNC_DELAY_US = 20_000
# Runs the bot as `python -m bot run` does; with an argument, sets that synchronous mode on
# every connection the store opens (the control experiment).
LAUNCH = """
import sys
from bot.store import schema
if len(sys.argv) > 1:
    opened = schema.open_database
    def open_database(*args, **kwargs):
        db = opened(*args, **kwargs)
        db.execute(f"PRAGMA synchronous = {sys.argv[1]}")
        return db
    schema.open_database = open_database
from bot.__main__ import main
sys.exit(main(["run"]))
"""


@dataclass
class Acked:
    """A state-changing update and when its reply reached Telegram (time.time())."""

    user: int
    update_id: int
    replied_at: float


@dataclass
class Sync:
    number: int
    at: float
    name: str


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> Path:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler to build the fsync shim")
    built = tmp_path_factory.mktemp("shim") / "powercut.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(built), str(SHIM), "-ldl"],
                   check=True)  # fmt: skip
    return built


def drive(api: FakeBotApi, token: str, tmp_path: Path, shim: Path, mode: str | None):
    """Run the bot, walk USERS through ROUNDS updates, cut the power (SIGKILL, then only
    the synced copies count); return the acknowledged updates, the syncs and the folders."""
    data, disk = tmp_path / "data", tmp_path / "disk"
    data.mkdir()
    disk.mkdir()
    env = bot_process_env(api, token, data / "bot.db", LOG_LEVEL="INFO")
    env |= {"LD_PRELOAD": str(shim), "POWERCUT_WATCH": str(data), "POWERCUT_DISK": str(disk),
            "POWERCUT_DELAY_US": str(SYNC_DELAY_US)}  # fmt: skip
    log_path = tmp_path / "bot.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *([mode] if mode else [])],
            cwd=tmp_path, env=env, stdout=log, stderr=log,
        )  # fmt: skip
    acked: list[Acked] = []
    try:
        api.wait_for_sync(lambda: "Reconnect is running" in log_path.read_text(), 20)
        for round_ in range(ROUNDS):
            pushed = {}
            for user in USERS:  # everyone's update at once: they are handled together
                before = len(api.calls("sendMessage", user))
                if round_ == 0:
                    update = api.command(user, "/start")
                else:
                    latest = api.sent_messages(user)[-1]
                    data_ = next(d for row in keyboard_rows(latest["reply_markup"])
                                 for _, d in row if d)  # fmt: skip
                    update = api.callback(user, data_, message_id=latest["message_id"])
                pushed[user] = (update["update_id"], before)
            for user, (update_id, before) in pushed.items():
                api.wait_for_sync(lambda u=user, b=before: len(api.calls("sendMessage", u)) > b, 20)
                reply = api.calls("sendMessage", user)[before]
                assert reply.status == 200
                acked.append(Acked(user, update_id, reply.at))
    finally:
        process.send_signal(signal.SIGKILL)  # the power goes: nothing more is synced
        process.wait(timeout=10)
    lines = (line.split() for line in (disk / "syncs.log").read_text().splitlines())
    syncs = [Sync(int(n), int(ns) / 1e9, name) for n, ns, name, _ in lines]
    return acked, syncs, data, disk


def disk_at(moment: float, syncs: list[Sync], disk: Path, into: Path) -> Path:
    """The database as a power cut at `moment` leaves it: each file's last synced copy."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir()
    latest: dict[str, Sync] = {}
    for sync in syncs:
        if sync.at < moment:
            latest[sync.name] = sync
    for name in ("bot.db", "bot.db-wal"):
        if name in latest:
            shutil.copyfile(disk / f"{latest[name].number}-{name}", into / name)
    (into / "bot.db").touch()  # created, never synced: empty after the cut
    return into / "bot.db"


def read(path: Path, sql: str, args=()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def lost(acked: list[Acked], syncs: list[Sync], disk: Path, scratch: Path) -> list[Acked]:
    """The acknowledged updates a power cut right after their reply would have lost."""
    missing = []
    for update in acked:
        copy = disk_at(update.replied_at, syncs, disk, scratch)
        try:
            found = read(copy, "SELECT 1 FROM processed_updates WHERE update_id = ?",
                         (update.update_id,))  # fmt: skip
        except sqlite3.Error:  # no tables at all: nothing survived
            found = []
        if not found:
            missing.append(update)
    return missing


def sessions(path: Path) -> dict[int, tuple]:
    try:
        return {user: (state, rev) for user, state, rev in read(
            path, "SELECT user_id, state, revision FROM sessions")}  # fmt: skip
    except sqlite3.Error:
        return {}


def test_an_acknowledged_update_survives_a_power_cut(bot_token, tmp_path, shim):
    with FakeBotApi() as api:
        acked, syncs, data, disk = drive(api, bot_token, tmp_path, shim, mode=None)
    live = sessions(data / "bot.db")  # as the page cache had it: no power cut
    # Every update of the drive changed its user's step (one revision each), so each one
    # acknowledged is one whose reply depends on a commit.
    assert {user: rev for user, (_, rev) in live.items()} == dict.fromkeys(USERS, ROUNDS)
    assert len(acked) == len(USERS) * ROUNDS
    assert lost(acked, syncs, disk, tmp_path / "cut") == []
    # The power cut after the last reply leaves every user exactly where the bot said.
    last = max(update.replied_at for update in acked)
    assert sessions(disk_at(last + 1e-6, syncs, disk, tmp_path / "cut")) == live


def test_the_model_catches_losses_with_synchronous_normal(bot_token, tmp_path, shim):
    """The control: with NORMAL the WAL is synced only at checkpoints, so acknowledged
    updates live in the page cache only, and a power cut loses them."""
    with FakeBotApi() as api:
        acked, syncs, data, disk = drive(api, bot_token, tmp_path, shim, mode="NORMAL")
    assert len(acked) == len(USERS) * ROUNDS
    assert len(lost(acked, syncs, disk, tmp_path / "cut")) > len(acked) // 2
