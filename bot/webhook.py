"""Webhook mode (replaced below by a custom handler that answers only after the commit)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.config import Settings

if TYPE_CHECKING:
    from bot.telegram import AnyApplication


def run_webhook(application: AnyApplication, settings: Settings) -> None:
    """Serve PTB's webhook server; Telegram posts updates to WEBHOOK_URL with the secret."""
    from bot.telegram import ALLOWED_UPDATES

    application.run_webhook(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=urlsplit(settings.webhook_url or "").path.lstrip("/"),
        webhook_url=settings.webhook_url,
        secret_token=settings.webhook_secret,
        allowed_updates=ALLOWED_UPDATES,
    )
