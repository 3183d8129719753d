"""Turning model answers into comparable labels, and the per-example loss.

Follows the paper's post-processing so accuracies are comparable with its tables: lower-case,
`option x` -> `x`, strip punctuation and digits, keep the first word. Maths tasks use
`number_presence`: correct when the target number appears in the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

_OPTION = re.compile(r"^\s*option\s+(\S+)")
_PUNCT_DIGITS = re.compile(r"[^\w\s]|\d|_")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")

LossName = Literal["exact_match", "number_presence"]


def normalize_answer(text: str) -> str:
    text = text.strip().lower()
    option = _OPTION.match(text)
    if option:
        text = option.group(1)
    words = _PUNCT_DIGITS.sub(" ", text).split()
    return words[0] if words else ""


def _numbers(text: str) -> set[str]:
    return {number.replace(",", "") for number in _NUMBER.findall(text)}


def example_loss(prediction: str | None, target: str, loss: LossName = "exact_match") -> float:
    """0.0 when the prediction is right, 1.0 when wrong (or missing)."""
    if prediction is None:
        return 1.0
    if loss == "number_presence":
        wanted = _numbers(target)
        return 0.0 if wanted and wanted <= _numbers(prediction) else 1.0
    return 0.0 if normalize_answer(prediction) == normalize_answer(target) else 1.0


def losses(predictions: Sequence[str | None], targets: Sequence[str], loss: LossName = "exact_match") -> list[float]:
    return [example_loss(prediction, target, loss) for prediction, target in zip(predictions, targets, strict=True)]


def accuracy(predictions: Sequence[str | None], targets: Sequence[str], loss: LossName = "exact_match") -> float:
    values = losses(predictions, targets, loss)
    return 1.0 - sum(values) / len(values) if values else 0.0
