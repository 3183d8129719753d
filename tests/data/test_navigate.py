"""The generated `navigate` task: exact answers, difficulty knobs, balance, disjoint reproducible splits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dlngraph.data.errors import DataError
from dlngraph.data.tasks import generate_dataset, get_task
from dlngraph.data.tasks.navigate import Instruction, answer, read_walk, walk_ends_home

QUESTION = "If you follow these instructions, do you return to the starting point?"


def returns_home(text: str) -> bool:
    """An independent walker: position and heading as complex numbers, sentences read by hand."""
    position, heading = 0j, 1j
    sentences = text.split("\n")[0].removeprefix(QUESTION).split(".")
    for sentence in (s.strip() for s in sentences if s.strip()):
        words = sentence.split()
        if sentence == "Always face forward":
            continue
        if words[0] == "Turn":
            heading *= {"left": 1j, "right": -1j, "around": -1}[words[1]]
            continue
        assert words[0] == "Take" and words[2] in ("step", "steps"), sentence
        side = words[3] if len(words) > 3 else "forward"
        rotation = {"forward": 1, "backward": -1, "left": 1j, "right": -1j}[side]
        position += int(words[1]) * heading * rotation
    return position == 0


def question(*sentences: str) -> str:
    return " ".join([QUESTION, *sentences]) + "\nOptions:\n- Yes\n- No"


HAND_WRITTEN = [
    (question("Always face forward.", "Take 3 steps left.", "Take 3 steps right."), "Yes"),
    (question("Always face forward.", "Take 3 steps left.", "Take 3 steps forward."), "No"),
    (question("Always face forward.", "Take 2 steps forward.", "Take 1 step left.", "Take 2 steps backward.", "Take 1 step right."), "Yes"),
    (question("Take 2 steps.", "Turn around.", "Take 2 steps."), "Yes"),
    (question("Take 2 steps.", "Turn around.", "Take 1 step."), "No"),
    (question("Take 1 step.", "Turn left.", "Take 1 step.", "Turn left.", "Take 1 step.", "Turn left.", "Take 1 step."), "Yes"),
    (question("Take 1 step.", "Turn right.", "Take 1 step.", "Turn left.", "Take 1 step."), "No"),
    (question("Turn left.", "Turn left.", "Take 5 steps.", "Turn right.", "Turn right.", "Take 5 steps."), "Yes"),
    (question("Take 4 steps.", "Turn right.", "Turn right.", "Turn left.", "Turn left."), "No"),
]


@pytest.mark.parametrize(("text", "expected"), HAND_WRITTEN)
def test_answer_of_hand_written_walks(text: str, expected: str) -> None:
    assert answer(text) == expected
    assert returns_home(text) == (expected == "Yes")


def test_walk_ends_home_on_instructions() -> None:
    square = [Instruction(distance=2), Instruction(turn="right")] * 4
    assert walk_ends_home(square)
    assert not walk_ends_home(square[:-2])
    sidestep = [Instruction(direction="left", distance=1), Instruction(direction="forward", distance=1)]
    assert not walk_ends_home(sidestep)
    assert walk_ends_home([Instruction(turn="around")])  # turning in place never leaves


def test_read_walk_parses_every_sentence_kind() -> None:
    text = question("Always face forward.", "Take 1 step backward.", "Take 10 steps left.")
    assert read_walk(text) == [Instruction(direction="backward", distance=1), Instruction(direction="left", distance=10)]
    with pytest.raises(ValueError, match="Jump"):
        read_walk(question("Jump 3 times."))


def test_answer_agrees_with_every_published_label(shared_data: Path) -> None:
    """Our semantics of the sentences match BIG-bench's gold answers on all 1000 items."""
    for name in ("bbh/navigate.json", "bb_minus_bbh/navigate.json"):
        examples = json.loads((shared_data / name).read_text())["examples"]
        assert [answer(e["input"]) for e in examples] == [e["target"] for e in examples]


