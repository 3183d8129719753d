"""Counts in messages, worded as a person would: "1 node", "3 nodes".

A leaf module with no imports, so that every layer (the graph's text rendering, the data
readers' errors, the reports and the command line) words counts the same way.
"""

from __future__ import annotations


def plural(number: int, noun: str) -> str:
    """1 -> '1 iteration', 3 -> '3 iterations' (for nouns whose plural adds an s)."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
