"""`ModelPool`: what its models share, the `base_url` override, closing, and usage."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import types
from typing import ClassVar

import msgspec
import pytest

from dlngraph.llm.accounting import CallStats
from dlngraph.llm.cache import Cache
from dlngraph.llm.errors import PermanentError
from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.llm.pool import UNTAGGED, USAGE_FIELDS, ModelPool
from dlngraph.llm.types import GenerateRequest, Tag
from dlngraph.spec.models import Limits, ModelSpec, Sampling
from dlngraph.testing.server import Latency, Script


def openai_spec(base_url: str, **fields) -> ModelSpec:
    fields.setdefault("model", "scripted")
    return ModelSpec(backend="openai", base_url=base_url, **fields)


def local_spec(**fields) -> ModelSpec:
    return ModelSpec(backend="local", **fields)


async def test_models_by_name_with_one_stats(scripted_server):
    stats = CallStats()
    specs = {"writer": openai_spec(scripted_server.base_url), "judge": openai_spec(scripted_server.base_url)}
    async with ModelPool.from_specs(specs, stats=stats) as pool:
        assert list(pool) == ["writer", "judge"] and len(pool) == 2
        assert pool["writer"].name == "writer" and pool["writer"].stats is stats is pool["judge"].stats
        with pytest.raises(KeyError, match="known: judge, writer"):
            pool["nobody"]


async def test_same_server_model_and_limits_share_backend_and_limiter(scripted_server):
    url = scripted_server.base_url
    specs = {
        "a": openai_spec(url),
        "b": openai_spec(url, sampling=Sampling(temperature=0.7)),  # only the sampling differs
        "chat": openai_spec(url, chat=True),  # same server model, asked another way
        "strict": openai_spec(url, limits=Limits(max_concurrency=2)),
        "other": openai_spec(url, model="another-model"),
    }
    async with ModelPool.from_specs(specs) as pool:
        assert pool["a"].backend is pool["b"].backend
        assert pool["a"].limiter is pool["b"].limiter is pool["chat"].limiter
        assert pool["chat"].backend is not pool["a"].backend
        assert pool["strict"].limiter is not pool["a"].limiter
        assert pool["other"].limiter is not pool["a"].limiter
        assert len(pool.backends) == 4


async def test_a_shared_limiter_caps_the_server_model_across_names(start_server):
    server = await start_server(latency=Latency(mean_s=0.02))
    limits = Limits(max_concurrency=2)
    specs = {name: openai_spec(server.base_url, limits=limits) for name in ("a", "b", "c")}
    async with ModelPool.from_specs(specs) as pool:
        calls = [pool[name].generate(GenerateRequest(prompt=f"{name}{i}")) for name in specs for i in range(4)]
        await asyncio.gather(*calls)
    assert server.stats.requests == 12 and server.stats.max_in_flight == 2


async def test_pools_sharing_a_limiter_registry_cap_the_server_model_together(start_server):
    """A sweep's runs side by side: two pools, each with its own backends, one set of limits."""
    server = await start_server(latency=Latency(mean_s=0.02))
    specs = {"fast": openai_spec(server.base_url, limits=Limits(max_concurrency=3))}
    registry: dict = {}
    async with ModelPool.from_specs(specs, limiters=registry) as first, ModelPool.from_specs(specs, limiters=registry) as second:
        assert first["fast"].backend is not second["fast"].backend and len(registry) == 1
        calls = [pool["fast"].generate(GenerateRequest(prompt=f"{i}")) for pool in (first, second) for i in range(8)]
        await asyncio.gather(*calls)
    assert server.stats.requests == 16 and server.stats.max_in_flight == 3


async def test_base_url_points_every_model_at_one_server(scripted_server, monkeypatch):
    monkeypatch.setenv("PROVIDER_KEY", "sk-provider-secret")
    specs = {
        "embedded": local_spec(),
        "remote": openai_spec("https://api.example.invalid/v1", model="big-model", api_key_env="PROVIDER_KEY"),
        "remote_chat": openai_spec("https://api.example.invalid/v1", model="big-model", chat=True),
    }
    async with ModelPool.from_specs(specs, base_url=scripted_server.base_url) as pool:
        assert all(isinstance(model.backend, OpenAIBackend) for model in pool.values())
        for name in specs:
            await pool[name].generate(GenerateRequest(prompt=f"hello from {name}"))
    bodies = scripted_server.stats.bodies
    assert [body["model"] for body in bodies] == ["gemma-3-270m", "big-model", "big-model"]
    assert "prompt" in bodies[0] and "messages" in bodies[2]  # the local model becomes a completion model
    assert pool["remote"].identity == f"openai:completions:{scripted_server.base_url}:big-model"


