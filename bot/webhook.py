"""Webhook mode (replaced below by a custom handler that answers only after the commit)."""

from __future__ import annotations

from urllib.parse import urlsplit

from telegram.ext import Application

from bot.config import Settings


def run_webhook(application: Application, settings: Settings) -> None:
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
