"""The step's waits, declared once: which quantity of which node awaits which of which.

The step awaits a quantity's needs through this declaration before computing it
(`TrainingStep.wait_for`), and `dln/plan.py` walks the same declaration to count the rounds of
latency a step needs and the round each phase's calls can start in. A per-example quantity
(`per_example`) is awaited for one example of the batch; the others for the whole batch.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dlngraph.dln.phases import Phase
from dlngraph.dln.roles import Roles
from dlngraph.spec.training import TrainingSpec


class Quantity(enum.StrEnum):
    OUTPUT = "output"
    """A node's forward output on an example (the forward pass computes it)."""
    FORWARD = "forward"
    """The whole forward pass, settled: examples kept, losses, shown and ranked examples."""
    TARGETS = "targets"
    """What a node should produce: the labels for a scored node, its h* for a hidden one."""
    SAMPLES = "samples"
    """A hidden node's hidden states on an example: its output, then its posterior samples."""
    ALL_SAMPLES = "all samples"
    """Those of every kept example."""
    SENT = "sharpening sent"
    """A hidden node's sharpening terms on an example, asked for (not answered)."""
    ALL_SENT = "all sharpening sent"
    """Those of every kept example."""
    BEST = "best"
    """A hidden node's sharpening weights and h*: the sharpening answered."""
    PROPOSALS = "proposals"
    """A trainable node's candidates, proposals included."""
    RANKED_ON = "ranked on"
    """A hidden node's hidden states as candidates are ranked on: every sample once the
    sharpening has been sent (so the scores queue behind it), h* alone with `use_h_argmax`."""
    KNOWN_SCORES = "known scores"
    """The scores of the candidates known before any proposal (current, remembered, the
    current prompt with each set of demonstrations)."""
    SCORES = "scores"
    """The scores of every candidate: a proposed one's start as soon as its own proposal is
    written (`Candidates.propose_and_rank`), in the round after the proposals either way."""
    UPDATED = "updated"
    """A trainable node's new prompt: with `num_p1_steps`, a hidden node's last round's."""


PER_EXAMPLE = frozenset({Quantity.OUTPUT, Quantity.TARGETS, Quantity.SAMPLES, Quantity.SENT})

Need = tuple[Quantity, str]
"""A quantity of a node (`FORWARD`'s node is "")."""

WHOLE_FORWARD: Need = (Quantity.FORWARD, "")


@dataclass(frozen=True)
class Wait:
    needs: tuple[Need, ...] = ()
    """Awaited first, in this order."""
    calls: Phase | None = None
    """The phase of the calls the quantity makes once its needs exist."""
    call_needs: tuple[Need, ...] = ()
    """Awaited, after `needs`, only when the calls are made."""
    optional_calls: bool = False
    """Some examples make no calls: theirs is ready with `needs` alone."""
    rounds: int = 0
    """Rounds of latency from the last need to the quantity: 1 when it is the calls' answers."""


class StepWaits:
    """The waits of one step's quantities, for a network's roles and the training options."""

    def __init__(self, roles: Roles, training: TrainingSpec | None) -> None:
        self.roles = roles
        self.loss_only = training is not None and training.rewrite_loss_only
        self.sampling = training is None or training.num_h_samples > 0
        self.argmax = training is not None and training.use_h_argmax
        self.p1_steps = training.num_p1_steps if training is not None else 1
        self._waits: dict[Need, Wait] = {}

    def of(self, quantity: Quantity, node: str = "") -> Wait:
        need = (quantity, node)
        if need not in self._waits:
            self._waits[need] = self._declare(quantity, node)
        return self._waits[need]

    def _declare(self, quantity: Quantity, node: str) -> Wait:
        roles = self.roles
        match quantity:
            case Quantity.OUTPUT | Quantity.FORWARD:
                return Wait()  # the forward pass
            case Quantity.TARGETS:
                return Wait() if node in roles.scored else Wait(needs=((Quantity.BEST, node),))
            case Quantity.SAMPLES:
                if not self.sampling:
                    return Wait(needs=((Quantity.OUTPUT, node),))
                # rewriting only the examples the network got wrong needs their losses
                return Wait(
                    needs=((Quantity.OUTPUT, node), *([WHOLE_FORWARD] if self.loss_only else [])),
                    calls=Phase.POSTERIOR,
                    call_needs=((Quantity.TARGETS, roles.consumers(node)[0]),),
                    optional_calls=self.loss_only,
                    rounds=1,
                )
            case Quantity.ALL_SAMPLES:
                return Wait(needs=(WHOLE_FORWARD, (Quantity.SAMPLES, node)))
            case Quantity.SENT:
                consumers = roles.consumers(node)
                return Wait(
                    needs=(
                        (Quantity.SAMPLES, node),
                        *((Quantity.OUTPUT, consumer) for consumer in consumers),
                        *((Quantity.TARGETS, consumer) for consumer in consumers),
                    ),
                    calls=Phase.SHARPENING,
                )
            case Quantity.ALL_SENT:
                return Wait(needs=(WHOLE_FORWARD, (Quantity.SENT, node)))
            case Quantity.BEST:
                return Wait(needs=((Quantity.ALL_SENT, node),), rounds=1)
            case Quantity.PROPOSALS:
                shown = (Quantity.BEST, node) if node in roles.hidden else WHOLE_FORWARD
                return Wait(needs=(shown,), calls=Phase.PROPOSAL, rounds=1)
            case Quantity.RANKED_ON:
                ready = Quantity.BEST if self.argmax else Quantity.ALL_SENT
                return Wait(needs=(WHOLE_FORWARD, (Quantity.ALL_SAMPLES, node), (ready, node)))
            case Quantity.KNOWN_SCORES:
                return Wait(needs=self._ranked_on(node), calls=Phase.SCORE, rounds=1)
            case Quantity.SCORES:
                return Wait(needs=((Quantity.PROPOSALS, node), *self._ranked_on(node)), calls=Phase.SCORE, rounds=1)
            case Quantity.UPDATED:
                weighted = [node] if node in roles.hidden else roles.hidden_parents(node)
                return Wait(
                    needs=((Quantity.KNOWN_SCORES, node), (Quantity.SCORES, node), *((Quantity.BEST, n) for n in weighted)),
                    rounds=self._later_rounds(node),
                )
        raise AssertionError(quantity)

    def _later_rounds(self, node: str) -> int:
        """A hidden node's rounds of proposals and ranking after the first (`num_p1_steps`),
        each from the last round's best prompt: its proposals, then their scores (the known
        candidates' scores are the last round's, memoised)."""
        return 2 * (self.p1_steps - 1) if node in self.roles.hidden else 0

    def _ranked_on(self, node: str) -> tuple[Need, ...]:
        """A node's candidates are scored on its own hidden states (a hidden node) or on those
        of its hidden parents, one parent at a time (each parent's grid waits for that parent
        alone)."""
        hidden = [node] if node in self.roles.hidden else self.roles.hidden_parents(node)
        return (WHOLE_FORWARD, *((Quantity.RANKED_ON, parent) for parent in hidden))
