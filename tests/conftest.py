"""Shared fixtures of the LLM-layer tests: real scripted servers on 127.0.0.1 and real
backends talking to them. One more guards every test: none may leave SIGINT ignored or
blocked for the tests after it (`_ctrl_c_still_reaches_children`).

    async def test_default(scripted_server):                  # default settings
        ...

    async def test_custom(start_server):                      # any ScriptedServer settings
        server = await start_server(faults=Faults(first_n={"429": 2}), max_concurrency=4)

    async def test_backend(scripted_server, make_backend):    # OpenAIBackend, closed for you
        backend = make_backend(scripted_server, chat=True)
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.testing.server import ScriptedServer

StartServer = Callable[..., Awaitable[ScriptedServer]]
MakeBackend = Callable[..., OpenAIBackend]


@pytest.fixture(autouse=True)
def _ctrl_c_still_reaches_children() -> Iterator[None]:
    """Fails the test that leaves SIGINT ignored or blocked in this process, and undoes it. A
    child process inherits both, so every later test that presses Ctrl-C on a `dlngraph`
    subprocess (tests/runs) would see it finish its run instead of stopping."""
    before = _sigint_state()
    yield
    after = _sigint_state()
    if after != before:
        signal.signal(signal.SIGINT, before.handler if before.handler is not None else signal.default_int_handler)
        if after.blocked and not before.blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        pytest.fail(f"this test left SIGINT {after} (it was {before}); restored")


class _SigintState(NamedTuple):
    handler: Any
    ignored: bool
    """By the kernel, whether Python or a C library asked for it."""
    blocked: bool
    """In this thread's signal mask, which a child process inherits."""

    def __str__(self) -> str:
        return ", ".join([f"handled by {self.handler!r}", *(["ignored"] if self.ignored else []),
                          *(["blocked"] if self.blocked else [])])


def _sigint_state() -> _SigintState:
    status = Path("/proc/self/status")
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if status.exists():
        line = next(line for line in status.read_text().splitlines() if line.startswith("SigIgn:"))
        ignored = bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    blocked = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    return _SigintState(signal.getsignal(signal.SIGINT), ignored, blocked)


@pytest.fixture
async def scripted_server() -> AsyncIterator[ScriptedServer]:
    """A started ScriptedServer with default settings (empty script, no latency, no faults)."""
    async with ScriptedServer() as server:
        yield server


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Start ScriptedServers with any constructor settings; all are stopped after the test."""
    servers: list[ScriptedServer] = []

    async def start(**settings: Any) -> ScriptedServer:
        server = ScriptedServer(**settings)
        servers.append(server)
        return await server.start()

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def make_backend() -> AsyncIterator[MakeBackend]:
    """OpenAIBackends pointed at a scripted server (model "scripted" unless given); all are
    closed after the test."""
    backends: list[OpenAIBackend] = []

    def make(server: ScriptedServer, **settings: Any) -> OpenAIBackend:
        settings.setdefault("model", server.model)
        backend = OpenAIBackend(base_url=server.base_url, **settings)
        backends.append(backend)
        return backend

    yield make
    for backend in backends:
        await backend.aclose()
