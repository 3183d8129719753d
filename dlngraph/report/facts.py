"""The headline numbers of a run: how far it got, how well it did, what it cost.

summary.json has them when the run ended; a run still going (or killed) has none, so each number
is then rebuilt from events.jsonl, which covers the validation of the start and the logged
iterations: the final test is missing from those costs, and there is no test accuracy. A number the run never recorded is None, not 0.
"""

from __future__ import annotations

from typing import NamedTuple

from dlngraph.report.runlog import RunLog
from dlngraph.report.usage import total_tokens


class RunFacts(NamedTuple):
    name: str
    status: str
    """How the run stopped (`completed`, `early_stop`, `budget`), or that it has not."""
    iterations: int
    initial_dev_accuracy: float | None
    best_dev_accuracy: float | None
    test_accuracy: float | None
    calls: float | None
    """Calls made, cache hits included, as summary.json and events.jsonl count them."""
    requests: float | None
    """Requests sent to model servers, retries included (None where the run did not record them)."""
    tokens: float | None
    wall_time_s: float | None


UNFINISHED = "unfinished"


def run_facts(run: RunLog) -> RunFacts:
    summary = run.summary
    if summary is not None:
        return RunFacts(
            name=run.name, status=summary.stopped, iterations=summary.iterations_run,
            initial_dev_accuracy=run.initial_dev_accuracy, best_dev_accuracy=summary.best_dev_accuracy,
            test_accuracy=summary.test_accuracy, calls=summary.calls, requests=summary.requests,
            tokens=summary.prompt_tokens + summary.completion_tokens, wall_time_s=summary.wall_time_s,
        )
    return _facts_from_events(run)


def _facts_from_events(run: RunLog) -> RunFacts:
    return RunFacts(
        name=run.name,
        status=UNFINISHED,
        iterations=max((it.steps_done for it in run.iterations), default=0),
        initial_dev_accuracy=run.initial_dev_accuracy,
        best_dev_accuracy=_best_dev(run),
        test_accuracy=None,
        calls=run.usage.total.calls if run.usage is not None else None,
        requests=run.usage.total.requests if run.usage is not None else None,
        tokens=total_tokens(run.usage) if run.usage is not None else None,
        wall_time_s=sum(it.elapsed_s for it in run.iterations) if run.iterations else None,
    )


def _best_dev(run: RunLog) -> float | None:
    measured = [run.initial_dev_accuracy]
    measured += [it.best_dev_accuracy for it in run.iterations] + [it.dev_accuracy for it in run.iterations]
    return max((value for value in measured if value is not None), default=None)
