"""The generated `reviews` task: the verdict decides, the aspects are mixed, the splits disjoint."""

from __future__ import annotations

import pytest

from dlngraph.data.errors import DataError
from dlngraph.data.tasks import generate_dataset, get_task
from dlngraph.data.tasks.reviews import COMPLAINTS, PRAISE, VERDICTS


def verdict_of(text: str) -> str:
    """The label whose verdict sentence the review holds, read independently of the generator."""
    found = {label for label, sentences in VERDICTS.items() for sentence in sentences if sentence in text}
    assert len(found) == 1, text
    return found.pop()


def test_every_answer_is_the_reviewers_verdict_and_the_classes_are_balanced() -> None:
    data = generate_dataset(get_task("reviews"), train=60, dev=100, test=100, seed=3)
    for split in (data.train, data.dev, data.test):
        assert all(verdict_of(example.input) == example.target for example in split)
        assert sum(example.target == "positive" for example in split) == len(split) // 2
    inputs = [example.input for split in (data.train, data.dev, data.test) for example in split]
    assert len(set(inputs)) == len(inputs)
    assert data.labels == ["positive", "negative"]


def test_mixed_reviews_praise_and_criticise_so_the_aspect_words_do_not_give_the_answer() -> None:
    task = get_task("reviews", {"mixed_share": 1.0, "verdict_first_share": 0.0})
    data = generate_dataset(task, train=0, dev=40, test=0, seed=1)
    for example in data.dev:
        assert any(f" {word}" in example.input for word in PRAISE)
        assert any(f" {word}" in example.input for word in COMPLAINTS)
        assert example.input.endswith(tuple(VERDICTS[example.target]))


def test_verdicts_may_come_first() -> None:
    task = get_task("reviews", {"verdict_first_share": 1.0})
    data = generate_dataset(task, train=0, dev=20, test=0, seed=1)
    assert all(example.input.startswith(VERDICTS[example.target]) for example in data.dev)


def test_plural_aspects_read_as_plurals() -> None:
    data = generate_dataset(get_task("reviews"), train=200, dev=0, test=0, seed=2)
    text = " ".join(example.input for example in data.train)
    assert "brakes were" in text or "wheels were" in text or "pockets were" in text
    assert " brakes was" not in text and " wheels was" not in text


@pytest.mark.parametrize("params", [{"mixed_share": 1.5}, {"verdict_first_share": -0.1}, {"tone": "angry"}])
def test_bad_parameters_are_named(params: dict) -> None:
    with pytest.raises(DataError, match=next(iter(params))):
        get_task("reviews", params)
