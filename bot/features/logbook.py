"""/contacts: the latest logged contacts, and changing or removing one of them.

Every button is a command button ("c.contacts.KEY-CHANGE"), so it works whatever step the
user is on. A contact is named by its time in whole seconds (KEY), so an old button never
hits another contact: a contact removed (or moved) since gets a kind word and the list.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from bot.actions import COMMAND_PREFIX, Context, command
from bot.features.checkins import settings_from
from bot.features.texts import FEATURE_TEXTS
from bot.model import Button, ChangeContact, Reply
from bot.policy.contacts import Contact, Outcome
from bot.policy.timezones import zone

LIST_CONTACTS = 6
OUTCOMES = ("warm", "neutral", "cold", "no_answer")


def contact_key(contact: Contact) -> str:
    """How buttons name a contact: its time in whole seconds."""
    return str(int(contact.at.timestamp()))


def _button(label: str, key: str, change: str = "") -> Button:
    return Button(label, data=f"{COMMAND_PREFIX}contacts.{key}{'-' if change else ''}{change}")


def _describe(ctx: Context, contact: Contact) -> str:
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
    """List recent contacts; "/contacts KEY" opens one, "KEY-OUTCOME" or "KEY-del" changes it."""
    key, _, change = (ctx.typed or "").strip().partition("-")
    found = [c for c in ctx.data.contacts if contact_key(c) == key]
    if not found:
        recent = ctx.data.contacts[-LIST_CONTACTS:][::-1]
        if not recent:
            return [ctx.note("contacts_none")]
        buttons = tuple(_button(_describe(ctx, c), contact_key(c)) for c in recent)
        return [Reply(ctx.text("contacts_list"), (*buttons, ctx.resume_button()))]
    contact = found[-1]
    if change == "del":
        _store_change(ctx, contact, None)
        return [ctx.note("contact_removed")]
    words = ctx.content(FEATURE_TEXTS).contact_words
    if change in OUTCOMES:
        _store_change(ctx, contact, replace(contact, outcome=cast(Outcome, change)))
        note = ctx.note("contact_changed")
        text = note.text.replace("{outcome}", words[change].lower(), 1)
        return [Reply(text, note.buttons)]
    buttons = tuple(_button(words[outcome], key, outcome) for outcome in OUTCOMES)
    remove = _button(ctx.text("contact_remove"), key, "del")
    text = f"{_describe(ctx, contact)}.\n{ctx.text('contact_one')}"
    return [Reply(text, (*buttons, remove, ctx.resume_button()))]
