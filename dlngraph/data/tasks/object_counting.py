"""`object_counting`: count the things of one kind in a list of possessions.

The BIG-Bench-Hard task, generated: "I have a violin, two apples, a drum, and three lamps.
How many musical instruments do I have?" -> "three". With `distractors`, the list also holds
things of other kinds, which must not be counted. The answer is a number word by default
(one word, so the paper's exact-match scoring works), or digits with `answer: digits`.
"""

from __future__ import annotations

import random
from typing import Literal

import msgspec

from dlngraph.data.tasks.base import Task
from dlngraph.data.tasks.number_words import LARGEST, number_word

Thing = tuple[str, str]
"""A thing as (one of it with its article, its plural): ("an apple", "apples")."""

CATEGORIES: dict[str, list[Thing]] = {
    "musical instruments": [
        ("a violin", "violins"), ("a piano", "pianos"), ("a flute", "flutes"), ("a drum", "drums"),
        ("a trumpet", "trumpets"), ("a clarinet", "clarinets"), ("an accordion", "accordions"),
        ("a trombone", "trombones"), ("a guitar", "guitars"), ("a harp", "harps"), ("a cello", "cellos"),
        ("a banjo", "banjos"),
    ],
    "fruits": [
        ("an apple", "apples"), ("a banana", "bananas"), ("a peach", "peaches"), ("a plum", "plums"),
        ("a grape", "grapes"), ("a strawberry", "strawberries"), ("a nectarine", "nectarines"),
        ("an orange", "oranges"), ("a raspberry", "raspberries"), ("a blackberry", "blackberries"),
        ("a lemon", "lemons"), ("a mango", "mangoes"),
    ],
    "vegetables": [
        ("a carrot", "carrots"), ("a potato", "potatoes"), ("an onion", "onions"), ("a cabbage", "cabbages"),
        ("a yam", "yams"), ("a garlic bulb", "garlic bulbs"), ("a stalk of celery", "stalks of celery"),
        ("a head of broccoli", "heads of broccoli"), ("a lettuce head", "lettuce heads"),
        ("a cauliflower", "cauliflowers"), ("an eggplant", "eggplants"), ("a zucchini", "zucchinis"),
    ],
    "animals": [
        ("a cat", "cats"), ("a dog", "dogs"), ("a rabbit", "rabbits"), ("a goat", "goats"), ("a cow", "cows"),
        ("a pig", "pigs"), ("a snake", "snakes"), ("a frog", "frogs"), ("a donkey", "donkeys"),
        ("a chicken", "chickens"), ("a duck", "ducks"), ("a horse", "horses"),
    ],
    "pieces of furniture": [
        ("a chair", "chairs"), ("a table", "tables"), ("a bed", "beds"), ("a couch", "couches"),
        ("a desk", "desks"), ("a stool", "stools"), ("a wardrobe", "wardrobes"), ("a dresser", "dressers"),
        ("a bench", "benches"), ("a cabinet", "cabinets"), ("an armchair", "armchairs"),
        ("a bookshelf", "bookshelves"),
    ],
}
_SMALLEST_CATEGORY = min(len(things) for things in CATEGORIES.values())


class ObjectCountingParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Difficulty knobs: how long the list is, how many of one thing, whether to mix kinds."""

    min_items: int = 2
    """Fewest entries in the list ("two apples" is one entry)."""
    max_items: int = 6
    max_quantity: int = 3
    """Most of one thing in an entry ("three lamps")."""
    distractors: bool = True
    """List things of other kinds too, which the answer must leave out."""
    answer: Literal["words", "digits"] = "words"

    def __post_init__(self) -> None:
        if not 1 <= self.min_items <= self.max_items:
            raise ValueError(f"expected 1 <= min_items <= max_items, found {self.min_items} and {self.max_items}")
        if self.max_items > _SMALLEST_CATEGORY:
            raise ValueError(f"max_items can be at most {_SMALLEST_CATEGORY}, found {self.max_items}")
        if not 1 <= self.max_quantity <= 9:
            raise ValueError(f"max_quantity must be from 1 to 9, found {self.max_quantity}")
        if self.max_items * self.max_quantity > LARGEST:
            raise ValueError(f"max_items * max_quantity must be at most {LARGEST}")


class ObjectCounting(Task):
    name = "object_counting"
    classification = False  # the answer is a number to say, not a class to pick
    Params = ObjectCountingParams
    params: ObjectCountingParams

    @property
    def instruction(self) -> str:
        form = "a number written in words" if self.params.answer == "words" else "a number in digits"
        return f"Count the things of the kind asked about in the list, and answer with {form}."

    def labels(self) -> list[str]:
        return [self._answer(total) for total in self._totals()]

    def sample(self, rng: random.Random, label: str) -> str:
        total = self._totals()[self.labels().index(label)]
        entries = rng.choice(self._list_lengths(total))
        counted = entries if not self.params.distractors else rng.randint(self._fewest_counted(total), min(entries, total))
        return self._question(rng, total, entries, counted)

    def _totals(self) -> range:
        """Every possible answer: without distractors each entry counts, so at least min_items."""
        smallest = 1 if self.params.distractors else self.params.min_items
        return range(smallest, self.params.max_items * self.params.max_quantity + 1)

    def _answer(self, total: int) -> str:
        return number_word(total) if self.params.answer == "words" else str(total)

    def _fewest_counted(self, total: int) -> int:
        """Fewest entries of the asked kind that can add up to `total`."""
        return -(-total // self.params.max_quantity)

    def _list_lengths(self, total: int) -> list[int]:
        """The list lengths that can hold entries of the asked kind adding up to `total`."""
        lengths = range(self.params.min_items, self.params.max_items + 1)
        if self.params.distractors:
            return [length for length in lengths if self._fewest_counted(total) <= length]
        return [length for length in lengths if self._fewest_counted(total) <= length <= total]

    def _question(self, rng: random.Random, total: int, entries: int, counted: int) -> str:
        kind = rng.choice(sorted(CATEGORIES))
        others = [thing for name, things in sorted(CATEGORIES.items()) if name != kind for thing in things]
        things = rng.sample(CATEGORIES[kind], counted) + rng.sample(others, entries - counted)
        quantities = _split(total, counted, self.params.max_quantity, rng)
        quantities += [rng.randint(1, self.params.max_quantity) for _ in range(entries - counted)]
        phrases = [_phrase(thing, quantity) for thing, quantity in zip(things, quantities, strict=True)]
        rng.shuffle(phrases)
        return f"I have {_listing(phrases)}. How many {kind} do I have?"


def _split(total: int, parts: int, largest: int, rng: random.Random) -> list[int]:
    """`parts` random numbers from 1 to `largest` that add up to `total` (which must be reachable)."""
    quantities = []
    for remaining_parts in range(parts, 0, -1):
        low = max(1, total - largest * (remaining_parts - 1))
        high = min(largest, total - (remaining_parts - 1))
        quantity = rng.randint(low, high)
        quantities.append(quantity)
        total -= quantity
    rng.shuffle(quantities)
    return quantities


def _phrase(thing: Thing, quantity: int) -> str:
    one, many = thing
    return one if quantity == 1 else f"{number_word(quantity)} {many}"


def _listing(phrases: list[str]) -> str:
    """"a, b, and c" (with the serial comma BBH uses), "a and b", or "a"."""
    if len(phrases) <= 2:
        return " and ".join(phrases)
    return ", ".join(phrases[:-1]) + ", and " + phrases[-1]
