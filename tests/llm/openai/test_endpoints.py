"""Endpoint pools: one model served by several scripted servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket

import pytest

from dlngraph.llm.errors import RetriesExhausted, TransientError
from dlngraph.llm.openai import endpoints as openai_endpoints
from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.llm.pool import ModelPool
from dlngraph.llm.types import GenerateRequest
from dlngraph.spec.models import Limits, ModelSpec, WeightedEndpoint, model_endpoints
from dlngraph.testing.faults import Faults
from dlngraph.testing.server import Latency


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


def pool_backend(*endpoints: tuple[str, float]) -> OpenAIBackend:
    return OpenAIBackend(base_url=endpoints[0][0], model="scripted", replicas=list(endpoints))


async def test_calls_go_to_the_replica_with_the_fewest_in_flight_for_its_weight(start_server):
    small = await start_server(latency=Latency(mean_s=0.05))
    large = await start_server(latency=Latency(mean_s=0.05))
    backend = pool_backend((small.base_url, 1.0), (large.base_url, 3.0))
    try:
        await asyncio.gather(*(backend.generate(GenerateRequest(prompt=f"p{i}")) for i in range(40)))
    finally:
        await backend.aclose()
    assert small.stats.requests + large.stats.requests == 40
    assert small.stats.requests == 10 and large.stats.requests == 30  # 1:3, as the weights say
    usage = backend.endpoint_usage()
    assert {url: counts["requests"] for url, counts in usage.items()} == {small.base_url: 10, large.base_url: 30}
    assert all(counts["latency_s"] > 0 for counts in usage.values())


async def test_a_refusing_replica_is_taken_out_without_losing_a_call_and_probed_later(start_server, monkeypatch):
    monkeypatch.setattr(openai_endpoints, "PROBE_AFTER_S", 0.2)
    server = await start_server()
    dead = closed_port_url()
    backend = pool_backend((dead, 1.0), (server.base_url, 1.0))
    try:
        texts = [(await backend.generate(GenerateRequest(prompt=f"p{i}"))).texts for i in range(6)]
        assert server.stats.requests == 6 and len(texts) == 6  # the first call failed over at once
        assert backend.endpoint_usage()[dead] == {"requests": 0, "errors": 1, "latency_s": 0.0, "taken_out": 1}
        await asyncio.sleep(0.25)
        await backend.generate(GenerateRequest(prompt="after the wait"))  # a probe of the dead one, then over
        assert backend.endpoint_usage()[dead]["errors"] == 2 and server.stats.requests == 7
        assert backend.endpoints.replicas[0].backoff_s == pytest.approx(0.4)  # the next probe waits twice as long
    finally:
        await backend.aclose()


async def test_a_streak_of_5xx_takes_a_replica_out_and_a_good_probe_brings_it_back(start_server, monkeypatch):
    monkeypatch.setattr(openai_endpoints, "PROBE_AFTER_S", 0.1)
    sick = await start_server(faults=Faults(first_n={"503": openai_endpoints.UNHEALTHY_STREAK}))
    healthy = await start_server()
    backend = pool_backend((sick.base_url, 1.0), (healthy.base_url, 1.0))
    try:
        for i in range(openai_endpoints.UNHEALTHY_STREAK):
            await backend.generate(GenerateRequest(prompt=f"p{i}"))  # each 503 fails over to the healthy one
        assert backend.endpoint_usage()[sick.base_url]["taken_out"] == 1
        await asyncio.gather(*(backend.generate(GenerateRequest(prompt=f"q{i}")) for i in range(4)))
        assert sick.stats.requests == openai_endpoints.UNHEALTHY_STREAK  # out: nothing more sent there
        await asyncio.sleep(0.15)
        await backend.generate(GenerateRequest(prompt="probe"))
        await asyncio.gather(*(backend.generate(GenerateRequest(prompt=f"r{i}")) for i in range(4)))
        assert sick.stats.requests > openai_endpoints.UNHEALTHY_STREAK + 1  # back in after the probe
        assert backend.endpoints.replicas[0].out_until is None
    finally:
        await backend.aclose()


async def test_with_every_replica_down_the_error_goes_to_the_client_s_retry(monkeypatch):
    backend = pool_backend((closed_port_url(), 1.0), (closed_port_url(), 1.0))
    try:
        with pytest.raises(TransientError) as caught:
            await backend.generate(GenerateRequest(prompt="nobody home"))
        assert caught.value.unreachable
    finally:
        await backend.aclose()
    spec = ModelSpec(backend="openai", model="scripted", base_url=(closed_port_url(), closed_port_url()),
                     limits=Limits(max_attempts=2))
    async with ModelPool.from_specs({"m": spec}) as pool:
        with pytest.raises(RetriesExhausted):
            await pool["m"].generate(GenerateRequest(prompt="nobody home"))


async def test_the_cache_key_and_limits_do_not_depend_on_which_replica_answers(start_server, tmp_path):
    from dlngraph.llm.cache import Cache

    first, second = await start_server(), await start_server()
    spec = ModelSpec(backend="openai", model="scripted", base_url=(first.base_url, second.base_url))
    reordered = ModelSpec(backend="openai", model="scripted",
                          endpoints=(WeightedEndpoint(url=second.base_url, weight=2), WeightedEndpoint(url=first.base_url)))
    assert [endpoint.url for endpoint in model_endpoints(reordered)] == [second.base_url, first.base_url]
    with Cache(tmp_path / "cache.sqlite") as cache:
        async with ModelPool.from_specs({"a": spec}, cache=cache) as pool:
            answers = [await pool["a"].generate(GenerateRequest(prompt=f"p{i}")) for i in range(4)]
        async with ModelPool.from_specs({"b": reordered}, cache=cache) as pool:
            again = [await pool["b"].generate(GenerateRequest(prompt=f"p{i}")) for i in range(4)]
            assert pool.usage()["total"]["cache_hits"] == 4
    assert [answer.texts for answer in answers] == [answer.texts for answer in again]
    assert first.stats.requests + second.stats.requests == 4


async def test_a_pool_s_usage_reports_every_replica(start_server):
    first, second = await start_server(), await start_server()
    spec = ModelSpec(backend="openai", model="scripted", base_url=(first.base_url, second.base_url))
    async with ModelPool.from_specs({"m": spec}) as pool:
        await asyncio.gather(*(pool["m"].generate(GenerateRequest(prompt=f"p{i}")) for i in range(6)))
        by_endpoint = pool.usage()["by_endpoint"]
    assert set(by_endpoint) == {first.base_url, second.base_url}
    assert sum(counts["requests"] for counts in by_endpoint.values()) == 6


SPEC_WITH = """\
name: pooled
models:
  m: {{backend: {backend}, {fields}}}
