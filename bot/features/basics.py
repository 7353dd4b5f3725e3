"""The basic commands: /start, /help, /about, /menu and /reset."""

from __future__ import annotations

from bot.actions import Context, command
from bot.flows import ENTRY, MENU, SAFETY_MENU
from bot.model import Reply


@command("start")
def start(ctx: Context) -> list[Reply]:
    """Pick up where the user left off."""
    return [ctx.note("resume")]


@command("help")
def help_(ctx: Context) -> list[Reply]:
    """What the bot can do, with the command list."""
    return [ctx.info("help")]


@command("about")
def about(ctx: Context) -> list[Reply]:
    """Where the ideas come from, and what the bot is not."""
    return [ctx.info("about")]


@command("menu")
def menu(ctx: Context) -> list[Reply]:
    """The menu, or the safety menu while coaching is off; not before the walk-through ends."""
    if ctx.session.completed_at is None and not ctx.session.coaching_off:
        return [ctx.note("no_menu_yet")]
    return [ctx.enter(SAFETY_MENU if ctx.session.coaching_off else MENU)]


@command("reset")
def reset(ctx: Context) -> list[Reply]:
    """Ask before starting over."""
    ctx.session.pending = "reset"
    return [ctx.confirm("reset_confirm", "reset_yes", "reset_no")]


@command("reset_yes")
def reset_yes(ctx: Context) -> list[Reply]:
    """Start the walk-through again."""
    ctx.session.answers, ctx.session.plan, ctx.session.completed_at = {}, None, None
    return [Reply(ctx.text("reset_done")), ctx.enter(ENTRY)]


@command("reset_no")
def reset_no(ctx: Context) -> list[Reply]:
    """Change nothing."""
    return [ctx.note("reset_cancelled")]
