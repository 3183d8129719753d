"""Turning model answers into comparable labels, and the per-example loss.

Follows the paper's post-processing so accuracies are comparable with its tables: lower-case,
`option x` -> `x`, strip punctuation and digits, keep the first word. Maths tasks use
`number_presence`: correct when the target number appears in the answer. `training.loss` may
also name any Python metric (`dlngraph/spec/metrics.py`), and `training.extract` picks what of a
free-text answer is compared (the last number, or a regex's group); `loss_of` builds the
per-example loss of a training section once, and every caller (training steps, scoring by
accuracy, evaluation, baselines) uses it. A loss reads the whole example it scores: the
built-in ones only its target, a Python metric whatever it needs (its input, its id).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from typing import Literal

from dlngraph.data.types import LabeledExample
from dlngraph.spec.metrics import MetricError, import_metric, is_builtin
from dlngraph.spec.training import ExtractRegex, TrainingSpec

_OPTION = re.compile(r"^\s*option\s+(\S+)")
_PUNCT_DIGITS = re.compile(r"[^\w\s]|\d|_")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")

LossName = Literal["exact_match", "number_presence"]
Extract = Literal["last_number"] | ExtractRegex | None
Loss = Callable[[str | None, LabeledExample], float]
"""(prediction, example) -> 0.0 when right, 1.0 when wrong, in between for partial credit."""


def normalize_answer(text: str) -> str:
    text = text.strip().lower()
    option = _OPTION.match(text)
    if option:
        text = option.group(1)
    words = _PUNCT_DIGITS.sub(" ", text).split()
    return words[0] if words else ""


def _numbers(text: str) -> set[str]:
    return {number.replace(",", "") for number in _NUMBER.findall(text)}


def example_loss(prediction: str | None, example: LabeledExample, loss: str | Loss = "exact_match") -> float:
    """0.0 when the prediction is right for `example`, 1.0 when wrong (or missing)."""
    if callable(loss):
        return loss(prediction, example)
    if prediction is None:
        return 1.0
    if not is_builtin(loss):
        return named_loss(loss, None)(prediction, example)
    return _builtin_loss(prediction, example.target, loss)


def _builtin_loss(prediction: str, target: str, loss: str) -> float:
    """A built-in loss: it compares the prediction with the target text alone."""
    if loss == "number_presence":
        wanted = _numbers(target)
        return 0.0 if wanted and wanted <= _numbers(prediction) else 1.0
    return 0.0 if normalize_answer(prediction) == normalize_answer(target) else 1.0


def losses(
    predictions: Sequence[str | None], examples: Sequence[LabeledExample], loss: str | Loss = "exact_match"
) -> list[float]:
    return [example_loss(prediction, example, loss) for prediction, example in zip(predictions, examples, strict=True)]


def accuracy(
    predictions: Sequence[str | None], examples: Sequence[LabeledExample], loss: str | Loss = "exact_match"
) -> float:
    return accuracy_of(losses(predictions, examples, loss))


def accuracy_of(values: Sequence[float]) -> float:
    """The accuracy of per-example losses: 1 minus their mean (0 for none)."""
    return 1.0 - sum(values) / len(values) if values else 0.0


def loss_of(training: TrainingSpec) -> Loss:
    """The per-example loss `training` asks for: its extraction, then its loss or metric."""
    return named_loss(training.loss, training.extract)


@functools.lru_cache(maxsize=64)
def named_loss(loss: str, extract: Extract) -> Loss:
    """`loss` (a built-in name or `package.module:function`) applied to what `extract` picks."""
    pick = extractor(extract)
    if loss == "exact_match" and extract is not None:
        return lambda prediction, example: _extracted_match(prediction, example.target, pick)
    if is_builtin(loss):
        return lambda prediction, example: example_loss(None if prediction is None else pick(prediction), example, loss)
    metric = import_metric(loss)

    def metric_loss(prediction: str | None, example: LabeledExample) -> float:
        if prediction is None:
            return 1.0
        try:
            score = metric(pick(prediction), example)
        except Exception as error:
            raise MetricError(f"metric '{loss}' raised {type(error).__name__}: {error}"
                              f" (prediction {prediction[:80]!r}, {_described(example)})") from error
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0.0 <= score <= 1.0 or math.isnan(score):
            raise MetricError(f"metric '{loss}' returned {score!r} ({_described(example)});"
                              " expected a number in [0, 1]")
        return 1.0 - float(score)

    return metric_loss


def _described(example: LabeledExample) -> str:
    """The example a metric failed on, for its error: its id when it has one, and its target."""
    name = getattr(example, "id", None)
    return (f"example {name}, " if name is not None else "") + f"target {example.target[:80]!r}"


def _extracted_match(prediction: str | None, target: str, pick: Callable[[str], str]) -> float:
    """Exact match of an extracted answer: whole, case-folded (the paper's normalisation keeps
    the first word and drops digits, which suits class words, not an extracted number)."""
    if prediction is None:
        return 1.0
    return 0.0 if pick(prediction).strip().casefold() == target.strip().casefold() else 1.0


def extractor(extract: Extract) -> Callable[[str], str]:
    """What of an answer is compared: all of it, its last number, or a regex's first group."""
    if extract is None:
        return lambda text: text
    if extract == "last_number":
        return lambda text: (_NUMBER.findall(text) or [""])[-1].replace(",", "")
    pattern = re.compile(extract.regex)

    def by_regex(text: str) -> str:
        found = pattern.search(text)
        if found is None:
            return ""
        return found.group(1) if pattern.groups else found.group(0)

    return by_regex
