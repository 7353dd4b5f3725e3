"""Pure policy: plan, nudges, draft checks and safety, as functions of data and a clock."""

from __future__ import annotations

from dataclasses import dataclass

from bot.policy.contacts import NudgeTexts, load_texts
from bot.policy.drafts import DraftRules, load_rules
from bot.policy.plan import DoseTable, load_dose_table
from bot.policy.safety import CrisisRules, Resources, load_crisis, load_resources


@dataclass(frozen=True)
class Policy:
    """All policy data, loaded and validated once at start."""

    dose_table: DoseTable
    nudge_texts: NudgeTexts
    crisis: CrisisRules
    resources: Resources
    draft_rules: DraftRules

    @classmethod
    def load(cls) -> Policy:
        """Load every policy file from flows/policy/."""
        return cls(
            dose_table=load_dose_table(),
            nudge_texts=load_texts(),
            crisis=load_crisis(),
            resources=load_resources(),
            draft_rules=load_rules(),
        )
