"""Shared fixtures of the LLM-layer tests: real scripted servers on 127.0.0.1 and real
backends talking to them.

    async def test_default(scripted_server):                  # default settings
        ...

    async def test_custom(start_server):                      # any ScriptedServer settings
        server = await start_server(faults=Faults(first_n={"429": 2}), max_concurrency=4)

    async def test_backend(scripted_server, make_backend):    # OpenAIBackend, closed for you
        backend = make_backend(scripted_server, chat=True)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.testing.server import ScriptedServer

StartServer = Callable[..., Awaitable[ScriptedServer]]
MakeBackend = Callable[..., OpenAIBackend]


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
