"""End to end on real PTB: an ambiguous time zone's choices are buttons a user taps."""

import json

from tests.store_helper import checkin_row
from tests.support.chat import USER, labels, say, tap
from tests.support.fake_bot_api import FakeBotApi


def stored_zone(bot) -> str:
    row = checkin_row(bot.store, USER)
    assert row is not None
    return json.loads(row["settings"])["tz"]


def keyboard_data(api: FakeBotApi, label: str) -> str:
    """The callback data of the button called `label` on the latest keyboard."""
    (data,) = [data for row in api.last_keyboard(USER) for text, data in row if text == label]
    assert data is not None
    return data


async def test_a_typed_name_that_fits_several_zones_is_settled_by_tapping_one(fake_api, at_menu):
    bot = await at_menu()
    await say(fake_api, "/timezone")
    asked = await say(fake_api, "Portland")
    assert "more than one place" in asked
    assert labels(fake_api) == ["Los Angeles", "New York", "Go on", "Back to menu"]
    old_message = fake_api.sent_messages(USER)[-1]["message_id"]
    new_york = keyboard_data(fake_api, "New York")

    answer = await tap(fake_api, "Los Angeles")
    assert "America/Los_Angeles" in answer and "04:00" in answer  # 12:00 UTC, late November
    assert stored_zone(bot) == "America/Los_Angeles"
    assert labels(fake_api) == ["Go on", "Back to menu"]

    # The user moves on; the choice of the old message, tapped later, sets that zone as
    # /timezone America/New_York would (command buttons work from any step): harmless.
    await tap(fake_api, "Back to menu")
    before = len(fake_api.sent_texts(USER))
    fake_api.callback(USER, new_york, message_id=old_message)
    await fake_api.wait_for(lambda: len(fake_api.sent_texts(USER)) > before)
    assert "America/New_York" in fake_api.sent_texts(USER)[-1]
    assert stored_zone(bot) == "America/New_York"
