"""Stable seeds: every random choice of a run derives from its seed, never from Python's
salted `hash`, so a run replays exactly (and, with the cache, at no cost)."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF
