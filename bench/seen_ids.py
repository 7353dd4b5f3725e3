"""Memory of PTB's notes of seen users: `python -m bench.seen_ids [USERS] [--without]`.

Feeds USERS updates from distinct users (default 200,000) through a bare PTB `Application`
with a no-op handler and the in-process request stub, with the bot's `ForgetSeenIds`
persistence (run every 10,000 users) or, with `--without`, none; prints the growth of RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time

from telegram import Chat, Message, Update, User
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from bench.stub import StubRequest
from bot.seen_ids import build_forgetting

RUN_EVERY = 10_000
FIRST_ID = 10_000_000


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def update_from(number: int) -> Update:
    """A private text message from user FIRST_ID + number."""
    user = User(FIRST_ID + number, "x", False)
    chat = Chat(FIRST_ID + number, "private")
    return Update(number, message=Message(number, None, chat, from_user=user, text="hi"))


async def measure(users: int, forget: bool) -> str:
    """Feed the updates and report the growth of RSS and the longest persistence run."""
    builder = ApplicationBuilder().token("123:abc").request(StubRequest())
    application = build_forgetting(builder) if forget else builder.build()
    persistence = application.persistence

    async def nothing(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A handler, so that PTB notes each update's ids."""

    application.add_handler(TypeHandler(Update, nothing))
    await application.initialize()
    gc.collect()
    start, began, longest = rss_mb(), time.perf_counter(), 0.0
    for number in range(users):
        await application.process_update(update_from(number))
        if persistence is not None and number % RUN_EVERY == RUN_EVERY - 1:
            run = time.perf_counter()
            await application.update_persistence()
            longest = max(longest, time.perf_counter() - run)
    if persistence is not None:
        await application.update_persistence()
        await application.update_persistence()
    took = time.perf_counter() - began
    gc.collect()
    await application.shutdown()
    kind = "with ForgetSeenIds" if forget else "without a persistence"
    return (
        f"{users:,} distinct users, {kind}: RSS +{rss_mb() - start:.1f} MB, "
        f"{1e6 * took / users:.0f} µs an update, longest run {1000 * longest:.0f} ms"
    )


def main() -> None:
    """Parse the arguments and print one line."""
    parser = argparse.ArgumentParser(prog="python -m bench.seen_ids", description=__doc__)
    parser.add_argument("users", nargs="?", type=int, default=200_000)
    parser.add_argument("--without", action="store_true", help="no persistence (PTB's default)")
    arguments = parser.parse_args()
    print(asyncio.run(measure(arguments.users, forget=not arguments.without)))


if __name__ == "__main__":
    main()
