"""The `models` section: named model configurations that nodes refer to.

A model names a backend and how to reach it, never a secret: `api_key_env` holds the *name*
of the environment variable that carries the key, which is read only when a request is sent.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Sampling(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Default sampling options of a model; a node may override `max_tokens` and `temperature`."""

    temperature: float = 0.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    top_p: float = 1.0


class Limits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Shared limits of one model: every caller of the model goes through the same ones."""

    max_concurrency: int = 32
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_attempts: int = 6
    """Attempts a call gets (`dlngraph.llm.retry.Retry`): transient failures and sending again
    with a setting the server refused lowered both spend one (so with 1, class scoring fails on
    a server that allows fewer than the paper's 100 top logprobs)."""
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 120.0
    """Longest wait for the next bytes of a response."""
    request_timeout_s: float = 600.0
    """Longest a whole attempt may take, however steadily its bytes come (a server that
    dribbles an answer, a slow-loris, is cut off here and retried)."""


class WeightedEndpoint(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """One replica of an endpoint pool; calls go to the replica with the fewest in flight
    relative to its weight (a replica twice as large takes `weight: 2`)."""

    url: str
    weight: float = 1.0


class ModelSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """How to reach one model.

    `backend: openai` is any OpenAI-compatible server (vLLM, llama.cpp's server, OpenAI);
    `backend: local` is the embedded llama.cpp model (Gemma 3 270M unless `model_path` is set).
    """

    backend: Literal["openai", "local"]
    model: str = "gemma-3-270m"
    base_url: str | tuple[str, ...] | None = None
    """One server, or several replicas serving the same model (an endpoint pool)."""
    endpoints: tuple[WeightedEndpoint, ...] = ()
    """The replicas with weights, instead of a list of `base_url`s."""
    api_key_env: str | None = None
    chat: bool = False
    context_window: int | None = None
    model_path: str | None = None
    n_threads: int | None = None
    extra_buffers: Literal["auto", "on", "off"] = "auto"
    """`local` only: whether llama.cpp may repack the weights into its extra buffer types.
    `auto` turns them off on CPUs with AMX, where they crash (`dlngraph.llm.local.buffers`)."""
    prompts_per_request: int = 1
    """Up to this many calls that differ only in their prompt go out as one `/completions`
    request with a list of prompts (OpenAI and vLLM accept lists; the paper's code sent 20).
    It saves client and server work per call; 1 sends every prompt on its own."""
    sampling: Sampling = Sampling()
    limits: Limits = Limits()


def model_endpoints(spec: ModelSpec) -> tuple[WeightedEndpoint, ...]:
    """The replicas a model's requests may go to, in the order the spec gives them (empty:
    the backend's default server)."""
    if spec.endpoints:
        return spec.endpoints
    if isinstance(spec.base_url, tuple):
        return tuple(WeightedEndpoint(url=url) for url in spec.base_url)
    return (WeightedEndpoint(url=spec.base_url),) if spec.base_url else ()
