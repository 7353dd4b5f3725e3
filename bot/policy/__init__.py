"""Pure policy: plan, check-ins, draft checks and safety, as functions of data and a clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.policy.contacts import ContactTexts
from bot.policy.drafts import DraftRules
from bot.policy.plan import DoseTable
from bot.policy.safety import CrisisRules, Resources

if TYPE_CHECKING:
    from bot.listen import Listener
    from bot.listen.replies import FreeTextReplies


@dataclass(frozen=True)
class Policy:
    """All policy data, loaded and validated at start by `bot.content.Content.load`."""

    dose_table: DoseTable
    contact_texts: ContactTexts
    crisis: CrisisRules
    resources: Resources
    draft_rules: DraftRules
    listener: Listener  # what typed text says: the rules above plus the text models
    free_text: FreeTextReplies  # what to answer to it (flows/listen.yaml)
