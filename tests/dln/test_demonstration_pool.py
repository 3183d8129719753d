"""The pool of candidate demonstrations: seeded from training examples only, merged newest
first, never drawn from a step's own batch, drawn into distinct sets."""

from __future__ import annotations

import random

import msgspec

from dlngraph.data.types import Example
from dlngraph.dln.demonstration_pool import (
    answer_of,
    draw_sets,
    drawable,
    merged,
    pool_size,
    seeded_pool,
    source_of,
)
from dlngraph.dln.trainer import Trainer
from dlngraph.spec import Demonstration
from dlngraph.spec.training import TrainingSpec
from tests.dln.test_trainer import _rebuild
from tests.scripted import DLN1, network_from_text, shipped_network

TRAIN = [Example(input=f"walk {i}", target="yes" if i % 2 else "no", id=f"train:{i}") for i in range(40)]


def demo(source: str, output: str = "Yes") -> Demonstration:
    return Demonstration(input=f"input of {source}", output=output, source=source)


def test_a_scored_node_reading_the_input_is_seeded_with_labelled_training_examples() -> None:
    net = _rebuild(network_from_text(DLN1), TrainingSpec(num_demos=3))
    pool = seeded_pool(net, TRAIN, {}, random.Random(1))
    assert list(pool) == ["answer"] and len(pool["answer"]) == pool_size(3) == 16
    by_id = {example.id: example for example in TRAIN}
    for entry in pool["answer"]:
        example = by_id[entry.source]
        assert entry.input == example.input and entry.residual == ""
        assert entry.output == ("Yes" if example.target == "yes" else "No")  # the class label, as the node answers
    assert seeded_pool(net, TRAIN, {}, random.Random(1)) == pool  # seeded


def test_nodes_that_learn_none_or_read_a_hidden_text_are_not_seeded() -> None:
    assert seeded_pool(network_from_text(DLN1), TRAIN, {}, random.Random(1)) == {}  # k = 0
    dln2 = shipped_network("dln2")
    dln2 = _rebuild(dln2, msgspec.structs.replace(dln2.spec.training, num_demos=2))
    assert seeded_pool(dln2, TRAIN, {}, random.Random(1)) == {}  # the output reads the thoughts; the hidden node is not scored


def test_the_trainer_s_first_state_holds_the_seeded_pool() -> None:
    net = _rebuild(network_from_text(DLN1), TrainingSpec(num_demos=2, seed=5))
    state = Trainer(net, {}, train=TRAIN).initial_state()
    assert {entry.source for entry in state.demonstration_pool["answer"]} <= {example.id for example in TRAIN}
    assert state.demonstrations == state.best_demonstrations == {"answer": []}


def test_a_harvest_goes_first_one_entry_per_example_cut_to_size() -> None:
    pool = {"answer": [demo("a"), demo("b"), demo("c")]}
    after = merged(pool, {"answer": [demo("d"), demo("b", "No")]}, {"answer": 4})
    assert after == {"answer": [demo("d"), demo("b", "No"), demo("a"), demo("c")]}
    assert merged(pool, {"hidden": [demo("x")]}, {}) == {**pool, "hidden": [demo("x")]}


def test_no_entry_of_the_batch_is_drawable() -> None:
    batch = [TRAIN[1], TRAIN[2]]
    entries = [demo("train:1"), demo("train:3"), demo("train:2"), demo("train:4")]
    assert drawable(entries, batch) == [demo("train:3"), demo("train:4")]
    assert source_of(TRAIN[1]) == "train:1"
    assert source_of(msgspec.structs.replace(TRAIN[1], id="")) == "walk 1"  # an example without an id: its input


def test_sets_are_distinct_of_k_entries_and_never_the_current_set() -> None:
    entries = [demo(str(i)) for i in range(6)]
    sets = draw_sets(entries, 2, 4, entries[:2], random.Random(3))
    assert len(sets) == 4 and all(len(drawn) == 2 for drawn in sets)
    assert entries[:2] not in sets and len({tuple(drawn) for drawn in sets}) == 4
    assert draw_sets(entries[:1], 3, 4, [], random.Random(3)) == [entries[:1]]  # a small pool: one set of what there is
    assert draw_sets([], 3, 4, [], random.Random(3)) == []


def test_a_target_is_answered_as_the_class_label() -> None:
    node = network_from_text(DLN1).node("answer")
    assert answer_of(node, "yes") == "Yes" and answer_of(node, "maybe") == "maybe"


def test_balanced_sets_show_each_class_in_turn_while_the_pool_allows() -> None:
    """A pool of 6 "Yes" and 2 "No": balanced sets of 3 hold both classes (2 and 1); sets of 4
    hold both of the "No" entries; unbalanced draws of the same pool often show "Yes" alone."""
    entries = [demo(f"y{i}", "Yes") for i in range(6)] + [demo(f"n{i}", "No") for i in range(2)]
    for seed in range(20):
        for drawn in draw_sets(entries, 3, 4, [], random.Random(seed), balanced=True):
            assert sorted(entry.output for entry in drawn) in (["No", "Yes", "Yes"], ["No", "No", "Yes"])
        for drawn in draw_sets(entries, 4, 4, [], random.Random(seed), balanced=True):
            assert sorted(entry.output for entry in drawn) == ["No", "No", "Yes", "Yes"]
    unbalanced = [drawn for seed in range(20) for drawn in draw_sets(entries, 3, 4, [], random.Random(seed))]
    assert any({entry.output for entry in drawn} == {"Yes"} for drawn in unbalanced)
    one_class = [demo(str(i)) for i in range(3)]
    assert len(draw_sets(one_class, 3, 1, [], random.Random(0), balanced=True)[0]) == 3  # one output: the pool as it is
