"""The training loop: batches, steps, validation, early stopping, checkpoints, final test.

A run is reproducible: batches and every random choice derive from the training seed and the
iteration. With a run directory, every finished iteration is logged and checkpointed
atomically, so `resume` continues a killed run and ends where the uninterrupted run would.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from dlngraph.data.batches import BatchSampler
from dlngraph.data.types import LabeledExample
from dlngraph.dln.demonstration_pool import (
    learning_nodes,
    merged,
    pool_size,
    seeded_pool,
)
from dlngraph.dln.evaluate import Evaluation, evaluate
from dlngraph.dln.input_views import input_views
from dlngraph.dln.phases import Phase
from dlngraph.dln.postprocess import loss_of
from dlngraph.dln.run_format import (
    Demonstrations,
    IterationRecord,
    Shortlisted,
    Spent,
    StartRecord,
    StepResult,
    TrainState,
    Usage,
    prompt_key,
)
from dlngraph.dln.rundir import RunDirectory
from dlngraph.dln.seeds import derive_seed
from dlngraph.dln.selection import replaces_best
from dlngraph.dln.shortlist import shortlist
from dlngraph.dln.step import StepSettings, TrainingStep
from dlngraph.engine import EventBus, gather
from dlngraph.engine.node_ops import Models
from dlngraph.graph import CompiledNetwork
from dlngraph.llm.errors import BudgetExceeded

UsageProbe = Callable[[], Mapping[str, Any]]
"""Returns cumulative usage (`ModelPool.usage()`: calls, tokens, ... per phase); the trainer
logs its deltas as `run_format.Usage`."""


class TrainOutcome(msgspec.Struct, kw_only=True):
    state: TrainState
    stopped: str
    iterations_run: int
    initial_dev_accuracy: float | None
    best_dev_accuracy: float | None
    test: Evaluation | None
    wall_time_s: float
    """This session's."""
    spent: Spent
    """Every session's cost, this one's to its end included."""


