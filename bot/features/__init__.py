"""Features: actions, placeholders and commands registered through `bot.actions`.

A feature imports only `bot.actions` (and the model and policy); the engine imports none of
them directly. `FEATURES` names them all: add a new feature's module here.
"""

from __future__ import annotations

import importlib

FEATURES = ("basics", "contacts", "logbook", "safety", "urge", "privacy", "mood")


def load() -> None:
    """Import every feature once, so its registrations are in place."""
    for name in FEATURES:
        importlib.import_module(f"{__name__}.{name}")