nodes: [{{kind: lm, id: a, model: m, prompt: Hi.}}]
output: a
"""


@pytest.mark.parametrize(("backend", "fields", "message"), [
    ("openai", "base_url: [http://a/v1], endpoints: [{url: http://b/v1}]", "models.m.endpoints: give the replicas either as endpoints or as base_url, not both"),
    ("openai", "endpoints: [{url: http://b/v1, weight: 0}]", "models.m.endpoints[0].weight: expected a value > 0, found 0"),
    ("openai", "base_url: []", "models.m.base_url: expected at least one URL"),
    ("local", "base_url: [http://a/v1, http://b/v1]", "models.m.base_url: only an OpenAI-compatible model has endpoints"),
    ("openai", "endpoints: [{url: http://b/v1, wieght: 2}]", "unknown field 'wieght' (did you mean 'weight'?)"),
])
def test_a_bad_endpoint_pool_is_a_spec_error_at_its_line(backend: str, fields: str, message: str) -> None:
    from dlngraph.spec import SpecError
    from dlngraph.spec.loader import load_spec_text

    with pytest.raises(SpecError) as caught:
        load_spec_text(SPEC_WITH.format(backend=backend, fields=fields), "pooled.yaml")
    assert "pooled.yaml:3:" in str(caught.value) and message in str(caught.value)


def test_a_pool_written_back_to_yaml_loads_as_the_same_spec() -> None:
    from dlngraph.spec import dump_spec
    from dlngraph.spec.loader import load_spec_text

    spec = load_spec_text(SPEC_WITH.format(backend="openai", fields="endpoints: [{url: http://b/v1, weight: 2}, {url: http://c/v1}]")).spec
    assert load_spec_text(dump_spec(spec)).spec == spec
    listed = load_spec_text(SPEC_WITH.format(backend="openai", fields="base_url: [http://a/v1, http://b/v1]")).spec
    assert load_spec_text(dump_spec(listed)).spec == listed
    assert [endpoint.url for endpoint in model_endpoints(listed.models["m"])] == ["http://a/v1", "http://b/v1"]
