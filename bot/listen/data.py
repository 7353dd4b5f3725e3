"""The labelled text sets: where they live, how a line looks, and their digest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.datafile import read_mapping

ROOT = Path(__file__).resolve().parents[2]
CRISIS_RULES = ROOT / "flows" / "policy" / "crisis.yaml"
TEXT_DIR = ROOT / "data" / "text"
TASKS = ("crisis", "drafts", "intents")

CRISIS_CATEGORIES = (
    "suicidal_explicit",
    "suicidal_passive",
    "plan",
    "means",
    "preparation_goodbye",
    "method_seeking",
    "self_harm",
    "harm_others",
    "danger_now",
)
NONE_CATEGORIES = (
    "hard_hyperbole",
    "hard_sadness",
    "hard_anger",
    "hard_past",
    "ordinary_separation",
    "ordinary_logistics",
    "ordinary_good_news",
    "ordinary_other",
)
# The crisis reply has three kinds; the nine categories of the data fold into them.
REPLY_KIND = {c: "self_harm" for c in CRISIS_CATEGORIES} | {
    "harm_others": "harm_others",
    "danger_now": "danger_now",
}
DRAFT_KINDS = (
    "guilt",
    "ultimatum",
    "threat",
    "arguing_decision",
    "pleading",
    "sarcasm",
    "proving_change",
    "pushing_counselling",
    "duty_religion",
    "blaming_new_partner",
    "question_stack",
)
INTENTS = (
    "divorce",
    "new_partner",
    "slipped",
    "urge_contact",
    "they_wrote",
    "sad",
    "angry",
    "give_up",
    "doubt_approach",
    "situation_changed",
    "children",
    "privacy",
    "thanks",
    "greeting",
    "feeling_better",
    "bot_help",
    "other_language",
    "off_topic",
)
# Earlier draft sets (label "ok" or "flag", no kinds): all were measured and looked at, so
# they are training data now.
LEGACY_DRAFTS = sorted((ROOT / "tests" / "data").glob("drafts_*.jsonl"))


class DataError(ValueError):
    """A labelled line is not what its task expects."""


@dataclass(frozen=True)
class Example:
    """One labelled message."""

    text: str
    label: str  # crisis: crisis|none; drafts: ok|pressure; intents: the intent
    category: str | None = None  # crisis only
    direct: bool = False  # crisis only: stated in plain words
    kinds: tuple[str, ...] | None = None  # drafts only; None where the set has no kinds
    lang: str = "en"


def train_files(task: str) -> list[Path]:
    """The training files of a task, in a fixed order."""
    files = sorted((TEXT_DIR / task).glob("train_*.jsonl"))
    return files + (LEGACY_DRAFTS if task == "drafts" else [])


def heldout_files(task: str) -> list[Path]:
    """The blind held-out files of a task (never trained or tuned on)."""
    return sorted((TEXT_DIR / task).glob("heldout_*.jsonl"))


def read(path: Path, task: str) -> list[Example]:
    """Read and check one JSONL file; DataError names the file and line."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            examples.append(_example(json.loads(line), task))
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path.name}, line {number}: {error}") from error
    return examples


def _example(raw: dict[str, Any], task: str) -> Example:
    text = raw["text"]
    if not isinstance(text, str) or not text.strip():
        raise ValueError("'text' must be a non-empty string")
    if task == "crisis":
        label, category = raw["label"], raw["category"]
        allowed = CRISIS_CATEGORIES if label == "crisis" else NONE_CATEGORIES
        if label not in ("crisis", "none") or category not in allowed:
            raise ValueError(f"label {label!r} with category {category!r} is not allowed")
        return Example(text, label, category, bool(raw.get("direct")), lang=raw.get("lang", "en"))
    if task == "drafts":
        label = {"flag": "pressure"}.get(raw["label"], raw["label"])
        if label not in ("ok", "pressure"):
            raise ValueError(f"label {raw['label']!r} is not ok or pressure")
        kinds = raw.get("kinds")
        if kinds is not None:
            if any(k not in DRAFT_KINDS for k in kinds) or (label == "ok") != (not kinds):
                raise ValueError(f"kinds {kinds!r} do not fit label {label!r}")
            kinds = tuple(kinds)
        return Example(text, label, kinds=kinds)
    if raw["intent"] not in INTENTS:
        raise ValueError(f"unknown intent {raw['intent']!r}")
    return Example(text, raw["intent"])


def read_all(files: list[Path], task: str) -> list[Example]:
    """Every example of several files, in order."""
    return [example for path in files for example in read(path, task)]


def digest(files: list[Path]) -> str:
    """A digest of the training files' names and contents (the model records it)."""
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        hasher.update(path.read_bytes() + b"\0")
    return hasher.hexdigest()


def training_digest() -> str:
    """The digest of every task's training files together, and of the risk words the
    training reads from crisis.yaml (`model_alarm_needs`: they choose a threshold)."""
    files = digest([path for task in TASKS for path in train_files(task)])
    words = json.dumps(read_mapping(CRISIS_RULES, ValueError).get("model_alarm_needs"))
    return hashlib.sha256(f"{files}\0{words}".encode()).hexdigest()
