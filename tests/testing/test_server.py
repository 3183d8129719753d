"""The scripted server's wire format, script rules, faults and stats, seen through a plain
aiohttp client (the backend's own tests are in test_openai_backend.py)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from dlngraph.llm.errors import ContextWindowExceeded
from dlngraph.llm.types import GenerateRequest
from dlngraph.testing.model import (
    MAX_LOGPROB,
    MIN_LOGPROB,
    RunningLogprobs,
    tokenize,
)
from dlngraph.testing.server import Faults, Latency, Script, ScriptedServer


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, server: ScriptedServer, path: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with http.post(server.base_url + path, json=body) as response:
        return response.status, await response.json()


async def complete(http: aiohttp.ClientSession, server: ScriptedServer, **body: Any) -> dict[str, Any]:
    status, data = await post(http, server, "/completions", {"model": "scripted", **body})
    assert status == 200, data
    return data


async def chat(http: aiohttp.ClientSession, server: ScriptedServer, **body: Any) -> dict[str, Any]:
    status, data = await post(http, server, "/chat/completions", {"model": "scripted", **body})
    assert status == 200, data
    return data


def user(content: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


async def test_base_url_is_loopback_with_os_chosen_port(scripted_server, http):
    assert scripted_server.base_url.startswith("http://127.0.0.1:")
    assert scripted_server.base_url.endswith("/v1")
    async with http.get(scripted_server.base_url + "/models") as response:
        data = await response.json()
    assert data["data"][0]["id"] == "scripted"
    assert scripted_server.stats.by_endpoint == {"/v1/models": 1}


async def test_base_url_before_start_raises():
    with pytest.raises(RuntimeError):
        _ = ScriptedServer().base_url


async def test_default_completion_is_deterministic_with_usage(scripted_server, http):
    first = await complete(http, scripted_server, prompt="Tell me a story", max_tokens=50, temperature=0)
    second = await complete(http, scripted_server, prompt="Tell me a story", max_tokens=50, temperature=0)
    other = await complete(http, scripted_server, prompt="Something else", max_tokens=50, temperature=0)
    text = first["choices"][0]["text"]
    assert text and text == second["choices"][0]["text"] != other["choices"][0]["text"]
    assert first["object"] == "text_completion"
    assert first["choices"][0]["finish_reason"] == "stop"
    assert first["usage"] == {
        "prompt_tokens": 4,
        "completion_tokens": len(tokenize(text)),
        "total_tokens": 4 + len(tokenize(text)),
    }


async def test_sampling_varies_with_seed_and_index_but_replays(scripted_server, http):
    body = {"prompt": "Draw", "max_tokens": 50, "temperature": 0.8, "n": 3, "seed": 1}
    first = await complete(http, scripted_server, **body)
    replay = await complete(http, scripted_server, **body)
    reseeded = await complete(http, scripted_server, **{**body, "seed": 2})
    texts = [choice["text"] for choice in first["choices"]]
    assert [choice["index"] for choice in first["choices"]] == [0, 1, 2]
    assert len(set(texts)) == 3
    assert texts == [choice["text"] for choice in replay["choices"]]
    assert texts != [choice["text"] for choice in reseeded["choices"]]


async def test_a_seedless_list_samples_each_listed_prompt_on_its_own(scripted_server, http):
    """The paper's code asks for several samples of a prompt by listing it several times."""
    listed = {"prompt": ["Draw", "Draw", "Draw"], "max_tokens": 50, "temperature": 0.8}
    texts = [choice["text"] for choice in (await complete(http, scripted_server, **listed))["choices"]]
    assert len(set(texts)) == 3
    assert texts == [choice["text"] for choice in (await complete(http, scripted_server, **listed))["choices"]]
    seeded = [choice["text"] for choice in (await complete(http, scripted_server, **listed, seed=1))["choices"]]
    assert len(set(seeded)) == 1  # with a seed, a prompt answers the same wherever it is listed


async def test_greedy_samples_are_identical(scripted_server, http):
    data = await complete(http, scripted_server, prompt="Same", temperature=0, n=2)
    assert data["choices"][0]["text"] == data["choices"][1]["text"]


