"""`word_problems`: arithmetic word problems with exact integer answers, in GSM8K's spirit.

"Maya has 7 stickers. She buys 4 boxes of 3 stickers and gives away 5. How many stickers does
Maya have now?" -> "14". Each problem takes two or three operations; the answer is the bare
integer, so a free-text answer is scored by the number it ends with (`extract: last_number`),
as GSM8K answers are.
"""

from __future__ import annotations

import random

import msgspec

from dlngraph.data.tasks.base import Task

NAMES = ["Maya", "Leo", "Ava", "Omar", "Lena", "Sam", "Nora", "Ravi", "Ines", "Tom"]
THINGS = ["stickers", "marbles", "apples", "stamps", "pencils", "cards", "shells", "coins"]


class WordProblemParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_answer: int = 60
    """Answers run from 1 to this."""
    max_factor: int = 9
    """Largest count of boxes and of things per box."""

    def __post_init__(self) -> None:
        if not 4 <= self.max_answer <= 1000:
            raise ValueError(f"max_answer must be from 4 to 1000, found {self.max_answer}")
        if not 2 <= self.max_factor <= 20:
            raise ValueError(f"max_factor must be from 2 to 20, found {self.max_factor}")


class WordProblems(Task):
    name = "word_problems"
    classification = False  # a number to work out, not a class to pick
    Params = WordProblemParams
    params: WordProblemParams

    @property
    def instruction(self) -> str:
        return "Solve the word problem step by step, then give the final answer as a number."

    def labels(self) -> list[str]:
        return [str(answer) for answer in range(1, self.params.max_answer + 1)]

    def sample(self, rng: random.Random, label: str) -> str:
        answer = int(label)
        name, things = rng.choice(NAMES), rng.choice(THINGS)
        boxes = self._boxes(rng, answer)
        if boxes is None or rng.random() < 0.3:
            return self._add_and_remove(rng, answer, name, things)
        start, count, size, given = boxes
        return (f"{name} has {start} {things}. {name} buys {count} boxes of {size} {things} and gives away"
                f" {given}. How many {things} does {name} have now?")

    def _boxes(self, rng: random.Random, answer: int) -> tuple[int, int, int, int] | None:
        """(start, boxes, per box, given away) with start + boxes * per box - given = answer, or None."""
        top = self.params.max_factor
        options = [(count, size) for count in range(2, top + 1) for size in range(2, top + 1)
                   if count * size <= answer + 9]
        if not options:
            return None
        count, size = rng.choice(options)
        given = rng.randint(max(1, count * size - answer + 1), 9) if count * size - answer + 1 <= 9 else None
        if given is None:
            return None
        start = answer + given - count * size
        return (start, count, size, given) if start >= 1 else None

    def _add_and_remove(self, rng: random.Random, answer: int, name: str, things: str) -> str:
        """start + found - lost = answer, with every number at least 1."""
        lost = rng.randint(1, 9)
        found = rng.randint(1, answer + lost - 1)
        start = answer + lost - found
        return (f"{name} has {start} {things}. {name} finds {found} more and then loses {lost}."
                f" How many {things} does {name} have now?")
