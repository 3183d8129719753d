"""`OpenAIBackend`: any OpenAI-compatible server (OpenAI, vLLM, llama.cpp's server, ...).

Wire work only, one attempt per call: retries, rate limits, the cache and accounting wrap this
backend in `dlngraph.llm.client`. How each request kind is asked:

- generate: `/completions` (or `/chat/completions` for chat models), passing `n` and `seed`;
- score: the echo trick on `/completions`: send context + target with `echo=true, logprobs=1`
  and read back the logprobs of the prompt's own tokens that cover the target;
- class_distribution: one generated token with its top-k logprobs (`logprobs=k` on completions,
  `logprobs=true, top_logprobs=k` on chat), read by `dlngraph.llm.class_probs`. k is the
  paper's 100 until the server refuses it; the cap its refusal names is then remembered.

With `prompts_per_request` > 1, completions calls made at the same moment that differ only in
their prompt (and in the fields named by `batch_without`, which are then not sent) share one
request (`dlngraph.llm.openai.batch`).

The API key is read from the environment variable named by `api_key_env` when each request is
sent; it is never stored, logged, or put into an error message.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import aiohttp

from dlngraph.llm.class_probs import PAPER_TOP_LOGPROBS, class_probabilities
from dlngraph.llm.errors import PermanentError, SendAgain, TransientError, UnsupportedRequest
from dlngraph.llm.openai.batch import PromptBatcher
from dlngraph.llm.openai.endpoints import EndpointPool
from dlngraph.llm.openai.http import Endpoint, new_session, post_json
from dlngraph.llm.openai.parse import (
    MalformedResponse,
    chat_texts,
    chat_top_logprobs,
    completion_texts,
    completion_top_logprobs,
    echo_target_logprobs,
    logprobs_cap,
    usage_of,
)
from dlngraph.llm.tokens import estimate_tokens
from dlngraph.llm.types import (
    Capabilities,
    ClassDistribution,
    ClassDistributionRequest,
    GenerateRequest,
    Generation,
    Score,
    ScoreRequest,
    after_burn_in,
)
from dlngraph.spec.models import ModelSpec, model_endpoints

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.openai.com/v1"

COMPLETIONS_CAPABILITIES = Capabilities(echo_scoring=True, top_logprobs=PAPER_TOP_LOGPROBS)

CHAT_CAPABILITIES = Capabilities(echo_scoring=False, top_logprobs=PAPER_TOP_LOGPROBS)


class OpenAIBackend:
    """One model behind an OpenAI-compatible HTTP API (see the module docstring)."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        chat: bool = False,
        context_window: int | None = None,
        max_connections: int = 32,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 120.0,
        request_timeout_s: float | None = None,
        capabilities: Capabilities | None = None,
        prompts_per_request: int = 1,
        replicas: Sequence[tuple[str, float]] = (),
        batch_without: tuple[str, ...] = (),
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self.endpoints = EndpointPool(replicas, model) if len(replicas) > 1 else None
        """Several replicas of the model (`replicas`: URL and weight), or None for one server."""
        self._model = model
        self._api_key_env = api_key_env
        self._chat = chat
        self._context_window = context_window
        self._max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(
            total=request_timeout_s, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        default = CHAT_CAPABILITIES if chat else COMPLETIONS_CAPABILITIES
        self._capabilities = capabilities if capabilities is not None else default
        self.top_logprobs = self._capabilities.top_logprobs
        """Top logprobs asked per class distribution: lowered to the server's cap once it
        refuses more (`_within_cap`)."""
        self._probing = False
        self._settled: asyncio.Event | None = None
        self._settled_loop: asyncio.AbstractEventLoop | None = None
        self._completions = Endpoint(url=f"{self._base_url}/completions", model=model)
        self._chat_completions = Endpoint(url=f"{self._base_url}/chat/completions", model=model)
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self.batcher: PromptBatcher | None = None
        """Puts calls made together into one `/completions` request (`prompts_per_request` > 1)."""
        if prompts_per_request > 1:
            if chat:
                raise ValueError("a chat model takes one conversation per request: prompts_per_request must be 1")
            self.batcher = PromptBatcher(self._post_completions_now, prompts_per_request, dropped=batch_without)

    @classmethod
    def from_spec(cls, model_spec: ModelSpec) -> OpenAIBackend:
        """The backend a `models:` entry with `backend: openai` describes."""
        if model_spec.backend != "openai":
            raise ValueError(f"OpenAIBackend needs backend 'openai', got {model_spec.backend!r}")
        replicas = [(endpoint.url, endpoint.weight) for endpoint in model_endpoints(model_spec)]
        return cls(
            base_url=replicas[0][0] if replicas else DEFAULT_BASE_URL,
            replicas=replicas,
            model=model_spec.model,
            api_key_env=model_spec.api_key_env,
            chat=model_spec.chat,
            context_window=model_spec.context_window,
            max_connections=model_spec.limits.max_concurrency,
            connect_timeout_s=model_spec.limits.connect_timeout_s,
            read_timeout_s=model_spec.limits.read_timeout_s,
            request_timeout_s=model_spec.limits.request_timeout_s,
            prompts_per_request=model_spec.prompts_per_request,
        )

    @property
    def identity(self) -> str:
        """Server, model and API: a chat model answers the same prompt differently from the
        same model asked through `/completions`, so the two must not share cache entries. A
        pool's names every replica, so that a result cached from one is found whichever answers."""
        api = "chat" if self._chat else "completions"
        server = self._base_url if self.endpoints is None else "|".join(sorted(self.endpoints.urls))
        return f"openai:{api}:{server}:{self._model}"  # a pool's: the same whichever replica answers

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def context_window(self) -> int | None:
        return self._context_window

    async def count_tokens(self, text: str) -> int:
        """A conservative over-estimate: the server's tokenizer is unknown here."""
        return estimate_tokens(text)

    async def generate(self, request: GenerateRequest) -> Generation:
        payload: dict[str, Any] = {
            "model": self._model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "n": request.n,
        }
        if request.top_p != 1.0:
            payload["top_p"] = request.top_p
        if request.stop:
            payload["stop"] = list(request.stop)
        if request.seed is not None:
            payload["seed"] = request.seed
        if self._chat:
            payload["messages"] = [{"role": "user", "content": request.prompt}]
            data, latency_s = await self._post(self._chat_completions, payload)
            texts, finish_reasons = self._parse(self._chat_completions, chat_texts, data, request.n)
        else:
            payload["prompt"] = request.prompt
            data, latency_s = await self._post_completions(payload)
            texts, finish_reasons = self._parse(
                self._completions, completion_texts, data, request.n
            )
        return Generation(
            texts=texts[: request.n],
            finish_reasons=finish_reasons[: request.n],
            usage=usage_of(data),
            latency_s=latency_s,
        )

    async def score(self, request: ScoreRequest) -> Score:
        """log p(target | context) by echoing the prompt's logprobs.

        We ask for one generated token (some servers read `max_tokens=0` as "no limit") and
        drop it. An empty target scores 0 over 0 tokens without a request; a target whose only
        tokens lack a logprob (an empty context) does too. Callers check
        `capabilities.echo_scoring` first (as `LanguageModel.score` does).
        """
        if not request.target:
            return Score(logprob_sum=0.0, logprob_mean=0.0, num_tokens=0)
        start = len(request.context)
        end = start + len(request.target)
        payload = {
            "model": self._model,
            "prompt": request.context + request.target,
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        data, latency_s = await self._post_completions(payload)
        selected = self._parse(self._completions, echo_target_logprobs, data, start, end)
        if not selected:
            raise PermanentError(
                self._completions.describe("the echoed tokens do not cover the target")
            )
        logprobs = after_burn_in([float(logprob) for logprob in selected if logprob is not None], request.burn_in_ratio)
        total = sum(logprobs)
        return Score(
            logprob_sum=total,
            logprob_mean=total / len(logprobs) if logprobs else 0.0,
            num_tokens=len(logprobs),
            usage=usage_of(data),
            latency_s=latency_s,
        )

    async def class_distribution(self, request: ClassDistributionRequest) -> ClassDistribution:
        if self.top_logprobs <= 0:
            raise UnsupportedRequest(f"{self.identity} returns no top logprobs")
        settled = self._top_logprobs_settled()
        if not settled.is_set():
            if self._probing:
                await settled.wait()  # the first call finds the cap; the others go with it
            else:
                self._probing = True
                try:
                    return await self._within_cap(request)
                finally:
                    self._probing = False
                    settled.set()
        return await self._within_cap(request)

    async def _within_cap(self, request: ClassDistributionRequest) -> ClassDistribution:
        """Ask with `top_logprobs`; if the server refuses that many, remember the cap its refusal
        names for every later call and have the client send this one again (`SendAgain`), so
        that the refused request is counted as sent."""
        top_k = self.top_logprobs
        try:
            return await self._ask_top_logprobs(request, top_k)
        except PermanentError as error:
            cap = logprobs_cap(error.detail, top_k)
            if cap is None:
                raise
            self.top_logprobs = min(self.top_logprobs, cap)
            raise SendAgain(f"{error}; asking {cap} top logprobs instead of {top_k}") from None

    def _top_logprobs_settled(self) -> asyncio.Event:
        """Set once the first class call is answered (or failed): created in the running loop."""
        loop = asyncio.get_running_loop()
        if self._settled is None or self._settled_loop is not loop:
            self._settled, self._settled_loop = asyncio.Event(), loop
        return self._settled

    async def _ask_top_logprobs(self, request: ClassDistributionRequest, top_k: int) -> ClassDistribution:
        payload: dict[str, Any] = {"model": self._model, "max_tokens": 1, "temperature": 0.0}
        if self._chat:
            payload.update(
                messages=[{"role": "user", "content": request.prompt}],
                logprobs=True,
                top_logprobs=top_k,
            )
            data, latency_s = await self._post(self._chat_completions, payload)
            top = self._parse(self._chat_completions, chat_top_logprobs, data)
        else:
            payload.update(prompt=request.prompt, logprobs=top_k)
            data, latency_s = await self._post_completions(payload)
            top = self._parse(self._completions, completion_top_logprobs, data)
        return ClassDistribution(
            probs=class_probabilities(top, request.classes),
            method="chat_top_logprobs" if self._chat else "logprobs",
            usage=usage_of(data),
            latency_s=latency_s,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def endpoint_usage(self) -> dict[str, dict[str, float]]:
        """Requests, errors and latency per replica of a pool (empty for one server)."""
        return {} if self.endpoints is None else self.endpoints.usage()

    async def _post(
        self, endpoint: Endpoint, payload: dict[str, Any]
    ) -> tuple[dict[str, Any], float]:
        if self.endpoints is not None:
            api = "chat" if endpoint is self._chat_completions else "completions"
            return await self.endpoints.post(self._send, api, payload)
        return await self._send(endpoint, payload)

    async def _send(self, endpoint: Endpoint, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        return await post_json(self._get_session(), endpoint, payload, api_key=self._api_key())

    async def _post_completions(self, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """A one-prompt `/completions` call, sent with others made at the same time if batching."""
        if self.batcher is not None:
            return await self.batcher.post(payload)
        return await self._post_completions_now(payload)

    async def _post_completions_now(self, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        return await self._post(self._completions, payload)

    def _parse(
        self,
        endpoint: Endpoint,
        parse: Callable[Concatenate[dict[str, Any], P], T],
        data: dict[str, Any],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a parser of `parse`; a body of the wrong shape is a transient error."""
        try:
            return parse(data, *args, **kwargs)
        except (MalformedResponse, KeyError, TypeError, ValueError) as error:
            raise TransientError(endpoint.describe(f"malformed response: {error}")) from None

    def _api_key(self) -> str | None:
        """Read at every request, so a rotated key is picked up and none is kept in memory."""
        if self._api_key_env is None:
            return None
        key = os.environ.get(self._api_key_env)
        if not key:
            raise PermanentError(
                f"model {self._model!r}: environment variable {self._api_key_env} is not set"
            )
        return key

    def _get_session(self) -> aiohttp.ClientSession:
        """One session per backend, created inside the running loop (aiohttp requires it) and
        recreated if the backend is used from a new loop (e.g. successive `asyncio.run`)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = new_session(max_connections=self._max_connections, timeout=self._timeout)
            self._session_loop = loop
        return self._session
