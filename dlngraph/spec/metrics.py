"""What `training.loss` may name: a built-in loss, or a Python metric `package.module:function`.

Importing the metric lives here, below every layer that uses it, so that `dlngraph validate`
reports a metric that cannot be imported at the spec's line, before a run starts. A script's
own function is reachable as `__main__:function`. A metric is called `metric(prediction,
example)` (see `Metric`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

BUILTIN_LOSSES = ("exact_match", "number_presence")

Metric = Callable[[str, Any], float]
"""(prediction, example) -> score in [0, 1], 1 for a right answer. `prediction` is what
`training.extract` picks of the output node's answer; `example` the `dlngraph.data.Example`
it is scored against (its `input`, `target` and `id`; typed loosely here, since the spec layer
sits below the data layer). A metric scores the task's answer only: a hidden node's target
(its best posterior sample h*) is never given to it."""


class MetricError(ValueError):
    """A metric that cannot be used; the message names it."""


def is_builtin(loss: str) -> bool:
    return loss in BUILTIN_LOSSES


def import_metric(loss: str) -> Metric:
    """The function `loss` names (`package.module:function`); a `MetricError` says why not."""
    module_name, colon, function_name = loss.partition(":")
    if not colon or not module_name or not function_name:
        raise MetricError(f"unknown loss '{loss}': expected {' or '.join(BUILTIN_LOSSES)},"
                          " or a Python metric written package.module:function")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # any failure of the user's module is theirs to see
        raise MetricError(f"metric '{loss}': cannot import {module_name}: {type(error).__name__}: {error}") from error
    function = getattr(module, function_name, None)
    if function is None:
        raise MetricError(f"metric '{loss}': {module_name} has no attribute '{function_name}'")
    if not callable(function):
        raise MetricError(f"metric '{loss}': {module_name}.{function_name} is not callable")
    return function
