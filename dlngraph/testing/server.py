"""A scripted OpenAI-compatible server: a real aiohttp.web server on 127.0.0.1 for tests and
for `dlngraph bench`.

It speaks the wire format of `/v1/completions`, `/v1/chat/completions` and `/v1/models`,
answers from a `Script` (regex rules, deterministic hash-based defaults otherwise), and can be
told to be slow (`Latency`), to hold a real server's batch limit (`max_concurrency`) and to
misbehave (`Faults`), so that clients are tested against real sockets rather than mocks.

    script = Script().answer(r"capital of France", " Paris")
    async with ScriptedServer(script=script) as server:
        backend = OpenAIBackend(base_url=server.base_url, model="scripted")

Run standalone (prints `listening http://127.0.0.1:PORT/v1`, serves until SIGTERM/SIGINT):

    python -m dlngraph.testing --port 0 --latency-ms 200 --jitter 0.2 --concurrency 256
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import msgspec
from aiohttp import web

from dlngraph.testing.faults import FAULT_KINDS, REJECTIONS, Faults, Latency
from dlngraph.testing.responses import (
    MAX_TOP_LOGPROBS,
    RequestError,
    chat_body,
    completion_prompts,
    completions_body,
    context_window_error,
    error_body,
    models_body,
)
from dlngraph.testing.script import Script

__all__ = ["Faults", "Latency", "Script", "ScriptedServer", "ServerStats"]

BodyBuilder = Callable[[Script, dict[str, Any], str, int], dict[str, Any]]

SHUTDOWN_GRACE_S = 0.1
"""How long stopping waits for in-flight handlers before cancelling them: a test server has no
work worth draining, and a request stuck in an injected timeout must not delay teardown."""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@dataclass
class ServerStats:
    """What the server saw; plain counters a test reads (and may `reset()`)."""

    requests: int = 0
    sequences: int = 0
    """Prompts processed: a completions request with a list of prompts runs one per prompt."""
    by_endpoint: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    faults_injected: dict[str, int] = field(default_factory=dict)
    bodies: list[Any] = field(default_factory=list)
    """The last `max_bodies` JSON bodies received, oldest first."""
    max_bodies: int = 1000

    def sequence_started(self) -> None:
        self.sequences += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def record(self, endpoint: str) -> None:
        self.requests += 1
        self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1

    def record_body(self, body: Any) -> None:
        self.bodies.append(body)
        if len(self.bodies) > self.max_bodies:
            del self.bodies[0]

    def record_fault(self, kind: str) -> None:
        self.faults_injected[kind] = self.faults_injected.get(kind, 0) + 1

    def reset(self) -> None:
        """Forget everything seen so far (requests still in flight stay counted as such)."""
        self.requests = 0
        self.sequences = 0
        self.by_endpoint.clear()
        self.max_in_flight = self.in_flight
        self.faults_injected.clear()
        self.bodies.clear()


class ScriptedServer:
    """An OpenAI-compatible HTTP server whose answers, speed and faults a test controls.

    `script`, `faults` and `latency` may be replaced or edited between requests. Faults apply
    to the two completion endpoints only, so `GET /v1/models` always works as a health check.
    With `api_key` set, requests must carry `Authorization: Bearer <api_key>` (else 401).
    """

    def __init__(
        self,
        *,
        script: Script | None = None,
        latency: Latency | None = None,
        faults: Faults | None = None,
        max_concurrency: int | None = None,
        model: str = "scripted",
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        max_bodies: int = 1000,
        max_logprobs: int = MAX_TOP_LOGPROBS,
        context_window: int | None = None,
    ) -> None:
        self.script = script if script is not None else Script()
        self.latency = latency if latency is not None else Latency()
        self.faults = faults if faults is not None else Faults()
        self.max_concurrency = max_concurrency
        self.context_window = context_window
        """Refuse prompts longer than this many (scripted) tokens as llama_cpp.server does; None: no limit."""
        self.model = model
        self.max_logprobs = max_logprobs
        """The most top logprobs a request may ask for (vLLM's `--max-logprobs`)."""
        self.stats = ServerStats(max_bodies=max_bodies)
        self._host = host
        self._port = port
        self._api_key = api_key
        self._runner: web.AppRunner | None = None
        self._slots: asyncio.Semaphore | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`, once started."""
        if self._base_url is None:
            raise RuntimeError("ScriptedServer is not started")
        return self._base_url

    async def start(self) -> ScriptedServer:
        if self._runner is not None:
            return self
        if self.max_concurrency is not None:
            self._slots = asyncio.Semaphore(self.max_concurrency)
        runner = web.AppRunner(
            self._make_app(),
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=SHUTDOWN_GRACE_S,
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._base_url = f"http://{host}:{port}/v1"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, "/v1/completions", completions_body)

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, "/v1/chat/completions", chat_body)

    async def _models(self, request: web.Request) -> web.StreamResponse:
        self.stats.record("/v1/models")
        return json_response(models_body(self.model))

    async def _answer(
        self, request: web.Request, endpoint: str, build: BodyBuilder
    ) -> web.StreamResponse:
        """One model call: refuse it at once if a rejection fault is drawn, otherwise queue for
        a processing slot, take the scripted latency, and answer (or break the answer)."""
        self.stats.record(endpoint)
        try:
            body = _decode(await request.read())
        except msgspec.DecodeError:
            return json_response(error_body(400, "The request body is not valid JSON."), 400)
        self.stats.record_body(body)
        if not isinstance(body, dict):
            return json_response(error_body(400, "The request body must be an object."), 400)
        if not self._authorized(request):
            return self._unauthorized(request)
        fault = self.faults.draw()
        if fault is not None:
            self.stats.record_fault(fault)
        if fault in REJECTIONS:
            return self._reject(request, fault)
        if self.context_window is not None:
            too_long = context_window_error(body, self.context_window)
            if too_long is not None:
                return json_response(too_long.body(), too_long.status)
        await self._process(sequences(body))
        if fault == "timeout":
            await asyncio.sleep(self.faults.timeout_s)
        try:
            payload = _encode(build(self.script, body, self.model, self.max_logprobs))
        except RequestError as error:
            return json_response(error.body(), error.status)
        if fault == "truncated":
            return await send_truncated(request, payload)
        if fault == "slowloris":
            return await send_slowly(request, payload, self.faults.slowloris_s)
        if fault == "malformed":  # a complete HTTP response whose JSON is cut short
            payload = payload[: len(payload) // 2]
        return web.Response(body=payload, content_type="application/json")

    async def _process(self, count: int) -> None:
        """Run `count` sequences the way a batching server (vLLM) does: each waits for one of
        `max_concurrency` slots, holds it for its own latency and frees it when done; the
        answer leaves when the last one is done. Slots are freed by timers, so a client that
        hangs up cannot leak one."""
        loop = asyncio.get_running_loop()
        last_end = loop.time()
        for _ in range(count):
            if self._slots is not None:
                await self._slots.acquire()
            self.stats.sequence_started()
            delay = self.latency.draw()
            loop.call_later(delay, self._sequence_finished)
            last_end = max(last_end, loop.time() + delay)
        remaining = last_end - loop.time()
        if remaining > 0:
            await asyncio.sleep(remaining)

    def _sequence_finished(self) -> None:
        self.stats.in_flight -= 1
        if self._slots is not None:
            self._slots.release()

    def _authorized(self, request: web.Request) -> bool:
        if self._api_key is None:
            return True
        return request.headers.get("Authorization") == f"Bearer {self._api_key}"

    def _unauthorized(self, request: web.Request) -> web.Response:
        # Echo what was received, as some proxies do, so clients prove they redact it.
        received = request.headers.get("Authorization", "").removeprefix("Bearer ")
        message = f"Incorrect API key provided: {received or '(none)'}."
        return json_response(error_body(401, message), 401)

    def _reject(self, request: web.Request, fault: str) -> web.Response:
        if fault == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()  # never written: the connection is gone
        if fault == "429":
            headers = {}
            if self.faults.retry_after_s is not None:
                headers["Retry-After"] = format_seconds(self.faults.retry_after_s)
            body = error_body(429, "Rate limit reached (scripted).")
            return json_response(body, 429, headers)
        return json_response(error_body(int(fault), f"Scripted {fault} error."), int(fault))


def sequences(body: dict[str, Any]) -> int:
    """How many prompts a request asks the model to run: a completions request may list several;
    a chat request, or one whose prompt is refused (after its latency), runs one."""
    try:
        return len(completion_prompts(body))
    except RequestError:
        return 1


def json_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=_encode(body), status=status, headers=headers, content_type="application/json"
    )


async def send_truncated(request: web.Request, payload: bytes) -> web.StreamResponse:
    """Promise the whole body, send half, and drop the connection."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(payload)
    await response.prepare(request)
    await response.write(payload[: len(payload) // 2])
    assert request.transport is not None
    request.transport.abort()
    return response


async def send_slowly(request: web.Request, payload: bytes, duration_s: float) -> web.StreamResponse:
    """The whole body, a few bytes at a time over `duration_s`: each read is quick, the
    response never ends soon (a slow-loris)."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(payload)
    await response.prepare(request)
    pieces = max(1, min(len(payload), 50))
    step = -(-len(payload) // pieces)
    for start in range(0, len(payload), step):
        await response.write(payload[start : start + step])
        await asyncio.sleep(duration_s / pieces)
    await response.write_eof()
    return response


def format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dlngraph.testing",
        description="Serve a scripted OpenAI-compatible API (deterministic default answers).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 lets the OS choose a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0, help="latency spread, fraction")
    parser.add_argument("--concurrency", type=int, default=None, help="requests served at once")
    parser.add_argument("--model", default="scripted")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-logprobs", type=int, default=MAX_TOP_LOGPROBS, help="most top logprobs a request may ask")
    parser.add_argument("--api-key-env", default=None, metavar="NAME",
                        help="require `Authorization: Bearer KEY`, KEY read from this variable")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help=f"inject a fault at this rate; KIND in {', '.join(FAULT_KINDS)} (repeatable)",
    )
    parser.add_argument("--fault-duration-s", type=float, default=None, metavar="SECONDS",
                        help="how long a timeout fault holds its answer, and a slowloris fault dribbles it")
    return parser.parse_args(argv)


def faults_from_args(specs: list[str], seed: int, duration_s: float | None = None) -> Faults:
    rates: dict[str, float] = {}
    for spec in specs:
        kind, _, rate = spec.partition("=")
        if kind not in FAULT_KINDS:
            raise SystemExit(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        rates[f"rate_{kind}"] = float(rate)
    durations = {} if duration_s is None else {"timeout_s": duration_s, "slowloris_s": duration_s}
    return Faults(seed=seed, **rates, **durations)


async def serve(args: argparse.Namespace) -> None:
    server = ScriptedServer(
        latency=Latency(mean_s=args.latency_ms / 1000.0, jitter=args.jitter, seed=args.seed),
        faults=faults_from_args(args.fault, args.seed, args.fault_duration_s),
        max_concurrency=args.concurrency,
        model=args.model,
        max_logprobs=args.max_logprobs,
        host=args.host,
        port=args.port,
        api_key=os.environ[args.api_key_env] if args.api_key_env else None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        print(f"listening {server.base_url}", flush=True)
        await stop.wait()
    # Counted once stopped: requests in flight at the signal may still be answered while the
    # server shuts down, and a client got those answers.
    stats = {"requests": server.stats.requests, "by_endpoint": server.stats.by_endpoint,
             "faults_injected": server.stats.faults_injected}
    print(f"stats {_encode(stats).decode()}", flush=True)  # what ServerProcess.stats reads


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))

