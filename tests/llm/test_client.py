"""`LanguageModel` over real HTTP against the scripted server: every request kind, retries,
errors, timeouts, cancellation, deduplication, the budget, the context window and the API key.

Retries wait through an injected sleep that returns at once (and records the delays), so the
tests check the backoff policy without spending its time.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from dlngraph.llm.budget import Budget
from dlngraph.llm.client import LanguageModel
from dlngraph.llm.errors import (
    BudgetExceeded,
    ContextWindowExceeded,
    PermanentError,
    RetriesExhausted,
    TransientError,
    UnsupportedRequest,
)
from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.llm.openai.parse import logprobs_cap
from dlngraph.llm.retry import Retry
from dlngraph.llm.types import (
    Capabilities,
    ClassDistributionRequest,
    GenerateRequest,
    ScoreRequest,
    Tag,
)
from dlngraph.spec.models import Limits
from dlngraph.testing.process import ServerProcess
from dlngraph.testing.server import Faults, Latency, Script, ScriptedServer

TAG = Tag(node="answer", phase="forward")
SENTIMENT = {" positive": -0.2, " negative": -2.0, " neutral": -3.5}
CLASSES = (("positive", "pos"), ("negative",), ("neutral",))


class RecordedSleep:
    """A sleep that returns at once and remembers how long it was asked to wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def make_model(make_backend, sleep) -> Callable[..., LanguageModel]:
    """A `LanguageModel` named "m" on a scripted server; retries sleep through `sleep`."""

    def make(server: ScriptedServer, *, max_attempts: int = 6, limits: Limits | None = None,
             backend: dict[str, Any] | None = None, **model: Any) -> LanguageModel:
        limits = limits if limits is not None else Limits(max_attempts=max_attempts)
        retry = Retry(limits.max_attempts, sleep=sleep, rng=random.Random(0))
        return LanguageModel("m", make_backend(server, **(backend or {})), limits=limits, retry=retry, **model)

    return make


def counters(model: LanguageModel, tag: Tag = TAG):
    return model.stats.counters(model.name, tag)


async def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll `condition` on the event loop (a generous timeout: this is not a speed check)."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


# --- the three request kinds -----------------------------------------------------------------


async def test_generate_returns_scripted_text_with_usage(start_server, make_model):
    server = await start_server(script=Script().answer("capital of France", " Paris"))
    model = make_model(server)
    result = await model.generate(GenerateRequest(prompt="The capital of France is", max_tokens=5), tag=TAG)
    assert (result.text, result.finish_reasons, result.cached) == (" Paris", ["stop"], False)
    assert result.usage.prompt_tokens == 5 and result.usage.completion_tokens == 1
    assert server.stats.bodies[-1]["max_tokens"] == 5
    group = counters(model)
    assert (group.calls, group.requests, group.prompt_tokens, group.completion_tokens) == (1, 1, 5, 1)


async def test_generate_several_samples_and_chat(scripted_server, make_model):
    completions = make_model(scripted_server)
    chat = make_model(scripted_server, backend={"chat": True})
    sampled = await completions.generate(GenerateRequest(prompt="Draw", temperature=0.8, n=3, seed=1))
    assert len(sampled.texts) == 3 and len(set(sampled.texts)) == 3
    replied = await chat.generate(GenerateRequest(prompt="Hello there", max_tokens=20))
    assert replied.text
    assert scripted_server.stats.by_endpoint == {"/v1/completions": 1, "/v1/chat/completions": 1}
    assert scripted_server.stats.bodies[-1]["messages"] == [{"role": "user", "content": "Hello there"}]


async def test_score_reads_the_echoed_target_logprobs(start_server, make_model):
    server = await start_server(script=Script().logprob(r"Q: .*\nA:$", " yes it is", -0.25))
    model = make_model(server)
    score = await model.score(ScoreRequest(context="Q: is it?\nA:", target=" yes it is"))
    assert score.num_tokens == 3
    assert score.logprob_sum == pytest.approx(-0.75) and score.logprob_mean == pytest.approx(-0.25)
    assert server.stats.bodies[-1]["echo"] is True
    assert model.log_prob_support == "echo"


async def test_score_on_a_chat_model_is_refused_before_sending(scripted_server, make_model):
    model = make_model(scripted_server, backend={"chat": True})
    assert model.log_prob_support == "chat_top_logprobs"
    with pytest.raises(UnsupportedRequest, match="'m'"):
        await model.score(ScoreRequest(context="Q: ?\nA:", target=" yes"))
    assert scripted_server.stats.requests == 0


