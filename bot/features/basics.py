"""The basic commands: /start, /help, /about, /menu and /reset."""

from __future__ import annotations

from bot.actions import SYSTEM_PREFIX, Context, action, command
from bot.features.safety import CONCERN_ON
from bot.features.urge import RETURN_TO
from bot.flows import ENTRY, MENU, SAFETY_MENU
from bot.model import Button, Reply


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
        back = ctx.session.answers.pop(RETURN_TO, None)
        if back:  # from /urge or /draft before the plan: back to the walk-through
            ctx.enter(back)
            return [ctx.note("back_to_walkthrough")]
        return [ctx.note("no_menu_yet")]
    return [ctx.enter(SAFETY_MENU if ctx.session.coaching_off else MENU)]


@action("finish_walkthrough")
def finish_walkthrough(ctx: Context) -> None:
    """The walk-through is complete once its end is reached with a plan, menu opened or not:
    a check-in after "All set" then offers the plan's tools, not the walk-through again."""
    if ctx.session.plan and ctx.session.completed_at is None:
        ctx.session.completed_at = ctx.now


# What a reset keeps: the user's own log and settings, and the danger history (the day danger
# was last reported, and a safety concern still standing), never the assessment or the plan.
KEPT_ON_RESET = ("moods", "country", CONCERN_ON)


@command("reset")
def reset(ctx: Context) -> list[Reply]:
    """Say exactly what each choice clears: the walk-through again, or erase everything."""
    ctx.session.pending = "reset"
    question = ctx.confirm("reset_confirm", "reset_yes", "reset_no")
    erase = Button(ctx.text("reset_erase"), data=f"{SYSTEM_PREFIX}reset_erase")
    return [Reply(question.text, (question.buttons[0], erase, question.buttons[1]))]


@command("reset_yes")
def reset_yes(ctx: Context) -> list[Reply]:
    """Start the walk-through again, keeping the contact log, moods and settings."""
    answers = ctx.session.answers
    ctx.session.answers = {key: answers[key] for key in KEPT_ON_RESET if key in answers}
    if answers.get("safety") == "concern":  # coaching stays off until the user re-clears
        ctx.session.answers["safety"] = "concern"
    ctx.session.plan, ctx.session.completed_at = None, None
    done = "reset_done_safety" if CONCERN_ON in ctx.session.answers else "reset_done"
    return [Reply(ctx.text(done)), ctx.enter(ENTRY)]


@command("reset_erase")
def reset_erase(ctx: Context) -> list[Reply]:
    """Erase everything: the same question as /delete."""
    ctx.session.pending = "delete"
    return [ctx.confirm("delete_confirm", "delete_yes", "delete_no")]


@command("reset_no")
def reset_no(ctx: Context) -> list[Reply]:
    """Change nothing."""
    return [ctx.note("reset_cancelled")]
