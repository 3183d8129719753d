"""The scripted server in its own process, so that its work does not share the event loop
(or the core) with the client being measured."""

from __future__ import annotations

import msgspec

from dlngraph.testing.process import ServerProcess


class ServerSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the simulated LLM server behaves: a real server's latency and batch limit."""

    latency_s: float = 0.2
    jitter: float = 0.2
    """Each latency is drawn within +-jitter of the mean (a fraction)."""
    concurrency: int = 256
    """Requests the server processes at once; the rest queue."""

    def describe(self) -> str:
        return f"latency {self.latency_s * 1000:.0f} ms +-{self.jitter:.0%}, concurrency {self.concurrency}"


def server_process(settings: ServerSettings) -> ServerProcess:
    """The scripted server subprocess that behaves as `settings` says."""
    return ServerProcess(
        "--latency-ms", str(settings.latency_s * 1000),
        "--jitter", str(settings.jitter),
        "--concurrency", str(settings.concurrency),
    )
