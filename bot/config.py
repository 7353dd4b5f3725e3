"""Settings from the environment (and a `.env` file if present), validated once at start."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

from dotenv import load_dotenv

DEFAULT_DB_PATH = Path("data/bot.db")
ENV_FILES = (Path("bot.env"), Path(".env"))  # the first that exists is read
# The shape of a Bot API token: the bot's numeric id, a colon, and a 35-character secret.
TOKEN_PATTERN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,64}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Webhook mode: Telegram sends the secret back in a header; it allows 1-256 of these
# characters, and we ask for at least 16 so it cannot be guessed.
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
DEFAULT_WEBHOOK_LISTEN = "127.0.0.1"  # behind a reverse proxy that terminates TLS
DEFAULT_WEBHOOK_PORT = 8443
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot can be configured with."""

    token: str | None
    api_url: str | None
    db_path: Path
    log_level: str
    admin_user_ids: frozenset[int] = frozenset()
    checkin_sweep_seconds: int = 60  # how often due check-ins are looked for
    webhook_listen: str = DEFAULT_WEBHOOK_LISTEN
    webhook_port: int = DEFAULT_WEBHOOK_PORT
    webhook_url: str | None = None
    webhook_secret: str | None = None
    backup_retention_hours: int = 168  # how long backups keep erased data (said in /privacy)

    def __repr__(self) -> str:  # never print the token, even by accident
        return f"Settings(api_url={self.api_url!r}, db_path={self.db_path!r}, ...)"


def load_settings(
    *,
    require_token: bool,
    env_file: Path | tuple[Path, ...] | None = ENV_FILES,
    webhook: bool = False,
) -> Settings:
    """Read settings from the environment, after loading `env_file` (which never overrides;
    by default bot.env, else .env, in the working directory; None: no file).

    With `webhook`, the webhook settings are required and checked too.
    """
    if isinstance(env_file, tuple):
        env_file = next((p for p in env_file if p.is_file()), None)
    if env_file is not None and env_file.is_file():
        load_dotenv(env_file, override=False)
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip() or None
    if require_token and token is None:
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN is not set: put it in .env or the environment "
            "(see bot.env.example), or try the terminal chat with `python -m bot chat`"
        )
    if token is not None and not TOKEN_PATTERN.match(token):
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN does not look like a bot token (expected 123456789:ABC...)"
        )
    api_url = os.environ.get("TELEGRAM_API_URL", "").strip() or None
    if api_url is not None and not re.match(r"^https?://[^\s/]+", api_url):
        raise SettingsError(f"TELEGRAM_API_URL must be an http(s) URL, got {api_url!r}")
    level = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    db_path = Path(os.environ.get("BOT_DB_PATH", "").strip() or DEFAULT_DB_PATH)
    admins = os.environ.get("ADMIN_USER_IDS", "").replace(",", " ").split()
    if not all(a.isdigit() for a in admins):
        raise SettingsError("ADMIN_USER_IDS must be Telegram user ids (numbers), comma-separated")
    sweep = (
        os.environ.get("CHECKIN_SWEEP_SECONDS", "").strip()
        or os.environ.get("NUDGE_SWEEP_SECONDS", "").strip()  # the old name still works
        or "60"
    )
    if not sweep.isdigit() or not 5 <= int(sweep) <= 3600:
        raise SettingsError(f"CHECKIN_SWEEP_SECONDS must be a whole number 5..3600, got {sweep!r}")
    retention = os.environ.get("BACKUP_RETENTION_HOURS", "").strip() or "168"
    if not retention.isdigit() or not 1 <= int(retention) <= 24 * 366:
        raise SettingsError(
            f"BACKUP_RETENTION_HOURS must be a whole number of hours (1..8784), got {retention!r}"
        )
    settings = Settings(
        backup_retention_hours=int(retention),
        token=token,
        api_url=api_url,
        db_path=db_path,
        log_level=level,
        admin_user_ids=frozenset(int(a) for a in admins),
        checkin_sweep_seconds=int(sweep),
    )
    return replace(settings, **webhook_settings()) if webhook else settings


class WebhookSettings(TypedDict):
    """The settings only webhook mode reads."""

    webhook_listen: str
    webhook_port: int
    webhook_url: str
    webhook_secret: str


def webhook_settings() -> WebhookSettings:
    """Read and check WEBHOOK_LISTEN, WEBHOOK_PORT, WEBHOOK_URL and WEBHOOK_SECRET."""
    listen = os.environ.get("WEBHOOK_LISTEN", "").strip() or DEFAULT_WEBHOOK_LISTEN
    port_text = os.environ.get("WEBHOOK_PORT", "").strip() or str(DEFAULT_WEBHOOK_PORT)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise SettingsError(f"WEBHOOK_PORT must be a port number (1-65535), got {port_text!r}")
    url = os.environ.get("WEBHOOK_URL", "").strip()
    if not url:
        raise SettingsError(
            "WEBHOOK_URL is not set: webhook mode needs the public https URL Telegram will post to"
        )
    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.netloc.rsplit(":", 1)[0] in LOOPBACK_HOSTS
    if not parts.netloc or not (parts.scheme == "https" or local):
        raise SettingsError(
            f"WEBHOOK_URL must be an https URL (http only for a local server), got {url!r}"
        )
    secret = os.environ.get("WEBHOOK_SECRET", "").strip()
    if not WEBHOOK_SECRET_PATTERN.match(secret):
        raise SettingsError(
            "WEBHOOK_SECRET must be set in webhook mode: 16-256 letters, digits, _ or - "
            "(for example from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return {
        "webhook_listen": listen,
        "webhook_port": int(port_text),
        "webhook_url": url,
        "webhook_secret": secret,
    }


class RedactSecrets(logging.Filter):
    """Replace secrets (the bot token) in every log line, whoever logged it."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "[redacted]")
            record.msg, record.args = message, None
        return True


class NoLibraryTracebacks(logging.Filter):
    """Drop the tracebacks libraries attach (PTB's start-up retry loop logs one whose
    exception names the token; a traceback's locals can hold what a user wrote). The line
    itself stays; our own errors are reported by type, without content."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("bot"):
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def configure_logging(level: str, token: str | None = None, secret: str | None = None) -> None:
    """Log to stderr without message text, answers, the token or the webhook secret."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    secrets = [token, token.split(":", 1)[-1]] if token else []
    secrets += [secret] if secret else []
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets(secrets))
        handler.addFilter(NoLibraryTracebacks())
    # httpx logs URLs (which contain the token); python-telegram-bot logs every API call's
    # parameters and results at DEBUG (which contain what users wrote and what we sent).
    # uvicorn's access log would show webhook paths.
    for noisy in ("httpx", "httpcore", "apscheduler", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for chatty in ("telegram", "telegram.ext"):
        logging.getLogger(chatty).setLevel(max(logging.INFO, logging.getLevelName(level)))
