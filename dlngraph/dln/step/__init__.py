"""One training step of a Deep Language Network of any depth and width.

The step is written as a set of memoised quantities (see `memo.Once`) rather than as phases:
each node's posterior samples and sharpening terms (per example), its sharpening weights and
best hidden state are computed the first time something awaits them. Each stage of
docs/TRAINING.md's "One step" is an object built once by `TrainingStep`, holding the shared
`StepState` and the stages it calls, and called by name (`self.sharpening.weights(node)`):

- `batch`: the forward pass settled (examples kept, losses, shown and ranked examples);
- `samples`: a hidden node's posterior samples, per example;
- `sharpening`: their weights and the best hidden state h*;
- `candidates`: proposals as candidate prompts;
- `demonstrations`: candidate sets of demonstrations, and what the batch gives for later steps;
- `ranking`: the candidates' likelihood grids, ELBO, penalties and the choice;
- `terms`: the likelihood terms they all ask, each once per step;
- `state`: what every stage reads (`StepState`), and `needs`: how a stage awaits another's
  quantity (`Needs`, which `TrainingStep` implements, since the stages await one another in a
  cycle across nodes);
- `waits`: which quantity awaits which, declared once; each stage awaits its needs through it
  (`TrainingStep.wait_for`) and `dln/plan.py` walks it to count rounds.

What starts when is `TrainingStep.run` below: every trainable node's update, the forward pass
and every example's sharpening start at once, and each awaits only what it reads, so
- an example's posterior sampling starts as soon as its own hidden state exists, and its
  sharpening as soon as its samples do, while the rest of the forward pass still runs;
- an output node's prompt proposals start right after the forward pass, concurrently with the
  hidden nodes' posterior sampling;
- candidate scores are asked for once the sharpening they build on has been sent (not
  answered), so they queue behind it;
- a hidden node's proposals start as soon as its best hidden state h* is known, while its
  consumer's candidates are still being scored;
- deeper hidden nodes wait only for the targets they really need (their consumer's h*).
`dln/plan.py` counts the rounds of latency these waits give. All calls go through the LLM
layer, whose limits decide how many run at a time.

For the equations and where they depart from the paper, see docs/TRAINING.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlngraph.data.types import LabeledExample
from dlngraph.dln.phases import Phase
from dlngraph.dln.roles import TrainingError
from dlngraph.dln.run_format import StepResult
from dlngraph.dln.scoring import Target
from dlngraph.dln.step.batch import ExampleIndex, SettledForward, settle_forward
from dlngraph.dln.step.candidates import Candidates
from dlngraph.dln.step.demonstrations import Demonstrations
from dlngraph.dln.step.ranking import Ranking
from dlngraph.dln.step.samples import Samples
from dlngraph.dln.step.sharpening import Sharpening
from dlngraph.dln.step.state import StepSettings, StepState
from dlngraph.dln.step.waits import Need, Quantity
from dlngraph.engine import EventBus, gather
from dlngraph.engine.node_ops import Models
from dlngraph.graph import CompiledNetwork

__all__ = ["ExampleIndex", "SettledForward", "StepSettings", "TrainingStep"]


class TrainingStep:
    def __init__(
        self,
        network: CompiledNetwork,
        models: Models,
        batch: Sequence[LabeledExample],
        settings: StepSettings,
        *,
        events: EventBus | None = None,
    ) -> None:
        self.state = StepState(network, models, batch, settings, events=events)
        self.samples = Samples(self.state, self)
        self.sharpening = Sharpening(self.state, self, self.samples)
        self.demonstrations = Demonstrations(self.state, self.sharpening)
        self.candidates = Candidates(self.state, self.demonstrations)
        self.ranking = Ranking(self.state, self, self.samples, self.sharpening, self.candidates)

    async def run(self) -> StepResult:
        state = self.state
        self._check_scoring()
        examples = range(len(state.batch))
        updates, *_ = await gather([
            gather(self.ranking.update(node) for node in state.network.trainable),
            self._finish_forward(),
            gather(self.sharpening.start(node, example) for node in state.roles.hidden for example in examples),
        ])
        hidden = await gather(self.sharpening.summary(node) for node in state.roles.hidden)
        harvested = await gather(self.demonstrations.harvest(node) for node in state.network.trainable)
        settled = await state.forward_done()
        return StepResult(
            iteration=state.settings.iteration,
            prompts={**state.prompts, **{update.node: update.prompt for update in updates}},
            demonstrations={**state.demonstrations,
                            **{update.node: update.demonstrations for update in updates if update.node in state.demonstrations}},
            harvested={node: found for node, found in zip(state.network.trainable, harvested, strict=True) if found},
            updates={update.node: update for update in updates},
            hidden={summary.node: summary for summary in hidden},
            batch_loss=sum(settled.losses.values()) / len(settled.losses),
            failed_examples=list(settled.failed),
        )

    async def _finish_forward(self) -> None:
        """Run the forward pass, then settle which examples the step keeps and their losses.

        The backward work does not wait for all of it: a hidden node's posterior sampling
        starts as soon as that node's own outputs exist (`Samples.on`), while the layers above
        it are still running. What needs the whole batch awaits `StepState.forward_done()`."""
        state = self.state
        state.events.publish("phase", phase=Phase.FORWARD, iteration=state.settings.iteration)
        forward = await state.forward_run.execute()
        state.settle(settle_forward(forward, state.batch, state.training, state.rng))
        state.events.publish("phase", phase=Phase.BACKWARD, iteration=state.settings.iteration)

    # --- `Needs`: each quantity of `waits` from the stage that computes it ------------------

    async def wait_for(self, needs: tuple[Need, ...], example: ExampleIndex | None = None) -> bool:
        """Await `needs` (declared in `waits`) in their order; False as soon as the example
        (of a per-example quantity) turns out to have failed before one of them."""
        for quantity, node in needs:
            if not await self._wait(quantity, node, example):
                return False
        return True

    async def _wait(self, quantity: Quantity, node: str, example: ExampleIndex | None) -> bool:
        match quantity:
            case Quantity.OUTPUT:
                assert example is not None
                return await self.state.forward_run.finished_output(node, example) is not None
            case Quantity.FORWARD:
                await self.state.forward_done()
            case Quantity.TARGETS:
                return example is None or example in await self.targets(node)
            case Quantity.SAMPLES:
                assert example is not None
                return await self.samples.on(node, example) is not None
            case Quantity.ALL_SAMPLES:
                await self.samples.of(node)
            case Quantity.SENT | Quantity.ALL_SENT:
                await self.sharpening.sent(node, example if quantity is Quantity.SENT else None)
            case Quantity.BEST:
                await self.sharpening.weights(node)
            case Quantity.RANKED_ON:
                await self.wait_for(self.state.waits.of(quantity, node).needs)
            case _:
                raise AssertionError(f"{quantity} is awaited inside a node's update, not through its needs")
        return True

    async def targets(self, node_id: str) -> dict[ExampleIndex, Target]:
        """What `node_id` should produce on each example: the example itself for scored nodes
        (its target is known before the forward pass), the best posterior sample h* for hidden
        ones (kept examples)."""
        state = self.state
        if node_id in state.roles.scored:
            return dict(enumerate(state.batch))
        await self.wait_for(state.waits.of(Quantity.TARGETS, node_id).needs)
        best = await self.sharpening.best_hidden(node_id)
        return dict(zip((await state.forward_done()).kept, best, strict=True))

    def _check_scoring(self) -> None:
        state = self.state
        for node_id in state.roles.hidden:
            node = state.lm(node_id)
            if node_id in state.network.trainable and not state.models[node.model].capabilities.echo_scoring:
                raise TrainingError(
                    f"hidden node '{node_id}' needs log-probabilities of text (echo scoring) to be trained, "
                    f"and model '{node.model}' cannot provide them; use a completions endpoint "
                    f"(vLLM, llama.cpp server) or the local backend, or set trainable: false"
                )
            backward = state.backward_model(node_id)
            if state.training.correct_weighting and not state.models[backward].capabilities.echo_scoring:
                raise TrainingError(
                    f"correct_weighting scores hidden node '{node_id}' posterior samples under the backward "
                    f"model '{backward}', which cannot provide log-probabilities of text (echo scoring)"
                )