async def test_base_url_never_forwards_a_providers_key(start_server, monkeypatch):
    server = await start_server(api_key="sk-local-server")
    monkeypatch.setenv("PROVIDER_KEY", "sk-provider-secret")
    monkeypatch.setenv("LOCAL_SERVER_KEY", "sk-local-server")
    specs = {"remote": openai_spec("https://api.example.invalid/v1", api_key_env="PROVIDER_KEY")}
    async with ModelPool.from_specs(specs, base_url=server.base_url) as pool:
        with pytest.raises(PermanentError, match="HTTP 401.*\\(none\\)"):  # no key was sent at all
            await pool["remote"].generate(GenerateRequest(prompt="hi"))
    overridden = ModelPool.from_specs(specs, base_url=server.base_url, base_url_api_key_env="LOCAL_SERVER_KEY")
    async with overridden as pool:
        assert (await pool["remote"].generate(GenerateRequest(prompt="hi"))).text


async def test_every_backend_is_closed_exactly_once(scripted_server, monkeypatch):
    closed: list[int] = []
    original = OpenAIBackend.aclose

    async def counting_aclose(self: OpenAIBackend) -> None:
        closed.append(id(self))
        await original(self)

    monkeypatch.setattr(OpenAIBackend, "aclose", counting_aclose)
    url = scripted_server.base_url
    specs = {"a": openai_spec(url), "b": openai_spec(url), "c": openai_spec(url, chat=True)}
    async with ModelPool.from_specs(specs) as pool:
        await pool["a"].generate(GenerateRequest(prompt="x"))
    await pool.aclose()
    assert pool.closed and sorted(closed) == sorted({id(model.backend) for model in pool.values()})
    assert len(closed) == 2


async def test_a_model_that_cannot_be_opened_closes_those_opened_before_it(scripted_server, tmp_path, monkeypatch):
    pytest.importorskip("llama_cpp")
    from dlngraph.llm.local.backend import LocalBackend

    closed: list[object] = []

    def recording(original):
        async def aclose(self) -> None:
            closed.append(self)
            await original(self)

        return aclose

    monkeypatch.setattr(OpenAIBackend, "aclose", recording(OpenAIBackend.aclose))
    monkeypatch.setattr(LocalBackend, "aclose", recording(LocalBackend.aclose))
    weights = tmp_path / "first.gguf"
    weights.write_bytes(b"GGUF")  # opened (a share of its worker taken), never loaded
    specs = {
        "server": openai_spec(scripted_server.base_url),
        "embedded": local_spec(model_path=str(weights)),
        "missing": local_spec(model_path=str(tmp_path / "absent.gguf")),
    }
    with pytest.raises(FileNotFoundError, match="absent.gguf"):
        ModelPool.from_specs(specs)
    assert [type(backend) for backend in closed] == [OpenAIBackend, LocalBackend]
    reopened = LocalBackend(weights)  # the released share: a fresh worker, not the first one's
    assert reopened._worker is not closed[1]._worker
    await reopened.aclose()


async def test_usage_is_nested_numbers_by_phase_node_and_model(start_server, tmp_path):
    server = await start_server(script=Script().fail("refused", 400, "No."), latency=Latency(mean_s=0.02))
    specs = {"writer": openai_spec(server.base_url, limits=Limits(max_attempts=1))}
    with Cache(tmp_path / "cache.sqlite") as cache:
        async with ModelPool.from_specs(specs, cache=cache) as pool:
            before = pool.usage()
            forward, posterior = Tag(node="a", phase="forward"), Tag(node="a", phase="posterior")
            writer = pool["writer"]
            await asyncio.gather(*(writer.generate(GenerateRequest(prompt="same"), tag=forward) for _ in range(3)))
            await writer.generate(GenerateRequest(prompt="same"), tag=posterior)  # a cache hit
            with pytest.raises(PermanentError):
                await writer.generate(GenerateRequest(prompt="refused"), tag=posterior)
            await writer.generate(GenerateRequest(prompt="untagged"))
            usage = pool.usage()
    assert before["total"] == dict.fromkeys(USAGE_FIELDS, 0)
    assert usage["total"]["calls"] == 6 and usage["total"]["requests"] == 3
    assert usage["by_phase"]["forward"] | {"prompt_tokens": 0, "completion_tokens": 0} == {
        "calls": 3, "cache_hits": 0, "deduplicated": 2, "requests": 1,
        "prompt_tokens": 0, "completion_tokens": 0, "errors": 0, "retries": 0,
    }  # fmt: skip
    assert usage["by_phase"]["forward"]["prompt_tokens"] > 0
    assert usage["by_phase"]["posterior"]["cache_hits"] == 1 and usage["by_phase"]["posterior"]["errors"] == 1
    assert usage["by_phase"][UNTAGGED]["calls"] == 1 and usage["by_node"]["a"]["calls"] == 5
    assert usage["by_model"]["writer"] == usage["total"]
    assert usage["in_flight"] == 0 and usage["max_in_flight"] == pool.max_requests_in_flight() == 1
    assert json.loads(json.dumps(usage)) == usage  # plain data, ready for an event log


