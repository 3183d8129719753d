"""The SQLite cache under `LanguageModel`: hits, modes, sampled draws, and replay in a fresh
process that cannot reach any server."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlngraph.llm.cache import Cache
from dlngraph.llm.client import LanguageModel
from dlngraph.llm.types import GenerateRequest, Tag
from dlngraph.spec.models import Limits
from dlngraph.testing.server import Latency, Script, ScriptedServer

TAG = Tag(node="n", phase="forward")


def rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]


@pytest.fixture
def model_on(make_backend):
    def make(server: ScriptedServer, cache: Cache) -> LanguageModel:
        return LanguageModel("m", make_backend(server), limits=Limits(max_attempts=1), cache=cache)

    return make


async def test_a_repeated_call_is_a_cache_hit(scripted_server, model_on, tmp_path):
    with Cache(tmp_path / "cache.sqlite") as cache:
        model = model_on(scripted_server, cache)
        first = await model.generate(GenerateRequest(prompt="hello"), tag=TAG)
        again = await model.generate(GenerateRequest(prompt="hello"), tag=TAG)
    assert (first.cached, again.cached) == (False, True)
    assert again.texts == first.texts and again.usage == first.usage
    assert scripted_server.stats.requests == 1
    group = model.stats.counters("m", TAG)
    assert (group.calls, group.cache_hits, group.requests) == (2, 1, 1)


async def test_results_are_on_disk_after_flush(scripted_server, model_on, tmp_path):
    path = tmp_path / "cache.sqlite"
    with Cache(path, flush_interval_s=60) as cache:
        model = model_on(scripted_server, cache)
        await asyncio.gather(*(model.generate(GenerateRequest(prompt=f"p{i}")) for i in range(5)))
        cache.flush()
        assert rows(path) == 5


async def test_readonly_cache_answers_but_never_stores(scripted_server, model_on, tmp_path):
    path = tmp_path / "cache.sqlite"
    with Cache(path) as cache:
        await model_on(scripted_server, cache).generate(GenerateRequest(prompt="stored"))
    with Cache(path, "readonly") as cache:
        model = model_on(scripted_server, cache)
        assert (await model.generate(GenerateRequest(prompt="stored"))).cached
        assert not (await model.generate(GenerateRequest(prompt="new"))).cached
        assert not (await model.generate(GenerateRequest(prompt="new"))).cached
    assert rows(path) == 1
    assert scripted_server.stats.requests == 3


async def test_readonly_cache_on_a_missing_file_is_empty(scripted_server, model_on, tmp_path):
    with Cache(tmp_path / "absent.sqlite", "readonly") as cache:
        assert not cache.enabled
        assert not (await model_on(scripted_server, cache).generate(GenerateRequest(prompt="x"))).cached
    assert not (tmp_path / "absent.sqlite").exists()


async def test_cache_off_always_sends(scripted_server, model_on):
    model = model_on(scripted_server, Cache.off())
    for _ in range(2):
        assert not (await model.generate(GenerateRequest(prompt="x"))).cached
    assert scripted_server.stats.requests == 2


async def test_sampled_draws_are_keyed_by_sample_index(scripted_server, model_on, tmp_path):
    """Two draws of the same sampled request are two entries; each replays as itself."""
    draw = GenerateRequest(prompt="Propose an instruction", temperature=0.9, seed=7)
    with Cache(tmp_path / "cache.sqlite") as cache:
        model = model_on(scripted_server, cache)
        scripted_server.script = Script().answer("Propose", " first draw")
        first = await model.generate(draw)
        scripted_server.script = Script().answer("Propose", " second draw")
        second = await model.generate(GenerateRequest(**{**_fields(draw), "sample_index": 1}))
        assert (first.text, second.text) == (" first draw", " second draw")
        assert scripted_server.stats.requests == 2
        replay_first = await model.generate(draw)
        replay_second = await model.generate(GenerateRequest(**{**_fields(draw), "sample_index": 1}))
    assert (replay_first.text, replay_second.text) == (" first draw", " second draw")
    assert replay_first.cached and replay_second.cached and scripted_server.stats.requests == 2


def _fields(request: GenerateRequest) -> dict:
    return {name: getattr(request, name) for name in request.__struct_fields__}


# --- replay across processes --------------------------------------------------------------------

REPLAY_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    import msgspec
    from dlngraph.llm.cache import Cache
    from dlngraph.llm.client import LanguageModel
    from dlngraph.llm.openai.backend import OpenAIBackend
    from dlngraph.llm.types import ClassDistributionRequest, GenerateRequest, ScoreRequest
    from dlngraph.spec.models import Limits

    async def main(base_url, cache_path):
        backend = OpenAIBackend(base_url=base_url, model="scripted", connect_timeout_s=2, read_timeout_s=2)
        with Cache(cache_path) as cache:
            # Two attempts: the class call's refused 100 top logprobs spend the first.
            model = LanguageModel("m", backend, limits=Limits(max_attempts=2), cache=cache)
            results = [await model.generate(GenerateRequest(prompt="Q: what is 2+2?", max_tokens=8))]
            for index in range(3):
                request = GenerateRequest(prompt="Think step by step", temperature=0.7, seed=index, sample_index=index)
                results.append(await model.generate(request))
            results.append(await model.score(ScoreRequest(context="Q: is it?\\nA:", target=" yes it is")))
            classes = (("positive",), ("negative",))
            results.append(await model.class_distribution(ClassDistributionRequest(prompt="Sentiment: ok", classes=classes)))
            await backend.aclose()
        fields = [msgspec.to_builtins(result) for result in results]
        print(json.dumps({
            "results": [{key: value for key, value in f.items() if key != "cached"} for f in fields],
            "cached": [result.cached for result in results],
            "requests": model.stats.snapshot().total("requests"),
        }))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def run_replay_process(base_url: str, cache_path: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", REPLAY_SCRIPT, base_url, str(cache_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


async def test_a_fresh_process_replays_the_cache_without_any_server(tmp_path):
    path = tmp_path / "run" / "cache.sqlite"
    script = Script().logprob(r"Q: .*\nA:$", " yes it is", -0.5).class_logprobs("Sentiment", {" positive": -0.1})
    async with ScriptedServer(script=script, latency=Latency(mean_s=0.001)) as server:
        base_url = server.base_url
        filled = await asyncio.to_thread(run_replay_process, base_url, path)
        assert server.stats.requests == 6 + 1  # the first class call's 100 top logprobs were refused
    assert filled["requests"] == 6 + 1 and not any(filled["cached"])  # the client counts the refused one too
    # The server is gone: the same URL now refuses connections, and nothing is sent.
    replayed = await asyncio.to_thread(run_replay_process, base_url, path)
    assert replayed["requests"] == 0 and all(replayed["cached"])
    assert replayed["results"] == filled["results"]
    assert len({json.dumps(result) for result in filled["results"][1:4]}) == 3  # three distinct draws
