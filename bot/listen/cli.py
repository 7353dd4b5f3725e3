"""`python -m bot train | eval-crisis | eval-drafts | eval-intents | check-text`."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from bot.listen import Listener
from bot.listen import data as labelled

Metric = tuple[int, int]  # hits, total


def wilson(hits: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion."""
    if total == 0:
        return (0.0, 0.0)
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (max(0.0, centre - half), min(1.0, centre + half))


def metric(hits: int, total: int) -> dict[str, Any]:
    """A proportion with its count and interval."""
    low, high = wilson(hits, total)
    value = hits / total if total else None
    return {"value": value, "hits": hits, "of": total, "ci95": [round(low, 3), round(high, 3)]}


def crisis_report(listener: Listener, examples: list[labelled.Example]) -> dict[str, Any]:
    """Recall by tier and on direct statements; alarms and checks on negatives."""
    counts: dict[str, list[int]] = {}

    def count(name: str, hit: bool) -> None:
        entry = counts.setdefault(name, [0, 0])
        entry[0] += int(hit)
        entry[1] += 1

    for example in examples:
        signal = listener.crisis(example.text)
        level = signal.level if signal else None
        if example.label == "crisis":
            count("recall_either_tier", level is not None)
            count("recall_alarm", level == "alarm")
            if example.direct:
                count("recall_direct", level is not None)
                count("recall_direct_alarm", level == "alarm")
            if example.lang != "en":
                count("recall_other_languages", level is not None)
        else:
            group = "hard" if str(example.category).startswith("hard") else "ordinary"
            count(f"{group}_alarm_rate", level == "alarm")
            count(f"{group}_check_rate", level == "check")
    return {name: metric(*values) for name, values in sorted(counts.items())}


def drafts_report(listener: Listener, examples: list[labelled.Example]) -> dict[str, Any]:
    """Precision and recall of 'not ok' (soften or wait) against the label 'pressure'."""
    tp = fp = fn = tn = 0
    for example in examples:
        flagged = listener.draft(example.text).verdict != "ok"
        pressure = example.label == "pressure"
        tp += flagged and pressure
        fp += flagged and not pressure
        fn += pressure and not flagged
        tn += not flagged and not pressure
    return {
        "precision": metric(tp, tp + fp),
        "recall": metric(tp, tp + fn),
        "false_alarm_rate": metric(fp, fp + tn),
    }


def intents_report(listener: Listener, examples: list[labelled.Example]) -> dict[str, Any]:
    """Macro-F1 over intents (off_topic = 'not understood'), accuracy, off-topic caught."""
    said = [listener.intent(e.text)[0] or "off_topic" for e in examples]
    truth = [e.label for e in examples]
    f1s = []
    for intent in labelled.INTENTS:
        tp = sum(s == t == intent for s, t in zip(said, truth, strict=True))
        predicted, actual = said.count(intent), truth.count(intent)
        if actual == 0:
            continue
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    correct = sum(s == t for s, t in zip(said, truth, strict=True))
    off = [s for s, t in zip(said, truth, strict=True) if t == "off_topic"]
    return {
        "macro_f1": {"value": round(sum(f1s) / len(f1s), 3) if f1s else None},
        "accuracy": metric(correct, len(truth)),
        "off_topic_not_understood": metric(off.count("off_topic"), len(off)),
    }


REPORTS: dict[str, Callable[[Listener, list[labelled.Example]], dict[str, Any]]] = {
    "crisis": crisis_report,
    "drafts": drafts_report,
    "intents": intents_report,
}


def _key(text: str) -> str:
    """A message as compared for overlap: lower case, words only."""
    return " ".join(re.findall(r"\w+", text.lower()))


def evaluate(task: str, listener: Listener, files: list[Path]) -> dict[str, Any]:
    """The report of every file, named by path, with whether it was trained on.

    A held-out file is also reported without the messages that appear word for word in the
    training data (short ones such as "not great" are written by more than one writer), so
    no figure rests on messages the model has seen.
    """
    trained = set(labelled.train_files(task))
    seen = {_key(e.text) for e in labelled.read_all(sorted(trained), task)}
    result = {}
    for path in files:
        examples = labelled.read(path, task)
        report = REPORTS[task](listener, examples)
        inside = path.is_relative_to(labelled.ROOT)
        name = path.relative_to(labelled.ROOT).as_posix() if inside else path.name
        result[name] = {"examples": len(examples), "trained_on": path in trained, **report}
        novel = [e for e in examples if _key(e.text) not in seen]
        if path not in trained and len(novel) < len(examples):
            unseen = f"{name}, without the {len(examples) - len(novel)} also in training"
            result[unseen] = {"examples": len(novel), "trained_on": False}
            result[unseen].update(REPORTS[task](listener, novel))
    return result


