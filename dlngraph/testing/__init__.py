"""A scripted OpenAI-compatible server for tests, the benchmark and examples.

It imports nothing else of dlngraph: it is a stand-in for vLLM or llama.cpp's server, spoken to
over real sockets on 127.0.0.1.

    async with ScriptedServer(script=Script().answer(r"France", " Paris")) as server: ...
    with ServerProcess("--latency-ms", "200") as server: ...   # in its own process
"""

from dlngraph.testing.faults import Faults, Latency
from dlngraph.testing.process import ServerProcess
from dlngraph.testing.script import Script
from dlngraph.testing.server import ScriptedServer

__all__ = ["Faults", "Latency", "Script", "ScriptedServer", "ServerProcess"]
