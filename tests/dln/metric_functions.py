"""Metrics named by `training.loss: tests.dln.metric_functions:NAME` in the metric tests.

Each is called `(prediction, example)`: the extracted answer and the `Example` it is scored on.
"""

from __future__ import annotations

from dlngraph.data import Example


def within_one(prediction: str, example: Example) -> float:
    """Full credit for the exact number, half for one off, none otherwise."""
    try:
        gap = abs(int(prediction) - int(example.target))
    except ValueError:
        return 0.0
    return {0: 1.0, 1: 0.5}.get(gap, 0.0)


def follows_the_hint(prediction: str, example: Example) -> float:
    """Right when the answer is the word after `hint:` in the example's input: a metric that
    reads the input, which the target does not hold (the tests' targets contradict the hint)."""
    hint = example.input.rpartition("hint:")[2].strip()
    return 1.0 if prediction.strip().casefold() == hint.casefold() else 0.0


def explodes(prediction: str, example: Example) -> float:
    raise RuntimeError("no luck")


def out_of_range(prediction: str, example: Example) -> float:
    return 2.0


NOT_CALLABLE = 3


def first_example_only(prediction: str, example: Example) -> float:
    """Right on `train:1` alone, whatever the answer: a metric that reads the example's id."""
    return 1.0 if example.id == "train:1" else 0.0
