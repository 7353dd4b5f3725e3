"""End to end: the real PTB Application against the fake Bot API server, on a real database."""

import pytest

from tests.support.chat import USER, labels, reply_count, say, tap, walk_to_hub


@pytest.mark.parametrize(
    "choices",
    [
        pytest.param(
            {"feelings": "Loves me, wants me to change", "living": "My spouse moved out"},
            id="intervention",
        ),
        # The other branches over HTTP only in the full run: test_engine walks every branch
        # in-process, and each walk here is ~30 round trips.
        pytest.param(
            {"feelings": "Out of love, wants out", "living": "Together, but distant"},
            id="out-of-love-together",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            {"feelings": "I'm not sure", "living": "A divorce is under way"},
            id="not-sure-divorce",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            {"feelings": "Seeing someone else", "response": "They ignore or blocked me"},
            id="closed",
            marks=pytest.mark.slow,
        ),
    ],
)
async def test_a_user_walks_a_branch_to_the_hub(fake_api, start_bot, choices):
    bot = await start_bot()
    seen = await walk_to_hub(fake_api, choices)
    assert "self-help" in seen[0]
    assert any("Your starting plan" in text for text in seen)
    session = bot.store.load_session(USER)
    assert session.state == "hub:menu" and session.plan is not None
    assert set(labels(fake_api)) >= {"See my plan", "Revisit the ideas", "Start over"}
    for text in fake_api.sent_texts(USER):
        assert len(text.split()) <= 90, text


async def test_commands_menu_is_set_for_private_chats(fake_api, start_bot):
    await start_bot()
    commands = dict(fake_api.commands("all_private_chats"))
    assert {"start", "help", "about", "reset", "plan", "menu"} <= set(commands)


async def test_reset_yes_clears_and_cancel_keeps(fake_api, at_menu):
    bot = await at_menu()
    asked = await say(fake_api, "/reset")
    assert "Walk-through again" in asked and "Erase everything" in asked
    assert labels(fake_api) == [
        "Walk-through again, keep my log",
        "Erase everything",
        "Keep my place",
    ]
    kept = await tap(fake_api, "Keep my place")
    assert "nothing has changed" in kept
    assert bot.store.load_session(USER).state == "hub:menu"
    await say(fake_api, "/reset")
    count = len(fake_api.sent_texts(USER))
    fake_api.press(USER, "Walk-through again, keep my log")
    texts = await reply_count(fake_api, USER, count + 2)
    assert "cleared" in texts[-2] and "self-help" in texts[-1]
    assert labels(fake_api) == ["Let's begin"]
    session = bot.store.load_session(USER)
    assert session.state == "walkthrough:welcome" and session.answers == {}


async def test_restart_resumes_at_the_same_step(fake_api, start_bot):
    first = await start_bot()
    await say(fake_api, "/start")
    await tap(fake_api, "Let's begin")
    await tap(fake_api, "None of this applies")
    state = first.store.load_session(USER).state
    await first.stop()
    second = await start_bot()
    resumed = await say(fake_api, "/start")
    assert "Welcome back" in resumed and "/reset" in resumed
    assert "living situation" in resumed
    assert second.store.load_session(USER).state == state
    assert "My spouse moved out" in labels(fake_api)


@pytest.mark.parametrize(
    ("send", "phrase"),
    [
        (lambda api: api.text(USER, "hello, is anyone there?"), "Here is where we were"),
        (lambda api: api.text(USER, "x" * 10_000), "Here is where we were"),
        (lambda api: api.sticker(USER), "stickers"),
        (lambda api: api.photo(USER), "photos"),
        (lambda api: api.voice(USER), "voice"),
        (lambda api: api.document(USER), "files"),
        (lambda api: api.command(USER, "/frobnicate now"), "don't know that command"),
    ],
    ids=["text", "huge-text", "sticker", "photo", "voice", "document", "unknown-command"],
)
async def test_bad_input_gets_a_kind_reply_and_the_current_step(fake_api, start_bot, send, phrase):
    bot = await start_bot()
    await say(fake_api, "/start")
    await tap(fake_api, "Let's begin")
    before = bot.store.load_session(USER)
    count = len(fake_api.sent_texts(USER))
    send(fake_api)
    typed = phrase == "Here is where we were"  # typed text: an answer, then the step again
    reply = (await reply_count(fake_api, USER, count + (2 if typed else 1)))[-1]
    assert phrase in reply and "protective order" in reply
    assert "None of this applies" in labels(fake_api)
    assert bot.store.load_session(USER) == before


async def test_stale_button_gets_a_short_answer_and_the_current_step(fake_api, start_bot):
    await start_bot()
    await say(fake_api, "/start")
    welcome = fake_api.sent_messages(USER)[-1]
    await tap(fake_api, "Let's begin")
    old_data = welcome["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    update = fake_api.callback(USER, old_data, message_id=welcome["message_id"])
    reply = (await reply_count(fake_api, USER, 3))[-1]
    assert "passed" in reply and "protective order" in reply
    query_id = update["callback_query"]["id"]
    answer = await fake_api.wait_for(lambda: fake_api.callback_answer(query_id))
    assert "passed" in answer.get("text", "")


async def test_tapped_keyboard_stays(fake_api, start_bot):
    await start_bot()
    await say(fake_api, "/start")
    welcome = fake_api.sent_messages(USER)[-1]
    await tap(fake_api, "Let's begin")
    assert fake_api.message(USER, welcome["message_id"])["reply_markup"]
    assert fake_api.calls("editMessageReplyMarkup") == []  # see tests/test_lean_path.py


async def test_help_and_about(fake_api, start_bot):
    await start_bot()
    help_text = await say(fake_api, "/help")
    assert "/reset" in help_text and "/about" in help_text
    about = await say(fake_api, "/about")
    assert "Jack Ito" in about and "not a therapist" in about


async def test_group_gets_a_notice_and_nothing_is_stored(fake_api, start_bot):
    bot = await start_bot()
    fake_api.command(USER, "/start", chat_id=-500, chat_type="group")
    await fake_api.wait_for(lambda: fake_api.sent_texts(-500))
    assert "private chats" in fake_api.sent_texts(-500)[0]
    fake_api.group_text(-500, USER, "hello")
    fake_api.channel_post(-600, "news")
    await say(fake_api, "/help")  # a later private update proves the others were processed
    assert len(fake_api.sent_texts(-500)) == 1 and not fake_api.sent_texts(-600)
    assert bot.store.db["users"].count == 0 and bot.store.db["sessions"].count == 0


async def test_added_to_a_group_says_so_and_leaves(fake_api, start_bot):
    await start_bot()
    chat = {"id": -700, "type": "group", "title": "Family"}
    member = {"user": fake_api.bot_user(), "status": "member"}
    fake_api.push_update(
        {
            "my_chat_member": {
                "chat": chat,
                "from": fake_api.user(USER),
                "date": 0,
                "old_chat_member": {"user": fake_api.bot_user(), "status": "left"},
                "new_chat_member": member,
            }
        }
    )
    await fake_api.wait_for(lambda: fake_api.calls("leaveChat"))
    assert "private chats" in fake_api.sent_texts(-700)[0]
