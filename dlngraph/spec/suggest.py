"""Suggesting the name the author probably meant, for "unknown ..." messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: object, candidates: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the most similar candidate, or "" when none is close."""
    matches = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""
