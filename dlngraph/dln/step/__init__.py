"""One training step of a Deep Language Network of any depth and width.

The step is written as a set of memoised quantities (see `memo.Once`) rather than as phases:
each node's posterior samples and sharpening terms (per example), its sharpening weights and
best hidden state are computed the first time something awaits them. The stages, in the
order of docs/TRAINING.md's "One step":

- `batch`: the forward pass settled (examples kept, losses, shown and ranked examples);
- `samples`: a hidden node's posterior samples, per example;
- `sharpening`: their weights and the best hidden state h*;
- `candidates`: proposals as candidate prompts;
- `ranking`: the candidates' likelihood grids, ELBO, penalties and the choice;
- `terms`: the likelihood terms they all ask, each once per step;
- `waits`: which quantity awaits which, declared once; each stage awaits its needs through it
  (`StepBase.await_needs`) and `dln/plan.py` walks it to count rounds.

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

from dlngraph.dln.phases import Phase
from dlngraph.dln.roles import TrainingError
from dlngraph.dln.run_format import StepResult
from dlngraph.dln.step.base import StepSettings
from dlngraph.dln.step.batch import ExampleIndex, SettledForward, settle_forward
from dlngraph.dln.step.ranking import Ranking
from dlngraph.engine import gather

__all__ = ["ExampleIndex", "SettledForward", "StepSettings", "TrainingStep"]


class TrainingStep(Ranking):
    async def run(self) -> StepResult:
        self._check_scoring()
        examples = range(len(self.batch))
        updates, *_ = await gather([
            gather(self.update(node) for node in self.network.trainable),
            self._finish_forward(),
            gather(self.start_sharpening(node, example) for node in self.roles.hidden for example in examples),
        ])
        hidden = await gather(self.hidden_summary(node) for node in self.roles.hidden)
        settled = await self.forward_done()
        return StepResult(
            iteration=self.settings.iteration,
            prompts={**self.prompts, **{update.node: update.prompt for update in updates}},
            updates={update.node: update for update in updates},
            hidden={summary.node: summary for summary in hidden},
            batch_loss=sum(settled.losses.values()) / len(settled.losses),
            failed_examples=list(settled.failed),
        )

    async def _finish_forward(self) -> None:
        """Run the forward pass, then settle which examples the step keeps and their losses.

        The backward work does not wait for all of it: a hidden node's posterior sampling
        starts as soon as that node's own outputs exist (`Samples.example_samples`), while the
        layers above it are still running. What needs the whole batch awaits `forward_done()`."""
        self.events.publish("phase", phase=Phase.FORWARD, iteration=self.settings.iteration)
        forward = await self.forward_run.execute()
        self._settle(settle_forward(forward, self.batch, self.training, self.rng))
        self.events.publish("phase", phase=Phase.BACKWARD, iteration=self.settings.iteration)

    def _check_scoring(self) -> None:
        for node_id in self.roles.hidden:
            node = self._lm(node_id)
            if node_id in self.network.trainable and not self.models[node.model].capabilities.echo_scoring:
                raise TrainingError(
                    f"hidden node '{node_id}' needs log-probabilities of text (echo scoring) to be trained, "
                    f"and model '{node.model}' cannot provide them; use a completions endpoint "
                    f"(vLLM, llama.cpp server) or the local backend, or set trainable: false"
                )
            backward = self._backward_model(node_id)
            if self.training.correct_weighting and not self.models[backward].capabilities.echo_scoring:
                raise TrainingError(
                    f"correct_weighting scores hidden node '{node_id}' posterior samples under the backward "
                    f"model '{backward}', which cannot provide log-probabilities of text (echo scoring)"
                )