def _print_table(results: dict[str, Any], stdout: TextIO) -> None:
    for name, report in results.items():
        tuned = "TRAINED ON" if report["trained_on"] else "held-out, never tuned on"
        print(f"{name}  ({report['examples']} messages; {tuned})", file=stdout)
        for key, value in report.items():
            if not isinstance(value, dict):
                continue
            if value.get("of") is None:
                print(f"  {key:28} {value['value']}", file=stdout)
                continue
            shown = "-" if value["value"] is None else f"{value['value']:.3f}"
            low, high = value["ci95"]
            print(
                f"  {key:28} {shown}  ({value['hits']}/{value['of']}, 95% CI {low:.2f}-{high:.2f})",
                file=stdout,
            )


def _cell(value: dict[str, Any]) -> str:
    if value.get("value") is None:
        return "-"
    if "ci95" not in value:
        return f"{value['value']:.3f}"
    low, high = value["ci95"]
    return f"{value['value']:.2f} ({low:.2f}-{high:.2f})"


MARKDOWN_COLUMNS = {
    "crisis": [
        ("recall, either tier", "recall_either_tier"),
        ("recall, direct", "recall_direct"),
        ("full reply, hard negatives", "hard_alarm_rate"),
        ("question, hard negatives", "hard_check_rate"),
        ("question, ordinary", "ordinary_check_rate"),
        ("full reply, ordinary", "ordinary_alarm_rate"),
    ],
    "drafts": [
        ("precision", "precision"),
        ("recall", "recall"),
        ("kind drafts flagged", "false_alarm_rate"),
    ],
    "intents": [
        ("macro-F1", "macro_f1"),
        ("accuracy", "accuracy"),
        ("off-topic not understood", "off_topic_not_understood"),
    ],
}


def markdown(task: str, results: dict[str, Any]) -> str:
    """The figures as a Markdown table (95% intervals in brackets)."""
    columns = MARKDOWN_COLUMNS[task]
    lines = [
        "| set | messages | tuned on? | " + " | ".join(name for name, _ in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    for name, report in results.items():
        tuned = "yes (training data)" if report["trained_on"] else "no (blind)"
        cells = " | ".join(_cell(report[key]) for _, key in columns)
        lines.append(f"| `{name.rsplit('/', 1)[-1]}` | {report['examples']} | {tuned} | {cells} |")
    return "\n".join(lines)


def run_eval(
    task: str,
    argv: list[str],
    listener_factory: Callable[[], Listener],
    stdout: TextIO = sys.stdout,
) -> int:
    """Print the report for a task's held-out sets (or --data FILE; --train adds training)."""
    parser = argparse.ArgumentParser(prog=f"python -m bot eval-{task}")
    parser.add_argument("--data", action="append", type=Path, help="a labelled JSONL file")
    parser.add_argument("--train", action="store_true", help="also the training files")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    files = args.data or labelled.heldout_files(task)
    if args.train:
        files = labelled.train_files(task) + files
    results = evaluate(task, listener_factory(), files)
    if args.json:
        print(json.dumps(results, indent=2), file=stdout)
    elif args.markdown:
        print(markdown(task, results), file=stdout)
    else:
        _print_table(results, stdout)
    return 0


def run_check_text(argv: list[str], listener: Listener, stdin: TextIO, stdout: TextIO) -> int:
    """Print what the bot understood of one message (stdin) or each line of --jsonl FILE."""
    parser = argparse.ArgumentParser(prog="python -m bot check-text")
    parser.add_argument("--jsonl", type=Path, help='a file of {"text": ...} lines')
    parser.add_argument("text", nargs="*", help="the message (else read from stdin)")
    args = parser.parse_args(argv)
    if args.jsonl:
        texts = [
            json.loads(line)["text"] for line in args.jsonl.read_text().splitlines() if line.strip()
        ]
    else:
        texts = [" ".join(args.text) if args.text else stdin.read()]
    for text in texts:
        print(json.dumps(listener.understand(text), ensure_ascii=False), file=stdout)
    return 0
