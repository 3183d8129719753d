"""Class probabilities from the next token's top logprobs: the one rule both backends apply.

A class node is answered by the distribution of the first token its model would generate, read
over the node's classes. A server lists only the top N tokens, as text (N is the paper's 100, or
fewer when the server caps it); the embedded model lists its own top N the same way, and the
first token of every verbalizer beside them, since it knows every token's probability
(`dlngraph.llm.local.backend.verbalizer_starts`). One model gives one distribution whichever
backend serves it, up to the floor below: where a server leaves a class out, the embedded model
lists its true, smaller probability. The rule:

- the listed tokens are a map from text to logprob, as the completions API sends them: a text
  listed twice keeps its last (least likely) logprob;
- a token counts for a class when its text, stripped of whitespace, begins a stripped verbalizer
  of that class and of no other. So a verbalizer of several tokens counts through its first
  token ("sarc" of "sarcastic"), one token long counts whole ("Yes" of "Yes"), and a token that
  begins verbalizers of several classes ("(" of "(A)" and "(B)") tells nothing about which
  follows and counts for none. A class's tokens add up;
- a class none of whose tokens is listed (an absent class) gets the smallest listed
  probability: its tokens are less likely than every listed one, so this is the most mass
  consistent with the evidence, and it keeps every class possible (p > 0) without inventing
  confidence (the paper's `min_prob`);
- the mass outside every class (other tokens, and whatever is not listed) is left out: the
  probabilities are renormalised over the classes. With nothing listed, they are uniform.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

PAPER_TOP_LOGPROBS = 100
"""How many top logprobs class scoring reads: the paper's (`LogProbsScore`, `top_logprobs:
100`). Servers may cap it (vLLM's `--max-logprobs` and OpenAI's chat API at 20, OpenAI's legacy
completions at 5); the OpenAI backend then reads what the server allows."""

Verbalizers = tuple[tuple[str, ...], ...]
"""One tuple of verbalizers per class; the first verbalizer is the class label."""


def class_probabilities(top_logprobs: Iterable[tuple[str, float]], classes: Verbalizers) -> dict[str, float]:
    """p(class) from the next token's top logprobs, by the rule of the module docstring."""
    class_of_start = _class_of_start(classes)
    labels = [verbalizers[0] for verbalizers in classes]
    mass = dict.fromkeys(labels, 0.0)
    seen = []
    for text, logprob in dict(top_logprobs).items():
        probability = math.exp(logprob)
        if probability > 0:
            seen.append(probability)
        index = class_of_start.get(text.strip())
        if index is not None:
            mass[labels[index]] += probability
    floor = min(seen) if seen else 1.0
    for label, value in mass.items():
        if value <= 0:
            mass[label] = floor
    total = sum(mass.values())
    return {label: value / total for label, value in mass.items()}


@functools.lru_cache(maxsize=256)
def _class_of_start(classes: Verbalizers) -> dict[str, int | None]:
    """Every non-empty start of a stripped verbalizer, with the index of its class, or None when
    it starts verbalizers of several classes. (A node's classes never change: built once.)"""
    owner: dict[str, int | None] = {}
    for index, verbalizers in enumerate(classes):
        for verbalizer in verbalizers:
            name = verbalizer.strip()
            for end in range(1, len(name) + 1):
                start = name[:end]
                owner[start] = index if owner.get(start, index) == index else None
    return owner
