"""Several calls in one `/completions` request (`prompts_per_request`), over real HTTP against
the scripted server: the answers are the ones each prompt gets alone, failures stay with the
prompt that caused them, and cancelled callers leave nothing running."""

from __future__ import annotations

import asyncio

import pytest

from dlngraph.llm.client import LanguageModel
from dlngraph.llm.errors import PermanentError
from dlngraph.llm.openai.batch import apportion, split_response
from dlngraph.llm.retry import Retry
from dlngraph.llm.types import ClassDistributionRequest, GenerateRequest, ScoreRequest
from dlngraph.spec.models import Limits
from dlngraph.testing.server import Faults, Latency, Script

SCRIPT = (
    Script()
    .logprob(r"Review", " great", -0.25)
    .class_logprobs(r"Sentiment", {" positive": -0.2, " negative": -2.0})
    .answer(r"Story", " once", " upon", " a time")
    .fail(r"poison", 400, "This prompt is refused.")
)


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def model(backend, concurrency: int = 64) -> LanguageModel:
    limits = Limits(max_concurrency=concurrency, max_attempts=3)
    return LanguageModel("m", backend, limits=limits, retry=Retry(3, sleep=no_sleep))


async def every_kind(lm: LanguageModel, count: int) -> list:
    calls = []
    for i in range(count):
        calls.append(lm.score(ScoreRequest(context=f"Review {i}:", target=" great")))
        calls.append(lm.class_distribution(ClassDistributionRequest(
            prompt=f"Sentiment {i}:", classes=(("positive",), ("negative",)))))
        calls.append(lm.generate(GenerateRequest(prompt=f"Story {i}:", max_tokens=8, temperature=0.7, n=3, seed=7)))
    return await asyncio.gather(*calls)


def without_timing(results: list) -> list:
    return [(type(r).__name__, getattr(r, "texts", None), getattr(r, "logprob_sum", None),
             getattr(r, "probs", None)) for r in results]


async def test_batched_answers_equal_the_answers_sent_alone(start_server, make_backend):
    server = await start_server(script=SCRIPT)
    alone = await every_kind(model(make_backend(server)), 20)
    sent_alone = server.stats.requests
    server.stats.reset()
    batched_backend = make_backend(server, prompts_per_request=8)
    batched = await every_kind(model(batched_backend), 20)

    assert without_timing(batched) == without_timing(alone)
    assert sent_alone == 60 + 1  # the first class call's 100 top logprobs were refused
    assert server.stats.sequences == 60 + 1  # every prompt was run (a new backend probes the cap again), ...
    assert server.stats.requests < 60 / 4  # ... in far fewer requests
    assert any(isinstance(body["prompt"], list) and len(body["prompt"]) == 8 for body in server.stats.bodies)
    assert batched_backend.batcher.prompts_sent == 60 + 1


async def test_usage_shares_add_up_to_the_servers_totals(start_server, make_backend):
    server = await start_server(script=SCRIPT)
    alone = await every_kind(model(make_backend(server)), 6)
    batched = await every_kind(model(make_backend(server, prompts_per_request=16)), 6)
    assert sum(r.usage.total_tokens for r in batched) == sum(r.usage.total_tokens for r in alone)
    assert all(r.usage.prompt_tokens > 0 for r in batched)


async def test_a_refused_prompt_fails_alone(start_server, make_backend):
    server = await start_server(script=SCRIPT)
    lm = model(make_backend(server, prompts_per_request=8))
    prompts = [f"Story {i}:" for i in range(5)] + ["poison"]
    outcomes = await asyncio.gather(
        *(lm.generate(GenerateRequest(prompt=prompt, max_tokens=4)) for prompt in prompts),
        return_exceptions=True,
    )
    assert [type(outcome).__name__ for outcome in outcomes] == ["Generation"] * 5 + ["PermanentError"]
    assert "This prompt is refused" in str(outcomes[-1])
    # one batch refused as a whole, then every prompt alone
    assert [len(body["prompt"]) if isinstance(body["prompt"], list) else 1 for body in server.stats.bodies] == [6, 1, 1, 1, 1, 1, 1]


async def test_a_transient_failure_of_the_batch_is_retried_by_every_caller(start_server, make_backend):
    server = await start_server(script=SCRIPT, faults=Faults(first_n={"500": 1}))
    lm = model(make_backend(server, prompts_per_request=8))
    results = await asyncio.gather(*(lm.score(ScoreRequest(context=f"Review {i}:", target=" great")) for i in range(8)))
    assert [result.logprob_sum for result in results] == [-0.25] * 8
    assert server.stats.requests == 2
    assert lm.stats.snapshot().total("retries") == 8


