"""Plain data passed between the adapters, the engine, the actions and the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from bot.policy.contacts import Contact

# How long backups and replicas keep data after /delete erased it here (a setting).
DEFAULT_BACKUP_RETENTION_HOURS = 168
MAX_CALLBACK_BYTES = 64  # the Bot API's limit on a button's callback_data

# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A slash command, lower-cased, without the slash or a @botname suffix."""

    name: str
    args: str = ""


@dataclass(frozen=True)
class Press:
    """A button press, carrying the button's callback data."""

    data: str


@dataclass(frozen=True)
class Text:
    """Typed text."""

    text: str


@dataclass(frozen=True)
class Media:
    """Something the bot cannot read: a sticker, photo, voice note, file, a forwarded message.

    `caption` is any text that came with it (a photo's caption, a forwarded message's text):
    never stored or answered, only checked for signs of crisis.
    """

    kind: str
    caption: str = ""


Event = Command | Press | Text | Media


# --- outputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Button:
    """A reply button: callback `data` for the engine, or a `url` to open."""

    label: str
    data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        # Telegram refuses a whole message whose keyboard has longer callback data.
        if self.data is not None and len(self.data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes")


@dataclass(frozen=True)
class Attachment:
    """A file to send with a reply; `render` is called by the adapter, off the event loop."""

    kind: Literal["photo", "document"]
    filename: str
    render: Callable[[], bytes] = field(compare=False)


@dataclass(frozen=True)
class Reply:
    """One message to send: text (or a caption), buttons one per row, maybe a file."""

    text: str
    buttons: tuple[Button, ...] = ()
    attachment: Attachment | None = None


# --- state ------------------------------------------------------------------------------------


@dataclass
class Session:
    """A user's place in the conversation: everything the engine needs, nothing more."""

    state: str = "walkthrough:welcome"
    answers: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    pending: str | None = None  # a question awaiting a yes/no, such as "reset"
    completed_at: datetime | None = None

    @property
    def coaching_off(self) -> bool:
        """True when the safety screen showed a reason not to coach contact at all."""
        return self.answers.get("safety") == "concern"

    def copy(self) -> Session:
        """A copy the engine may change (answers and plan hold only plain values)."""
        return replace(
            self, answers=dict(self.answers), plan=dict(self.plan) if self.plan else None
        )


@dataclass(frozen=True)
class UserData:
    """The rest of what is stored about one user, loaded with their session."""

    user_id: int = 0
    language: str | None = None
    contacts: tuple[Contact, ...] = ()  # recent ones, oldest first
    checkins: dict[str, Any] | None = None  # CheckinSettings.as_dict(), or None if never set
    last_checkin_at: datetime | None = None
    is_admin: bool = False
    last_logged: Contact | None = None  # the contact logged in this update (it may be a past one)
    # Reads beyond this user's working set, given by the service for the commands that need
    # them: every stored row about this user (/export), and operator counts (/stats, admins).
    read_all: Callable[[], dict[str, list[dict[str, Any]]]] | None = field(
        default=None, compare=False, repr=False
    )
    read_stats: Callable[[], dict[str, int]] | None = field(default=None, compare=False, repr=False)
    # How long backups and replicas keep what /delete erased here (BACKUP_RETENTION_HOURS).
    backup_retention_hours: int = DEFAULT_BACKUP_RETENTION_HOURS


# --- effects: writes besides the session, applied in the same transaction ---------------------


@dataclass(frozen=True)
class AddContact:
    """Log one contact."""

    contact: Contact
    note: str | None = None


@dataclass(frozen=True)
class SaveCheckins:
    """Store check-in settings and the next due check-in (None: nothing due)."""

    settings: dict[str, Any] | None
    due_at: datetime | None
    due_kind: str | None = None


@dataclass(frozen=True)
class RecordDraftCheck:
    """Remember that a draft was checked and its verdict; never the draft itself."""

    verdict: str


@dataclass(frozen=True)
class ChangeContact:
    """Replace one logged contact by `to` (its time, who started it, its kind, how it went;
    its note stays), or remove it (`to` None)."""

    contact: Contact
    to: Contact | None = None


@dataclass(frozen=True)
class EraseUser:
    """Delete every row about the user, in every table."""


@dataclass(frozen=True)
class CountHeard:
    """Count what a typed message was about (an intent, or not understood); never the text."""

    name: str


Effect = AddContact | ChangeContact | SaveCheckins | RecordDraftCheck | EraseUser | CountHeard


@dataclass
class Outcome:
    """What handling one input produced."""

    session: Session | None
    replies: list[Reply]
    changed: bool
    notice: str | None = None  # a short pop-up for the button press, where the transport has one
    effects: list[Effect] = field(default_factory=list)
