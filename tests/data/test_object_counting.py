"""The generated `object_counting` task: exact counts, difficulty knobs, balance, disjoint splits."""

from __future__ import annotations

import re

import pytest

from dlngraph.data.errors import DataError
from dlngraph.data.tasks import generate_dataset, get_task
from dlngraph.data.tasks.number_words import number_word
from dlngraph.data.tasks.object_counting import CATEGORIES, _listing, _split

UNITS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
KIND_OF = {name: kind for kind, things in CATEGORIES.items() for thing in things for name in (thing[0].split(" ", 1)[1], thing[1])}


def read_number(word: str) -> int:
    """A number word or digits, read independently of the generator's number_word."""
    if word.isdigit():
        return int(word)
    if word in UNITS:
        return UNITS.index(word)
    tens, _, units = word.partition("-")
    return TENS[tens] + (UNITS.index(units) if units else 0)


def entries(text: str) -> tuple[list[tuple[int, str]], str]:
    """(quantity, thing) of each entry in the list, and the kind asked about."""
    match = re.fullmatch(r"I have (.*)\. How many (.*) do I have\?", text)
    assert match, text
    listing, kind = match.groups()
    phrases = re.split(r", and |, | and ", listing)
    parsed = []
    for phrase in phrases:
        first, rest = phrase.split(" ", 1)
        parsed.append((1, rest) if first in ("a", "an") else (read_number(first), rest))
    return parsed, kind


def count(text: str) -> int:
    items, kind = entries(text)
    return sum(quantity for quantity, thing in items if KIND_OF[thing] == kind)


def test_count_of_hand_written_questions() -> None:
    assert count("I have a violin, two apples, a drum, and three flutes. How many musical instruments do I have?") == 5
    assert count("I have a cat and a dog. How many animals do I have?") == 2
    assert count("I have a chair. How many fruits do I have?") == 0
    assert count("I have two heads of broccoli, a stalk of celery, and an apple. How many vegetables do I have?") == 3


@pytest.mark.parametrize(("number", "word"), [(0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (42, "forty-two"), (99, "ninety-nine")])
def test_number_word(number: int, word: str) -> None:
    assert number_word(number) == word
    assert read_number(word) == number


def test_number_word_range() -> None:
    with pytest.raises(ValueError):
        number_word(100)


def test_listing_uses_the_serial_comma() -> None:
    assert _listing(["a cat"]) == "a cat"
    assert _listing(["a cat", "a dog"]) == "a cat and a dog"
    assert _listing(["a cat", "a dog", "two cows"]) == "a cat, a dog, and two cows"


def test_split_adds_up_within_bounds() -> None:
    import random

    rng = random.Random(0)
    for total, parts, largest in [(1, 1, 3), (6, 2, 3), (7, 3, 3), (9, 3, 3), (4, 4, 1)]:
        quantities = _split(total, parts, largest, rng)
        assert sum(quantities) == total and len(quantities) == parts
        assert all(1 <= quantity <= largest for quantity in quantities)


@pytest.fixture(scope="module")
def dataset():
    return generate_dataset(get_task("object_counting"), train=90, dev=36, test=37, seed=11)


def test_generated_answers_are_exact(dataset) -> None:
    for example in dataset.train + dataset.dev + dataset.test:
        assert read_number(example.target) == count(example.input), example


def test_answers_are_numbers_not_classes(dataset) -> None:
    assert dataset.labels is None
    assert all(read_number(example.target) >= 1 for example in dataset.train)


def test_answers_are_balanced(dataset) -> None:
    for split in (dataset.train, dataset.dev, dataset.test):
        counts = {}
        for example in split:
            counts[example.target] = counts.get(example.target, 0) + 1
        assert max(counts.values()) - min(counts.values()) <= 1
        assert len(counts) == min(len(split), 18)  # 1..6*3 with the defaults


def test_splits_are_disjoint_and_reproducible(dataset) -> None:
    inputs = [example.input for example in dataset.train + dataset.dev + dataset.test]
    assert len(set(inputs)) == len(inputs)
    again = generate_dataset(get_task("object_counting"), train=90, dev=36, test=37, seed=11)
    assert again == dataset


@pytest.mark.parametrize("params", [
    {"min_items": 1, "max_items": 2, "max_quantity": 1},
    {"min_items": 3, "max_items": 5, "max_quantity": 4, "distractors": False},
    {"min_items": 6, "max_items": 8, "max_quantity": 2, "answer": "digits"},
])
def test_difficulty_params_are_respected(params: dict) -> None:
    data = generate_dataset(get_task("object_counting", params), train=40, dev=0, test=0, seed=2)
    for example in data.train:
        items, kind = entries(example.input)
        assert params["min_items"] <= len(items) <= params["max_items"]
        assert all(quantity <= params["max_quantity"] for quantity, _ in items)
        if params.get("distractors") is False:
            assert all(KIND_OF[thing] == kind for _, thing in items)
        if params.get("answer") == "digits":
            assert example.target.isdigit()
        assert read_number(example.target) == count(example.input)


def test_bad_params_are_named() -> None:
    with pytest.raises(DataError, match=r"data\.params: max_items can be at most 12"):
        get_task("object_counting", {"max_items": 13})
    with pytest.raises(DataError, match=r"data\.params\.answer"):
        get_task("object_counting", {"answer": "roman"})
