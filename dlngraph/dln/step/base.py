"""What every stage of a step reads: the network, the batch, the settings, the forward run and
the memo of the step's quantities; and the quantities one stage awaits of another.

The stages (`samples`, `sharpening`, `candidates`, `ranking`) are parts of one
`TrainingStep`: a hidden node's posterior needs its consumer's best hidden state, which needs
the consumer's samples, so they await each other's quantities through the step rather than
holding one another.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import anyio
import msgspec

from dlngraph.data.types import LabeledExample
from dlngraph.dln.input_views import input_views
from dlngraph.dln.memo import Once
from dlngraph.dln.phases import Phase
from dlngraph.dln.priorities import priority_of
from dlngraph.dln.roles import Roles
from dlngraph.dln.scoring import Target
from dlngraph.dln.seeds import derive_seed
from dlngraph.dln.step.batch import BatchViews, ExampleIndex, SettledForward
from dlngraph.dln.step.terms import Terms
from dlngraph.dln.step.waits import Need, Quantity, StepWaits
from dlngraph.engine import EventBus, ForwardRun
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.nodes import LMNode
from dlngraph.spec.training import TrainingSpec


class StepSettings(msgspec.Struct, kw_only=True):
    training: TrainingSpec
    iteration: int
    memory: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """Remembered good prompts per node (`use_memory`), offered again as candidates."""


class StepBase:
    def __init__(
        self,
        network: CompiledNetwork,
        models,
        batch: Sequence[LabeledExample],
        settings: StepSettings,
        *,
        events: EventBus | None = None,
    ) -> None:
        self.network = network
        self.models = models
        self.batch = list(batch)
        self.settings = settings
        self.training = settings.training
        self.events = events or EventBus()
        self.roles = Roles(network)
        self.waits = StepWaits(self.roles, self.training)
        self.prompts = network.prompts()
        self.seed = derive_seed(self.training.seed, "step", settings.iteration)
        self.rng = random.Random(self.seed)
        self.once = Once()
        self.forward_run = ForwardRun(
            network, models, [example.input for example in self.batch],
            seed=self.seed, keep_going=True, phase=Phase.FORWARD, priority=priority_of(Phase.FORWARD),
            input_views=input_views(network, self.training),
        )
        self.views = BatchViews(network, self.forward_run)
        self.terms = Terms(self.views, models, self.training, self.roles, self.once)
        self._settled: SettledForward | None = None
        self._forward_done = anyio.Event()
        self._sharpening_sent: dict[tuple[str, ExampleIndex], anyio.Event] = {}
        self._forward_only: dict[tuple[str, ExampleIndex], bool] = {}
        """Per (hidden node, example): its samples hold posterior samples, and the forward state
        (sample 0) is not one of them (`include_h1: false` gives it no weight)."""
        self.dropped_proposals: dict[str, int] = {}
        """Per node, the proposals that were empty once cleaned."""

    async def forward_done(self) -> SettledForward:
        """Wait for the whole forward pass, and what it settles; once it is done, return
        without yielding to the event loop (see `Once.get`)."""
        if self._settled is None:
            await self._forward_done.wait()
        assert self._settled is not None
        return self._settled

    def _settle(self, settled: SettledForward) -> None:
        self._settled = settled
        self._forward_done.set()

    async def await_needs(self, needs: tuple[Need, ...], example: ExampleIndex | None = None) -> bool:
        """Await `needs` (declared in `waits`) in their order; False as soon as the example
        (of a per-example quantity) turns out to have failed before one of them."""
        for quantity, node in needs:
            if not await self._await(quantity, node, example):
                return False
        return True

    async def _await(self, quantity: Quantity, node: str, example: ExampleIndex | None) -> bool:
        match quantity:
            case Quantity.OUTPUT:
                assert example is not None
                return await self.forward_run.finished_output(node, example) is not None
            case Quantity.FORWARD:
                await self.forward_done()
            case Quantity.TARGETS:
                return example is None or example in await self.targets_by_example(node)
            case Quantity.SAMPLES:
                assert example is not None
                return await self.example_samples(node, example) is not None
            case Quantity.ALL_SAMPLES:
                await self.samples(node)
            case Quantity.SENT | Quantity.ALL_SENT:
                await self.sharpening_sent(node, example if quantity is Quantity.SENT else None)
            case Quantity.BEST:
                await self.weights(node)
            case Quantity.RANKED_ON:
                await self.await_needs(self.waits.of(quantity, node).needs)
            case _:
                raise AssertionError(f"{quantity} is awaited inside a node's update, not through its needs")
        return True

    def _lm(self, node_id: str) -> LMNode:
        return self.views.lm(node_id)

    def _echo(self, node_id: str) -> bool:
        return self.models[self._lm(node_id).model].capabilities.echo_scoring

    def _backward_model(self, node_id: str) -> str:
        return self.training.backward_model or self._lm(node_id).model

    def _backward_temperature(self, model_name: str) -> float:
        return self.network.spec.models[model_name].sampling.temperature

    # The quantities one stage awaits of another (defined by `samples` and `sharpening`).
    async def example_samples(self, node_id: str, example: ExampleIndex) -> list[str] | None:
        raise NotImplementedError

    async def samples(self, node_id: str) -> list[list[str]]:
        raise NotImplementedError

    async def weights(self, node_id: str) -> list[list[float]]:
        raise NotImplementedError

    async def best_hidden(self, node_id: str) -> list[str]:
        raise NotImplementedError

    async def sharpening_sent(self, node_id: str, example: ExampleIndex | None = None) -> None:
        raise NotImplementedError

    async def targets_by_example(self, node_id: str) -> dict[ExampleIndex, Target]:
        """What `node_id` should produce on each example: the example itself for scored nodes
        (its target is known before the forward pass), the best posterior sample h* for hidden
        ones (kept examples)."""
        if node_id in self.roles.scored:
            return dict(enumerate(self.batch))
        await self.await_needs(self.waits.of(Quantity.TARGETS, node_id).needs)
        best = await self.best_hidden(node_id)
        return dict(zip((await self.forward_done()).kept, best, strict=True))
