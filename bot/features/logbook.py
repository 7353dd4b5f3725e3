"""/contacts: the latest logged contacts, and changing or removing one of them.

Every button is a command button, "c.contacts.KEY" or "c.contacts.KEY-CHANGE", so it works
whatever step the user is on and nothing of it is stored in the session. A contact is named
by its time in whole seconds (KEY), so an old button never hits another contact: a button
for a contact removed or changed since gets a kind word and the list. The changes:

    KEY                     the contact, with what can be changed
    KEY-warm (an outcome)   how it went           KEY-del                 remove it
    KEY-kind                who started it?       KEY-kind-me             what kind was it?
    KEY-kind-me-call        who and kind changed  KEY-day                 which day was it?
    KEY-day-2               moved to two days ago (in the user's time zone; never ahead)

The longest callback data ("c.contacts." and "1234567890-kind-them-practical") is 41 bytes,
inside Telegram's 64. The plan, /progress and "days within your plan" read the log, so they
count a changed contact as it is now.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.actions import COMMAND_PREFIX, Context, command
from bot.features.checkins import settings_from
from bot.features.texts import FEATURE_TEXTS
from bot.model import Button, ChangeContact, Reply
from bot.policy.contacts import (
    INITIATORS,
    KINDS,
    MOVE_DAYS,
    OUTCOMES,
    Contact,
    Outcome,
    local_days_ago,
    moved_to_day,
)
from bot.policy.timezones import zone

LIST_CONTACTS = 6
DAYS = {str(days): days for days in range(MOVE_DAYS)}  # never a day still to come


def contact_key(contact: Contact) -> str:
    """How buttons name a contact: its time in whole seconds."""
    return str(int(contact.at.timestamp()))


def _button(label: str, key: str, *change: str) -> Button:
    return Button(label, data=f"{COMMAND_PREFIX}contacts.{'-'.join((key, *change))}")


def _describe(ctx: Context, contact: Contact) -> str:
    """One contact in words, e.g. "Tue 10 Mar, 18:00: you, a message, cold"."""
    words = ctx.content(FEATURE_TEXTS).contact_words
    local = contact.at.astimezone(zone(settings_from(ctx.data.checkins).tz))
    when = f"{ctx.content(FEATURE_TEXTS).weekdays[local.weekday()][:3]} {local:%d %b, %H:%M}"
    return words["line"].format(
        when=when, who=words[contact.initiator], kind=words[contact.kind],
        outcome=words[contact.outcome].lower(),
    )  # fmt: skip


def _store_change(ctx: Context, contact: Contact, to: Contact | None) -> None:
    """Change (or, with `to` None, remove) one logged contact, in the store and in `ctx.data`."""
    ctx.effects.append(ChangeContact(contact, to))
    contacts = list(ctx.data.contacts)
    index = len(contacts) - 1 - contacts[::-1].index(contact)
    if to is None:
        del contacts[index]
    else:
        contacts[index] = to
    ctx.data = replace(ctx.data, contacts=tuple(sorted(contacts, key=lambda c: c.at)))


@command("contacts")
def contacts(ctx: Context) -> list[Reply]:
    """The latest contacts; with a contact's key, that contact and the change asked for."""
    key, _, rest = (ctx.typed or "").strip().partition("-")
    found = [c for c in ctx.data.contacts if contact_key(c) == key]
    if not found:
        return _listing(ctx, gone=bool(key))
    contact = found[-1]
    change, *args = rest.split("-")
    if change == "del":
        _store_change(ctx, contact, None)
        return [ctx.note("contact_removed")]
    if change in OUTCOMES:
        return [_change_outcome(ctx, contact, change)]
    if change == "kind":
        return [_change_kind(ctx, contact, key, args)]
    if change == "day":
        return [_change_day(ctx, contact, key, args)]
    return [_one(ctx, contact, key)]


def _listing(ctx: Context, gone: bool) -> list[Reply]:
    """The latest contacts as buttons; after a button for one no longer there, a kind word."""
    before = f"{ctx.content(FEATURE_TEXTS).contact_edit['gone']}\n\n" if gone else ""
    recent = ctx.data.contacts[-LIST_CONTACTS:][::-1]
    if not recent:
        note = ctx.note("contacts_none")
        return [Reply(before + note.text, note.buttons)]
    buttons = tuple(_button(_describe(ctx, c), contact_key(c)) for c in recent)
    return [Reply(before + ctx.text("contacts_list"), (*buttons, ctx.resume_button()))]


