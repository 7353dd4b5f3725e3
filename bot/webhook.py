"""Webhook mode: a small Starlette app on uvicorn that answers Telegram only after the commit.

PTB's built-in webhook server answers 200 as soon as an update is queued, so a crash before
the commit loses it (Telegram does not send it again). Here, as in PTB's custom-webhook
example, the app puts the update on the Application's queue and then waits until the
update's state change is committed (UpdateTracker.outcome) before answering:

- 200: committed (or nothing to commit, or set aside by the flood guard);
- 500: nothing was saved (storage failed, or no answer in time): Telegram redelivers, and
  the processed update ids make a redelivery of a committed update harmless;
- 403: wrong or missing secret, checked before the body is read;
- 413: a body over MAX_BODY_BYTES (checked from Content-Length, and while reading);
- 400: not JSON, or not an update (logged by kind only, never the body).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram.ext import ContextTypes

from bot.config import Settings
from bot.health import touch_heartbeat
from bot.incoming import read_update
from bot.reliability import UpdateTracker

if TYPE_CHECKING:
    from bot.telegram import AnyApplication

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024  # Telegram's updates are a few kB; 1 MB is a wide margin
COMMIT_WAIT_SECONDS = 50.0  # Telegram waits about a minute for an answer
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEARTBEAT_SECONDS = 60


class BodyTooLarge(Exception):
    """The request body passed MAX_BODY_BYTES."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refusing more than `limit` bytes however it is sent (with or without length)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def make_app(application: AnyApplication, settings: Settings) -> Starlette:
    """The ASGI app: one POST route at WEBHOOK_URL's path."""
    path = urlsplit(settings.webhook_url or "").path or "/"
    secret = (settings.webhook_secret or "").encode()
    tracker = application.update_queue

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not secret or not hmac.compare_digest(given, secret):
            return Response(status_code=403)  # before reading a byte of the body
        try:
            body = await read_body(request)
        except BodyTooLarge:
            log.warning("webhook: refused a body over %d bytes", MAX_BODY_BYTES)
            return Response(status_code=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = read_update(data, application.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            log.warning("webhook: refused a malformed update (%s)", type(error).__name__)
            return Response(status_code=400)
        touch_heartbeat(settings.db_path)
        await tracker.put(update)
        if not isinstance(tracker, UpdateTracker):
            return Response()
        outcome = tracker.outcome(update.update_id)
        if outcome is None:
            return Response()  # set aside by the flood guard, or already settled
        try:
            committed = await asyncio.wait_for(asyncio.shield(outcome), COMMIT_WAIT_SECONDS)
        except TimeoutError:
            committed = False
        return Response(status_code=200 if committed else 500)

    return Starlette(routes=[Route(path, receive, methods=["POST"])])


async def _heartbeat(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Webhook mode may be quiet for hours: Telegram answering getWebhookInfo counts as alive."""
    await context.bot.get_webhook_info()
    touch_heartbeat(context.bot_data["db_path"])


def _server(config: Any) -> Any:
    """A uvicorn server that stops on SIGTERM/SIGINT and then lets us finish and exit 0.

    uvicorn re-raises a captured signal after its shutdown, which would end the process
    before the Application has handled what is still queued and closed the database.
    """
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

    return Server(config)


async def serve(application: AnyApplication, settings: Settings) -> None:
    """Start the Application, serve, register the webhook, run until SIGTERM/SIGINT, stop."""
    import uvicorn

    from bot.telegram import ALLOWED_UPDATES, on_startup

    config = uvicorn.Config(
        make_app(application, settings),
        host=settings.webhook_listen,
        port=settings.webhook_port,
        log_config=None,  # our logging (no access log: paths and addresses stay out)
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    server = _server(config)
    async with application:  # initialize (getMe: a bad token fails here) ... shutdown
        application.bot_data["db_path"] = settings.db_path
        await application.start()
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:  # listening before Telegram is told where to post
                if serving.done():
                    await serving  # could not listen: its error ends the start-up
                    return
                await asyncio.sleep(0.02)
            await application.bot.set_webhook(
                settings.webhook_url or "",
                secret_token=settings.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            if application.job_queue is not None:
                application.job_queue.run_repeating(_heartbeat, HEARTBEAT_SECONDS, first=0)
            await on_startup(application)
            await serving  # returns on SIGTERM/SIGINT, after in-flight requests are answered
        finally:
            server.should_exit = True
            await asyncio.gather(serving, return_exceptions=True)
            await application.stop()  # handles what is still queued, then stops the jobs


def run_webhook(application: AnyApplication, settings: Settings) -> None:
    """Serve webhook mode until interrupted."""
    asyncio.run(serve(application, settings))
