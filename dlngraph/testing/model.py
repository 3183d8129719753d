"""A fake language model: deterministic texts and log-probabilities derived from hashes.

Every default the scripted server gives is a pure function of the request, so tests and
benchmarks replay exactly: the same prompt, seed and sample index give the same text, and the
logprob of a token is a function of the text up to and including it (a CRC-32 running over the
prefix, cheap enough for thousands of requests per second).
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib

TOKEN_PATTERN = re.compile(r"\s*\S+")
"""GPT-like tokens: a run of non-space characters with the whitespace before it attached."""

MIN_LOGPROB = -6.0
MAX_LOGPROB = -0.05

WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray",
    "yankee", "zulu", "amber", "basalt", "cobalt", "dune", "ember", "fjord",
)  # fmt: skip

MIN_DEFAULT_WORDS = 3
MAX_DEFAULT_WORDS = 8


def tokenize(text: str) -> list[str]:
    return TOKEN_PATTERN.findall(text)


def count_tokens(text: str) -> int:
    return len(TOKEN_PATTERN.findall(text))


def token_spans(text: str, start: int = 0) -> list[tuple[str, int]]:
    """Tokens of `text` with their character offsets, shifted by `start`."""
    return [(match.group(), start + match.start()) for match in TOKEN_PATTERN.finditer(text)]


def default_text(
    prompt: str, *, temperature: float, seed: int | None, index: int, leading_space: bool
) -> str:
    """A few words chosen by a hash of the prompt; sampling (temperature > 0) mixes in the seed
    and the sample index, so draws differ from each other but replay identically."""
    key = prompt if temperature <= 0 else f"{prompt}\x00{seed}\x00{index}\x00{temperature}"
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest()
    length = MIN_DEFAULT_WORDS + digest[0] % (MAX_DEFAULT_WORDS - MIN_DEFAULT_WORDS + 1)
    text = " ".join(WORDS[byte % len(WORDS)] for byte in digest[1 : 1 + length])
    return " " + text if leading_space else text


def logprob_from_crc(crc: int) -> float:
    """Map a 32-bit hash uniformly onto [MIN_LOGPROB, MAX_LOGPROB]."""
    return MAX_LOGPROB - (MAX_LOGPROB - MIN_LOGPROB) * (crc / 0xFFFFFFFF)


class RunningLogprobs:
    """Logprob of each next token as a function of everything read so far."""

    def __init__(self, prefix: str = "") -> None:
        self._crc = zlib.crc32(prefix.encode("utf-8")) if prefix else 0

    def next(self, token: str) -> float:
        self._crc = zlib.crc32(token.encode("utf-8"), self._crc)
        return logprob_from_crc(self._crc)


def top_alternatives(token: str, logprob: float, k: int) -> list[tuple[str, float]]:
    """The token itself and k-1 other words, each half as likely as the one before and never
    more likely than the token, so the top list is coherent and its probabilities sum below 1."""
    if k <= 0:
        return []
    top = [(token, logprob)]
    probability = math.exp(logprob)
    remaining = min(probability, 1.0 - probability)
    first_word = zlib.crc32(token.encode("utf-8")) % len(WORDS)
    offset = 0
    while len(top) < k and offset < len(WORDS):
        word = " " + WORDS[(first_word + offset) % len(WORDS)]
        offset += 1
        if word == token:
            continue
        remaining *= 0.5
        top.append((word, math.log(remaining) if remaining > 0 else MIN_LOGPROB * 4))
    return top
