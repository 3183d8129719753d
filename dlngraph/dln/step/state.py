"""What every stage of a step reads: the network, the models, the batch, the settings, the
forward run and its settlement, the memo of the step's quantities and the likelihood terms."""

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
from dlngraph.dln.run_format import Demonstrations
from dlngraph.dln.seeds import derive_seed
from dlngraph.dln.step.batch import BatchViews, SettledForward
from dlngraph.dln.step.terms import Terms
from dlngraph.dln.step.waits import StepWaits
from dlngraph.engine import EventBus, ForwardRun
from dlngraph.engine.node_ops import Models
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.nodes import LMNode
from dlngraph.spec.training import TrainingSpec


class StepSettings(msgspec.Struct, kw_only=True):
    training: TrainingSpec
    iteration: int
    memory: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """Remembered good prompts per node (`use_memory`), offered again as candidates."""
    demonstration_pool: Demonstrations = msgspec.field(default_factory=dict)
    """Per node, the demonstrations earlier steps harvested (`TrainState.demonstration_pool`),
    from which this step draws candidate sets."""


class StepState:
    """The step's shared state: built once by `TrainingStep`, read by every stage."""

    def __init__(
        self,
        network: CompiledNetwork,
        models: Models,
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
        self.demonstrations = network.demonstrations()
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

    async def forward_done(self) -> SettledForward:
        """Wait for the whole forward pass, and what it settles; once it is done, return
        without yielding to the event loop (see `Once.get`)."""
        if self._settled is None:
            await self._forward_done.wait()
        assert self._settled is not None
        return self._settled

    def settle(self, settled: SettledForward) -> None:
        self._settled = settled
        self._forward_done.set()

    def lm(self, node_id: str) -> LMNode:
        return self.views.lm(node_id)

    def echo(self, node_id: str) -> bool:
        return self.models[self.lm(node_id).model].capabilities.echo_scoring

    def backward_model(self, node_id: str) -> str:
        return self.training.backward_model or self.lm(node_id).model

    def backward_temperature(self, model_name: str) -> float:
        return self.network.spec.models[model_name].sampling.temperature
