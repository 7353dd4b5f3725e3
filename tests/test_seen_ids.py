"""PTB forgets the users it has seen: memory stays flat however many distinct users write.

PTB's `Application` notes the user and chat id of every update for its persistence and clears
the notes only when a persistence runs; `bot/seen_ids.py` gives it one that stores nothing.
The private sets are read here only to guard that PTB behaviour the bot relies on.
"""

import pytest

from bot.seen_ids import FORGET_SECONDS, ForgetSeenIds
from tests.support.chat import reply_count

USERS = range(700_001, 700_041)

NOTES = ("_user_ids_to_be_updated_in_persistence", "_chat_ids_to_be_updated_in_persistence")


def noted(application) -> int:
    """How many user and chat ids PTB holds for its next persistence run."""
    missing = [name for name in NOTES if not hasattr(application, name)]
    if missing:
        pytest.fail(f"PTB no longer has {missing}: check whether bot/seen_ids.py is still needed")
    return sum(len(getattr(application, name)) for name in NOTES)


async def test_ids_of_users_seen_are_forgotten_at_each_run(fake_api, start_bot):
    bot = await start_bot()
    application = bot.application
    assert isinstance(application.persistence, ForgetSeenIds)
    assert application.persistence.update_interval == FORGET_SECONDS
    for user in USERS:
        fake_api.command(user, "/start")
    for user in USERS:
        await reply_count(fake_api, user, 1)
    await fake_api.wait_for(lambda: noted(application) == 2 * len(USERS))
    assert len(application.user_data) == len(USERS)  # PTB made an empty entry per user

    await application.update_persistence()
    assert noted(application) == 0
    assert len(application.user_data) == 0 and len(application.chat_data) == 0
    await application.update_persistence()  # the drops noted in the first run are done
    assert noted(application) == 0 and len(application.user_data) == 0


async def test_a_user_back_between_runs_is_dropped_at_the_next(fake_api, start_bot):
    bot = await start_bot()
    application = bot.application
    first, second = USERS[0], USERS[1]
    fake_api.command(first, "/start")
    await reply_count(fake_api, first, 1)
    await application.update_persistence()  # drops the entry, notes the drop
    fake_api.command(first, "/help")  # made again, noted for update and for drop
    fake_api.command(second, "/start")
    await reply_count(fake_api, first, 2)
    await reply_count(fake_api, second, 1)
    await fake_api.wait_for(lambda: len(application.user_data) == 2)
    # PTB notes an update's ids only after its handler returns, a moment after the reply
    await fake_api.wait_for(lambda: noted(application) == 4)

    await application.update_persistence()
    assert first not in application.user_data and second not in application.user_data
    await application.update_persistence()
    assert len(application.user_data) == 0 and len(application.chat_data) == 0
    assert noted(application) == 0


async def test_the_bot_data_the_service_lives_in_is_kept(fake_api, start_bot):
    bot = await start_bot()
    await bot.application.update_persistence()
    assert bot.application.bot_data["service"] is bot.service
