"""Where a step's candidate demonstrations come from: a pool per node of worked training
examples, kept across steps in the trainer's state (`TrainState.demonstration_pool`).

A step harvests demonstrations from its own batch (the examples the network answered right,
see `dln/step/demonstrations.py`), but may not offer them as candidates in that same step: a
demonstration scored on the very example it was taken from makes its candidate trivially right.
So the harvest goes into the pool after the step, and a step draws candidate sets only from pool
entries whose example is not in its batch (`drawable`). Before anything is harvested, the pool
of a scored node that reads only the example's input holds labelled training examples drawn at
random (`seeded_pool`): nothing else is known of them, but a label is a right answer there.

Only training examples ever enter the pool: the trainer seeds it from the training split and
steps harvest from training batches.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from dlngraph.data.types import LabeledExample
from dlngraph.dln.input_views import InputViews
from dlngraph.dln.roles import Roles
from dlngraph.dln.run_format import Demonstrations
from dlngraph.engine.answer_labels import label_of
from dlngraph.engine.node_ops import join_texts
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.classes import parse_classes
from dlngraph.spec.nodes import INPUT, Demonstration, LMNode
from dlngraph.spec.training import TrainingSpec


def pool_size(k: int) -> int:
    """Demonstrations a node's pool keeps, the newest first: enough for several distinct sets
    of k outside any one batch."""
    return max(16, 4 * k)


def sets_per_step(training: TrainingSpec) -> int:
    """Candidate sets a node that learns demonstrations ranks in a step (at most: a small pool
    gives fewer): `num_demo_sets`, by default as many as the proposed prompts."""
    return training.num_demo_sets if training.num_demo_sets is not None else max(training.num_p_samples - 1, 0)


def source_of(example: LabeledExample) -> str:
    """The id a demonstration names its example by: the dataset's id (`train:12`), or for an
    example without one (built in code), its input text."""
    return getattr(example, "id", None) or example.input


def answer_of(node: LMNode, target: str) -> str:
    """What a node answers when it answers `target`: its class label when it has classes (a
    target may name a class by another verbalizer), else the target itself."""
    if node.classes:
        return label_of(target, parse_classes(node.classes)) or target
    return target


def learning_nodes(network: CompiledNetwork) -> list[str]:
    """The trainable nodes that learn demonstrations (k > 0), in topological order."""
    return [node for node in network.trainable if network.num_demos(node) > 0]


def seeded_pool(
    network: CompiledNetwork, train: Sequence[LabeledExample], views: InputViews, rng: random.Random
) -> Demonstrations:
    """The pool before any harvest: for each scored node that learns demonstrations and reads
    only the example's input, labelled training examples drawn at random."""
    roles = Roles(network)
    pool: Demonstrations = {}
    for node_id in learning_nodes(network):
        node = network.node(node_id)
        assert isinstance(node, LMNode)
        if node_id not in roles.scored or any(source != INPUT for source in [*node.inputs, *node.residual]):
            continue
        view = views.get(node_id, lambda text: text)
        picked = rng.sample(list(train), min(len(train), pool_size(network.num_demos(node_id))))
        pool[node_id] = [
            Demonstration(
                input=join_texts([view(example.input) for _ in node.inputs]),
                residual=join_texts([view(example.input) for _ in node.residual]),
                output=answer_of(node, example.target),
                source=source_of(example),
            )
            for example in picked
        ]
    return pool


def merged(pool: Demonstrations, harvested: Demonstrations, sizes: dict[str, int]) -> Demonstrations:
    """The pool after a step: each node's harvest first, then what it held, one entry per
    example (the newest), cut to `sizes[node]`."""
    result: Demonstrations = {}
    for node in dict.fromkeys([*pool, *harvested]):
        unique: dict[str, Demonstration] = {}
        for entry in [*harvested.get(node, []), *pool.get(node, [])]:
            unique.setdefault(entry.source, entry)
        result[node] = list(unique.values())[:sizes.get(node, len(unique))]
    return result


def drawable(entries: Iterable[Demonstration], batch: Sequence[LabeledExample]) -> list[Demonstration]:
    """The entries a step may offer: none taken from an example of its batch."""
    taken = {source_of(example) for example in batch}
    return [entry for entry in entries if entry.source not in taken]


def draw_sets(
    entries: Sequence[Demonstration], k: int, count: int, current: Sequence[Demonstration], rng: random.Random,
    *, balanced: bool = False,
) -> list[list[Demonstration]]:
    """Up to `count` distinct sets of min(k, len(entries)) entries each, in a random order,
    none equal to `current` (it is a candidate already). `balanced` (a node with classes) draws
    each set across the outputs in turn, so no class is shown more than once more than another
    while the pool allows: small models copy the majority label of their demonstrations (Zhao
    et al., "Calibrate Before Use", 2021), so an all-one-class set can win on a small batch
    that happens to lean that way and then lose on dev."""
    size = min(k, len(entries))
    if size == 0:
        return []
    sets: list[list[Demonstration]] = []
    for _ in range(4 * count):  # a few tries more: a small pool repeats itself
        if len(sets) == count:
            break
        drawn = _balanced_sample(entries, size, rng) if balanced else rng.sample(list(entries), size)
        if drawn != list(current) and drawn not in sets:
            sets.append(drawn)
    return sets


def _balanced_sample(entries: Sequence[Demonstration], size: int, rng: random.Random) -> list[Demonstration]:
    """`size` entries taken one output at a time, the outputs in a random order, each output's
    entries at random; the set then shuffled, so its order says nothing of its outputs."""
    by_output: dict[str, list[Demonstration]] = {}
    for entry in entries:
        by_output.setdefault(entry.output, []).append(entry)
    queues = [rng.sample(group, len(group)) for group in by_output.values()]
    rng.shuffle(queues)
    drawn: list[Demonstration] = []
    while len(drawn) < size:
        for queue in queues:
            if queue and len(drawn) < size:
                drawn.append(queue.pop())
    rng.shuffle(drawn)
    return drawn
