"""Pure policy: plan, check-ins, draft checks and safety, as functions of data and a clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.policy.contacts import ContactTexts, load_texts
from bot.policy.drafts import DraftRules, load_rules
from bot.policy.plan import DoseTable, load_dose_table
from bot.policy.safety import CrisisRules, Resources, load_crisis, load_resources

if TYPE_CHECKING:
    from bot.listen import Listener
    from bot.listen.replies import FreeTextReplies


@dataclass(frozen=True)
class Policy:
    """All policy data, loaded and validated once at start."""

    dose_table: DoseTable
    contact_texts: ContactTexts
    crisis: CrisisRules
    resources: Resources
    draft_rules: DraftRules
    listener: Listener  # what typed text says: the rules above plus the text models
    free_text: FreeTextReplies  # what to answer to it (flows/listen.yaml)

    @classmethod
    def load(cls) -> Policy:
        """Load every policy file from flows/policy/ and the text models of bot/listen/."""
        from bot.listen import Listener, TextModel, load_draft_kinds
        from bot.listen.replies import load_free_text_replies

        crisis, draft_rules = load_crisis(), load_rules()
        listener = Listener(TextModel.load(), crisis, draft_rules, load_draft_kinds())
        return cls(
            dose_table=load_dose_table(),
            contact_texts=load_texts(),
            crisis=crisis,
            resources=load_resources(),
            draft_rules=draft_rules,
            listener=listener,
            free_text=load_free_text_replies(),
        )
