"""Accuracy of a set of prompts on a split: validation, test, and the 0-shot baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from dlngraph.data.types import LabeledExample
from dlngraph.dln.input_views import InputViews
from dlngraph.dln.postprocess import Loss, accuracy_of, losses
from dlngraph.dln.run_format import Demonstrations
from dlngraph.engine import EventBus, run_forward
from dlngraph.engine.node_ops import Models
from dlngraph.graph import CompiledNetwork


class Evaluation(msgspec.Struct, kw_only=True):
    split: str
    accuracy: float
    count: int
    failed: int
    """Examples whose forward pass failed (counted as wrong)."""
    predictions: list[str | None]
    losses: list[float] = msgspec.field(default_factory=list)
    """Each example's loss, in order (accuracy is 1 minus their mean): what training's paired
    dev test compares (`dln/selection.py`)."""
    first_failure: str | None = None
    """What went wrong first, when an example failed: the node, the example and the error."""
    shortened: dict[str, int] = msgspec.field(default_factory=dict)
    """Per node, the examples whose prompt showed fewer demonstrations to fit the context window."""


async def evaluate(
    network: CompiledNetwork,
    models: Models,
    examples: Sequence[LabeledExample],
    *,
    split: str,
    prompts: Mapping[str, str] | None = None,
    demonstrations: Demonstrations | None = None,
    loss: str | Loss = "exact_match",
    input_views: InputViews | None = None,
    events: EventBus | None = None,
) -> Evaluation:
    """`prompts` and `demonstrations` replace the network's own for this evaluation;
    `input_views`: what some nodes read of the input (`dln.input_views`), as in training."""
    result = await run_forward(
        network, models, [example.input for example in examples],
        prompts=prompts, demonstrations=demonstrations, keep_going=True, phase=split,
        input_views=input_views, events=events,
    )
    predictions = result.predictions()
    per_example = losses(predictions, examples, loss)
    return Evaluation(
        split=split,
        accuracy=accuracy_of(per_example),
        count=len(predictions),
        failed=len(result.failed_examples),
        predictions=predictions,
        losses=per_example,
        first_failure=None if (cause := result.first_cause()) is None else cause.describe(),
        shortened=result.shortened(),
    )