async def test_calls_that_differ_beyond_the_prompt_go_separately(start_server, make_backend):
    server = await start_server(script=SCRIPT)
    lm = model(make_backend(server, prompts_per_request=8))
    await asyncio.gather(*(
        lm.generate(GenerateRequest(prompt=f"Story {i}:", max_tokens=4 + i % 2)) for i in range(8)
    ))
    sizes = sorted(len(body["prompt"]) for body in server.stats.bodies)
    assert sizes == [4, 4]
    assert {body["max_tokens"] for body in server.stats.bodies} == {4, 5}


async def test_a_lone_call_is_sent_as_a_plain_prompt(start_server, make_backend):
    server = await start_server(script=SCRIPT)
    lm = model(make_backend(server, prompts_per_request=8))
    await lm.score(ScoreRequest(context="Review:", target=" great"))
    assert server.stats.bodies[-1]["prompt"] == "Review: great"


async def test_cancelled_callers_leave_no_request_behind(start_server, make_backend):
    server = await start_server(script=SCRIPT, latency=Latency(mean_s=0.5))
    backend = make_backend(server, prompts_per_request=8)
    lm = model(backend)
    keep = asyncio.ensure_future(lm.score(ScoreRequest(context="Review 0:", target=" great")))
    drop = [asyncio.ensure_future(lm.score(ScoreRequest(context=f"Review {i}:", target=" great"))) for i in range(1, 4)]
    await asyncio.sleep(0.05)
    for task in drop:
        task.cancel()
    assert (await keep).logprob_sum == -0.25  # the others' cancellation did not fail it

    everyone = [asyncio.ensure_future(lm.score(ScoreRequest(context=f"Review {i}:", target=" great"))) for i in range(4)]
    await asyncio.sleep(0.05)
    assert backend.batcher._sending  # the request is out
    for task in everyone:
        task.cancel()
    await asyncio.gather(*everyone, return_exceptions=True)
    await asyncio.sleep(0)
    assert not backend.batcher._sending
    assert lm.limiter.in_use == 0


async def test_server_runs_each_prompt_of_a_list_in_its_own_slot(start_server, make_backend):
    server = await start_server(script=SCRIPT, latency=Latency(mean_s=0.02), max_concurrency=3)
    lm = model(make_backend(server, prompts_per_request=10))
    await asyncio.gather(*(lm.score(ScoreRequest(context=f"Review {i}:", target=" great")) for i in range(10)))
    assert server.stats.requests == 1
    assert server.stats.sequences == 10
    assert server.stats.max_in_flight == 3


def test_split_response_reindexes_choices_and_shares_usage():
    data = {
        "id": "x",
        "choices": [{"index": i, "text": f"t{i}"} for i in (3, 0, 2, 1)],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }
    first, second = split_response(data, ["aaaa", "a"], n=2, echo=False)
    assert [c["text"] for c in first["choices"]] == ["t0", "t1"]
    assert [c["index"] for c in second["choices"]] == [1, 0]
    assert first["usage"]["prompt_tokens"] + second["usage"]["prompt_tokens"] == 10
    assert first["usage"]["prompt_tokens"] == 8
    assert first["id"] == "x"


def test_split_response_hands_a_malformed_body_to_everyone():
    assert split_response({"choices": None}, ["a", "b"], n=1, echo=False) == [{"choices": None}] * 2


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [(10, [1, 1, 1], [4, 3, 3]), (7, [0, 0], [4, 3]), (5, [3, 1], [4, 1]), (0, [2, 5], [0, 0]), (3, [], [])],
)
def test_apportion_adds_up_exactly(total, weights, expected):
    assert apportion(total, weights) == expected
    assert sum(apportion(total, weights)) == (total if weights else 0)


async def test_a_chat_model_refuses_prompt_lists(scripted_server, make_backend):
    with pytest.raises(ValueError, match="prompts_per_request must be 1"):
        make_backend(scripted_server, chat=True, prompts_per_request=4)


async def test_permanent_error_of_a_lone_prompt_is_not_retried(start_server, make_backend):
    server = await start_server(script=SCRIPT)
    lm = model(make_backend(server, prompts_per_request=8))
    with pytest.raises(PermanentError):
        await lm.generate(GenerateRequest(prompt="poison", max_tokens=4))
    assert server.stats.requests == 1
