"""The exported text models: small int8 weight tables scored in plain Python.

The file (`model.bin`, built by `python -m bot train`) is zlib-compressed: a JSON header
(heads, classes, scales, intercepts, thresholds, the digest of the data it was trained on)
and then, per head, one int8 column of `BUCKETS` weights per class. Scoring a message is a
sum of its features' weights per class; no numpy, scipy or scikit-learn at run time.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.listen.features import BUCKETS

MODEL_PATH = Path(__file__).with_name("model.bin")
MAGIC = b"RCNLISTEN1"


class ModelError(ValueError):
    """The model file is missing, broken, or does not fit this code."""


@dataclass(frozen=True)
class Head:
    """One classifier: its classes, how to read scores, and its weight columns."""

    name: str
    kind: str  # "binary" (one column: the positive class), "ovr" (one-vs-rest) or "multilabel"
    classes: tuple[str, ...]
    scales: tuple[float, ...]
    intercepts: tuple[float, ...]
    columns: tuple[memoryview, ...]

    def raw(self, slots: list[int]) -> list[float]:
        """The linear score of each column for a message's feature slots."""
        norm = 1.0 / math.sqrt(len(slots)) if slots else 0.0
        return [
            b + scale * norm * sum(map(column.__getitem__, slots))
            for column, scale, b in zip(self.columns, self.scales, self.intercepts, strict=True)
        ]

    def probabilities(self, slots: list[int]) -> dict[str, float]:
        """Probabilities by class: a sigmoid per column, normalised to sum 1 for "ovr"."""
        probs = [_sigmoid(r) for r in self.raw(slots)]
        if self.kind == "ovr":
            total = sum(probs) or 1.0
            probs = [p / total for p in probs]
        return dict(zip(self.classes, probs, strict=True))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


@dataclass(frozen=True)
class TextModel:
    """All heads, the thresholds chosen at training, and what they were trained on."""

    heads: dict[str, Head]
    thresholds: dict[str, float]
    data_digest: str
    info: dict[str, Any]

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> TextModel:
        """Read and check a model file; ModelError says in plain words what is wrong."""
        try:
            blob = zlib.decompress(path.read_bytes())
        except FileNotFoundError as error:
            raise ModelError(f"{path.name}: missing; run: python -m bot train") from error
        except (OSError, zlib.error) as error:
            problem = f"{path.name}: unreadable ({error}); run: python -m bot train"
            raise ModelError(problem) from error
        return cls.from_bytes(blob, path.name)

    @classmethod
    def from_bytes(cls, blob: bytes, name: str = "model") -> TextModel:
        """Parse an uncompressed model blob."""
        if not blob.startswith(MAGIC):
            raise ModelError(f"{name}: not a Reconnect text model")
        (size,) = struct.unpack_from("<I", blob, len(MAGIC))
        start = len(MAGIC) + 4
        try:
            header = json.loads(blob[start : start + size])
        except ValueError as error:
            raise ModelError(f"{name}: its header is broken") from error
        if header.get("buckets") != BUCKETS:
            raise ModelError(f"{name}: built for another feature size; run: python -m bot train")
        weights = memoryview(array("b", blob[start + size :]))
        heads, offset = {}, 0
        for spec in header["heads"]:
            columns = []
            for _ in range(spec["columns"]):
                columns.append(weights[offset : offset + BUCKETS])
                offset += BUCKETS
            heads[spec["name"]] = Head(
                spec["name"],
                spec["kind"],
                tuple(spec["classes"]),
                tuple(spec["scales"]),
                tuple(spec["intercepts"]),
                tuple(columns),
            )
        if offset != len(weights):
            problem = f"{name}: the weights do not match the header; run: python -m bot train"
            raise ModelError(problem)
        return cls(heads, dict(header["thresholds"]), header["data_digest"], header.get("info", {}))


def to_bytes(
    heads: list[dict[str, Any]],
    columns: list[bytes],
    thresholds: dict[str, float],
    data_digest: str,
    info: dict[str, Any],
) -> bytes:
    """Build a compressed model file from heads' specs and their int8 columns."""
    header = {
        "buckets": BUCKETS,
        "heads": heads,
        "thresholds": thresholds,
        "data_digest": data_digest,
        "info": info,
    }
    raw = json.dumps(header, sort_keys=True).encode()
    body = MAGIC + struct.pack("<I", len(raw)) + raw + b"".join(columns)
    return zlib.compress(body, 9)
