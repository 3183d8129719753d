"""A conservative token count for backends without a tokenizer.

Budgets and context-window checks must never let a request through that does not fit, so when
the exact tokenizer is unknown we over-estimate: BPE tokenizers of current models average about
four bytes of English per token and rarely more than one token per word and a half, so taking
the larger of "a token every three bytes" and "one and a half tokens per word" stays above the
true count for ordinary text (English, code, and CJK, whose characters take three UTF-8 bytes).
It is an estimate, not a bound: adversarial text (e.g. long runs of rare symbols) can exceed it.
"""

from __future__ import annotations

import math

BYTES_PER_TOKEN = 3.0
TOKENS_PER_WORD = 1.5


def estimate_tokens(text: str) -> int:
    """Over-estimate of the number of tokens of `text` under a typical BPE tokenizer."""
    if not text:
        return 0
    by_bytes = len(text.encode("utf-8")) / BYTES_PER_TOKEN
    by_words = len(text.split()) * TOKENS_PER_WORD
    return math.ceil(max(by_bytes, by_words))
