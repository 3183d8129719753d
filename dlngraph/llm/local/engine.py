"""`LlamaEngine`: the synchronous model work of the local backend, on one llama.cpp context.

Everything here, loading and tokenising included, runs on the one worker thread of
`dlngraph.llm.local.worker`: llama.cpp's model and context are not thread-safe, so no other
thread ever calls into them. The engine keeps the KV cache's tokens and, before any work,
evaluates only what the cache lacks: the suffix after the longest common prefix of the cache
and the new tokens, rounded down to a whole aligned block so that results do not depend on
what was cached before (see `LlamaEngine._evaluate`).

Logits are asked of llama.cpp only at the positions a request needs (the target's positions
when scoring, the last position otherwise): with Gemma's 262k-token vocabulary the output
layer and the log-softmax are most of the cost of a row, so computing them for every position
(llama-cpp-python's `logits_all` / `logprobs` path) would be many times slower.

The model is loaded through llama-cpp-python's `_internals` wrappers (`LlamaModel`,
`LlamaContext`, `LlamaBatch`, `LlamaSampler`) rather than its `Llama` class, which cannot turn off
llama.cpp's extra buffer types (`dlngraph.llm.local.buffers`). `_internals` is private API, so
pyproject.toml pins llama-cpp-python to the versions the tests ran on.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import _internals

from dlngraph.llm.errors import ContextWindowExceeded
from dlngraph.llm.types import after_burn_in

OnLogits = Callable[[int, np.ndarray], None]
"""Called with (position, logits of the next token after that position) while they are valid."""


class Abandoned(Exception):
    """Every caller of a running request has gone: the work stops early."""


@dataclass(frozen=True, slots=True)
class Completion:
    """One generated sample."""

    text: str
    finish_reason: str
    num_tokens: int


RECENT_TOKENISATIONS = 4096
"""Texts whose tokens the engine keeps: the worker tokenises a queued job's text to choose the
next job, and again when it runs it; the prompt of one node is tokenised for every example."""


class LlamaEngine:
    """One loaded model and its KV cache (see the module docstring). Not thread-safe: only the
    worker thread may use it, from loading to closing."""

    def __init__(
        self, model_path: Path, *, n_ctx: int, n_threads: int, block_size: int, extra_buffers: bool
    ) -> None:
        self._model, self._ctx = _load(
            model_path, n_ctx=n_ctx, n_threads=n_threads, block_size=block_size, extra_buffers=extra_buffers
        )
        self._vocab = self._model.vocab
        self.n_ctx = self._ctx.n_ctx()
        self.block_size = block_size
        self.n_vocab = self._model.n_vocab()
        self._batch = _internals.LlamaBatch(n_tokens=block_size, embd=0, n_seq_max=1, verbose=False)
        self._cached: list[int] = []
        """The tokens whose keys and values the KV cache holds, in order."""
        self._canonical = 0
        """How many of them were evaluated in whole aligned blocks (see `_evaluate`)."""
        self.tokens = functools.lru_cache(maxsize=RECENT_TOKENISATIONS)(self._tokenize_with_bos)
        """`tokens(text)`: the prompt tokens of `text`, beginning-of-sequence token included."""

    # --- tokens ------------------------------------------------------------------------------

    def tokenize(self, text: str, *, bos: bool = True, special: bool = False) -> list[int]:
        """Plain text: special-token markup in it is not interpreted, unless `special` (for a
        chat template's own markup, `dlngraph.llm.local.chat`)."""
        return self._model.tokenize(text.encode("utf-8"), add_bos=bos, special=special)

    def metadata(self) -> dict[str, str]:
        """The model file's GGUF metadata (e.g. `tokenizer.chat_template`)."""
        return self._model.metadata()

    def bos_eos_texts(self) -> tuple[str, str]:
        """The texts of the beginning- and end-of-sequence tokens ("" when the model has none)."""
        bos, eos = self._model.token_bos(), self._model.token_eos()
        return (self._model.token_get_text(bos) if bos != -1 else "", self._model.token_get_text(eos) if eos != -1 else "")

    def token_text(self, token: int) -> str:
        """One token as text, as a server lists it: special tokens empty, a partial UTF-8
        character dropped."""
        return self._model.detokenize([token], special=False).decode("utf-8", errors="ignore")

    def _tokenize_with_bos(self, text: str) -> list[int]:
        return self.tokenize(text)

    def reusable_prefix(self, tokens: Sequence[int]) -> int:
        """How many leading `tokens` the KV cache already holds (what the scheduler groups by)."""
        return common_prefix_len(self._cached, tokens)

    def close(self) -> None:
        self._batch.close()
        self._ctx.close()
        self._model.close()

    # --- requests ----------------------------------------------------------------------------

    def generate(
        self,
        prompt: Sequence[int],
        *,
        max_tokens: int,
        temperature: float,
        top_p: float,
        stop: Sequence[str],
        seeds: Sequence[int],
        cancelled: Callable[[], bool],
    ) -> list[Completion]:
        """One completion per seed. Greedy decoding (temperature 0) is computed once."""
        room = self.n_ctx - len(prompt)
        if room <= 0:
            raise self._too_long(len(prompt))
        max_new = min(max_tokens, room)
        if temperature <= 0:
            greedy = self._complete(prompt, max_new, _Sampler(0.0, top_p, 0), stop, cancelled)
            return [greedy] * len(seeds)
        return [
            self._complete(prompt, max_new, _Sampler(temperature, top_p, seed), stop, cancelled)
            for seed in seeds
        ]

    def score(self, context: Sequence[int], full: Sequence[int], burn_in_ratio: float = 0.0) -> tuple[float, int]:
        """(sum of log p, number of tokens) of the tokens of `full` after its common prefix
        with `context` (the target's tokens, as an echo-scoring server would report them),
        without the first `burn_in_ratio` of them (`after_burn_in`)."""
        if len(full) > self.n_ctx:
            raise self._too_long(len(full))
        first = max(common_prefix_len(context, full), 1)  # position 0 is predicted by nothing
        if first >= len(full):
            return 0.0, 0
        logprobs: list[float] = []

        def take(position: int, logits: np.ndarray) -> None:
            logprobs.append(_log_softmax_at(logits, [full[position + 1]])[0])

        self._evaluate(full, range(first - 1, len(full) - 1), take)
        kept = after_burn_in(logprobs, burn_in_ratio)
        return math.fsum(kept), len(kept)

    def next_token_top_logprobs(self, prompt: Sequence[int], n: int, also: Sequence[int] = ()) -> list[tuple[str, float]]:
        """The `n` likeliest next tokens after `prompt`, likeliest first, as (text, log p): the
        top logprobs an OpenAI-compatible server lists (`dlngraph.llm.class_probs`); then the
        tokens `also` that are not among them, however unlikely."""
        if len(prompt) >= self.n_ctx:
            raise self._too_long(len(prompt))
        found: list[tuple[str, float]] = []

        def take(position: int, logits: np.ndarray) -> None:
            ids = _top_ids(logits, n)
            listed = set(ids)
            ids += [token for token in dict.fromkeys(also) if token not in listed]
            found.extend(zip(map(self.token_text, ids), _log_softmax_at(logits, ids), strict=True))

        self._evaluate(prompt, range(len(prompt) - 1, len(prompt)), take)
        return found

    # --- generation --------------------------------------------------------------------------

    def _complete(
        self,
        prompt: Sequence[int],
        max_new: int,
        sampler: _Sampler,
        stop: Sequence[str],
        cancelled: Callable[[], bool],
    ) -> Completion:
        """Sample up to `max_new` tokens after the prompt; stop strings are cut off the text,
        as OpenAI-compatible servers do."""
        if max_new <= 0:
            return Completion("", "length", 0)
        self._evaluate(prompt, range(len(prompt) - 1, len(prompt)))
        chain = sampler.build()
        data = bytearray()
        text = ""
        try:
            for count in range(1, max_new + 1):
                if cancelled():
                    raise Abandoned
                token = chain.sample(self._ctx, -1)
                if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    return Completion(text, "stop", count)
                data += self._model.detokenize([token], special=False)
                text = data.decode("utf-8", errors="ignore")
                cut = _first_stop(text, stop)
                if cut is not None:
                    return Completion(text[:cut], "stop", count)
                if count < max_new:
                    self._append(token)
            return Completion(text, "length", max_new)
        finally:
            chain.close()

    # --- the KV cache ------------------------------------------------------------------------

    def _evaluate(
        self, tokens: Sequence[int], outputs: range, on_logits: OnLogits | None = None
    ) -> None:
        """Make the KV cache hold exactly `tokens`, evaluating only what it lacks, and hand the
        logits at the positions in `outputs` to `on_logits`.

        Tokens are evaluated in blocks aligned to multiples of `block_size` and only whole
        aligned blocks are reused, so every position is computed in the same batch whatever
        the cache held before: llama.cpp's results depend on how tokens are batched (by up to
        ~0.8 in a logit for this quantised model), and this keeps identical requests identical.
        A block holding a needed output is evaluated again.
        """
        block = self.block_size
        reuse = min(common_prefix_len(self._cached, tokens), self._canonical)
        if outputs:
            reuse = min(reuse, outputs.start)
        start = reuse // block * block
        self._truncate(start)
        for offset in range(start, len(tokens), block):
            chunk = tokens[offset : offset + block]
            wanted = [offset + i in outputs for i in range(len(chunk))]
            self._decode(chunk, offset, wanted)
            if len(chunk) == block:
                self._canonical = offset + block
            if on_logits is not None:
                for i, want in enumerate(wanted):
                    if want:
                        on_logits(offset + i, self._logits(i))

    def _append(self, token: int) -> None:
        """Evaluate one more token, keeping its logits for the sampler."""
        self._decode([token], len(self._cached), [True])

    def _truncate(self, length: int) -> None:
        if length >= len(self._cached):
            return
        if not self._ctx.kv_cache_seq_rm(0, length, -1):
            self._ctx.kv_cache_clear()  # partial removal unsupported: start over
            length = 0
        del self._cached[length:]
        self._canonical = min(self._canonical, length)

    def _decode(self, tokens: Sequence[int], position: int, wanted: Sequence[bool]) -> None:
        """One llama_decode of at most `block_size` tokens starting at `position` (the end of the
        cache), computing logits only where `wanted`."""
        batch = self._batch.batch
        batch.n_tokens = len(tokens)
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = position + i
            batch.seq_id[i][0] = 0
            batch.n_seq_id[i] = 1
            batch.logits[i] = wanted[i]
        try:
            self._ctx.decode(self._batch)
        except BaseException:
            self._ctx.kv_cache_clear()  # unknown state: forget it rather than trust it
            self._cached.clear()
            self._canonical = 0
            raise
        self._cached.extend(tokens)

    def _logits(self, batch_index: int) -> np.ndarray:
        """A view (valid until the next decode) of the logits of one output of the last batch."""
        pointer = self._ctx.get_logits_ith(batch_index)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def _too_long(self, tokens: int) -> ContextWindowExceeded:
        return ContextWindowExceeded(
            f"local model: {tokens} tokens do not fit the context window of {self.n_ctx}",
            prompt_tokens=tokens,
            context_window=self.n_ctx,
        )


def _load(
    model_path: Path, *, n_ctx: int, n_threads: int, block_size: int, extra_buffers: bool
) -> tuple[_internals.LlamaModel, _internals.LlamaContext]:
    """The model and one context on it, with the options `llama_cpp.Llama` would set for
    ours (flash attention off, as its default), plus `use_extra_bufts`."""
    _start_llama_cpp()
    model_params = llama_cpp.llama_model_default_params()
    model_params.use_extra_bufts = extra_buffers  # off on AMX CPUs: ggml-org/llama.cpp#20824
    model = _internals.LlamaModel(path_model=str(model_path), params=model_params, verbose=False)
    context_params = llama_cpp.llama_context_default_params()
    context_params.n_ctx = n_ctx
    context_params.n_batch = context_params.n_ubatch = block_size
    context_params.n_threads = context_params.n_threads_batch = n_threads
    context_params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    try:
        context = _internals.LlamaContext(model=model, params=context_params, verbose=False)
    except BaseException:
        model.close()
        raise
    return model, context


@functools.cache
def _start_llama_cpp() -> None:
    """Once per process: llama.cpp's global initialisation, and its log quietened to errors
    (llama-cpp-python's log callback prints what its logger's level lets through)."""
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    llama_cpp.llama_backend_init()


class _Sampler:
    """Sampling options: greedy at temperature 0, else temperature, then top-p, then a draw
    seeded by `seed` (the order OpenAI-compatible servers apply them in)."""

    def __init__(self, temperature: float, top_p: float, seed: int) -> None:
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed

    def build(self) -> _internals.LlamaSampler:
        chain = _internals.LlamaSampler()
        if self.temperature <= 0:
            chain.add_greedy()
            return chain
        chain.add_temp(self.temperature)
        if self.top_p < 1.0:
            chain.add_top_p(self.top_p, 1)
        chain.add_dist(self.seed)
        return chain


def common_prefix_len(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differ = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(differ[0]) if differ.size else n


def _log_softmax_at(logits: np.ndarray, token_ids: Sequence[int]) -> list[float]:
    """log-softmax of `logits` at a few ids, normalised over the whole vocabulary in float64
    accumulation (262k terms)."""
    peak = float(logits.max())
    log_total = peak + math.log(float(np.exp(logits - peak).sum(dtype=np.float64)))
    return [float(logits[token_id]) - log_total for token_id in token_ids]


def _top_ids(logits: np.ndarray, n: int) -> list[int]:
    """The ids of the `n` largest logits, largest first (ties: the higher id first, the order of
    llama-cpp-python's server)."""
    n = min(n, len(logits))
    ids = np.argpartition(logits, -n)[-n:].tolist()
    return sorted(ids, key=lambda token: (float(logits[token]), token), reverse=True)


def _first_stop(text: str, stop: Sequence[str]) -> int | None:
    """Where the earliest stop string starts in `text`, if any does."""
    found = [index for index in (text.find(s) for s in stop if s) if index >= 0]
    return min(found) if found else None