class Trainer:
    def __init__(
        self,
        network: CompiledNetwork,
        models: Models,
        *,
        train: Sequence[LabeledExample],
        dev: Sequence[LabeledExample] = (),
        test: Sequence[LabeledExample] = (),
        labels: list[str] | None = None,
        run: RunDirectory | None = None,
        events: EventBus | None = None,
        usage: UsageProbe | None = None,
        session_started: float | None = None,
    ) -> None:
        """`session_started` (a `time.perf_counter()`) is when this session's work began, model
        loading included; by default, now."""
        if not train:
            raise ValueError("training needs at least one training example")
        self.network = network
        self.models = models
        self.training = network.spec.training
        self.input_views = input_views(network, self.training)
        self.train, self.dev, self.test = list(train), list(dev), list(test)
        self.labels = labels
        self.run = run
        self.events = events or EventBus()
        self._probe = usage
        self.usage: UsageProbe = usage or dict
        self._session_started = session_started if session_started is not None else time.perf_counter()
        self._spent_before = Spent()
        self._checkpointed = self.initial_state()
        """A copy of what checkpoint.json holds (or would hold: a new run has none yet)."""

    def initial_state(self) -> TrainState:
        prompts, demonstrations = self.network.prompts(), self.network.demonstrations()
        pool = seeded_pool(self.network, self.train, self.input_views,
                           random.Random(derive_seed(self.training.seed, "demonstrations")))
        return TrainState(prompts=dict(prompts), best_prompts=dict(prompts), demonstrations=dict(demonstrations),
                          best_demonstrations=dict(demonstrations), demonstration_pool=pool)

    def batches(self) -> list[list[LabeledExample]]:
        """The batch of every iteration, fixed by the seed (a resumed run sees the same ones)."""
        sampler = BatchSampler(
            self.train, self.training.batch_size,
            rng=random.Random(derive_seed(self.training.seed, "batches")),
            balanced=self.training.balance_batch, labels=self.labels,
        )
        iterator = iter(sampler)
        return [next(iterator) for _ in range(self.training.iterations)]

    async def fit(self, state: TrainState | None = None) -> TrainOutcome:
        started = time.perf_counter()
        if state is not None:
            self.events.publish("resume", iteration=state.iteration, dev_accuracy=self._known_initial_dev(state))
        state = state or self.initial_state()
        self._spent_before, self._checkpointed = state.spent, _copy(state)
        try:
            initial_dev = await self._train(state)
            test = await self._test(state)
        except BaseException:  # interrupted, or failed: what was spent is kept all the same
            self._checkpoint_spent()
            raise
        if state.stopped == "budget":
            self._checkpoint_spent()  # the last checkpoint still says "running": a resume goes on
            state.spent = self._checkpointed.spent
        else:
            self._checkpoint(state)  # the test's cost included
        if initial_dev is None:
            initial_dev = self._known_initial_dev(state)
        outcome = TrainOutcome(
            state=state,
            stopped=state.stopped,
            iterations_run=state.iteration,
            initial_dev_accuracy=initial_dev,
            best_dev_accuracy=state.best_dev_accuracy,
            test=test,
            wall_time_s=time.perf_counter() - started,
            spent=state.spent,
        )
        self.events.publish("done", stopped=state.stopped, initial_dev_accuracy=initial_dev,
                            best_dev_accuracy=state.best_dev_accuracy, test_accuracy=None if test is None else test.accuracy)
        return outcome

    def _known_initial_dev(self, state: TrainState) -> float | None:
        """The initial prompts' dev accuracy as an earlier session of a resumed run measured it."""
        return state.dev_scores.get(prompt_key(self.network.prompts(), self.network.demonstrations()))

    async def _train(self, state: TrainState) -> float | None:
        """The iterations left (a budget stop ends them cleanly); the initial dev accuracy,
        when it is measured now."""
        batches = self.batches()
        initial_dev = None
        try:
            if state.iteration == 0 and state.best_iteration < 0 and self.training.do_first_eval and self.dev:
                initial_dev = await self._validate_start(state)
            while state.iteration < self.training.iterations and state.stopped == "running":
                await self._iteration(state, batches[state.iteration])
        except BudgetExceeded as error:
            state.stopped = "budget"
            self.events.publish("budget", message=str(error), iteration=state.iteration)
        if state.stopped == "running":
            state.stopped = "completed"
        return initial_dev

    async def _iteration(self, state: TrainState, batch: list[LabeledExample]) -> None:
        iteration = state.iteration
        started, usage_before = time.perf_counter(), self.usage()
        self.events.publish("iteration", iteration=iteration, of=self.training.iterations)
        step = TrainingStep(
            self.network.with_prompts(state.prompts).with_demonstrations(state.demonstrations), self.models, batch,
            StepSettings(training=self.training, iteration=iteration, memory=state.memory_by_node(),
                         demonstration_pool=state.demonstration_pool),
            events=self.events,
        )
        result = await step.run()
        validates = bool(self.dev) and self._validates_after(iteration)
        validated = await self._take_step(state, result, shortlist_on_dev=validates)
        stepped = dict(state.prompts), dict(state.demonstrations)  # a reload of the best may follow
        dev = await self._validate(state, steps_done=iteration + 1) if validates else None
        state.iteration = iteration + 1
        if not self.dev:
            state.best_prompts, state.best_demonstrations = dict(state.prompts), dict(state.demonstrations)
        if self.run is not None:  # event first: a crash between the two only loses the event
            self.run.append_event(self._record(state, result, stepped, dev, validated, usage_before, started))
        self._checkpoint(state)
        self.events.publish("checkpoint", iteration=iteration, batch_loss=result.batch_loss, dev_accuracy=dev,
                            best_dev_accuracy=state.best_dev_accuracy, prompts=state.prompts)

    async def _take_step(self, state: TrainState, result: StepResult, *, shortlist_on_dev: bool) -> list[Shortlisted]:
        """Move `state` to where the step leads: its prompts, demonstrations and harvested pool;
        with `shortlist_on_dev`, to the network dev prefers among the step's best
        (`_validate_shortlist`, whose log this returns)."""
        before = dict(state.prompts), dict(state.demonstrations)
        state.prompts = result.prompts
        state.demonstrations = {**state.demonstrations, **result.demonstrations}
        state.demonstration_pool = merged(state.demonstration_pool, result.harvested, self._pool_sizes())
        return await self._validate_shortlist(state, result, *before) if shortlist_on_dev else []

    def _pool_sizes(self) -> dict[str, int]:
        return {node: pool_size(self.network.num_demos(node)) for node in learning_nodes(self.network)}

    async def _validate_start(self, state: TrainState) -> float:
        """Dev accuracy of the initial prompts, logged and checkpointed like an iteration's, so
        that every run shows start -> best and a resumed run does not validate them again."""
        started, usage_before = time.perf_counter(), self.usage()
        accuracy = await self._validate(state, steps_done=0)
        if self.run is not None:
            self.run.append_event(StartRecord(
                prompts=dict(state.prompts), demonstrations=dict(state.demonstrations), dev_accuracy=accuracy,
                usage=self._usage_since(usage_before), elapsed_s=time.perf_counter() - started,
            ))
        self._checkpoint(state)
        self.events.publish("start", dev_accuracy=accuracy)
        return accuracy

    async def _test(self, state: TrainState) -> Evaluation | None:
        """Test accuracy of the best prompts, unless the budget stopped the run (or stops the test:
        the run is then stopped by the budget, and its resume goes straight to the test)."""
        if not self.test or state.stopped == "budget":
            return None
        self.events.publish("phase", phase=Phase.TEST, iteration=state.iteration)
        try:
            return await evaluate(self.network, self.models, self.test, split="test", prompts=state.best_prompts,
                                  demonstrations=state.best_demonstrations, loss=loss_of(self.training),
                                  input_views=self.input_views, events=self.events)
        except BudgetExceeded as error:  # stopped as in training: a resume runs the test
            state.stopped = "budget"
            self.events.publish("budget", message=str(error), iteration=state.iteration)
            return None

    def _checkpoint(self, state: TrainState) -> None:
        """`state`, with what has been spent so far, into checkpoint.json (kept as the last
        checkpoint, which `_checkpoint_spent` may rewrite)."""
        state.spent = self._spent_so_far()
        self._checkpointed = _copy(state)
        if self.run is not None:
            self.run.write_json(self.run.checkpoint_path, state)

    def _checkpoint_spent(self) -> None:
        """Rewrite the last checkpoint with every call spent so far. The work done since it is
        redone on resume, mostly from the cache, so without this its cost would be lost."""
        self._checkpointed.spent = self._spent_so_far()
        if self.run is not None:
            self.run.write_json(self.run.checkpoint_path, self._checkpointed)

    def _spent_so_far(self) -> Spent:
        """The earlier sessions' cost plus this one's so far."""
        return self._spent_before.plus(Spent.of(self.usage(), time.perf_counter() - self._session_started))

    def _validates_after(self, iteration: int) -> bool:
        last = iteration == self.training.iterations - 1
        return last or (self.training.val_freq > 0 and (iteration + 1) % self.training.val_freq == 0)

    async def _validate_shortlist(
        self, state: TrainState, result: StepResult, prompts: dict[str, str], demonstrations: Demonstrations,
    ) -> list[Shortlisted]:
        """With `validate_top` > 1, validate the step's best few networks (`dln/shortlist.py`),
        all at once, and go on from the best on dev: `state` takes its prompts and
        demonstrations. The network before the step (`prompts`, `demonstrations`) competes
        too when its dev accuracy is known, which costs nothing: training never goes on from a
        network dev rates below it (ties go to the step's). Returns what was validated, for
        the log (nothing when only the step's choice is, which `_validate` then does)."""
        shortlisted = shortlist(result.updates, self.training.validate_top, prompts, demonstrations)
        if len(shortlisted) < 2:
            return []
        before = prompt_key(prompts, demonstrations)
        if before in state.dev_scores and before not in shortlisted:
            shortlisted[before] = ({}, (prompts, demonstrations))
        entries = list(shortlisted.values())
        self.events.publish("phase", phase=Phase.VALIDATION, iteration=state.iteration)
        accuracies = await gather(self._dev_accuracy(state, *network) for _, network in entries)
        kept = max(range(len(entries)), key=lambda index: (accuracies[index], -index))
        state.prompts, state.demonstrations = entries[kept][1]
        return [Shortlisted(choices=choices, dev_accuracy=accuracy, kept=index == kept)
                for index, ((choices, _), accuracy) in enumerate(zip(entries, accuracies, strict=True))]

    async def _dev_accuracy(self, state: TrainState, prompts: dict[str, str], demonstrations: Demonstrations) -> float:
        """Dev accuracy of a network, evaluated once per prompt set (`dev_scores`, with the
        per-example losses the paired test reads in `dev_losses`)."""
        key = prompt_key(prompts, demonstrations)
        if key not in state.dev_scores:
            result = await evaluate(self.network, self.models, self.dev, split="dev", prompts=prompts,
                                    demonstrations=demonstrations, loss=loss_of(self.training),
                                    input_views=self.input_views, events=self.events)
            state.dev_scores[key] = result.accuracy
            state.dev_losses[key] = result.losses
        return state.dev_scores[key]

    async def _validate(self, state: TrainState, *, steps_done: int) -> float:
        """Dev accuracy of the current prompts and demonstrations (once per set); tracks the best
        and the patience counter, and remembers good prompt sets (`use_memory`)."""
        key = prompt_key(state.prompts, state.demonstrations)
        if key not in state.dev_scores:
            self.events.publish("phase", phase=Phase.VALIDATION, iteration=state.iteration)
        accuracy = await self._dev_accuracy(state, state.prompts, state.demonstrations)
        if self._is_new_best(state, key):
            state.best_dev_accuracy, state.best_iteration = accuracy, steps_done
            state.best_prompts, state.best_demonstrations = dict(state.prompts), dict(state.demonstrations)
            state.stale_validations = 0
        else:
            state.stale_validations += 1
            if 0 <= self.training.early_stop < state.stale_validations:
                state.stopped = "early_stop"
        state.remember(state.prompts, accuracy, self.training.use_memory, state.demonstrations)
        self._reload_best_if_stale(state)
        self.events.publish("validation", iteration=state.iteration, dev_accuracy=accuracy,
                            best_dev_accuracy=state.best_dev_accuracy)
        return accuracy

    def _is_new_best(self, state: TrainState, key: str) -> bool:
        """Whether the prompt set `key` replaces the best so far: a higher dev accuracy, by more
        than noise when both sets' per-example losses are known (`dln/selection.py`)."""
        if state.best_dev_accuracy is None:
            return True
        if state.dev_scores[key] <= state.best_dev_accuracy:
            return False
        new, best = state.dev_losses.get(key), state.dev_losses.get(prompt_key(state.best_prompts, state.best_demonstrations))
        return new is None or best is None or replaces_best(new, best, self.training.selection_z)

    def _reload_best_if_stale(self, state: TrainState) -> None:
        """`tolerance`, as the paper's `vi_main.py` has it: once `tolerance` validations in a row
        have not improved on the best, the best prompts are loaded back, the count starts
        again and training goes on from them."""
        tolerance = self.training.tolerance
        if tolerance < 0 or state.stale_validations < tolerance or state.stopped != "running":
            return
        state.stale_validations = 0
        if (state.prompts, state.demonstrations) != (state.best_prompts, state.best_demonstrations):
            state.prompts, state.demonstrations = dict(state.best_prompts), dict(state.best_demonstrations)
            state.reloads += 1
            self.events.publish("reload_best", iteration=state.iteration, prompts=state.prompts)

    def _record(self, state: TrainState, result: StepResult, stepped: tuple[dict[str, str], Demonstrations],
                dev: float | None, validated: list[Shortlisted], usage_before: Mapping[str, Any],
                started: float) -> IterationRecord:
        prompts, demonstrations = stepped
        return IterationRecord(
            iteration=result.iteration,
            prompts=prompts,
            demonstrations=demonstrations,
            batch_loss=result.batch_loss,
            dev_accuracy=dev,
            best_dev_accuracy=state.best_dev_accuracy,
            updates=result.updates,
            hidden=result.hidden,
            failed_examples=result.failed_examples,
            usage=self._usage_since(usage_before),
            elapsed_s=time.perf_counter() - started,
            shortlist=validated,
        )

    def _usage_since(self, before: Mapping[str, Any]) -> Usage | None:
        """What was spent since the reading `before`, as it is logged (None without a probe)."""
        if self._probe is None:
            return None
        return msgspec.convert(usage_delta(before, self.usage()), Usage)


def usage_delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """`after - before` for nested mappings of numbers (usage counters per phase)."""
    delta: dict[str, Any] = {}
    for key, value in after.items():
        previous = before.get(key)
        if isinstance(value, Mapping):
            delta[key] = usage_delta(previous if isinstance(previous, Mapping) else {}, value)
        elif isinstance(value, (int, float)):
            delta[key] = value - (previous if isinstance(previous, (int, float)) else 0)
    return delta


def _copy(state: TrainState) -> TrainState:
    return msgspec.json.decode(msgspec.json.encode(state), type=TrainState)
