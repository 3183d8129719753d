"""`open_models`: a run's models and cache, always closed together."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.llm.cache import Cache
from dlngraph.llm.pool import ModelPool
from dlngraph.runs.session import open_models
from tests.scripted import shipped_network


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
