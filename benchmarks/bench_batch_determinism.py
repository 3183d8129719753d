"""How much one sequence's results depend on the other sequences in its `llama_decode`: what
llama.cpp allows of issue 28's "the same answers" (identical greedy texts, scores within 1e-3).

    python benchmarks/bench_batch_determinism.py [--model PATH] [--extra-buffers auto|on|off]

llama.cpp driven directly through llama-cpp-python's bindings, on the embedded model, 2 threads,
flash attention off (as the engine loads it). Every figure compares a sequence decoded among
others with the same sequence decoded alone, on the same context:

- scoring: six rows (~20 tokens, the log-probabilities of their last 6 tokens summed), packed
  into one decode in three layouts: one KV cache shared by all sequences (`kv_unified`); one KV
  stream per sequence; one stream per sequence with every row padded at its end to one common
  length, a multiple of 4 (the padding comes after the scored tokens, so causal attention hides
  it from them; it is removed from the cache afterwards);
- greedy generation: six prompts of one length, one stream each, one token per sequence per
  decode (as llama.cpp's examples/parallel does), 8 steps, against each prompt generated alone.

Prints the largest difference in nats (scores) or in a logit (generation), and how many
greedy continuations are identical. With `--speed`, it then times what each way costs (run it on
an idle machine): today's engine (extra buffers by the CPU, one sequence per decode), packing
into one shared KV cache (answers move) and the exact layout (extra buffers off, a stream per
sequence, rows padded): greedy tokens/s with 8 sequences in lockstep (prompts not timed) and
scoring rows/s with 8 rows per decode.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import _internals

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from dlngraph.llm.local.backend import default_model_path
from dlngraph.llm.local.buffers import use_extra_buffers
from dlngraph.llm.local.engine import _log_softmax_at, _start_llama_cpp

STREAMS = 8
TEXTS = (
    "The battery died after two days and support never answered. Sentiment: negative",
    "Lovely little speaker, crisp sound and great value for money. Sentiment: positive",
    "It broke the first time I dropped it, what a waste of cash. Sentiment: negative",
    "Absolutely wonderful, my kids use it every single day now. Sentiment: positive",
    "Not bad but the manual was confusing and the app kept crashing. Sentiment: negative",
    "Five stars, shipping was fast and it works exactly as described. Sentiment: positive",
)
SCORED = 6
"""Tokens at the end of each row whose log-probabilities a score sums."""

Entry = tuple[int, int, int, bool]
"""(sequence, position, token, logits wanted): one token of a decode."""


class Decoder:
    """One model and context with room for `STREAMS` sequences, decoded by hand."""

    def __init__(self, model_path: Path, *, unified: bool, extra_buffers: bool) -> None:
        _start_llama_cpp()  # as the engine does: once, its log quietened
        model_params = llama_cpp.llama_model_default_params()
        model_params.use_extra_bufts = extra_buffers
        self.model = _internals.LlamaModel(path_model=str(model_path), params=model_params, verbose=False)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = 512 * STREAMS
        params.n_batch = params.n_ubatch = 512
        params.n_seq_max = STREAMS
        params.kv_unified = unified
        params.n_threads = params.n_threads_batch = 2
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self.ctx = _internals.LlamaContext(model=self.model, params=params, verbose=False)
        self.memory = llama_cpp.llama_get_memory(self.ctx.ctx)
        self.batch = llama_cpp.llama_batch_init(512, 0, 1)
        self.n_vocab = self.model.n_vocab()

    def close(self) -> None:
        llama_cpp.llama_batch_free(self.batch)
        self.ctx.close()
        self.model.close()

    def tokens(self, text: str) -> list[int]:
        return self.model.tokenize(text.encode("utf-8"), add_bos=True, special=False)

    def forget(self, seq: int, first: int = -1) -> None:
        """Drop `seq`'s cells from position `first` on (all of them by default)."""
        llama_cpp.llama_memory_seq_rm(self.memory, seq, first, -1)

    def decode(self, entries: Sequence[Entry]) -> None:
        for i, (seq, position, token, wanted) in enumerate(entries):
            self.batch.token[i], self.batch.pos[i] = token, position
            self.batch.seq_id[i][0], self.batch.n_seq_id[i], self.batch.logits[i] = seq, 1, wanted
        self.batch.n_tokens = len(entries)
        if llama_cpp.llama_decode(self.ctx.ctx, self.batch) != 0:
            raise RuntimeError("llama_decode failed")

    def view(self, index: int) -> np.ndarray:
        """The logits of one output of the last decode, valid until the next."""
        pointer = llama_cpp.llama_get_logits_ith(self.ctx.ctx, index)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def logits(self, index: int) -> np.ndarray:
        return self.view(index).astype(np.float64)