async def test_answer_rules_first_match_wins_and_chat_reads_last_message(start_server, http):
    script = Script().answer(r"capital of (France|Italy)", " Paris").answer(r"capital", " Rome")
    server = await start_server(script=script)
    france = await complete(http, server, prompt="The capital of France is")
    other = await complete(http, server, prompt="The capital of Spain is")
    assert france["choices"][0]["text"] == " Paris"
    assert other["choices"][0]["text"] == " Rome"
    messages = [{"role": "system", "content": "capital of France"}, *user("capital of Spain?")]
    reply = await chat(http, server, messages=messages)
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": " Rome"}


async def test_max_tokens_and_stop_cut_the_text(start_server, http):
    server = await start_server(script=Script().answer("count", " one two three four"))
    cut = await complete(http, server, prompt="count", max_tokens=2)
    stopped = await complete(http, server, prompt="count", max_tokens=10, stop=[" three", "zzz"])
    assert (cut["choices"][0]["text"], cut["choices"][0]["finish_reason"]) == (" one two", "length")
    assert (stopped["choices"][0]["text"], stopped["choices"][0]["finish_reason"]) == (" one two", "stop")


async def test_echo_logprobs_follow_the_openai_layout(scripted_server, http):
    prompt = "The sky is blue"
    data = await complete(http, scripted_server, prompt=prompt, max_tokens=1, echo=True, logprobs=2, temperature=0)
    choice = data["choices"][0]
    logprobs = choice["logprobs"]
    assert choice["text"].startswith(prompt)
    assert "".join(logprobs["tokens"]) == choice["text"]
    assert logprobs["tokens"][:4] == ["The", " sky", " is", " blue"]
    assert logprobs["text_offset"] == [0, 3, 7, 10, 15]
    assert logprobs["token_logprobs"][0] is None and logprobs["top_logprobs"][0] is None
    assert all(MIN_LOGPROB <= lp <= MAX_LOGPROB for lp in logprobs["token_logprobs"][1:])
    for token, lp, top in zip(logprobs["tokens"][1:], logprobs["token_logprobs"][1:], logprobs["top_logprobs"][1:], strict=True):
        assert len(top) == 2 and top[token] == lp == max(top.values())
        assert sum(math.exp(value) for value in top.values()) <= 1.0
    running = RunningLogprobs()
    assert [running.next(token) for token in logprobs["tokens"][:4]][1:] == logprobs["token_logprobs"][1:4]


async def test_logprob_rule_scores_only_the_target_tokens(start_server, http):
    script = Script().logprob(r"Q: .*\nA:$", " yes it is", -0.25)
    server = await start_server(script=script)
    data = await complete(http, server, prompt="Q: is it?\nA: yes it is", max_tokens=1, echo=True, logprobs=1)
    logprobs = data["choices"][0]["logprobs"]
    assert logprobs["tokens"][:7] == ["Q:", " is", " it?", "\nA:", " yes", " it", " is"]
    assert logprobs["token_logprobs"][4:7] == [-0.25, -0.25, -0.25]
    assert -0.25 not in logprobs["token_logprobs"][:4]
    unmatched = await complete(http, server, prompt="Q: is it?\nB: yes it is", max_tokens=1, echo=True, logprobs=1)
    assert -0.25 not in unmatched["choices"][0]["logprobs"]["token_logprobs"]


async def test_class_logprobs_rule_sets_first_token_top_logprobs(start_server, http):
    script = Script().class_logprobs("Sentiment", {" negative": -2.0, " positive": -0.2, " neutral": -3.5})
    server = await start_server(script=script)
    data = await complete(http, server, prompt="Sentiment: great", max_tokens=1, logprobs=2, temperature=0)
    choice = data["choices"][0]
    assert choice["text"] == " positive"
    assert choice["logprobs"]["top_logprobs"][0] == {" positive": -0.2, " negative": -2.0}
    assert choice["logprobs"]["token_logprobs"][0] == -0.2
    reply = await chat(http, server, messages=user("Sentiment: fine"), max_tokens=1, logprobs=True, top_logprobs=3)
    content = reply["choices"][0]["logprobs"]["content"]
    assert content[0]["token"] == " positive" and content[0]["logprob"] == -0.2
    assert [(top["token"], top["logprob"]) for top in content[0]["top_logprobs"]] == [
        (" positive", -0.2),
        (" negative", -2.0),
        (" neutral", -3.5),
    ]


