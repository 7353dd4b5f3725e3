"""The user's rights over their data, and operator counts: /privacy /export /delete /country /stats.

Registered as command handlers with `@command`.
Reads beyond the user's working set come from the service through `ctx.data.read_all` and
`ctx.data.read_stats` (the latter only for admins); the erasure is the EraseUser effect,
applied in the update's one transaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.actions import Context, command, content_file
from bot.datafile import read_mapping
from bot.model import Attachment, EraseUser, Reply
from bot.policy.safety import Resources

COUNTRIES_PATH = Path(__file__).resolve().parents[2] / "flows" / "policy" / "countries.yaml"
EXPORT_FILENAME = "reconnect-data.json"
PRIVACY_PARTS = ("privacy_stored", "privacy_not_stored")


@dataclass(frozen=True)
class Countries:
    """Typed country names and codes users may give, and how to show a code back."""

    names: dict[str, str]
    display: dict[str, str]
    clear_words: frozenset[str]


def load_countries(path: Path = COUNTRIES_PATH) -> Countries:
    """Load and check countries.yaml (codes are two upper-case letters)."""
    raw = read_mapping(path, ValueError)
    if not isinstance(raw.get("names"), dict) or not isinstance(raw.get("display") or {}, dict):
        raise ValueError(f"{path.name}: 'names' (and 'display', if given) must map names to codes")
    names = {str(name).lower(): str(code) for name, code in raw["names"].items()}
    display = {str(code): str(name) for code, name in (raw.get("display") or {}).items()}
    for code in [*names.values(), *display]:
        if not re.fullmatch(r"[A-Z]{2}", code):
            raise ValueError(f"{path.name}: {code!r} is not a two-letter upper-case code")
    clear = frozenset(str(word).lower() for word in raw.get("clear_words") or ())
    return Countries(names=names, display=display, clear_words=clear)


COUNTRIES = content_file("policy/countries.yaml", load_countries)


def parse_country(typed: str, countries: Countries, resources: Resources) -> str | None:
    """Return the ISO code for a typed country name or code, or None if unknown."""
    words = re.sub(r"[^\w\s]", " ", typed).lower().split()
    if words[:1] == ["the"]:
        words = words[1:]
    text = " ".join(words)
    if text in countries.names:
        return countries.names[text]
    code = text.upper()
    known = {*countries.names.values(), *resources.by_country}
    code = resources.aliases.get(code, code)
    return code if len(code) == 2 and code in known else None


def country_label(code: str, countries: Countries) -> str:
    """Show a country code as a name ("IE" -> "Ireland (IE)")."""
    name = countries.display.get(code) or next(
        (n.title() for n, c in countries.names.items() if c == code), None
    )
    return f"{name} ({code})" if name else code


@command("privacy")
def privacy(ctx: Context) -> list[Reply]:
    """What is stored, why, for how long, who can see it, and the user's rights."""
    retention = retention_text(ctx.data.backup_retention_hours)
    parts = [
        Reply(ctx.text(name).replace("{backup_retention}", retention)) for name in PRIVACY_PARTS
    ]
    return [*parts, ctx.note("privacy_who")]


def retention_text(hours: int) -> str:
    """'7 days', '1 day' or '36 hours': how long backups keep erased data."""
    if hours % 24 == 0:
        days = hours // 24
        return f"{days} day" if days == 1 else f"{days} days"
    return f"{hours} hours"


@command("export")
def export(ctx: Context) -> list[Reply]:
    """Send every stored row about the user as a JSON file."""
    if ctx.data.read_all is None:
        return [ctx.note("export_unavailable")]
    document = {
        "exported_at": ctx.now.isoformat(),
        "user_id": ctx.data.user_id,
        "tables": ctx.data.read_all(),  # read now: the file shows what is stored right now
    }
    payload = json.dumps(document, indent=2, ensure_ascii=False, default=str).encode()
    attachment = Attachment("document", EXPORT_FILENAME, render=lambda: payload)
    resume = (ctx.resume_button(),)
    return [Reply(ctx.text("export_ready"), resume, attachment)]


@command("delete")
def delete(ctx: Context) -> list[Reply]:
    """Ask before erasing everything."""
    ctx.session.pending = "delete"
    return [ctx.confirm("delete_confirm", "delete_yes", "delete_no")]


@command("delete_yes")
def delete_yes(ctx: Context) -> list[Reply]:
    """Erase every row about the user (check-ins included) in this update's transaction."""
    ctx.effects.append(EraseUser())
    return [Reply(ctx.text("delete_done"))]


@command("delete_no")
def delete_no(ctx: Context) -> list[Reply]:
    """Keep everything."""
    return [ctx.note("delete_cancelled")]


@command("country")
def country(ctx: Context) -> list[Reply]:
    """Show, or set from the command's arguments, the country used for help resources."""
    countries = ctx.content(COUNTRIES)
    typed = (ctx.typed or "").strip()
    if not typed:
        current = ctx.session.answers.get("country")
        label = country_label(current, countries) if current else ctx.text("country_none")
        return [_filled_note(ctx, "country_help", label)]
    if typed.lower() in countries.clear_words:
        ctx.session.answers.pop("country", None)
        return [ctx.note("country_cleared")]
    code = parse_country(typed, countries, ctx.policy.resources)
    if code is None:
        return [ctx.note("country_unknown")]
    ctx.session.answers["country"] = code
    return [_filled_note(ctx, "country_set", country_label(code, countries))]


def _filled_note(ctx: Context, message: str, country_text: str) -> Reply:
    """A note whose {country} is filled in, followed by the current step."""
    note = ctx.note(message)
    return Reply(note.text.replace("{country}", country_text, 1), note.buttons)


@command("stats")
def stats(ctx: Context) -> list[Reply]:
    """Aggregate counts for admins; anyone else gets the ordinary unknown-command reply."""
    if not ctx.data.is_admin or ctx.data.read_stats is None:
        return [ctx.note("unknown_command")]
    counts: dict[str, Any] = ctx.data.read_stats()
    return [Reply(ctx.text("stats").format(**counts))]
