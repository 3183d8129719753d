"""The numbers behind the learning curves, apart from any drawing.

Curves are plotted against *training steps done* (1 after the first iteration), so that the dev
accuracy measured before training, when the run recorded one, sits at 0. Plotting against the
tokens spent instead shows what the progress cost: two runs that reach the same accuracy at
the same iteration may have spent very different amounts to get there.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import NamedTuple

from dlngraph.report.runlog import RunLog
from dlngraph.report.usage import total_tokens

Point = tuple[float, float]


class Series(NamedTuple):
    """One line of a chart."""

    label: str
    x: list[float]
    y: list[float]


def batch_loss(run: RunLog, label: str = "batch loss") -> Series:
    """The mean loss of the training batch at each step (lower is better)."""
    points: list[Point] = [(it.steps_done, it.batch_loss) for it in run.iterations if it.batch_loss is not None]
    return _series(label, points)


def cumulative_tokens(run: RunLog) -> list[float]:
    """Tokens spent by the end of each logged iteration (validation included)."""
    return list(accumulate(total_tokens(it.usage) for it in run.iterations))


def dev_accuracy(run: RunLog, label: str = "dev accuracy") -> Series:
    """Dev accuracy after the steps that were validated, from the start if it was measured."""
    points: list[Point] = [(it.steps_done, it.dev_accuracy) for it in run.iterations if it.dev_accuracy is not None]
    return _series(label, _initial_point(run) + points)


def dev_accuracy_by_tokens(run: RunLog, label: str = "dev accuracy") -> Series:
    """Dev accuracy against the tokens spent to reach it."""
    spent = cumulative_tokens(run)
    points: list[Point] = [
        (tokens, it.dev_accuracy) for tokens, it in zip(spent, run.iterations, strict=True) if it.dev_accuracy is not None
    ]
    return _series(label, _initial_point(run) + points)


def chosen_elbo(run: RunLog) -> list[Series]:
    """Per trained node, the ELBO of the candidate prompt the step kept (higher is better)."""
    lines = []
    for node in run.nodes:
        points: list[Point] = [
            (it.steps_done, update.candidates[update.chosen].elbo)
            for it in run.iterations
            if (update := it.updates.get(node)) is not None and 0 <= update.chosen < len(update.candidates)
        ]
        if points:
            lines.append(_series(node, points))
    return lines


def _initial_point(run: RunLog) -> list[Point]:
    """The dev accuracy before training (at 0 steps, 0 tokens), which only summary.json holds."""
    initial = run.initial_dev_accuracy
    return [(0, initial)] if initial is not None else []


def _series(label: str, points: Sequence[Point]) -> Series:
    return Series(label, [x for x, _ in points], [y for _, y in points])
