"""`python -m bot backup PATH` while the bot runs, and the README's restore procedure."""

from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from bot.__main__ import main
from bot.backup import BackupError, backup_database
from tests.support.chat import say, tap

USER = 1001


async def test_backup_while_running_then_restore(fake_api, start_bot, tmp_db_path, tmp_path,
                                                 monkeypatch, capsys):  # fmt: skip
    bot = await start_bot()
    await say(fake_api, "/start")
    await tap(fake_api, "Let's begin")
    backed_up = bot.store.load_session(USER)
    # A write transaction is open in the bot's connection while the copy is taken.
    bot.store.flush()  # the writer is idle: the connection is ours until the ROLLBACK
    bot.store.db.execute("BEGIN IMMEDIATE")
    bot.store.db.execute("UPDATE sessions SET state = 'uncommitted' WHERE user_id = ?", [USER])
    monkeypatch.setenv("BOT_DB_PATH", str(tmp_db_path))
    copy = tmp_path / "backups" / "bot-copy.db"
    assert main(["backup", str(copy)]) == 0
    assert "written to" in capsys.readouterr().out
    bot.store.db.execute("ROLLBACK")
    assert oct(copy.stat().st_mode & 0o777) == "0o600"
    await tap(fake_api, "None of this applies")  # progress after the backup...
    assert bot.store.load_session(USER).state != backed_up.state

    # Restore: stop the bot, copy the file back owner-only (dropping old WAL files), start.
    await bot.stop()
    for leftover in (tmp_db_path.with_name(tmp_db_path.name + s) for s in ("-wal", "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(copy, tmp_db_path)
    os.chmod(tmp_db_path, 0o600)
    restored = await start_bot()
    assert restored.store.load_session(USER) == backed_up  # ...is gone; the backup is back
    assert "Welcome back" in await say(fake_api, "/start")
    assert "protective order" in fake_api.sent_texts(USER)[-1]


def test_backup_reports_a_missing_database(tmp_path):
    with pytest.raises(BackupError, match="no database"):
        backup_database(tmp_path / "missing.db", tmp_path / "copy.db")
    assert not (tmp_path / "copy.db.partial").exists()


def test_backup_cli_fails_cleanly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BOT_DB_PATH", str(tmp_path / "missing.db"))
    assert main(["backup", str(tmp_path / "copy.db")]) == 1
    assert "error: no database" in capsys.readouterr().err


def test_backup_copy_is_a_standalone_consistent_file(tmp_path):
    source = tmp_path / "live.db"
    with sqlite3.connect(source) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    backup_database(source, tmp_path / "copy.db")
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("SELECT count(*) FROM t").fetchone()[0] == 1000
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