async def test_chat_logprobs_cover_every_generated_token(scripted_server, http):
    reply = await chat(http, scripted_server, messages=user("hello"), logprobs=True, top_logprobs=4)
    text = reply["choices"][0]["message"]["content"]
    content = reply["choices"][0]["logprobs"]["content"]
    assert "".join(entry["token"] for entry in content) == text
    assert all(len(entry["top_logprobs"]) == 4 for entry in content)
    assert all(bytes(entry["bytes"]).decode() == entry["token"] for entry in content)
    plain = await chat(http, scripted_server, messages=user("hello"))
    assert plain["choices"][0]["logprobs"] is None


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/completions", {"prompt": []}, "prompt"),
        ("/completions", {"prompt": ["a", 2]}, "prompt"),
        ("/completions", {"prompt": "x", "n": 0}, "'n'"),
        ("/completions", {"prompt": "x", "temperature": 5}, "temperature"),
        ("/completions", {"prompt": "x", "logprobs": 99}, "logprobs"),
        ("/chat/completions", {"messages": []}, "messages"),
        ("/chat/completions", {"messages": user("x"), "top_logprobs": 2}, "logprobs"),
    ],
)
async def test_invalid_requests_get_openai_style_400(scripted_server, http, path, body, fragment):
    status, data = await post(http, scripted_server, path, body)
    assert status == 400
    assert data["error"]["type"] == "invalid_request_error"
    assert fragment in data["error"]["message"]


async def test_body_that_is_not_json_gets_400(scripted_server, http):
    async with http.post(scripted_server.base_url + "/completions", data=b"{not json") as response:
        assert response.status == 400


async def test_fail_rule_answers_with_its_status(start_server, http):
    server = await start_server(script=Script().fail("forbidden", 404, "The model `x` does not exist"))
    status, data = await post(http, server, "/completions", {"prompt": "a forbidden prompt"})
    assert status == 404 and data["error"]["message"] == "The model `x` does not exist"


async def test_api_key_is_required_when_configured(start_server, http):
    server = await start_server(api_key="sk-right")
    body = {"prompt": "hi"}
    async with http.post(server.base_url + "/completions", json=body) as response:
        assert response.status == 401
    headers = {"Authorization": "Bearer sk-right"}
    async with http.post(server.base_url + "/completions", json=body, headers=headers) as response:
        assert response.status == 200


async def test_first_n_faults_come_in_order_then_normal_answers(start_server, http):
    faults = Faults(first_n={"429": 2, "503": 1}, retry_after_s=3)
    server = await start_server(faults=faults)
    statuses, retry_afters = [], []
    for _ in range(4):
        async with http.post(server.base_url + "/completions", json={"prompt": "x"}) as response:
            statuses.append(response.status)
            retry_afters.append(response.headers.get("Retry-After"))
    assert statuses == [429, 429, 503, 200]
    assert retry_afters[:2] == ["3", "3"]
    assert server.stats.faults_injected == {"429": 2, "503": 1}


async def test_replacing_faults_restarts_first_n(start_server, http):
    server = await start_server(faults=Faults(first_n={"500": 1}))
    status, _ = await post(http, server, "/completions", {"prompt": "x"})
    assert status == 500
    server.faults = Faults(first_n={"500": 1})
    status, _ = await post(http, server, "/completions", {"prompt": "x"})
    assert status == 500


async def test_fault_rates_are_seeded(start_server, http):
    async def statuses(seed: int) -> list[int]:
        server = await start_server(faults=Faults(rate_500=0.5, seed=seed))
        results = []
        for _ in range(40):
            async with http.post(server.base_url + "/completions", json={"prompt": "x"}) as response:
                results.append(response.status)
        return results

    first, replay = await statuses(7), await statuses(7)
    assert first == replay
    assert 5 <= first.count(500) <= 35  # rate 0.5 over 40 draws, far from either edge


async def test_unknown_fault_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown fault"):
        Faults(first_n={"418": 1})


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("reset", aiohttp.ServerDisconnectedError),
        ("truncated", aiohttp.ClientPayloadError),
        ("malformed", json.JSONDecodeError),
    ],
)
async def test_broken_responses(start_server, http, fault, error):
    server = await start_server(faults=Faults(first_n={fault: 1}))
    with pytest.raises(error):
        async with http.post(server.base_url + "/completions", json={"prompt": "x"}) as response:
            json.loads(await response.read())
    status, _ = await post(http, server, "/completions", {"prompt": "x"})
    assert status == 200
    assert server.stats.faults_injected == {fault: 1}


