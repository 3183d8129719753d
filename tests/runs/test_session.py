"""`open_models`: a run's models and cache, always closed together."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.llm.cache import Cache
from dlngraph.llm.pool import ModelPool
from dlngraph.runs import TrainOptions, resume_run, train_spec
from dlngraph.runs.session import open_models
from dlngraph.testing.server import ScriptedServer
from tests.scripted import shipped_network

SPECS = Path(__file__).resolve().parents[2] / "specs"


async def test_models_and_cache_are_closed_when_the_work_fails(tmp_path: Path) -> None:
    spec = shipped_network("dln1").spec
    cache = Cache(tmp_path / "cache.sqlite")
    with pytest.raises(RuntimeError, match="the work failed"):
        async with open_models(spec, cache, base_url="http://127.0.0.1:9/v1") as pool:
            raise RuntimeError("the work failed")
    assert pool.closed
    assert cache._db is None


async def test_the_cache_is_closed_when_the_models_cannot_be_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_build(*args: object, **kwargs: object) -> ModelPool:
        raise ValueError("model file not found")

    monkeypatch.setattr(ModelPool, "from_specs", cannot_build)
    cache = Cache(tmp_path / "cache.sqlite")
    with pytest.raises(ValueError, match="model file not found"):
        async with open_models(shipped_network("dln1").spec, cache):
            pass
    assert cache._db is None


async def test_a_run_on_a_keyed_server_records_where_the_key_is_and_never_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--base-url URL --api-key-env NAME`: the calls carry the key; the run's spec.yaml names
    the server and the variable, so a resume needs neither flag, and holds no secret."""
    monkeypatch.setenv("DLNGRAPH_TEST_SERVER_KEY", "sk-test-secret")
    async with ScriptedServer(api_key="sk-test-secret") as server:
        options = TrainOptions(
            runs_root=tmp_path, overrides=["iterations=1"], base_url=server.base_url,
            api_key_env="DLNGRAPH_TEST_SERVER_KEY",
        )
        summary = await train_spec(SPECS / "dln1.yaml", options)
        assert summary.stopped == "completed" and summary.calls > 0
        resumed = await resume_run(Path(summary.run_dir), TrainOptions())
        assert resumed.requests == summary.requests
    recorded = (Path(summary.run_dir) / "spec.yaml").read_text()
    assert f"base_url: {server.base_url}" in recorded and "api_key_env: DLNGRAPH_TEST_SERVER_KEY" in recorded
    assert not any("sk-test-secret" in path.read_bytes().decode(errors="replace") for path in Path(summary.run_dir).rglob("*") if path.is_file())
