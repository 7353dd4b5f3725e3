"""`python -m bot train`: build the text models from the labelled sets (development only).

Uses scikit-learn (a development dependency, never imported by the running bot): logistic
regression over the hashed n-gram features of `bot.listen.features`, with fixed seeds, so
the same data always gives the same file. Thresholds are chosen from 5-fold out-of-fold
predictions on the training data only; the held-out sets play no part.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from bot.listen import data
from bot.listen.features import BUCKETS, hashed
from bot.listen.model import MODEL_PATH, to_bytes

SEED = 20261126
C_VALUE = 64.0
FOLDS = 5
# What the thresholds are tuned to, on out-of-fold training predictions (never held-out).
ALARM_MAX_HARD = 0.02  # the model alone: the full crisis reply on at most 2% of hard negatives
CHECK_MAX_HARD = 0.12  # the gentle question on at most 12% of them
CHECK_MAX_ORDINARY = 0.02  # and on at most 2% of ordinary messages
# A message without one of crisis.yaml's risk words (model_alarm_needs) gets the model's full
# reply only above a higher threshold: at most 0.2% of such negatives reach it.
ALARM_MAX_BARE = 0.002
# A rules alarm the model scores below this is asked about gently instead ("are you safe?"):
# the rules' phrases also match talk about the past, the news or a joke.
RULE_VETO = 0.1
# A rules question on a message about another time or person (crisis.yaml's not_now: "I tried
# when I was 19", "a film about a suicide") that the model scores below this gets nothing. On
# the 24 blind sets 194-217, each scored by the model of the round before it was read, this
# bucket held 68 crisis messages, the lowest at 0.027, and 121 negatives below 0.01.
PAST_VETO = 0.01
DRAFT_MIN_PRECISION = 0.93
KIND_THRESHOLD = 0.35


def matrix(texts: Sequence[str]) -> csr_matrix:
    """Binary hashed features, each row scaled to unit length (as the scorer does)."""
    indptr, indices, values = [0], [], []
    for text in texts:
        slots = sorted(hashed(text))
        indices.extend(slots)
        values.extend([1.0 / np.sqrt(len(slots))] * len(slots) if slots else [])
        indptr.append(len(indices))
    return csr_matrix((values, indices, indptr), shape=(len(texts), BUCKETS), dtype=np.float64)


def fit(x: csr_matrix, y: np.ndarray) -> LogisticRegression:
    """One logistic regression (liblinear: one-vs-rest for several classes), fixed seed."""
    model = LogisticRegression(
        C=C_VALUE, class_weight="balanced", solver="liblinear", max_iter=1000, random_state=SEED
    )
    return model.fit(x, y)


def fit_ovr(x: csr_matrix, y: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One binary model per class (one-vs-rest): classes, weights and intercepts."""
    classes = sorted(set(y.tolist()))
    models = [fit(x, (y == c).astype(int)) for c in classes]
    coef = np.array([m.coef_[0] for m in models])
    return classes, coef, np.array([m.intercept_[0] for m in models])