async def test_max_requests_in_flight_over_every_model(start_server):
    server = await start_server(latency=Latency(mean_s=0.05))
    specs = {"a": openai_spec(server.base_url), "b": openai_spec(server.base_url, model="other")}
    async with ModelPool.from_specs(specs) as pool:
        calls = [pool[name].generate(GenerateRequest(prompt=f"{name}{i}")) for name in specs for i in range(5)]
        await asyncio.gather(*calls)
        assert pool.max_requests_in_flight() == 10 and pool.requests_in_flight() == 0


async def test_seeded_pools_wait_the_same_retry_times(scripted_server):
    specs = {"a": openai_spec(scripted_server.base_url)}
    first, second = ModelPool.from_specs(specs, seed=3), ModelPool.from_specs(specs, seed=3)
    from dlngraph.llm.errors import TransientError

    delays = [[pool["a"].retry.delay(attempt, TransientError("x")) for attempt in range(5)] for pool in (first, second)]
    assert delays[0] == delays[1]
    await first.aclose()
    await second.aclose()


class FakeLocalBackend:
    """Stands in for the embedded model, so that the pool's wiring is tested without loading it."""

    built: ClassVar[list[ModelSpec]] = []

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.closed = 0
        self.warmed = 0

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> FakeLocalBackend:
        cls.built.append(spec)
        return cls(spec)

    identity = "local:fake"
    context_window = 2048

    async def aclose(self) -> None:
        self.closed += 1

    async def warm_up(self) -> None:
        self.warmed += 1


async def test_local_models_come_from_the_local_module(monkeypatch):
    FakeLocalBackend.built = []
    monkeypatch.setitem(sys.modules, "dlngraph.llm.local.backend", types.SimpleNamespace(LocalBackend=FakeLocalBackend))
    specs = {"a": local_spec(), "b": local_spec(sampling=Sampling(temperature=0.9)), "c": local_spec(n_threads=1)}
    async with ModelPool.from_specs(specs) as pool:
        assert pool["a"].backend is pool["b"].backend is not pool["c"].backend
        assert pool["a"].limiter is pool["b"].limiter is pool["c"].limiter  # one model file, one set of limits
    assert len(FakeLocalBackend.built) == 2
    assert all(backend.closed == 1 for backend in pool.backends)


async def test_warm_up_loads_each_embedded_model_once_and_leaves_servers_alone(scripted_server, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlngraph.llm.local.backend", types.SimpleNamespace(LocalBackend=FakeLocalBackend))
    specs = {"a": local_spec(), "b": local_spec(sampling=Sampling(temperature=0.9)), "server": openai_spec(scripted_server.base_url)}
    async with ModelPool.from_specs(specs) as pool:
        await pool.warm_up()
        assert pool["a"].backend.warmed == 1
        assert scripted_server.stats.requests == 0


def test_http_models_never_import_the_embedded_model():
    code = (
        "import sys\n"
        "from dlngraph.llm.pool import ModelPool\n"
        "from dlngraph.spec.models import ModelSpec\n"
        "pool = ModelPool.from_specs({'m': ModelSpec(backend='openai', base_url='http://127.0.0.1:9/v1')})\n"
        "local = ModelPool.from_specs({'m': ModelSpec(backend='local')}, base_url='http://127.0.0.1:9/v1')\n"
        "print(sorted(name for name in sys.modules if name == 'llama_cpp' or name.startswith('dlngraph.llm.local.backend')))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_override_keeps_names_and_drops_local_settings():
    from dlngraph.llm.pool import override_base_url

    spec = local_spec(model_path="/models/x.gguf", n_threads=2, context_window=4096, sampling=Sampling(max_tokens=9))
    overridden = override_base_url(spec, "http://127.0.0.1:1/v1")
    assert msgspec.structs.asdict(overridden) == msgspec.structs.asdict(spec) | {
        "backend": "openai", "base_url": "http://127.0.0.1:1/v1", "model_path": None, "n_threads": None,
    }  # fmt: skip


def test_a_servers_key_variable_stays_with_that_server_only():
    """Resuming a run recorded against a keyed server, with the same --base-url and no key
    variable, keeps the recorded one; another server never gets this key variable."""
    from dlngraph.llm.pool import override_base_url

    recorded = ModelSpec(backend="openai", base_url="http://127.0.0.1:1/v1", api_key_env="SERVER_KEY")
    assert override_base_url(recorded, "http://127.0.0.1:1/v1").api_key_env == "SERVER_KEY"
    assert override_base_url(recorded, "http://127.0.0.1:1/v1", "OTHER_KEY").api_key_env == "OTHER_KEY"
    assert override_base_url(recorded, "http://127.0.0.1:2/v1").api_key_env is None
