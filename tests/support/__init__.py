"""What tests share: the fake Bot API, a bot running against it, and conversation helpers.

- `fake_bot_api`: a real HTTP server speaking enough of the Bot API for PTB.
- `bots`: the real PTB Application in-process (`RunningBot`), a clock tests move by hand,
  and the environment of a real `python -m bot run` process.
- `chat`: say, tap and read keyboards over the fake API; walk the walk-through over HTTP
  (`walk_to_hub`) or put a user at the menu in-process (`seed_at_menu`, much faster).
"""
