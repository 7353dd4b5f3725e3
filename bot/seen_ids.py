"""A persistence that stores nothing, so that PTB forgets the ids of the users it has seen.

PTB's `Application` notes the user and chat id of every update for the next run of
`update_persistence`, and only that run clears the notes. Without a persistence it never runs,
so the notes grow with every distinct user for the life of the process (about 140 MB at a
million users). Reconnect keeps its state in SQLite; this persistence keeps nothing, and its
periodic run (every `FORGET_SECONDS`) clears the notes. PTB also makes an empty user and chat
data entry for each update once a persistence is set; they are dropped in the same run.
Public API only: `BasePersistence`, `Application.drop_user_data` and `drop_chat_data`.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, ApplicationBuilder, BasePersistence, PersistenceInput

FORGET_SECONDS = 10.0

Data = dict[Any, Any]


def build_forgetting(
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any],
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build the application with a `ForgetSeenIds` persistence that can reach it."""
    forget = ForgetSeenIds()  # PTB's builder gives a persistence no reference to its application
    application = builder.persistence(forget).build()
    forget.application = application
    return application


class ForgetSeenIds(BasePersistence[Data, Data, Data]):
    """Stores nothing; each run drops the user and chat data PTB made since the last one."""

    def __init__(self, update_interval: float = FORGET_SECONDS) -> None:
        # User and chat data must be "stored" for PTB to clear its notes of their ids.
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=True, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None

    async def get_user_data(self) -> dict[int, Data]:
        """Nothing is stored."""
        return {}

    async def get_chat_data(self) -> dict[int, Data]:
        """Nothing is stored."""
        return {}

    async def get_bot_data(self) -> Data:
        """Nothing is stored."""
        return {}

    async def get_callback_data(self) -> Any:
        """Nothing is stored."""
        return None

    async def get_conversations(self, name: str) -> dict[Any, Any]:
        """Nothing is stored."""
        return {}

    async def update_conversation(self, name: str, key: Any, new_state: object | None) -> None:
        """Nothing is stored."""

    async def update_user_data(self, user_id: int, data: Data) -> None:
        """Drop the entry PTB made for this user (PTB notes the drop for its next run)."""
        if self.application is not None:
            self.application.drop_user_data(user_id)

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        """Drop the entry PTB made for this chat (PTB notes the drop for its next run)."""
        if self.application is not None:
            self.application.drop_chat_data(chat_id)

    async def update_bot_data(self, data: Data) -> None:
        """Nothing is stored."""

    async def update_callback_data(self, data: Any) -> None:
        """Nothing is stored."""

    async def drop_user_data(self, user_id: int) -> None:
        """Drop an entry made again since it was noted for dropping (else nothing to do)."""
        if self.application is not None and user_id in self.application.user_data:
            self.application.drop_user_data(user_id)

    async def drop_chat_data(self, chat_id: int) -> None:
        """Drop an entry made again since it was noted for dropping (else nothing to do)."""
        if self.application is not None and chat_id in self.application.chat_data:
            self.application.drop_chat_data(chat_id)

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        """Nothing is stored."""

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        """Nothing is stored."""

    async def refresh_bot_data(self, bot_data: Data) -> None:
        """Nothing is stored."""

    async def flush(self) -> None:
        """Nothing is stored."""
