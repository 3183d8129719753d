"""Numbers as English words ("twenty-one"), for answers a model can say in one word."""

from __future__ import annotations

_UNITS = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
LARGEST = 99


def number_word(number: int) -> str:
    """`number` (0 to 99) in words: 7 -> "seven", 42 -> "forty-two"."""
    if not 0 <= number <= LARGEST:
        raise ValueError(f"expected a number from 0 to {LARGEST}, found {number}")
    if number < 20:
        return _UNITS[number]
    tens, units = divmod(number, 10)
    return _TENS[tens] + (f"-{_UNITS[units]}" if units else "")