def ovr_proba(x: csr_matrix, coef: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Probabilities as the scorer computes them: sigmoids normalised to sum 1."""
    sig = 1.0 / (1.0 + np.exp(-(x @ coef.T + bias)))
    probabilities: np.ndarray = sig / sig.sum(axis=1, keepdims=True)  # x is scipy's: untyped
    return probabilities


def out_of_fold(x: csr_matrix, y: np.ndarray) -> np.ndarray:
    """Out-of-fold probabilities (binary: of class 1; several classes: sorted, one-vs-rest)."""
    classes = np.unique(y)
    binary = len(classes) == 2
    result = np.zeros(len(y)) if binary else np.zeros((len(y), len(classes)))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    for train, test in folds.split(np.zeros(len(y)), y):
        if binary:
            result[test] = fit(x[train], y[train]).predict_proba(x[test])[:, 1]
        else:
            _, coef, bias = fit_ovr(x[train], y[train])
            result[test] = ovr_proba(x[test], coef, bias)
    return result


def quantise(weights: np.ndarray) -> tuple[bytes, float]:
    """int8 weights and their scale."""
    top = float(np.abs(weights).max()) or 1.0
    scale = top / 127.0
    return np.clip(np.round(weights / scale), -127, 127).astype(np.int8).tobytes(), scale


class Builder:
    """Collects heads and their int8 columns."""

    def __init__(self) -> None:
        self.heads: list[dict[str, Any]] = []
        self.columns: list[bytes] = []

    def add(
        self, name: str, kind: str, classes: list[str], coef: np.ndarray, bias: np.ndarray
    ) -> None:
        scales, intercepts = [], []
        for row, b in zip(coef, bias, strict=True):
            column, scale = quantise(row)
            self.columns.append(column)
            scales.append(scale)
            intercepts.append(float(b))
        spec = {"name": name, "kind": kind, "classes": classes, "columns": len(coef)}
        self.heads.append(spec | {"scales": scales, "intercepts": intercepts})


def lowest_threshold(scores: np.ndarray, limits: list[tuple[np.ndarray, float]]) -> float:
    """The lowest threshold at which every group's share of scores at or above it fits."""
    for threshold in np.round(np.arange(0.05, 0.96, 0.01), 2):
        if all((group >= threshold).mean() <= limit for group, limit in limits if len(group)):
            return float(threshold)
    return 0.96


def check_thresholds(
    scores: np.ndarray,
    positive: np.ndarray,
    risky: np.ndarray,
    limits: list[tuple[np.ndarray, float]],
) -> tuple[float, float, float]:
    """The gentle question's thresholds without and with a word of risk, and the recall.

    Searched together: the pair that asks the most crisis messages while every group of
    negatives stays within its limit (ties: the higher thresholds). A direct statement nearly
    always has a word of risk, so it may be asked about at a lower score than a message without.
    """
    grid = np.round(np.arange(0.95, 0.04, -0.01), 2)  # from the top: ties keep the higher
    best: tuple[float, float, float] = (-1.0, 0.96, 0.96)
    for bare_at in grid:
        for risky_at in grid[grid <= bare_at]:
            asked = scores >= np.where(risky, risky_at, bare_at)
            if all(asked[group].mean() <= limit for group, limit in limits if group.any()):
                recall = float(asked[positive].mean())
                if recall > best[0]:
                    best = (recall, float(bare_at), float(risky_at))
    return best[1], best[2], best[0]


def examples_of(task: str, fraction: float) -> list[data.Example]:
    """The task's training examples, or a fixed random share of each label (learning curve)."""
    examples = data.read_all(data.train_files(task), task)
    if fraction >= 1.0:
        return examples
    rng = np.random.default_rng(SEED)
    keep = []
    for label in sorted({e.label for e in examples}):
        group = [e for e in examples if e.label == label]
        chosen = rng.choice(len(group), size=max(2, round(len(group) * fraction)), replace=False)
        keep += [group[i] for i in sorted(chosen)]
    return keep


def ordinary_from_other_tasks(fraction: float) -> list[data.Example]:
    """Messages of the other tasks as ordinary crisis negatives (none of them is a crisis).

    Intents were written with no risk to life by their spec; drafts are messages to a spouse.
    Pressuring drafts marked as a threat, or with no kinds named, are left out: a few hint at
    self-harm, and those must not teach the crisis model that such words are safe.
    """
    extra = examples_of("intents", fraction) + examples_of("drafts", fraction)
    return [
        data.Example(e.text, "none", "ordinary_other")
        for e in extra
        if e.label != "pressure" or (e.kinds and "threat" not in e.kinds)
    ]


def train_crisis(
    builder: Builder, thresholds: dict[str, float], info: dict[str, Any], fraction: float = 1.0
) -> None:
    examples = examples_of("crisis", fraction) + ordinary_from_other_tasks(fraction)
    x = matrix([e.text for e in examples])
    y = np.array([int(e.label == "crisis") for e in examples])
    model = fit(x, y)
    builder.add("crisis", "binary", ["crisis"], model.coef_, model.intercept_)
    oof = out_of_fold(x, y)
    hard = np.array([e.category.startswith("hard") for e in examples if e.category])
    ordinary = np.array([str(e.category).startswith("ordinary") for e in examples])
    thresholds["crisis_rule_veto"] = RULE_VETO
    thresholds["crisis_past_veto"] = PAST_VETO
    thresholds["crisis_alarm"] = lowest_threshold(oof, [(oof[hard], ALARM_MAX_HARD)])
    from bot.policy.safety import load_crisis

    rules = load_crisis()
    bare = np.array([not rules.model_may_alarm(e.text) for e in examples])
    thresholds["crisis_check"], thresholds["crisis_check_risky"], recall = check_thresholds(
        oof, y == 1, ~bare, [(hard, CHECK_MAX_HARD), (ordinary, CHECK_MAX_ORDINARY)]
    )
    bare_alarm = lowest_threshold(oof, [(oof[(y == 0) & bare], ALARM_MAX_BARE)])
    thresholds["crisis_alarm_bare"] = max(thresholds["crisis_alarm"], bare_alarm)
    positive = y == 1
    info["crisis_oof_recall_check"] = recall
    kinds = np.array([data.REPLY_KIND[str(e.category)] for e in examples if e.label == "crisis"])
    builder.add("crisis_kind", "ovr", *fit_ovr(x[positive], kinds))
    info["crisis_examples"] = len(examples)


def train_drafts(
    builder: Builder, thresholds: dict[str, float], info: dict[str, Any], fraction: float = 1.0
) -> None:
    examples = examples_of("drafts", fraction)
    x = matrix([e.text for e in examples])
    y = np.array([int(e.label == "pressure") for e in examples])
    model = fit(x, y)
    builder.add("draft", "binary", ["pressure"], model.coef_, model.intercept_)
    oof = out_of_fold(x, y)
    best = 0.95
    for threshold in np.round(np.arange(0.95, 0.04, -0.01), 2):
        flagged = oof >= threshold
        if flagged.any() and y[flagged].mean() >= DRAFT_MIN_PRECISION:
            best = float(threshold)
    thresholds["draft_pressure"] = best
    thresholds["draft_kind"] = KIND_THRESHOLD
    with_kinds = [i for i, e in enumerate(examples) if e.kinds is not None]
    xk = x[with_kinds]
    coefs, biases = [], []
    for kind in data.DRAFT_KINDS:
        yk = np.array([int(kind in (examples[i].kinds or ())) for i in with_kinds])
        kind_model = fit(xk, yk)
        coefs.append(kind_model.coef_[0])
        biases.append(kind_model.intercept_[0])
    builder.add(
        "draft_kinds", "multilabel", list(data.DRAFT_KINDS), np.array(coefs), np.array(biases)
    )
    info["draft_examples"] = len(examples)


def train_intents(
    builder: Builder, thresholds: dict[str, float], info: dict[str, Any], fraction: float = 1.0
) -> None:
    examples = examples_of("intents", fraction)
    x = matrix([e.text for e in examples])
    y = np.array([e.label for e in examples])
    classes, coef, bias = fit_ovr(x, y)
    builder.add("intent", "ovr", classes, coef, bias)
    oof = out_of_fold(x, y)
    top, best_of = oof.max(axis=1), np.array(classes)[oof.argmax(axis=1)]
    best, best_accuracy = 0.0, -1.0
    for threshold in np.round(np.arange(0.0, 0.8, 0.02), 2):
        said = np.where(top >= threshold, best_of, "off_topic")
        accuracy = float((said == y).mean())
        if accuracy > best_accuracy:
            best, best_accuracy = float(threshold), accuracy
    thresholds["intent_min"] = best
    info["intent_examples"] = len(examples)


def build(fraction: float = 1.0) -> bytes:
    """Train every head (on a share of the data, for the learning curve) and return the file."""
    builder, thresholds, info = Builder(), {}, {}  # type: ignore[var-annotated]
    train_crisis(builder, thresholds, info, fraction)
    train_drafts(builder, thresholds, info, fraction)
    train_intents(builder, thresholds, info, fraction)
    digest = data.training_digest() if fraction >= 1.0 else f"share {fraction}"
    return to_bytes(builder.heads, builder.columns, thresholds, digest, info)


def curve(stdout: TextIO, shares: tuple[float, ...] = (0.25, 0.5, 1.0)) -> dict[str, Any]:
    """Train on 25/50/100% of the data and measure each on the held-out sets (no tuning)."""
    import zlib

    from bot.listen import Listener, load_draft_kinds
    from bot.listen.cli import evaluate
    from bot.listen.model import TextModel
    from bot.policy.drafts import load_rules
    from bot.policy.safety import load_crisis

    # The rules are read once, before the first share: every share is measured with the same
    # rules, even if crisis.yaml is edited while the models train.
    rules = load_crisis(), load_rules(), load_draft_kinds()
    results: dict[str, Any] = {}
    for share in shares:
        model = TextModel.from_bytes(zlib.decompress(build(share)))
        listener = Listener(model, *rules)
        results[str(share)] = {
            task: evaluate(task, listener, data.heldout_files(task)) for task in data.TASKS
        }
        print(f"share {share}: done", file=stdout)
    return results


def main(argv: list[str], stdout: TextIO = sys.stdout) -> int:
    """Train and write the model (`--out FILE`), or print the learning curve (`--curve`)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bot train", description=__doc__)
    parser.add_argument("--out", type=Path, default=MODEL_PATH, help="where to write the model")
    parser.add_argument(
        "--curve", action="store_true", help="print the learning curve (25/50/100%%) instead"
    )
    args = parser.parse_args(argv)  # --help or a mistyped option exits before any training
    if args.curve:
        import json

        print(json.dumps(curve(stdout), indent=1), file=stdout)
        return 0
    out: Path = args.out
    blob = build()
    out.write_bytes(blob)
    print(f"wrote {out} ({len(blob) // 1024} KiB)", file=stdout)
    return 0