@pytest.fixture(scope="module")
def dataset():
    return generate_dataset(get_task("navigate"), train=120, dev=60, test=61, seed=3)


def test_generated_answers_are_exact(dataset) -> None:
    for example in dataset.train + dataset.dev + dataset.test:
        assert returns_home(example.input) == (example.target == "Yes"), example


def test_generated_inputs_look_like_bbh(dataset) -> None:
    sentence = r"(Always face forward\.|Turn (left|right|around)\.|Take \d+ steps?( (forward|backward|left|right))?\.)"
    pattern = re.compile(re.escape(QUESTION) + rf"( {sentence})+\nOptions:\n- Yes\n- No")
    for example in dataset.train:
        assert pattern.fullmatch(example.input), example.input
    styles = {"Always face forward." in example.input for example in dataset.train}
    assert styles == {True, False}  # both BBH styles appear


def test_labels_are_balanced_in_every_split(dataset) -> None:
    assert dataset.labels == ["Yes", "No"]
    for split in (dataset.train, dataset.dev, dataset.test):
        yes = sum(example.target == "Yes" for example in split)
        assert abs(2 * yes - len(split)) <= 1


def test_splits_are_disjoint(dataset) -> None:
    inputs = [example.input for example in dataset.train + dataset.dev + dataset.test]
    assert len(set(inputs)) == len(inputs)


def test_same_seed_same_data_other_seed_other_data() -> None:
    task = get_task("navigate")
    first = generate_dataset(task, train=20, dev=10, test=10, seed=5)
    assert generate_dataset(task, train=20, dev=10, test=10, seed=5) == first
    assert generate_dataset(task, train=20, dev=10, test=10, seed=6).train != first.train


def test_train_split_does_not_depend_on_dev_and_test_sizes() -> None:
    task = get_task("navigate")
    small = generate_dataset(task, train=20, dev=5, test=5, seed=5)
    large = generate_dataset(task, train=20, dev=30, test=40, seed=5)
    assert small.train == large.train


@pytest.mark.parametrize("params", [
    {"min_steps": 2, "max_steps": 3, "max_distance": 2},
    {"min_steps": 6, "max_steps": 6, "max_distance": 4, "allow_turns": False},
    {"min_steps": 4, "max_steps": 12, "max_distance": 10},
])
def test_difficulty_params_are_respected(params: dict) -> None:
    data = generate_dataset(get_task("navigate", params), train=40, dev=0, test=0, seed=1)
    for example in data.train:
        walk = read_walk(example.input)
        assert params["min_steps"] <= len(walk) <= params["max_steps"]
        assert all(step.distance <= params["max_distance"] for step in walk)
        if params.get("allow_turns") is False:
            assert "Always face forward." in example.input
        assert returns_home(example.input) == (example.target == "Yes")


def test_bad_params_are_named() -> None:
    with pytest.raises(DataError, match=r"data\.params: max_steps \(2\) must be at least min_steps \(3\)"):
        get_task("navigate", {"min_steps": 3, "max_steps": 2})
    with pytest.raises(DataError, match=r"data\.params\.steps: unknown parameter"):
        get_task("navigate", {"steps": 3})
    with pytest.raises(DataError, match=r"data\.task: unknown task 'walk'"):
        get_task("walk")


def test_wrong_param_types_are_all_named_as_in_the_spec() -> None:
    with pytest.raises(DataError) as raised:
        get_task("navigate", {"max_steps": "x", "allow_turns": 3})
    assert str(raised.value).splitlines() == [
        "data.params.max_steps: expected an integer, found string 'x' (task 'navigate')",
        "data.params.allow_turns: expected true or false, found integer 3 (task 'navigate')",
    ]


def test_too_few_possible_inputs_is_an_error_not_a_hang() -> None:
    tiny = get_task("navigate", {"min_steps": 2, "max_steps": 2, "max_distance": 1, "allow_turns": False})
    with pytest.raises(DataError, match="distinct 'train' inputs"):
        generate_dataset(tiny, train=30, dev=0, test=0, seed=0)