async def test_a_model_without_log_probs_supports_none_and_refuses_scores(scripted_server, make_model):
    model = make_model(scripted_server, backend={"capabilities": Capabilities(echo_scoring=False, top_logprobs=0)})
    assert model.log_prob_support == "none"
    with pytest.raises(UnsupportedRequest, match="'m'.*'none'"):
        await model.score(ScoreRequest(context="Q: ?\nA:", target=" yes"))
    assert scripted_server.stats.requests == 0


@pytest.mark.parametrize(("chat", "method"), [(False, "logprobs"), (True, "chat_top_logprobs")])
async def test_class_distribution_on_completions_and_chat(start_server, make_model, chat, method):
    server = await start_server(script=Script().class_logprobs("Sentiment", SENTIMENT))
    model = make_model(server, backend={"chat": chat})
    result = await model.class_distribution(ClassDistributionRequest(prompt="Sentiment: great", classes=CLASSES))
    expected = {label.strip(): math.exp(logprob) for label, logprob in SENTIMENT.items()}
    total = sum(expected.values())
    assert result.method == method and result.label == "positive"
    assert result.probs == pytest.approx({label: p / total for label, p in expected.items()})
    refused, body = server.stats.bodies[-2:]
    assert body["max_tokens"] == 1
    key = "top_logprobs" if chat else "logprobs"
    assert (refused[key], body[key]) == (100, 20)  # the paper's 100, then the server's cap
    assert body["logprobs"] is True or not chat


@pytest.mark.parametrize("chat", [False, True])
async def test_the_top_logprobs_cap_is_read_from_the_refusal_and_remembered(start_server, make_model, chat):
    server = await start_server(script=Script().class_logprobs("Sentiment", SENTIMENT), max_logprobs=5)
    model = make_model(server, backend={"chat": chat})
    requests = [ClassDistributionRequest(prompt=f"Sentiment: {word}", classes=CLASSES) for word in ("a", "b", "c")]
    results = await asyncio.gather(*(model.class_distribution(request) for request in requests))
    assert all(result.label == "positive" for result in results)
    key = "top_logprobs" if chat else "logprobs"
    asked = [body[key] for body in server.stats.bodies]
    assert asked == [100, 5, 5, 5]  # one refusal, while the other calls wait for the cap
    assert model.backend.top_logprobs == 5


async def test_a_server_with_a_high_cap_is_asked_the_papers_100(start_server, make_model):
    server = await start_server(script=Script().class_logprobs("Sentiment", SENTIMENT), max_logprobs=100)
    model = make_model(server)
    await model.class_distribution(ClassDistributionRequest(prompt="Sentiment: a", classes=CLASSES))
    assert [body["logprobs"] for body in server.stats.bodies] == [100]


@pytest.mark.parametrize(
    ("detail", "cap"),
    [
        ("Requested sample logprobs of 100, which is greater than max allowed: 20", 20),
        ("Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got 100 instead.", 20),
        ("'logprobs' must be less than or equal to 5.", 5),
        ("'prompt' must be a string.", None),
        (None, None),
    ],
)
def test_logprobs_cap_reads_the_servers_words(detail, cap):
    assert logprobs_cap(detail, 100) == cap


# --- retries -------------------------------------------------------------------------------------


async def test_429_is_retried_after_retry_after_and_counted(start_server, make_model, sleep):
    server = await start_server(faults=Faults(first_n={"429": 2}, retry_after_s=7))
    model = make_model(server)
    result = await model.generate(GenerateRequest(prompt="hello"), tag=TAG)
    assert result.text
    assert server.stats.requests == 3 and server.stats.faults_injected == {"429": 2}
    assert len(sleep.delays) == 2 and all(delay >= 7 for delay in sleep.delays)
    group = counters(model)
    assert (group.calls, group.requests, group.retries, group.errors) == (1, 3, 2, 0)


@pytest.mark.parametrize("fault", ["500", "503", "reset", "malformed", "truncated"])
async def test_transient_failures_are_retried(start_server, make_model, sleep, fault):
    server = await start_server(faults=Faults(first_n={fault: 2}))
    model = make_model(server)
    result = await model.generate(GenerateRequest(prompt="hello"), tag=TAG)
    assert result.text
    assert server.stats.faults_injected == {fault: 2}
    assert counters(model).retries == 2 and counters(model).requests == 3
    assert all(0 <= delay <= 30 for delay in sleep.delays)