def score(decoder: Decoder, rows: Sequence[list[int]], seqs: Sequence[int], *, pad: bool) -> list[float]:
    """Each row's last `SCORED` tokens' log-probabilities summed, all rows in one decode; with
    `pad`, every row is filled at its end to one common length, a multiple of 4."""
    length = -(-max(len(row) - 1 for row in rows) // 4) * 4 if pad else 0
    entries: list[Entry] = []
    reads: list[tuple[int, int, int]] = []  # (batch index, token, which row)
    for k, (row, seq) in enumerate(zip(rows, seqs, strict=True)):
        decoder.forget(seq)
        evaluated = len(row) - 1
        for position in range(max(evaluated, length)):
            wanted = evaluated - SCORED <= position < evaluated
            if wanted:
                reads.append((len(entries), row[position + 1], k))
            entries.append((seq, position, row[position] if position < evaluated else row[1], wanted))
    decoder.decode(entries)
    sums = [0.0] * len(rows)
    for index, token, k in reads:
        sums[k] += _log_softmax_at(decoder.logits(index), [token])[0]
    return sums


def greedy(
    decoder: Decoder, prompts: Sequence[list[int]], seqs: Sequence[int], steps: int, *, keep: bool = True
) -> list[list[np.ndarray]]:
    """The logits of each step of greedy generation (none unless `keep`: timing), every prompt
    evaluated in its own decode, then one token of every sequence per decode."""
    for prompt, seq in zip(prompts, seqs, strict=True):
        decoder.forget(seq)
        decoder.decode([(seq, position, token, False) for position, token in enumerate(prompt[:-1])])
    position = {seq: len(prompt) - 1 for prompt, seq in zip(prompts, seqs, strict=True)}
    last = {seq: prompt[-1] for prompt, seq in zip(prompts, seqs, strict=True)}
    history: dict[int, list[np.ndarray]] = {seq: [] for seq in seqs}
    for _ in range(steps):
        decoder.decode([(seq, position[seq], last[seq], True) for seq in seqs])
        for index, seq in enumerate(seqs):
            logits = decoder.logits(index) if keep else decoder.view(index)
            if keep:
                history[seq].append(logits)
            last[seq], position[seq] = int(logits.argmax()), position[seq] + 1
    return [history[seq] for seq in seqs]


def largest(a: Sequence[float], b: Sequence[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def scoring_table(model: Path, extra_buffers: bool) -> list[str]:
    lines = []
    for name, unified, pad in (
        ("one KV cache for all sequences", True, False),
        ("a KV stream per sequence", False, False),
        ("a stream per sequence, rows padded to one length", False, True),
    ):
        decoder = Decoder(model, unified=unified, extra_buffers=extra_buffers)
        try:
            rows = [decoder.tokens(text) for text in TEXTS]
            alone = [score(decoder, [row], [0], pad=pad)[0] for row in rows]
            packed = score(decoder, rows, list(range(len(rows))), pad=pad)
        finally:
            decoder.close()
        lines.append(f"scoring, {name:<50} packed vs alone: {largest(packed, alone):.4f} nats")
    return lines


def generation_line(model: Path, extra_buffers: bool, steps: int = 8) -> str:
    decoder = Decoder(model, unified=False, extra_buffers=extra_buffers)
    try:
        length = min(len(decoder.tokens(text)) for text in TEXTS) - 3
        prompts = [decoder.tokens(text)[:length] for text in TEXTS]
        alone = [greedy(decoder, [prompt], [0], steps)[0] for prompt in prompts]
        together = greedy(decoder, prompts, list(range(len(prompts))), steps)
    finally:
        decoder.close()
    worst = max(float(np.abs(a - b).max()) for one, many in zip(alone, together, strict=True) for a, b in zip(one, many, strict=True))
    same = sum(
        [int(a.argmax()) for a in one] == [int(b.argmax()) for b in many] for one, many in zip(alone, together, strict=True)
    )
    return (f"greedy generation, a stream per sequence, {len(prompts)} together vs alone: largest logit"
            f" difference {worst:.4f}; identical continuations {same}/{len(prompts)} ({steps} tokens)")


def throughput(model: Path, *, unified: bool, extra_buffers: bool, pad: bool, sequences: int) -> tuple[float, float]:
    """(greedy tokens/s, scoring rows/s) with `sequences` sequences per decode."""
    decoder = Decoder(model, unified=unified, extra_buffers=extra_buffers)
    try:
        rows = [decoder.tokens(f"{a} {b}") for a in TEXTS for b in TEXTS[:2]][:8 * 2]
        prompts = [decoder.tokens(text) for text in TEXTS * 2][:sequences]
        greedy(decoder, prompts, list(range(sequences)), 2, keep=False)  # warm-up
        steps = 32
        started = time.perf_counter()
        greedy(decoder, prompts, list(range(sequences)), 2, keep=False)
        prompts_only = time.perf_counter() - started
        started = time.perf_counter()
        greedy(decoder, prompts, list(range(sequences)), steps + 2, keep=False)
        tokens_per_s = sequences * steps / (time.perf_counter() - started - prompts_only)
        started = time.perf_counter()
        for first in range(0, len(rows), sequences):
            group = rows[first: first + sequences]
            score(decoder, group, list(range(len(group))), pad=pad)
        rows_per_s = len(rows) / (time.perf_counter() - started)
    finally:
        decoder.close()
    return tokens_per_s, rows_per_s


def speed_lines(model: Path) -> list[str]:
    today = throughput(model, unified=True, extra_buffers=use_extra_buffers(), pad=False, sequences=1)
    lines = [f"{'':<44} {'greedy tok/s':>12} {'score rows/s':>12}",
             f"{'today: 1 sequence per decode':<44} {today[0]:>12.1f} {today[1]:>12.1f}"]
    for name, unified, extra, pad in (("8 sequences, one shared cache (answers move)", True, use_extra_buffers(), False),
                                      ("8 sequences, exact layout (extra buffers off)", False, False, True)):
        gen, rows = throughput(model, unified=unified, extra_buffers=extra, pad=pad, sequences=8)
        lines.append(f"{name:<44} {gen:>12.1f} {rows:>12.1f}   x{gen / today[0]:.2f} x{rows / today[1]:.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a GGUF file (default: the embedded Gemma 3 270M)")
    parser.add_argument("--extra-buffers", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--speed", action="store_true", help="then time each way (see the module docstring)")
    args = parser.parse_args()
    model = args.model or default_model_path()
    extra_buffers = use_extra_buffers(args.extra_buffers)
    print(f"model {model.name}, extra buffer types {'on' if extra_buffers else 'off'}, llama-cpp-python"
          f" {llama_cpp.__version__}")
    for line in [*scoring_table(model, extra_buffers), generation_line(model, extra_buffers)]:
        print(line, flush=True)
    if args.speed:
        for line in speed_lines(model):
            print(line, flush=True)


if __name__ == "__main__":
    main()