async def test_timeout_fault_holds_the_answer(start_server, http):
    server = await start_server(faults=Faults(first_n={"timeout": 1}, timeout_s=30.0))
    timeout = aiohttp.ClientTimeout(total=0.3)
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(server.base_url + "/completions", json={"prompt": "x"}, timeout=timeout):
            pass
    status, _ = await post(http, server, "/completions", {"prompt": "x"})
    assert status == 200


async def test_max_concurrency_caps_requests_in_flight(start_server, http):
    server = await start_server(latency=Latency(mean_s=0.05), max_concurrency=3)
    results = await asyncio.gather(*(post(http, server, "/completions", {"prompt": f"p{i}"}) for i in range(12)))
    assert all(status == 200 for status, _ in results)
    assert server.stats.max_in_flight == 3
    assert server.stats.in_flight == 0
    assert server.stats.requests == 12 and server.stats.by_endpoint == {"/v1/completions": 12}


async def test_unbounded_server_takes_requests_concurrently(start_server, http):
    server = await start_server(latency=Latency(mean_s=0.1, jitter=0.5))
    await asyncio.gather(*(post(http, server, "/completions", {"prompt": "x"}) for _ in range(8)))
    assert server.stats.max_in_flight > 3


async def test_latency_draws_stay_within_jitter_bounds():
    latency = Latency(mean_s=0.2, jitter=0.25, seed=3)
    draws = [latency.draw() for _ in range(200)]
    assert all(0.15 <= draw <= 0.25 for draw in draws)
    replay = Latency(mean_s=0.2, jitter=0.25, seed=3)
    assert draws == [replay.draw() for _ in range(200)]
    assert Latency().draw() == 0.0


async def test_bodies_are_recorded_and_bounded(start_server, http):
    server = await start_server(max_bodies=3)
    for index in range(5):
        await complete(http, server, prompt=f"p{index}")
    assert [body["prompt"] for body in server.stats.bodies] == ["p2", "p3", "p4"]
    server.stats.reset()
    assert server.stats.requests == 0 and server.stats.bodies == []


async def test_script_can_change_between_requests(scripted_server, http):
    scripted_server.script = Script().answer("x", " first")
    assert (await complete(http, scripted_server, prompt="x"))["choices"][0]["text"] == " first"
    scripted_server.script = Script().answer("x", " second")
    assert (await complete(http, scripted_server, prompt="x"))["choices"][0]["text"] == " second"


async def test_subprocess_mode_serves_until_sigterm(http):
    process = subprocess.Popen(
        [sys.executable, "-m", "dlngraph.testing", "--port", "0", "--latency-ms", "5", "--jitter", "0.2", "--concurrency", "4"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout=30)
        assert line.startswith("listening http://127.0.0.1:")
        base_url = line.split()[1]
        async with http.post(base_url + "/completions", json={"prompt": "hello"}) as response:
            assert response.status == 200
            assert (await response.json())["choices"][0]["text"]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(asyncio.to_thread(process.wait), timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


async def test_a_prompt_over_the_context_window_is_refused_as_llama_cpp_server_does(start_server, make_backend) -> None:
    """The status, code and words of llama_cpp.server (tests/llm/openai/test_llama_cpp_server.py meets
    the real one), so the client's handling of them is tested without the model."""
    server = await start_server(context_window=16)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.base_url}/completions",
                                json={"model": server.model, "prompt": "word " * 20, "max_tokens": 8}) as response:
            assert response.status == 400
            error = (await response.json())["error"]
    assert error["code"] == "context_length_exceeded" and error["type"] == "invalid_request_error"
    assert error["message"].startswith("This model's maximum context length is 16 tokens, however you requested 28 tokens")
    backend = make_backend(server)
    with pytest.raises(ContextWindowExceeded, match=r"HTTP 400: This model's maximum context length is 16 tokens"):
        await backend.generate(GenerateRequest(prompt="word " * 20, max_tokens=8))
    assert (await backend.generate(GenerateRequest(prompt="word", max_tokens=8))).texts
