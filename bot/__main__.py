"""Command line: `python -m bot run | chat | check-flows | diagram | backup PATH`."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path

from bot.config import SettingsError, configure_logging, load_settings
from bot.flows import POINT_IDS, FlowError, load_flows

log = logging.getLogger("bot")


# Commands that parse their own arguments (argparse's REMAINDER drops a leading "--option").
PASS_THROUGH = {
    "check-draft": "check a draft from stdin (or --jsonl FILE) and print JSON verdicts",
    "eval-drafts": "precision and recall of the draft check on the held-out sets",
    "eval-crisis": "recall and false alarms of the crisis check on the held-out sets",
    "eval-intents": "macro-F1 of free-text understanding on the held-out sets",
    "check-text": "print what the bot understood of a message (stdin, args or --jsonl FILE)",
    "train": "train the text models from data/text/ into bot/listen/model.bin",
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the Telegram bot (long polling, or --webhook)")
    run.add_argument(
        "--webhook", action="store_true", help="receive updates on PTB's webhook server instead"
    )
    commands.add_parser("chat", help="talk to the bot in this terminal (no token needed)")
    check = commands.add_parser(
        "check-flows", help="check all content and the rule examples, and print a summary"
    )
    check.add_argument("--content", metavar="DIR", help="the content folder (default: flows/)")
    diagram = commands.add_parser("diagram", help="print the flows as a Mermaid state diagram")
    diagram.add_argument(
        "--update", metavar="FILE", help="rewrite the diagram in this file (docs/flows.md)"
    )
    commands.add_parser("doctor", help="check the database's integrity and say what to do")
    commands.add_parser("health", help="exit 0 if the database is writable and polling is recent")
    backup = commands.add_parser("backup", help="write a consistent copy of the live database")
    backup.add_argument("path", help="where to write the copy (mode 0600)")
    for name, text in PASS_THROUGH.items():
        sub = commands.add_parser(name, help=text, add_help=False)
        sub.add_argument("rest", nargs=argparse.REMAINDER)
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PASS_THROUGH:
        # argparse's REMAINDER drops a leading "--option", so these take their own arguments.
        args = argparse.Namespace(command=argv[0], rest=argv[1:])
    else:
        args = parser.parse_args(argv)
    handlers = {
        "run": cmd_run,
        "chat": cmd_chat,
        "check-flows": cmd_check_flows,
        "diagram": cmd_diagram,
        "check-draft": cmd_check_draft,
        "eval-drafts": cmd_eval,
        "eval-crisis": cmd_eval,
        "eval-intents": cmd_eval,
        "check-text": cmd_check_text,
        "train": cmd_train,
        "backup": cmd_backup,
        "doctor": cmd_doctor,
        "health": cmd_health,
    }
    try:
        return handlers[args.command](args)
    except SettingsError as error:  # a missing or malformed setting: one line, exit code 2
        print(f"error: {error}", file=sys.stderr)
        return 2


def cmd_run(args: argparse.Namespace) -> int:
    """Run the Telegram bot until interrupted; start-up failures end with one line, code 2."""
    settings = load_settings(require_token=True, webhook=args.webhook)
    configure_logging(settings.log_level, settings.token, settings.webhook_secret)
    import sqlite3

    from telegram.error import InvalidToken, NetworkError

    from bot.health import damage
    from bot.service import Service, build_engine
    from bot.store import Store
    from bot.telegram import ALLOWED_UPDATES, build_application

    if problem := damage(settings.db_path):
        return fail(f"the database {settings.db_path} is damaged ({problem}): "
                    "run `python -m bot doctor`")  # fmt: skip
    try:
        store = Store(settings.db_path)
    except sqlite3.DatabaseError as error:
        return fail(f"the database {settings.db_path} cannot be opened ({error}): "
                    "run `python -m bot doctor`")  # fmt: skip
    failure: str | None
    try:
        service = Service(
            store,
            build_engine(),
            admin_ids=settings.admin_user_ids,
            backup_retention_hours=settings.backup_retention_hours,
        )
        application = build_application(settings, service, compile_rules=True)
        gc.collect()
        gc.freeze()  # content and text models live as long as the bot: keep them out of GC passes
        # SIGTERM/SIGINT: stop fetching, finish the updates in flight, confirm the offset.
        if args.webhook:
            from bot.webhook import run_webhook

            run_webhook(application, settings)
        else:
            application.run_polling(allowed_updates=ALLOWED_UPDATES)
    except InvalidToken:
        failure = (
            "Telegram refused TELEGRAM_BOT_TOKEN (revoked or mistyped), or TELEGRAM_API_URL "
            "points to the wrong place; check both (the token is not shown)"
        )
    except NetworkError as error:
        where = settings.api_url or "https://api.telegram.org"
        failure = (f"cannot reach the Telegram Bot API at {where} ({type(error).__name__}): "
                    "check the network and TELEGRAM_API_URL")  # fmt: skip
    except sqlite3.DatabaseError as error:
        failure = (f"the database {settings.db_path} failed ({error}): "
                   "run `python -m bot doctor`")  # fmt: skip
    else:
        failure = None
    finally:
        store.close()  # the last connection: checkpoints the WAL into the file
        log.info("Reconnect stopped; the database is closed")
    return fail(failure) if failure else 0


def fail(line: str) -> int:
    """End a start-up failure with one clear line on stderr and exit code 2."""
    print(f"error: {line}", file=sys.stderr)
    return 2


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the database's integrity; exit 2 (with what to do) if it is damaged."""
    settings = load_settings(require_token=False)
    from bot.health import doctor

    healthy, lines = doctor(settings.db_path)
    print("\n".join(lines), file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 2


def cmd_health(args: argparse.Namespace) -> int:
    """The container's health check: exit 0 when healthy, 1 otherwise."""
    settings = load_settings(require_token=False)
    from bot.health import health

    healthy, line = health(settings.db_path)
    print(line)
    return 0 if healthy else 1


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the live database (the bot may keep running) to PATH."""
    settings = load_settings(require_token=False)
    from bot.backup import BackupError, backup_database

    try:
        size = backup_database(settings.db_path, Path(args.path))
    except (BackupError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"backup of {settings.db_path} written to {args.path} ({size} bytes)")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """Chat in the terminal, on the same database as the bot."""
    settings = load_settings(require_token=False)
    configure_logging("WARNING")
    from bot.console import run_console
    from bot.service import Service, build_engine
    from bot.store import Store

    store = Store(settings.db_path)
    try:
        run_console(Service(store, build_engine()))
    finally:
        store.close()
    return 0


def cmd_check_flows(args: argparse.Namespace) -> int:
    """Check all content and the rule examples; print every problem, or what it covers."""
    from bot.content import Content
    from bot.engine import Engine

    try:
        # every file, and the references between them
        content = Content.load(Path(args.content)) if args.content else Content.load()
        Engine(content)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    failures = content.example_failures()
    if failures:
        count = f"{len(failures)} rule example{'s' if len(failures) != 1 else ''}"
        print(f"{count} the rules get wrong:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    flows, messages = content.flows, content.messages
    covered = flows.covered_points()
    print("rule examples (crisis, drafts): all right")
    print(f"flows: {', '.join(sorted(flows.flows))}")
    print(f"steps: {len(flows.steps)}; messages: {len(messages.texts)}")
    print(f"points covered from the start: {len(covered)}/{len(POINT_IDS)}")
    for flow in flows.flows.values():
        points = sorted(
            {p for s in flow.steps.values() for p in s.covers}, key=lambda p: int(p[1:])
        )
        print(f"  {flow.name}: {len(flow.steps)} steps, covers {' '.join(points) or '-'}")
    from bot.listen.data import training_digest

    model = content.policy.listener.model
    if model is None or model.data_digest != training_digest():
        print(
            "bot/listen/model.bin was not trained on the labelled data now in data/text/: "
            "run python -m bot train",
            file=sys.stderr,
        )
        return 1
    print(f"text model: trained on the current data ({model.info})")
    return 0


def cmd_diagram(args: argparse.Namespace) -> int:
    """Print a Mermaid state diagram of every flow."""
    try:
        flows = load_flows()
    except FlowError as error:
        print(error, file=sys.stderr)
        return 1
    from bot.diagram import mermaid, replace_in_readme

    if args.update:
        path = Path(args.update)
        path.write_text(replace_in_readme(path.read_text(encoding="utf-8"), mermaid(flows)))
        return 0
    print(mermaid(flows))
    return 0


def cmd_check_draft(args: argparse.Namespace) -> int:
    """Check drafts for coaches and tests; see bot/draft_cli.py."""
    from bot.content import Content
    from bot.draft_cli import run_check_draft

    listener = Content.load().policy.listener
    return run_check_draft(args.rest, sys.stdin, sys.stdout, listener.draft)


def cmd_eval(args: argparse.Namespace) -> int:
    """Report how well the bot understands a task's held-out sets."""
    from bot.content import Content
    from bot.listen.cli import run_eval

    task = args.command.removeprefix("eval-")
    return run_eval(task, args.rest, lambda: Content.load().policy.listener, sys.stdout)


def cmd_check_text(args: argparse.Namespace) -> int:
    """Print, as JSON, what the bot understood of each message."""
    from bot.content import Content
    from bot.listen.cli import run_check_text

    return run_check_text(args.rest, Content.load().policy.listener, sys.stdin, sys.stdout)


def cmd_train(args: argparse.Namespace) -> int:
    """Build bot/listen/model.bin from the labelled sets (needs the dev dependencies)."""
    try:
        from bot.listen.train import main as train
    except ImportError:
        print(
            "error: training needs the dev dependencies: pip install -e '.[dev]'", file=sys.stderr
        )
        return 2
    return train(args.rest, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
