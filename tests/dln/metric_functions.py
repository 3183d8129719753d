"""Metrics named by `training.loss: tests.dln.metric_functions:NAME` in the metric tests."""

from __future__ import annotations


def within_one(prediction: str, target: str) -> float:
    """Full credit for the exact number, half for one off, none otherwise."""
    try:
        gap = abs(int(prediction) - int(target))
    except ValueError:
        return 0.0
    return {0: 1.0, 1: 0.5}.get(gap, 0.0)


def explodes(prediction: str, target: str) -> float:
    raise RuntimeError("no luck")


def out_of_range(prediction: str, target: str) -> float:
    return 2.0


NOT_CALLABLE = 3
