"""Per-user asyncio locks: one user's updates and jobs never interleave, other users run freely.

A lock exists only while someone holds it or waits for it, so memory does not grow with the
number of users. asyncio locks are fair (first come, first served), so updates taken in the
order they arrived are handled in that order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class UserLocks:
    """A registry of locks keyed by user (or chat) id, evicted when idle."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Hold `key`'s lock for the body; waiters get it in the order they asked."""
        lock, users = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, users + 1)  # registered before any await: keeps the order
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        """How many keys have a holder or a waiter right now."""
        return len(self._locks)
