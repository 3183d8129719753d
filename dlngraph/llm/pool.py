"""`ModelPool`: the `models:` section of a spec turned into ready-to-call `LanguageModel`s.

A spec names its models (`writer`, `judge`, ...) and the nodes refer to them by name, so the pool
is a read-only mapping from name to `LanguageModel`. Building it decides what is shared:

- one `CallStats` for every model, so a run has a single account of its calls;
- one backend object (one HTTP connection pool, one loaded llama.cpp model) per distinct way of
  reaching a model: specs that differ only in their default sampling share it;
- one `ModelLimiter` per server model and set of limits: the limits describe what the *server*
  allows (requests/min, tokens/min, concurrency), so two model names pointing at the same
  server model must queue behind the same limits, not each get their own allowance.

`base_url` points every model at one OpenAI-compatible server instead of what its spec says:
a spec written for the embedded model can then run against a vLLM or llama.cpp server, or
against the scripted test server. Each model keeps its `model` name (the name sent in every
request; llama.cpp's server ignores it, vLLM serves it with `--served-model-name`, the scripted
server accepts any), and `backend: local` models become completion (not chat) models, since the
embedded model is a completion model. The override does *not* carry the specs' `api_key_env`
over: a key meant for one provider must never be sent to another server. Pass
`base_url_api_key_env` to name the variable holding the override server's own key.

The pool owns its backends (`async with pool:` or `await pool.aclose()` closes each exactly
once; when a model cannot be opened, `from_specs` closes those opened before it) but not the
cache or the budget, which the caller created and may share.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Self

import msgspec

from dlngraph.llm.accounting import CallStats, Counters
from dlngraph.llm.budget import Budget
from dlngraph.llm.cache import Cache
from dlngraph.llm.client import LanguageModel
from dlngraph.llm.limits import ModelLimiter
from dlngraph.llm.openai.backend import DEFAULT_BASE_URL, OpenAIBackend
from dlngraph.llm.types import Backend
from dlngraph.spec.models import ModelSpec, Sampling, model_endpoints

USAGE_FIELDS = (
    "calls",
    "cache_hits",
    "deduplicated",
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "errors",
    "retries",
)
"""The counters `ModelPool.usage()` reports for every group (see `dlngraph.llm.accounting`)."""

UNTAGGED = "(untagged)"
"""The node or phase name under which calls made without a `Tag` are reported."""

Usage = dict[str, Any]
"""Nested dicts whose leaves are numbers, so that two readings can be subtracted key by key."""


class ModelPool(Mapping[str, LanguageModel]):
    """The models of a spec by name, sharing backends, limiters and accounting.

    Build it with `ModelPool.from_specs(spec.models, ...)`; the constructor takes models that
    are already built (useful in tests). The pool owns, and closes, the backends behind them.
    """

    def __init__(self, models: Mapping[str, LanguageModel], *, stats: CallStats) -> None:
        self._models = dict(models)
        self.stats = stats
        self._backends = _distinct_backends(self._models)
        self._closed = False

    @classmethod
    def from_specs(
        cls,
        models: Mapping[str, ModelSpec],
        *,
        cache: Cache | None = None,
        budget: Budget | None = None,
        stats: CallStats | None = None,
        base_url: str | None = None,
        base_url_api_key_env: str | None = None,
        seed: int | None = None,
        limiters: LimiterRegistry | None = None,
    ) -> ModelPool:
        """One `LanguageModel` per entry of a spec's `models:` section (see the module docstring).

        `seed` seeds each model's retry jitter (derived from the seed and the model's name), so a
        seeded run waits the same times; without it the jitter is random. `limiters`, shared by
        pools that run side by side (a sweep's runs in one process), makes them queue behind
        one set of limits per server model, as the models of one pool do.
        """
        stats = stats if stats is not None else CallStats()
        shared = _Sharing(limiters if limiters is not None else {})
        built: dict[str, LanguageModel] = {}
        try:
            for name, spec in models.items():
                if base_url is not None:
                    spec = override_base_url(spec, base_url, base_url_api_key_env)
                built[name] = LanguageModel(
                    name,
                    shared.backend(spec),
                    limits=spec.limits,
                    cache=cache,
                    budget=budget,
                    stats=stats,
                    rng=_retry_rng(seed, name),
                    limiter=shared.limiter(spec),
                )
        except BaseException:
            _close_unused(shared.backends)
            raise
        return cls(built, stats=stats)

    # --- the mapping ---------------------------------------------------------------------------

    def __getitem__(self, name: str) -> LanguageModel:
        try:
            return self._models[name]
        except KeyError:
            known = ", ".join(sorted(self._models)) or "(none)"
            raise KeyError(f"no model named {name!r} in the pool; known: {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    @property
    def backends(self) -> tuple[Backend, ...]:
        """The distinct backends behind the models, each once."""
        return tuple(self._backends)

    # --- accounting ----------------------------------------------------------------------------

    def usage(self) -> Usage:
        """Cumulative usage so far, as plain nested dicts of numbers:

            {"total": {...}, "by_phase": {phase: {...}}, "by_node": {node: {...}},
             "by_model": {model: {...}}, "in_flight": int, "max_in_flight": int}

        where each `{...}` holds the `USAGE_FIELDS` counters; with endpoint pools, also
        "by_endpoint": {url: {"requests", "errors", "latency_s", "taken_out"}}. Calls made without a tag are
        grouped under `UNTAGGED`. The trainer logs the difference of two readings per iteration.
        """
        total = _zeros()
        by_phase: dict[str, dict[str, int]] = {}
        by_node: dict[str, dict[str, int]] = {}
        by_model: dict[str, dict[str, int]] = {}
        for model, tag, counters in self.stats.groups():
            _add(total, counters)
            _add(by_phase.setdefault(tag.phase or UNTAGGED, _zeros()), counters)
            _add(by_node.setdefault(tag.node or UNTAGGED, _zeros()), counters)
            _add(by_model.setdefault(model, _zeros()), counters)
        return {
            "total": total,
            "by_phase": by_phase,
            "by_node": by_node,
            "by_model": by_model,
            **({"by_endpoint": by_endpoint} if (by_endpoint := self.endpoint_usage()) else {}),
            "in_flight": self.stats.requests_in_flight,
            "max_in_flight": self.stats.max_requests_in_flight,
        }

    def endpoint_usage(self) -> dict[str, dict[str, float]]:
        """Per replica of every endpoint pool: requests, errors, summed latency, times taken out."""
        usage: dict[str, dict[str, float]] = {}
        for backend in self._backends:
            usage.update(getattr(backend, "endpoint_usage", dict)())
        return usage

    def requests_in_flight(self) -> int:
        """Requests sent to a backend and not yet answered, over every model."""
        return self.stats.requests_in_flight

    def max_requests_in_flight(self) -> int:
        """The most requests that were ever in flight at once, over every model."""
        return self.stats.max_requests_in_flight

    # --- closing -------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    async def warm_up(self) -> None:
        """Load what loads slowly (an embedded model) now, off the event loop. Otherwise the
        first call would, and the first token count (the context-window check, made on the
        event loop) would load it there, stalling every call in flight for a second."""
        for backend in self._backends:
            warm_up = getattr(backend, "warm_up", None)
            if warm_up is not None:
                await warm_up()

    async def aclose(self) -> None:
        """Close every backend exactly once (later calls do nothing). Every backend is closed
        even if one fails to; the first failure is then raised."""
        if self._closed:
            return
        self._closed = True
        failures: list[BaseException] = []
        for backend in self._backends:
            try:
                await backend.aclose()
            except Exception as error:  # noqa: BLE001 - closing the others matters more
                failures.append(error)
        if failures:
            raise failures[0]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def override_base_url(spec: ModelSpec, base_url: str, api_key_env: str | None = None) -> ModelSpec:
    """`spec` pointed at the OpenAI-compatible server at `base_url` (see the module docstring).
    A key is a server's: the spec's own key variable is kept only if it already names that
    server and no other variable is given."""
    same_server = spec.backend == "openai" and spec.base_url == base_url
    return msgspec.structs.replace(
        spec,
        backend="openai",
        base_url=base_url,
        endpoints=(),
        api_key_env=api_key_env if api_key_env is not None or not same_server else spec.api_key_env,
        chat=spec.chat if spec.backend == "openai" else False,
        model_path=None,
        n_threads=None,
    )


def build_backend(spec: ModelSpec) -> Backend:
    """The backend a spec describes. The embedded model is imported only when a spec asks for
    it, so pools of HTTP models work without llama.cpp installed."""
    if spec.backend == "openai":
        return OpenAIBackend.from_spec(spec)
    if spec.backend == "local":
        from dlngraph.llm.local.backend import LocalBackend

        backend: Backend = LocalBackend.from_spec(spec)
        return backend
    raise ValueError(f"unknown backend {spec.backend!r}; use 'openai' or 'local'")


def _close_unused(backends: list[Backend]) -> None:
    """Close the backends of a pool that failed to build, none of them used yet (a later model
    could not be opened). `from_specs` is synchronous and may run inside an event loop, so
    their `aclose` runs on a private loop in a thread of its own: an unused backend holds
    nothing bound to the caller's loop (an HTTP session opens at the first request). Their
    own failures to close are dropped: the error that stopped the build is the one to report."""

    async def close_each() -> None:
        for backend in backends:
            with contextlib.suppress(Exception):
                await backend.aclose()

    closer = threading.Thread(target=asyncio.run, args=(close_each(),), name="dlngraph-pool-close")
    closer.start()
    closer.join()


LimiterRegistry = dict[tuple[Any, ...], ModelLimiter]
"""Limiters by server model and limits (see `_Sharing.limiter`)."""


class _Sharing:
    """The backends and limiters built so far, handed out again to every spec that shares them."""

    def __init__(self, limiters: LimiterRegistry) -> None:
        self._backends: dict[ModelSpec, Backend] = {}
        self._limiters = limiters

    @property
    def backends(self) -> list[Backend]:
        return list(self._backends.values())

    def backend(self, spec: ModelSpec) -> Backend:
        key = _backend_key(spec)
        if key not in self._backends:
            self._backends[key] = build_backend(spec)
        return self._backends[key]

    def limiter(self, spec: ModelSpec) -> ModelLimiter:
        key = limiter_key(spec)
        if key not in self._limiters:
            self._limiters[key] = ModelLimiter(spec.limits)
        return self._limiters[key]


def _backend_key(spec: ModelSpec) -> ModelSpec:
    """Specs equal up to their default sampling are reached the same way: one backend."""
    return msgspec.structs.replace(spec, sampling=Sampling())


def limiter_key(spec: ModelSpec) -> tuple[Any, ...]:
    """What makes two models queue behind one limiter: the server model and its limits."""
    return (server_key(spec), spec.limits)


def server_key(spec: ModelSpec) -> tuple[str, ...]:
    """The model a server serves, whichever way it is asked (chat or not, any context window)."""
    if spec.backend == "openai":
        urls = sorted(endpoint.url.rstrip("/") for endpoint in model_endpoints(spec)) or [DEFAULT_BASE_URL]
        return ("openai", *urls, spec.model)
    return ("local", spec.model_path or spec.model)


def _retry_rng(seed: int | None, name: str) -> random.Random | None:
    return random.Random(f"{seed}:{name}") if seed is not None else None


def _distinct_backends(models: Mapping[str, LanguageModel]) -> list[Backend]:
    """Each backend behind `models` once, in the order the models first use them."""
    return list({id(model.backend): model.backend for model in models.values()}.values())


def _zeros() -> dict[str, int]:
    return dict.fromkeys(USAGE_FIELDS, 0)


def _add(into: dict[str, int], counters: Counters) -> None:
    for field in USAGE_FIELDS:
        into[field] += getattr(counters, field)