async def test_backoff_grows_with_full_jitter(sleep):
    retry = Retry(6, base_s=0.5, cap_s=4.0, sleep=sleep, rng=random.Random(1))
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    for attempt, ceiling in enumerate(ceilings):
        draws = [retry.delay(attempt, TransientError("x")) for _ in range(200)]
        assert all(0 <= draw <= ceiling for draw in draws)
        assert max(draws) > ceiling * 0.8  # jitter spreads over the whole range
    assert retry.delay(0, TransientError("x", retry_after=9.0)) == 9.0


async def test_retries_exhausted_names_the_last_error(start_server, make_model):
    server = await start_server(faults=Faults(first_n={"503": 3}))
    model = make_model(server, max_attempts=3)
    with pytest.raises(RetriesExhausted, match="3 attempts") as caught:
        await model.generate(GenerateRequest(prompt="hello"), tag=TAG)
    assert isinstance(caught.value.__cause__, TransientError)
    assert "HTTP 503" in str(caught.value)
    assert server.stats.requests == 3
    assert counters(model).errors == 1 and counters(model).retries == 2


async def test_a_server_that_keeps_refusing_the_top_logprobs_ends_in_a_clear_error(start_server, make_model):
    """Every lower setting is refused again: each re-send spends an attempt, and the last
    refusal, in the server's words, names what happened."""
    refusal = "'logprobs' must be one of 1, 2, 5, 10, 20 or 50."
    server = await start_server(script=Script().fail("Sentiment", 400, refusal))
    model = make_model(server)
    with pytest.raises(RetriesExhausted) as caught:
        await model.class_distribution(ClassDistributionRequest(prompt="Sentiment: a", classes=CLASSES), tag=TAG)
    message = str(caught.value)
    assert message.startswith("6 attempts failed; the last with: model 'scripted'")
    assert f"HTTP 400: {refusal}; asking 1 top logprobs instead of 2" in message
    assert [body["logprobs"] for body in server.stats.bodies] == [100, 50, 20, 10, 5, 2]
    assert (counters(model).requests, counters(model).retries, counters(model).errors) == (6, 5, 1)


@pytest.mark.parametrize("max_attempts", [3, 4])
async def test_a_refused_setting_and_transient_failures_share_the_attempt_cap(start_server, make_model, sleep,
                                                                               max_attempts):
    """Two 503s, then a refusal of 100 top logprobs, then 5 are answered: four attempts."""
    server = await start_server(script=Script().class_logprobs("Sentiment", SENTIMENT), max_logprobs=5,
                                faults=Faults(first_n={"503": 2}))
    model = make_model(server, max_attempts=max_attempts)
    request = ClassDistributionRequest(prompt="Sentiment: a", classes=CLASSES)
    if max_attempts == 3:
        with pytest.raises(RetriesExhausted, match=r"^3 attempts failed; .*HTTP 400: Requested sample logprobs of 100"):
            await model.class_distribution(request, tag=TAG)
    else:
        assert (await model.class_distribution(request, tag=TAG)).label == "positive"
    assert server.stats.requests == max_attempts
    assert len(sleep.delays) == 2  # after the 503s; a refused setting is sent again at once
    assert counters(model).retries == max_attempts - 1


async def test_400_is_not_retried_and_names_model_endpoint_and_message(start_server, make_model):
    server = await start_server(script=Script().fail("forbidden", 400, "This prompt is not allowed here."))
    model = make_model(server)
    with pytest.raises(PermanentError) as caught:
        await model.generate(GenerateRequest(prompt="a forbidden prompt"), tag=TAG)
    message = str(caught.value)
    assert "'scripted'" in message
    assert f"{server.base_url}/completions" in message
    assert "HTTP 400" in message and "This prompt is not allowed here." in message
    assert server.stats.requests == 1
    assert (counters(model).retries, counters(model).errors) == (0, 1)


async def test_read_timeout_is_retried(start_server, make_model):
    server = await start_server(faults=Faults(first_n={"timeout": 1}, timeout_s=30))
    model = make_model(server, backend={"read_timeout_s": 0.2})
    result = await model.generate(GenerateRequest(prompt="hello"), tag=TAG)
    assert result.text and counters(model).retries == 1


