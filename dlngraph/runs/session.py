"""What a run needs besides the trainer: its dataset and models, built from a spec."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec

from dlngraph.data import Dataset, load_dataset
from dlngraph.data.load import file_splits, resolve_data_path
from dlngraph.llm.budget import Budget
from dlngraph.llm.cache import Cache
from dlngraph.llm.pool import LimiterRegistry, ModelPool, override_base_url
from dlngraph.spec import load_spec
from dlngraph.spec.data import FileData, PresetData
from dlngraph.spec.network import NetworkSpec

SpecSource = Path | NetworkSpec
"""A spec as a YAML file's path, or as a spec object built in code."""


class RunSetupError(ValueError):
    """The spec cannot be run as it is (no data, ...); the message says what to add."""


def read_spec(source: SpecSource, base_dir: Path | None = None) -> tuple[NetworkSpec, Path]:
    """The spec, and the path it stands for: a YAML file's own, or for a spec object
    `base_dir/<name>.yaml`, so that its relative data paths are read from `base_dir` (the
    current folder by default)."""
    if isinstance(source, NetworkSpec):
        return source, (base_dir if base_dir is not None else Path.cwd()) / f"{source.name}.yaml"
    return load_spec(Path(source)).spec, Path(source)


def with_model_file(spec: NetworkSpec, model_path: Path | None) -> NetworkSpec:
    """Every `local` model loading the GGUF file at `model_path` instead (unchanged if None)."""
    if model_path is None:
        return spec
    models = {
        name: msgspec.structs.replace(model, model_path=str(Path(model_path).expanduser().resolve()))
        if model.backend == "local" else model
        for name, model in spec.models.items()
    }
    return msgspec.structs.replace(spec, models=models)


def with_absolute_data_paths(spec: NetworkSpec, base_dir: Path) -> NetworkSpec:
    """Data paths resolved against the spec's folder, so that the copies of the spec written to
    a run directory (spec.yaml, final.yaml) load from anywhere."""
    data = spec.data
    if isinstance(data, PresetData) and data.data_dir is not None:
        data = msgspec.structs.replace(data, data_dir=str(resolve_data_path(data.data_dir, base_dir).resolve()))
    elif isinstance(data, FileData):
        data = msgspec.structs.replace(data, **{
            split: str(resolve_data_path(path, base_dir).resolve()) for split, path in file_splits(data).items()
        })
    return msgspec.structs.replace(spec, data=data)


def with_base_url(spec: NetworkSpec, base_url: str | None, api_key_env: str | None = None) -> NetworkSpec:
    """Every model pointed at the OpenAI-compatible server at `base_url` (unchanged if None),
    its key in the environment variable `api_key_env`, so that a run directory's spec.yaml
    says where its calls went and a resumed run goes there again (the variable's name is
    written, never the key)."""
    if base_url is None:
        return spec
    models = {name: override_base_url(model, base_url, api_key_env) for name, model in spec.models.items()}
    return msgspec.structs.replace(spec, models=models)


def dataset_of(spec: NetworkSpec, spec_path: Path) -> Dataset:
    if spec.data is None:
        raise RunSetupError(f"{spec_path}: the spec has no `data` section; add one to train or evaluate it")
    return load_dataset(spec.data, base_dir=spec_path.parent)


@asynccontextmanager
async def open_models(
    spec: NetworkSpec,
    cache: Cache,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    budget: Budget | None = None,
    limiters: LimiterRegistry | None = None,
) -> AsyncIterator[ModelPool]:
    """The spec's models over `cache`, an embedded model already loaded. Both are closed on
    the way out, the cache also when the models cannot be built (a bad base URL, a missing
    model file)."""
    try:
        pool = ModelPool.from_specs(
            spec.models, cache=cache, budget=budget, base_url=base_url, base_url_api_key_env=api_key_env,
            seed=spec.training.seed, limiters=limiters,
        )
        try:
            await pool.warm_up()
            yield pool
        finally:
            await pool.aclose()
    finally:
        await cache.aclose()
