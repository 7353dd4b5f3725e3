"""Command-line draft check and its evaluation on the labelled set (for coaches and testing)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.policy.drafts import (
    DEFAULT_RULES_PATH,
    DraftResult,
    DraftRules,
    DraftRulesError,
    check_draft,
    load_rules,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LABELLED_PATH = REPO_ROOT / "tests" / "data" / "drafts_labelled.jsonl"
MIN_SCORE = 0.9
CHECK_USAGE = "usage: check-draft [--rules FILE] [--jsonl FILE]   (no --jsonl: one draft on stdin)"
EVAL_USAGE = "usage: eval-drafts [--rules FILE] [--data FILE] [--json]"


class UsageError(ValueError):
    """The command line could not be understood."""


def _parse(argv: list[str], valued: set[str], flags: set[str]) -> dict[str, Any]:
    """Parse `--name value` options and bare `--flag`s; anything else is a usage error."""
    options: dict[str, Any] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in flags:
            options[arg] = True
        elif arg in valued and args:
            options[arg] = args.pop(0)
        else:
            raise UsageError(f"unexpected argument: {arg}")
    return options


def _write_json(stdout: TextIO, data: dict[str, Any]) -> None:
    """Print one JSON object on its own line."""
    stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _draft_from_line(line: str) -> tuple[str, int]:
    """Read {"text": ..., "recent_unanswered"?: n} from a JSONL line."""
    data = json.loads(line)
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise ValueError('each line must be an object with a "text" string')
    recent = data.get("recent_unanswered", 0)
    if not isinstance(recent, int) or recent < 0:
        raise ValueError('"recent_unanswered" must be a whole number, 0 or more')
    return data["text"], recent


Checker = Callable[[str, int], DraftResult]


def _check_jsonl(path: Path, check: Checker, stdout: TextIO) -> int:
    """Check one draft per line; a bad line gets an error object and exit code 1."""
    status = 0
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                text, recent = _draft_from_line(line)
            except ValueError as error:  # json.JSONDecodeError is a ValueError
                _write_json(stdout, {"error": str(error), "line": number})
                status = 1
                continue
            _write_json(stdout, check(text, recent).as_json())
    return status


def run_check_draft(
    argv: list[str], stdin: TextIO, stdout: TextIO, checker: Checker | None = None
) -> int:
    """`check-draft`: one draft from stdin, or `--jsonl FILE`; prints JSON results.

    `checker` is the bot's own check (rules and text model); `--rules FILE`, or no checker,
    checks with the phrase rules alone.
    """
    try:
        options = _parse(argv, {"--jsonl", "--rules"}, set())
        rules = load_rules(options.get("--rules", DEFAULT_RULES_PATH))
    except UsageError as error:
        _write_json(stdout, {"error": f"{error}. {CHECK_USAGE}"})
        return 2
    except DraftRulesError as error:
        _write_json(stdout, {"error": str(error)})
        return 2
    if checker is None or "--rules" in options:

        def checker(text: str, recent: int) -> DraftResult:
            return check_draft(text, rules, recent_unanswered=recent)

    if "--jsonl" in options:
        try:
            return _check_jsonl(Path(options["--jsonl"]), checker, stdout)
        except OSError as error:
            _write_json(stdout, {"error": f"cannot read {options['--jsonl']}: {error}"})
            return 2
    text = stdin.read().strip()
    if not text:
        _write_json(stdout, {"error": "no draft on standard input"})
        return 1
    _write_json(stdout, checker(text, 0).as_json())
    return 0


@dataclass
class Evaluation:
    """Confusion counts, the misclassified examples and the speed of one evaluation run."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    misclassified: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Number of examples checked."""
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        """Share of flagged drafts that should have been flagged."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """Share of drafts that should be flagged and were."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Machine-readable summary."""
        per_draft_ms = 1000 * self.seconds / self.total if self.total else 0.0
        return {
            "examples": self.total,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "ms_per_draft": round(per_draft_ms, 3),
            "misclassified": self.misclassified,
        }


def read_labelled(path: Path) -> list[dict[str, Any]]:
    """Read the labelled set, refusing lines without text or a known label."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row.get("text"), str) or row.get("label") not in ("ok", "flag"):
            raise ValueError(f"{path.name} line {number}: needs text and label ok|flag")
        rows.append(row)
    return rows


def evaluate(rows: list[dict[str, Any]], rules: DraftRules) -> Evaluation:
    """Run the checker on labelled drafts; "flag" is the positive class."""
    result = Evaluation()
    started = time.perf_counter()
    for row in rows:
        checked = check_draft(
            row["text"], rules, recent_unanswered=int(row.get("recent_unanswered", 0))
        )
        predicted, wanted = checked.verdict != "ok", row["label"] == "flag"
        if predicted and wanted:
            result.tp += 1
        elif predicted:
            result.fp += 1
        elif wanted:
            result.fn += 1
        else:
            result.tn += 1
        if predicted != wanted:
            result.misclassified.append(
                {
                    "text": row["text"],
                    "label": row["label"],
                    "verdict": checked.verdict,
                    "rules": [flag.rule for flag in checked.flags],
                    "note": row.get("note", ""),
                }
            )
    result.seconds = time.perf_counter() - started
    return result


def _report(evaluation: Evaluation, stdout: TextIO) -> None:
    """Print the evaluation for people."""
    summary = evaluation.as_dict()
    stdout.write(
        f"examples: {summary['examples']}\n"
        f"precision: {evaluation.precision:.3f}   recall: {evaluation.recall:.3f}"
        f"   (positive = label flag; predicted positive = verdict not ok)\n"
        f"tp {evaluation.tp}  fp {evaluation.fp}  fn {evaluation.fn}  tn {evaluation.tn}\n"
        f"speed: {summary['ms_per_draft']} ms per draft\n"
    )
    if evaluation.misclassified:
        stdout.write("misclassified:\n")
    for row in evaluation.misclassified:
        stdout.write(f"  [{row['label']} -> {row['verdict']} {row['rules']}] {row['text']}\n")


def run_eval_drafts(argv: list[str], stdout: TextIO) -> int:
    """`eval-drafts`: precision and recall on the labelled set; exit 1 below 0.9."""
    try:
        options = _parse(argv, {"--rules", "--data"}, {"--json"})
        rules = load_rules(options.get("--rules", DEFAULT_RULES_PATH))
        rows = read_labelled(Path(options.get("--data", DEFAULT_LABELLED_PATH)))
    except UsageError as error:
        stdout.write(f"{error}. {EVAL_USAGE}\n")
        return 2
    except (DraftRulesError, OSError, ValueError) as error:
        stdout.write(f"error: {error}\n")
        return 2
    evaluation = evaluate(rows, rules)
    if options.get("--json"):
        _write_json(stdout, evaluation.as_dict())
    else:
        _report(evaluation, stdout)
    return 0 if min(evaluation.precision, evaluation.recall) >= MIN_SCORE else 1