async def test_read_timeout_without_retries_raises_a_transient_cause(start_server, make_model):
    server = await start_server(faults=Faults(first_n={"timeout": 1}, timeout_s=30))
    model = make_model(server, max_attempts=1, backend={"read_timeout_s": 0.2})
    with pytest.raises(RetriesExhausted) as caught:
        await model.generate(GenerateRequest(prompt="hello"))
    assert "timed out" in str(caught.value.__cause__)
    assert model.limiter.in_use == 0


# --- cancellation and deduplication --------------------------------------------------------------


def client_tasks_left() -> list[asyncio.Task[Any]]:
    """Tasks other than the test's own, leaving out the in-process server's request handlers
    (the server notices a dropped connection only when its handler next touches it)."""
    return [
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task()
        and "aiohttp/web" not in getattr(getattr(task.get_coro(), "cr_code", None), "co_filename", "")
    ]


async def test_cancelled_callers_leak_no_task_and_no_slot():
    """With the server in another process, every task left on this loop would be the client's."""
    async with ServerProcess("--latency-ms", "5000") as server:
        backend = OpenAIBackend(base_url=server.base_url, model="scripted")
        model = LanguageModel("m", backend, limits=Limits(max_concurrency=4))
        calls = [asyncio.create_task(model.generate(GenerateRequest(prompt=f"p{i}"), tag=TAG)) for i in range(10)]
        await wait_until(lambda: model.stats.requests_in_flight == 4 and model.limiter.slot().waiting == 6)
        await asyncio.sleep(0.05)  # let the four requests reach the server
        for call in calls:
            call.cancel()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes), outcomes
        assert model.limiter.in_use == 0 and model.limiter.slot().waiting == 0
        assert model.stats.requests_in_flight == 0 and not model._in_flight
        assert asyncio.all_tasks() == {asyncio.current_task()}
        slots = model.limiter.slot()
        for _ in range(4):  # every slot can be taken again at once
            await asyncio.wait_for(slots.acquire(), timeout=1)
        for _ in range(4):
            slots.release()
        await backend.aclose()


async def test_identical_concurrent_requests_are_sent_once(start_server, make_model):
    server = await start_server(latency=Latency(mean_s=0.05))
    model = make_model(server)
    request = GenerateRequest(prompt="same question", max_tokens=8)
    results = await asyncio.gather(*(model.generate(request, tag=TAG) for _ in range(10)))
    assert server.stats.requests == 1
    assert len({result.text for result in results}) == 1
    group = counters(model)
    assert (group.calls, group.deduplicated, group.requests) == (10, 9, 1)
    assert not model._in_flight


async def test_a_cancelled_waiter_leaves_the_request_to_the_others(start_server, make_model):
    server = await start_server(latency=Latency(mean_s=0.3))
    model = make_model(server)
    request = GenerateRequest(prompt="shared")
    owner = asyncio.create_task(model.generate(request))
    await wait_until(lambda: server.stats.in_flight == 1)
    waiter = asyncio.create_task(model.generate(request))
    await wait_until(lambda: model._in_flight.get(request) is not None)
    waiter.cancel()
    assert (await owner).text
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert server.stats.requests == 1 and not client_tasks_left()


async def test_a_cancelled_owner_hands_the_request_to_its_waiters(start_server, make_model):
    server = await start_server(latency=Latency(mean_s=0.3))
    model = make_model(server)
    request = GenerateRequest(prompt="shared")
    owner = asyncio.create_task(model.generate(request))
    await wait_until(lambda: server.stats.in_flight == 1)
    waiters = [asyncio.create_task(model.generate(request)) for _ in range(3)]
    await wait_until(lambda: len(model._in_flight.get(request) or ()) == 3)
    owner.cancel()
    results = await asyncio.gather(*waiters)
    assert len({result.text for result in results}) == 1
    assert owner.cancelled()
    assert server.stats.requests == 2  # the cancelled one, then one resent for the three waiters
    assert model.limiter.in_use == 0 and not model._in_flight and not client_tasks_left()


