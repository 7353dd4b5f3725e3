"""The command line: settings errors, check-flows, and the diagram in docs/flows.md."""

import os
import subprocess
import sys
from pathlib import Path

from bot.diagram import mermaid, replace_in_readme
from bot.flows import load_flows

ROOT = Path(__file__).resolve().parent.parent


def run_bot(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT):
    full_env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**full_env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_without_token_is_one_clear_line_and_exit_2(tmp_path):
    result = run_bot("run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "TELEGRAM_BOT_TOKEN" in result.stderr


def test_run_with_malformed_token_is_one_clear_line_and_exit_2(tmp_path):
    result = run_bot("run", env={"TELEGRAM_BOT_TOKEN": "not-a-token"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "does not look like a bot token" in result.stderr
    assert "not-a-token" not in result.stderr


def test_token_from_env_file(tmp_path):
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=oops\n")
    result = run_bot("run", cwd=tmp_path)
    assert result.returncode == 2 and "does not look like a bot token" in result.stderr


def test_check_flows_prints_a_summary():
    result = run_bot("check-flows")
    assert result.returncode == 0, result.stderr
    assert "points covered from the start: 21/21" in result.stdout


def test_docs_show_the_current_diagram():
    page = (ROOT / "docs" / "flows.md").read_text(encoding="utf-8")
    expected = replace_in_readme(page, mermaid(load_flows()))
    assert page == expected, "run: python -m bot diagram --update docs/flows.md"


def test_chat_runs_the_conversation_in_a_terminal(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "BOT_DB_PATH": str(tmp_path / "c.db")},
        input="1\n/help\n/quit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "/reset" in result.stdout
    assert (tmp_path / "c.db").exists()


def test_log_lines_never_carry_the_token(capsys):
    import logging

    from bot.config import configure_logging

    token = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11x"
    configure_logging("DEBUG", token)
    logging.getLogger("telegram.ext.ExtBot").info("url http://x/bot%s/getMe", token)
    logging.getLogger("telegram.ext.ExtBot").debug("parameters {'text': 'private words'}")
    logging.getLogger("bot").debug("a debug line of our own")
    err = capsys.readouterr().err
    assert "[redacted]" in err and token not in err and "zyx57W2v1u123ew11x" not in err
    assert "private words" not in err and "a debug line of our own" in err
    configure_logging("WARNING")
