"""Listening: what a typed message says, from the rules and the small text models together.

The engine and policy ask questions here ("is this a crisis, how sure", "what is this draft
doing", "what is the user talking about"). The phrase rules stay the explainable first layer;
the model (`model.bin`, built by `python -m bot train`) adds recall in new wording. Without a
model (`Listener(None, ...)`) everything still works on the rules alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.datafile import read_mapping
from bot.listen.features import MAX_CHARS, normalise, slots_of, words
from bot.listen.model import ModelError, TextModel
from bot.policy.drafts import DraftResult, DraftRules, Flag, Severity, Verdict, check_draft
from bot.policy.safety import CrisisRules, CrisisSignal, detect_crisis

KINDS_PATH = Path(__file__).resolve().parents[2] / "flows" / "policy" / "draft_kinds.yaml"
NOT_UNDERSTOOD = "off_topic"
# The model alone gives the full crisis reply only to a message of at least this many words; a
# shorter one it is sure about ("note here") gets the gentle question: few words, little evidence.
MIN_ALARM_WORDS = 3
MIN_MODEL_WORDS = 2  # below this the model says nothing ("de", "Berlin"); the rules still do
INTENT_CHARS = 600  # what a message is about shows in its start; bounds the cost of long ones
__all__ = ["DraftKinds", "Listener", "ModelError", "TextModel", "load_draft_kinds"]


@dataclass(frozen=True)
class DraftKind:
    """What the draft check says for one kind of pressure the model names."""

    points: tuple[str, ...]
    why: str
    suggestion: str
    wait: bool = False


DraftKinds = Mapping[str, DraftKind]


def load_draft_kinds(path: Path = KINDS_PATH) -> dict[str, DraftKind]:
    """Read draft_kinds.yaml (why, suggestion, points, wait for each kind)."""
    raw = read_mapping(path, ValueError)
    kinds = {}
    for name, body in (raw.get("kinds") or {}).items():
        if not isinstance(body, dict) or not body.get("why") or not body.get("suggestion"):
            raise ValueError(f"{path.name}: kind '{name}' needs 'why' and 'suggestion'")
        kinds[str(name)] = DraftKind(
            tuple(body.get("points") or ()),
            str(body["why"]),
            str(body["suggestion"]),
            bool(body.get("wait", False)),
        )
    return kinds


class Listener:
    """Answers questions about one typed message; holds no user data."""

    def __init__(
        self,
        model: TextModel | None,
        crisis_rules: CrisisRules,
        draft_rules: DraftRules,
        draft_kinds: DraftKinds,
    ):
        self.model = model
        self.crisis_rules = crisis_rules
        self.draft_rules = draft_rules
        self.draft_kinds = draft_kinds
        self._last: tuple[str, int, list[int]] = ("", 0, [])

    def _read(self, text: str) -> tuple[int, list[int]]:
        """A message's word count and feature slots, read once for the update's questions."""
        if self._last[0] != text:
            tokens = words(normalise(text))
            self._last = (text, len(tokens), slots_of(tokens))
        return self._last[1], self._last[2]

    def _slots(self, text: str) -> list[int]:
        return self._read(text)[1]

    def forget(self) -> None:
        """Drop the features kept from the last message (the benchmark times each one cold)."""
        self._last = ("", 0, [])

    def _probabilities(self, head: str, text: str) -> dict[str, float]:
        if self.model is None or head not in self.model.heads:
            return {}
        return self.model.heads[head].probabilities(self._slots(text))

    def crisis_score(self, text: str) -> float:
        """How sure the model is that the message signals a crisis (0 without a model)."""
        return self._probabilities("crisis", text).get("crisis", 0.0)

    def crisis(self, text: str) -> CrisisSignal | None:
        """The crisis signal of a message: "alarm" (clear) or "check" (ask gently), or None.

        The whole message is read (Telegram's limit, 4,096 characters): the rules first, which
        name the category; then the model, which catches what the rules' phrases miss.
        """
        text = text[:MAX_CHARS]
        signal = detect_crisis(text, self.crisis_rules)
        if self.model is None:
            return signal
        score = self.crisis_score(text)
        thresholds = self.model.thresholds
        if signal is not None and signal.level == "alarm":
            if score < thresholds.get("crisis_rule_veto", 0.0):
                return CrisisSignal("check", signal.category)  # the past, the news, a joke
            return signal
        past_veto = thresholds.get("crisis_past_veto", 0.0)
        if signal is not None and score < past_veto and self.crisis_rules.speaks_of_then(text):
            return None  # the rules' question about the past; the model is sure it is not now
        count = self._read(text)[0]
        if count < MIN_MODEL_WORDS:
            return signal  # one word is too little evidence for the model: the rules decide
        if score >= thresholds["crisis_alarm"] and count >= MIN_ALARM_WORDS:
            category = signal.category if signal else self._kind(text)
            unsure = score < thresholds.get("crisis_alarm_bare", 0.0)
            if signal is None and not self.crisis_rules.model_alarm_allowed(text, sure=not unsure):
                return CrisisSignal("check", category)  # a figure of speech, or not one risk word
            alarm = CrisisSignal("alarm", category)
            return self.crisis_rules.soften(alarm, text)  # the past, someone else: ask
        if signal is None and score >= thresholds["crisis_check"]:
            return CrisisSignal("check", self._kind(text))  # unsure, or too short to be sure
        risky_at = thresholds.get("crisis_check_risky", thresholds["crisis_check"])
        if signal is None and score >= risky_at and self.crisis_rules.model_may_alarm(text):
            return CrisisSignal("check", self._kind(text))  # less sure, but words of risk
        return signal

    def _kind(self, text: str) -> Any:
        """Which crisis reply fits: self_harm, harm_others or danger_now."""
        kinds = self._probabilities("crisis_kind", text)
        return max(kinds, key=kinds.__getitem__) if kinds else "self_harm"

    def intent(self, text: str) -> tuple[str | None, float]:
        """What the message is about (an intent of data/text/intents), or None if unclear."""
        probabilities = self._probabilities("intent", text[:INTENT_CHARS])
        if not probabilities:
            return None, 0.0
        best = max(probabilities, key=probabilities.__getitem__)
        score = probabilities[best]
        assert self.model is not None
        if best == NOT_UNDERSTOOD or score < self.model.thresholds.get("intent_min", 0.0):
            return None, score
        return best, score

    def draft_kinds_found(self, text: str) -> tuple[float, list[str], list[str]]:
        """The model's pressure score for a draft, the kinds it names and all kinds, likeliest
        first."""
        score = self._probabilities("draft", text).get("pressure", 0.0)
        kinds = self._probabilities("draft_kinds", text)
        floor = self.model.thresholds.get("draft_kind", 0.5) if self.model else 1.0
        ranked = sorted(kinds, key=lambda k: -kinds[k])
        return score, [k for k in ranked if kinds[k] >= floor], ranked

    def draft(self, text: str, recent_unanswered: int = 0) -> DraftResult:
        """Check a draft: the rules' flags, and the model's named kinds where rules see none."""
        result = check_draft(text, self.draft_rules, recent_unanswered=recent_unanswered)
        if self.model is None:
            return result
        score, named, ranked = self.draft_kinds_found(text)
        if score < self.model.thresholds["draft_pressure"]:
            return result
        kinds = named or ranked[:1]  # pressure without a clear kind: name the likeliest
        known = {flag.rule for flag in result.flags}
        flags = list(result.flags)
        for kind in kinds[:2]:
            if f"model_{kind}" in known or kind not in self.draft_kinds:
                continue
            spec = self.draft_kinds[kind]
            quote = text if len(text) <= 80 else text[:77].rstrip() + "..."
            severity: Severity = "wait" if spec.wait else "soften"
            flags.append(
                Flag(f"model_{kind}", list(spec.points), quote, spec.why, spec.suggestion, severity)
            )
        if len(flags) == len(result.flags):
            return result
        waits = result.verdict == "wait" or any(f.severity == "wait" for f in flags)
        verdict: Verdict = "wait" if waits else "soften"
        return replace(result, verdict=verdict, flags=flags)

    def understand(self, text: str) -> dict[str, Any]:
        """Everything the bot understood of one message, for `python -m bot check-text`."""
        signal = self.crisis(text)
        draft = self.draft(text)
        intent, intent_score = self.intent(text)
        pressure, kinds, _ = self.draft_kinds_found(text)
        return {
            "crisis": signal.level if signal else None,
            "crisis_category": signal.category if signal else None,
            "draft": draft.verdict,
            "draft_kinds": kinds,
            "intent": intent,
            "scores": {
                "crisis": round(self.crisis_score(text), 3),
                "draft_pressure": round(pressure, 3),
                "intent": round(intent_score, 3),
            },
        }