async def test_errors_reach_every_waiter(start_server, make_model):
    server = await start_server(script=Script().fail("bad", 404, "No such model."), latency=Latency(mean_s=0.05))
    model = make_model(server)
    request = GenerateRequest(prompt="bad request")
    outcomes = await asyncio.gather(*(model.generate(request) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(outcome, PermanentError) for outcome in outcomes)
    assert server.stats.requests == 1


# --- what is refused before sending -------------------------------------------------------------


async def test_budget_stops_before_sending(scripted_server, make_model):
    budget = Budget(max_calls=2)
    model = make_model(scripted_server, budget=budget)
    for index in range(2):
        await model.generate(GenerateRequest(prompt=f"p{index}"))
    with pytest.raises(BudgetExceeded, match="max_calls=2"):
        await model.generate(GenerateRequest(prompt="one too many"))
    assert scripted_server.stats.requests == 2 and budget.spent().calls == 2


async def test_token_budget_charges_estimates_then_actual_usage(scripted_server, make_model):
    budget = Budget(max_tokens=60)
    model = make_model(scripted_server, budget=budget)
    result = await model.generate(GenerateRequest(prompt="short prompt", max_tokens=16))
    assert budget.spent().tokens == result.usage.total_tokens
    with pytest.raises(BudgetExceeded, match="max_tokens=60"):
        await model.generate(GenerateRequest(prompt="short prompt again", max_tokens=200))
    assert scripted_server.stats.requests == 1


async def test_cache_hits_and_dedup_cost_no_budget(scripted_server, make_model, tmp_path):
    from dlngraph.llm.cache import Cache

    budget = Budget(max_calls=1)
    with Cache(tmp_path / "cache.sqlite") as cache:
        model = make_model(scripted_server, budget=budget, cache=cache)
        request = GenerateRequest(prompt="once")
        await asyncio.gather(*(model.generate(request) for _ in range(3)))
        await model.generate(request)
    assert budget.spent().calls == 1 and scripted_server.stats.requests == 1


async def test_context_window_exceeded_raises_before_sending(scripted_server, make_model):
    model = make_model(scripted_server, backend={"context_window": 64})
    with pytest.raises(ContextWindowExceeded, match="context window of 64") as caught:
        await model.generate(GenerateRequest(prompt="word " * 100, max_tokens=16))
    assert caught.value.context_window == 64 and caught.value.prompt_tokens >= 100
    assert scripted_server.stats.requests == 0
    assert (await model.generate(GenerateRequest(prompt="fits", max_tokens=16))).text


# --- the API key ---------------------------------------------------------------------------------

SECRET = "sk-test-4f9c1e77d0b34a2b9e61"


async def test_api_key_comes_from_the_named_variable_and_is_never_written(
    start_server, make_model, monkeypatch, caplog, tmp_path
):
    from dlngraph.llm.cache import Cache

    monkeypatch.setenv("DLN_TEST_API_KEY", SECRET)
    server = await start_server(api_key=SECRET, faults=Faults(first_n={"429": 1}))
    caplog.set_level(logging.DEBUG, logger="dlngraph")
    path = tmp_path / "cache.sqlite"
    with Cache(path) as cache:
        model = make_model(server, cache=cache, backend={"api_key_env": "DLN_TEST_API_KEY"})
        assert (await model.generate(GenerateRequest(prompt="hello"))).text  # after a logged retry
        monkeypatch.setenv("DLN_TEST_API_KEY", SECRET + "-rotated")  # read again at every request
        with pytest.raises(PermanentError) as caught:
            await model.generate(GenerateRequest(prompt="rejected"))
    assert "HTTP 401" in str(caught.value) and "***" in str(caught.value)
    monkeypatch.delenv("DLN_TEST_API_KEY")
    with pytest.raises(PermanentError, match="DLN_TEST_API_KEY is not set") as unset:
        await model.generate(GenerateRequest(prompt="no key"))
    assert "retrying" in caplog.text
    texts = [caplog.text, str(caught.value), repr(caught.value), str(unset.value), repr(model.backend.__dict__)]
    assert not any(SECRET in text for text in texts)
    files = list(tmp_path.glob("cache.sqlite*"))
    assert files and not any(SECRET.encode() in file.read_bytes() for file in files)


async def test_urgent_calls_overtake_queued_bulk_calls(start_server, make_model):
    server = await start_server(latency=Latency(mean_s=0.02))
    model = make_model(server, limits=Limits(max_concurrency=1))
    bulk, urgent = Tag(phase="score"), Tag(phase="proposal", priority=1)
    calls = [model.generate(GenerateRequest(prompt=f"bulk {i}", max_tokens=2), tag=bulk) for i in range(4)]
    calls.append(model.generate(GenerateRequest(prompt="urgent", max_tokens=2), tag=urgent))
    await asyncio.gather(*calls)
    assert [body["prompt"] for body in server.stats.bodies] == ["bulk 0", "urgent", "bulk 1", "bulk 2", "bulk 3"]