def _one(ctx: Context, contact: Contact, key: str) -> Reply:
    """One contact: how it went, its kind, its day, or remove it."""
    words, edit = ctx.content(FEATURE_TEXTS).contact_words, ctx.content(FEATURE_TEXTS).contact_edit
    buttons = (
        *(_button(words[outcome], key, outcome) for outcome in OUTCOMES),
        _button(edit["change_kind"], key, "kind"),
        _button(edit["change_day"], key, "day"),
        _button(ctx.text("contact_remove"), key, "del"),
        ctx.resume_button(),
    )
    return Reply(f"{_describe(ctx, contact)}.\n{ctx.text('contact_one')}", buttons)


def _change_outcome(ctx: Context, contact: Contact, outcome: Outcome) -> Reply:
    _store_change(ctx, contact, replace(contact, outcome=outcome))
    note = ctx.note("contact_changed")
    words = ctx.content(FEATURE_TEXTS).contact_words
    return Reply(note.text.replace("{outcome}", words[outcome].lower(), 1), note.buttons)


def _changed(ctx: Context, contact: Contact, to: Contact, said: str) -> Reply:
    """Store a change and confirm it warmly, with the contact as it is now."""
    edit = ctx.content(FEATURE_TEXTS).contact_edit
    if to == contact:
        said = "unchanged"
    else:
        to = _free_moment(ctx, contact, to)
        _store_change(ctx, contact, to)
    text = edit[said].format(line=_describe(ctx, to))
    return Reply(text, (_button(edit["again"], contact_key(to)), ctx.resume_button()))


def _free_moment(ctx: Context, contact: Contact, to: Contact) -> Contact:
    """`to`, a second or more earlier if another contact already has its key."""
    taken = {contact_key(c) for c in ctx.data.contacts if c is not contact}
    while contact_key(to) in taken:
        to = replace(to, at=to.at.replace(microsecond=0) - timedelta(seconds=1))
    return to


def _change_kind(ctx: Context, contact: Contact, key: str, args: list[str]) -> Reply:
    """Who started it (first tap), then what kind it was (second tap, which changes both)."""
    edit = ctx.content(FEATURE_TEXTS).contact_edit
    line = _describe(ctx, contact)
    who = args[0] if args and args[0] in INITIATORS else None
    if who is None:
        buttons = tuple(_button(edit[i], key, "kind", i) for i in INITIATORS)
        return Reply(edit["ask_who"].format(line=line), (*buttons, ctx.resume_button()))
    if len(args) < 2 or args[1] not in KINDS:
        buttons = tuple(_button(edit[k], key, "kind", who, k) for k in KINDS)
        return Reply(edit["ask_kind"].format(line=line), (*buttons, ctx.resume_button()))
    to = replace(contact, initiator=who, kind=args[1])
    return _changed(ctx, contact, to, "kind_changed")


def _change_day(ctx: Context, contact: Contact, key: str, args: list[str]) -> Reply:
    """Which day it was: today or one of the six days before, in the user's time zone."""
    settings = settings_from(ctx.data.checkins)
    tz = zone(settings.tz)
    now_on = local_days_ago(contact.at, ctx.now, tz)
    days = DAYS.get(args[0]) if args else None
    if days is not None:
        at = contact.at if days == now_on else moved_to_day(contact.at, days, ctx.now, tz)
        return _changed(ctx, contact, replace(contact, at=at), "day_changed")
    edit, weekdays = ctx.content(FEATURE_TEXTS).contact_edit, ctx.content(FEATURE_TEXTS).weekdays
    local_today = ctx.now.astimezone(tz)
    buttons = []
    for days in range(MOVE_DAYS):
        if days < 2:
            label = edit["today" if days == 0 else "yesterday"]
        else:
            weekday = weekdays[(local_today.weekday() - days) % 7]
            label = edit["days_ago"].format(weekday=weekday, n=days)
        if days == now_on:
            label = edit["current"].format(day=label)
        buttons.append(_button(label, key, "day", str(days)))
    line = _describe(ctx, contact)
    ask = (
        edit["ask_day"].format(line=line, zone=settings.tz)
        if settings.tz_set
        else edit["ask_day_no_zone"].format(line=line)
    )
    return Reply(ask, (*buttons, ctx.resume_button()))
