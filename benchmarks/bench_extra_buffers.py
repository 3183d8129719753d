"""What loading the embedded model without llama.cpp's extra buffer types costs on this CPU.

    python benchmarks/bench_extra_buffers.py [--rounds N]

Loads Gemma 3 270M twice, with `extra_buffers: on` and `off` (see dlngraph.llm.local.buffers),
and times the same work on each in alternating rounds (best round kept, as the machine may be
shared): scoring 24 prompts of ~120 tokens (prompt evaluation, what DLN training mostly does)
and greedy generation of 64 tokens. Prints both and off/on. On a CPU with AMX `on` may crash
(llama.cpp#20824): run it there only to see that.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from dlngraph.llm.local.backend import LocalBackend
from dlngraph.llm.local.buffers import UNSAFE_CPU_FLAGS, cpu_flags
from dlngraph.llm.types import GenerateRequest, ScoreRequest
from dlngraph.spec.models import ModelSpec

INSTRUCTION = "Read the review and say whether its author liked the product. " * 4


async def _score_seconds(backend: LocalBackend, round_: int) -> float:
    requests = [
        ScoreRequest(context=f"{INSTRUCTION}\nReview {round_}-{k}: the battery lasted {k} days, which is "
                     f"{'great' if k % 2 else 'poor'} for the price I paid.\nAnswer:", target=" Yes")
        for k in range(24)
    ]
    started = time.perf_counter()
    await asyncio.gather(*(backend.score(request) for request in requests))
    return time.perf_counter() - started


async def _generate_seconds(backend: LocalBackend, round_: int) -> float:
    started = time.perf_counter()
    await backend.generate(GenerateRequest(prompt=f"Story {round_}: Once upon a time", max_tokens=64))
    return time.perf_counter() - started


async def measure(rounds: int) -> dict[str, dict[str, float]]:
    backends = {
        setting: LocalBackend.from_spec(ModelSpec(backend="local", extra_buffers=setting))  # type: ignore[arg-type]
        for setting in ("on", "off")
    }
    best: dict[str, dict[str, float]] = {setting: {} for setting in backends}
    try:
        for backend in backends.values():
            await backend.warm_up()
        for round_ in range(rounds):
            for setting, backend in backends.items():
                for name, timed in (("score_s", _score_seconds), ("generate_s", _generate_seconds)):
                    seconds = await timed(backend, round_)
                    best[setting][name] = min(seconds, best[setting].get(name, seconds))
    finally:
        for backend in backends.values():
            await backend.aclose()
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    amx = sorted(cpu_flags() & UNSAFE_CPU_FLAGS)
    print(f"CPU AMX flags: {', '.join(amx) if amx else 'none'}")
    best = asyncio.run(measure(args.rounds))
    print(f"{'work':<28} {'extra on':>9} {'extra off':>10} {'off/on':>7}")
    for name, label in (("score_s", "score 24 prompts (s)"), ("generate_s", "generate 64 tokens (s)")):
        on, off = best["on"][name], best["off"][name]
        print(f"{label:<28} {on:>9.3f} {off:>10.3f} {off / on:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
