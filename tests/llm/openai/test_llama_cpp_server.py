"""dlngraph against an OpenAI-compatible server nobody here wrote: llama-cpp-python's own
(`python -m llama_cpp.server`, extra `[server]`), serving the embedded Gemma 3 270M on 127.0.0.1.

The server is started through `tests/llm/local/llama_server_launcher.py`, which loads the model
without llama.cpp's extra buffer types on AMX CPUs (ggml-org/llama.cpp#20824). Its logprobs are
slow (a 262k-token vocabulary: about 1.5 s a call on 2 cores), so the suite makes a few dozen
calls in all. What this server does differently from dlngraph's scripted one, and what the
scripted server now copies, is listed in docs/ARCHITECTURE.md ("A real third-party server").
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest

pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server] (the [server] extra)")

from dlngraph.data import load_dataset  # noqa: E402
from dlngraph.dln.evaluate import evaluate  # noqa: E402
from dlngraph.graph import compile_network  # noqa: E402
from dlngraph.llm.cache import Cache  # noqa: E402
from dlngraph.llm.errors import ContextWindowExceeded  # noqa: E402
from dlngraph.llm.local.backend import LocalBackend, default_model_path  # noqa: E402
from dlngraph.llm.openai.backend import OpenAIBackend  # noqa: E402
from dlngraph.llm.types import ClassDistributionRequest, GenerateRequest, ScoreRequest  # noqa: E402
from dlngraph.runs import TrainOptions, train_spec  # noqa: E402
from dlngraph.runs.session import open_models  # noqa: E402
from dlngraph.spec import load_spec  # noqa: E402
from dlngraph.testing.process import stop_process  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
CONTEXT_WINDOW = 2048
LOGPROB_TOLERANCE = 0.25
"""Nats. The server and the embedded backend run the same weights through the same llama.cpp,
but batch the prompt differently (the server evaluates it in one batch of n_batch tokens, ours
in blocks, reusing the KV cache), and the float sums differ: measured 0.12 on a one-token target."""
PROB_TOLERANCE = 0.05
"""On a class probability: measured at most 0.015 (the sky question of PARITY_CASES, after the
module's earlier calls; the server's prompt cache changes how it batches), 2e-9 where both
evaluate the prompt in the same batches."""
YES_NO = (("Yes", " Yes"), ("No", " No"))
QUESTION = "Question: Is the sky blue?\nAnswer:"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """`python -m llama_cpp.server` on the embedded Gemma, stopped (and reaped) after the module."""
    port = _free_port()
    command = [sys.executable, "-m", "tests.llm.local.llama_server_launcher", "--model", str(default_model_path()),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(CONTEXT_WINDOW), "--n_threads", "2",
               "--chat_format", "gemma", "--verbose", "false"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_up(url, process)
        yield url
    finally:
        stop_process(process, timeout_s=30)
        process.stderr.close()


def _wait_until_up(url: str, process: subprocess.Popen[str], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"llama_cpp.server exited with {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("llama_cpp.server did not answer /v1/models in time")


@pytest.fixture
async def completions(server_url: str) -> AsyncIterator[OpenAIBackend]:
    backend = OpenAIBackend(base_url=server_url, model="gemma")
    yield backend
    await backend.aclose()


@pytest.fixture(scope="module")
def embedded() -> Iterator[LocalBackend]:
    backend = LocalBackend(default_model_path(), context_window=CONTEXT_WINDOW)
    yield backend
    import asyncio

    asyncio.run(backend.aclose())


def test_the_server_reports_its_model_and_echoes_prompt_logprobs(server_url: str) -> None:
    """Capabilities dlngraph relies on, asked as raw HTTP: /v1/models, and echo with logprobs on
    /v1/completions (the prompt's tokens come back, the first with a null logprob)."""
    with urllib.request.urlopen(f"{server_url}/models") as response:
        models = json.load(response)["data"]
    assert models and models[0]["id"].endswith(".gguf")
    body = json.dumps({"prompt": "The sky is blue", "max_tokens": 1, "echo": True, "logprobs": 0}).encode()
    request = urllib.request.Request(f"{server_url}/completions", body, {"content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        choice = json.load(response)["choices"][0]
    logprobs = choice["logprobs"]
    assert "".join(logprobs["tokens"]).startswith("The sky is blue")
    assert logprobs["token_logprobs"][0] is None and all(value < 0 for value in logprobs["token_logprobs"][1:])
    assert logprobs["text_offset"][:4] == [0, 3, 7, 10]
    assert choice["finish_reason"] == "length"


async def test_echo_scores_and_class_distributions_match_the_embedded_model(
    completions: OpenAIBackend, embedded: LocalBackend
) -> None:
    assert completions.capabilities.echo_scoring
    score = await completions.score(ScoreRequest(context=QUESTION, target=" Yes"))
    local = await embedded.score(ScoreRequest(context=QUESTION, target=" Yes"))
    assert score.num_tokens == local.num_tokens == 1
    assert math.isclose(score.logprob_sum, local.logprob_sum, abs_tol=LOGPROB_TOLERANCE)
    classes = await completions.class_distribution(ClassDistributionRequest(prompt=QUESTION, classes=YES_NO))
    expected = await embedded.class_distribution(ClassDistributionRequest(prompt=QUESTION, classes=YES_NO))
    assert classes.method == "logprobs"
    assert classes.probs.keys() == expected.probs.keys()
    for label, probability in expected.probs.items():
        assert math.isclose(classes.probs[label], probability, abs_tol=PROB_TOLERANCE), label


PARITY_CASES = (
    (QUESTION, (("Yes", " Yes"), ("No", " No"), ("Xylophone",))),
    ("Review: a dull, lifeless film.\nSentiment (positive or negative):", (("positive",), ("negative",), ("Xylophone",))),
    ("Q: What is the capital of France?\nA:", (("Paris",), ("Berlin",), ("Madrid",), ("Xylophone",))),
    ("Question: Which option is correct?\nOptions:\n(A) red\n(B) blue\nAnswer:", (("(A)", "a", "A"), ("(B)", "b", "B"))),
)
"""Prompts and classes: "Xylophone" is absent from the top logprobs (checked), "(A)" and "(B)"
are several tokens long."""


async def test_the_served_and_the_embedded_model_give_one_class_distribution(
    server_url: str, completions: OpenAIBackend, embedded: LocalBackend
) -> None:
    """Both backends read the same top 100 logprobs with one rule (`dlngraph.llm.class_probs`);
    a class absent from the server's listing gets its floor there, and its true, smaller
    probability from the embedded model, which lists every verbalizer's first token too. (The
    server's calls come first, back to back: it drops a connection idle for 5 s, which a bare
    backend does not retry.)"""
    requests = [ClassDistributionRequest(prompt=prompt, classes=classes) for prompt, classes in PARITY_CASES]
    served = [await completions.class_distribution(request) for request in requests]
    listed = [_served_top_logprobs(server_url, request.prompt) for request in requests]
    local = [await embedded.class_distribution(request) for request in requests]
    for request, served_probs, local_probs, texts in zip(
        requests, (result.probs for result in served), (result.probs for result in local), listed, strict=True
    ):
        assert served_probs.keys() == local_probs.keys()
        if "Xylophone" in served_probs:  # absent from the server's listing: its floor, and less from the embedded model
            assert len(texts) > 50 and not any(text.strip() and "Xylophone".startswith(text.strip()) for text in texts)
            assert 0 < served_probs["Xylophone"] == min(served_probs.values()), request.prompt
            assert 0 < local_probs["Xylophone"] < served_probs["Xylophone"], request.prompt
        for label, probability in local_probs.items():
            assert math.isclose(served_probs[label], probability, abs_tol=PROB_TOLERANCE), (request.prompt, label)


def _served_top_logprobs(server_url: str, prompt: str) -> dict[str, float]:
    """The first generated token's top 100 logprobs, as the server lists them."""
    body = json.dumps({"prompt": prompt, "max_tokens": 1, "temperature": 0, "logprobs": 100}).encode()
    request = urllib.request.Request(f"{server_url}/completions", body, {"content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["choices"][0]["logprobs"]["top_logprobs"][0]


async def test_greedy_generation_matches_the_embedded_model(completions: OpenAIBackend, embedded: LocalBackend) -> None:
    request = GenerateRequest(prompt="Count to five: one, two,", max_tokens=8)
    served = await completions.generate(request)
    local = await embedded.generate(request)
    assert served.texts == local.texts and served.texts[0].strip()
    assert served.finish_reasons == local.finish_reasons == ["length"]


async def test_chat_top_logprobs_give_a_class_distribution(server_url: str) -> None:
    chat = OpenAIBackend(base_url=server_url, model="gemma", chat=True)
    try:
        distribution = await chat.class_distribution(ClassDistributionRequest(
            prompt="Is the sky blue? Answer with one word, Yes or No.", classes=(("Yes",), ("No",))))
    finally:
        await chat.aclose()
    assert distribution.method == "chat_top_logprobs"
    assert math.isclose(sum(distribution.probs.values()), 1.0)


async def test_a_prompt_longer_than_the_context_is_a_context_window_error_with_the_servers_words(
    completions: OpenAIBackend
) -> None:
    """The client's own `ContextWindowExceeded`, so a node shows fewer demonstrations."""
    with pytest.raises(ContextWindowExceeded, match=r"HTTP 400: This model's maximum context length is 2048 tokens"):
        await completions.generate(GenerateRequest(prompt="word " * 3000, max_tokens=8))


def _tiny_dln1():  # type: ignore[no-untyped-def]
    """specs/dln1.yaml cut to a few calls: 4 train, 4 dev and 4 test examples, one iteration
    scoring the current prompt only (no proposals, which would be sampled)."""
    spec = load_spec(ROOT / "specs" / "dln1.yaml").spec
    sizes = msgspec.convert({"train": 4, "dev": 4, "test": 4}, type(spec.data.sizes))
    training = msgspec.structs.replace(spec.training, iterations=1, batch_size=2, num_p_samples=1, val_freq=1)
    return msgspec.structs.replace(spec, data=msgspec.structs.replace(spec.data, sizes=sizes), training=training)


async def test_a_dln1_run_through_the_server_matches_the_embedded_run(server_url: str, tmp_path: Path) -> None:
    """Same accuracies (same predictions), candidate scores within LOGPROB_TOLERANCE."""
    spec = _tiny_dln1()
    served = await train_spec(spec, TrainOptions(runs_root=tmp_path / "served", base_url=server_url))
    local = await train_spec(spec, TrainOptions(runs_root=tmp_path / "local"))
    assert (served.initial_dev_accuracy, served.best_dev_accuracy, served.test_accuracy) == (
        local.initial_dev_accuracy, local.best_dev_accuracy, local.test_accuracy)
    assert served.calls <= 30
    scores = [_candidate_scores(Path(run.run_dir)) for run in (served, local)]
    assert len(scores[0]) == len(scores[1]) >= 1
    for served_score, local_score in zip(*scores, strict=True):
        assert math.isclose(served_score, local_score, abs_tol=LOGPROB_TOLERANCE)


async def test_the_served_network_predicts_what_the_embedded_one_does(server_url: str) -> None:
    """The DLN-1's test predictions, example by example, through both backends."""
    spec = _tiny_dln1()
    network = compile_network(spec)
    examples = load_dataset(spec.data, base_dir=ROOT).test
    predictions = []
    for base_url in (server_url, None):
        async with open_models(spec, Cache(None, mode="off"), base_url=base_url) as pool:
            result = await evaluate(network, pool, examples, split="test")
        predictions.append(result.predictions)
    assert predictions[0] == predictions[1] and len(predictions[0]) == len(examples)


def _candidate_scores(run_dir: Path) -> list[float]:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return [candidate["score"] for event in events if "updates" in event
            for update in event["updates"].values() for candidate in update["candidates"]]
