"""Where the embedded engine's time goes in one training run: generation, scoring and class
distributions, timed inside the engine's worker thread, with the tokens each decoded and how
many of its prompts' tokens the KV cache did not already hold.

    python benchmarks/bench_local_share.py [SPEC] [--set FIELD=VALUE ...] [--speedups X,Y ...]

SPEC defaults to the demo's DLN-2 (specs/demo/dln2.yaml), trained once with the cache off, as
`dlngraph train` would. The shares bound what speeding up one kind of work can give the whole
run (Amdahl). Lockstep batching speeds up generation's sampled tokens (one-token decodes) X
times; packing speeds up evaluating prompts (scores, class distributions and generation's
prompts) Y times; the run is then at most 1 / (other + sampled / X + prompts / Y) times faster.
X and Y default to raw llama.cpp's gains measured by issue 28 (generation 125/63 tok/s at 8
sequences, scoring 12.5/7.8 rows/s packed); `bench_batch_determinism.py --speed` measures them
for each way of batching.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from dlngraph.cli.main import main as dlngraph_main
from dlngraph.llm.local.engine import LlamaEngine

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"generate": "generation", "score": "scoring", "next_token_top_logprobs": "class distributions"}
STEPS = "  of it, sampled tokens"


class Ledger:
    """Seconds, calls and decoded tokens per kind of engine work."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.tokens: dict[str, int] = defaultdict(int)
        self.new: dict[str, int] = defaultdict(int)
        """Of the prompts' tokens, those the KV cache did not hold: what reuse at the token
        (rather than the 32-token block) would have evaluated."""
        self.current = threading.local()

    def timed(self, kind: str, method: Callable) -> Callable:
        def wrapper(engine, *args, **kwargs):
            self.current.kind = kind
            started = time.perf_counter()
            try:
                return method(engine, *args, **kwargs)
            finally:
                self.seconds[kind] += time.perf_counter() - started
                self.calls[kind] += 1
                self.current.kind = None
        return wrapper

    def counted(self, method: Callable) -> Callable:
        """Tokens per kind; and the one-token decodes of generation (its sampled tokens, the part
        lockstep batching speeds up) timed apart from its prompts."""
        def wrapper(engine, tokens, *args, **kwargs):
            kind = getattr(self.current, "kind", None) or "other"
            self.tokens[kind] += len(tokens)
            if kind != "generation" or len(tokens) != 1:
                return method(engine, tokens, *args, **kwargs)
            started = time.perf_counter()
            try:
                return method(engine, tokens, *args, **kwargs)
            finally:
                self.seconds[STEPS] += time.perf_counter() - started
                self.tokens[STEPS] += 1
        return wrapper


    def needed(self, method: Callable) -> Callable:
        def wrapper(engine, tokens, *args, **kwargs):
            kind = getattr(self.current, "kind", None) or "other"
            self.new[kind] += max(len(tokens) - engine.reusable_prefix(tokens), 1)
            return method(engine, tokens, *args, **kwargs)
        return wrapper


def install(ledger: Ledger) -> None:
    for method, kind in KINDS.items():
        setattr(LlamaEngine, method, ledger.timed(kind, getattr(LlamaEngine, method)))
    LlamaEngine._decode = ledger.counted(LlamaEngine._decode)
    LlamaEngine._evaluate = ledger.needed(LlamaEngine._evaluate)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", type=Path, default=ROOT / "specs" / "demo" / "dln2.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--speedups", action="append", metavar="X,Y", type=_pair,
                        help="sampled tokens' and prompts' speedups, repeatable (default 125/63, 12.5/7.8)")
    args = parser.parse_args()
    ledger = Ledger()
    install(ledger)
    with tempfile.TemporaryDirectory() as runs:
        argv = ["train", str(args.spec), "--runs", runs, "--no-cache", "--progress", "quiet"]
        for override in args.set:
            argv += ["--set", override]
        started = time.perf_counter()
        code = dlngraph_main(argv)
        wall = time.perf_counter() - started
    if code != 0:
        return code
    print(f"{args.spec.name}: wall {wall:.1f} s")
    print(f"{'work':<20} {'calls':>6} {'seconds':>8} {'share':>6} {'tokens decoded':>15} {'not cached':>11}")
    for kind in [*KINDS.values(), STEPS]:
        calls = str(ledger.calls[kind]) if kind in KINDS.values() else ""
        print(f"{kind:<20} {calls:>6} {ledger.seconds[kind]:>8.1f} {ledger.seconds[kind] / wall:>6.1%}"
              f" {ledger.tokens[kind]:>15} {ledger.new[kind] if kind in KINDS.values() else '':>11}")
    steps = ledger.seconds[STEPS] / wall
    evaluation = sum(ledger.seconds[kind] for kind in KINDS.values()) / wall - steps
    other = max(0.0, 1 - steps - evaluation)
    print(f"{'other (loading, the event loop, idle)':<38} {other:>6.1%}")
    for gen, score in args.speedups or [(125 / 63, 12.5 / 7.8)]:
        bound = 1 / (other + steps / gen + evaluation / score)
        print(f"bound: sampled tokens {gen:.2f}x and prompts {score:.2f}x faster make the run at most {bound:.2f}x faster")
    return 0


def _pair(text: str) -> tuple[float, float]:
    gen, score = text.split(",")
    return float(gen), float(score)


if __name__ == "__main__":
    raise SystemExit(main())
