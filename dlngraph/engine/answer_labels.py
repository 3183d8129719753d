"""Reading a class out of text: the answer a model generated, or a target written by hand.

Parsing `label|verbalizer|...` entries belongs to the spec (`dlngraph.spec.classes`)."""

from __future__ import annotations

import re

from dlngraph.llm.class_probs import Verbalizers

_WORD = re.compile(r"[A-Za-z0-9()]+")


def match_class(text: str, verbalizers: Verbalizers) -> str | None:
    """The label whose verbalizer appears first in `text` (case-insensitive word match).

    Used when a backend cannot score classes, so the node's answer is generated text.
    """
    words = [word.lower() for word in _WORD.findall(text)]
    for word in words:
        for names in verbalizers:
            if word in (name.lower() for name in names):
                return names[0]
    return None


def label_of(text: str, verbalizers: Verbalizers) -> str | None:
    """The label `text` names exactly (a target such as "Yes" -> "yes"), or None."""
    needle = text.strip().lower()
    for names in verbalizers:
        if needle in (name.lower() for name in names):
            return names[0]
    return None
