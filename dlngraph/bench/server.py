"""The scripted server in its own process, so that its work does not share the event loop
(or the core) with the client being measured."""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType
from typing import Self

import msgspec


class ServerSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How the simulated LLM server behaves: a real server's latency and batch limit."""

    latency_s: float = 0.2
    jitter: float = 0.2
    """Each latency is drawn within +-jitter of the mean (a fraction)."""
    concurrency: int = 256
    """Requests the server processes at once; the rest queue."""

    def describe(self) -> str:
        return f"latency {self.latency_s * 1000:.0f} ms +-{self.jitter:.0%}, concurrency {self.concurrency}"


class ServerProcess:
    """`python -m dlngraph.llm.testserver` as a context manager; `base_url` once started.

        with ServerProcess(ServerSettings(latency_s=0.05)) as server:
            ... server.base_url ...
    """

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> Self:
        command = [
            sys.executable, "-m", "dlngraph.llm.testserver", "--port", "0",
            "--latency-ms", str(self.settings.latency_s * 1000),
            "--jitter", str(self.settings.jitter),
            "--concurrency", str(self.settings.concurrency),
        ]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.base_url = self._read_url(self._process)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _read_url(self, process: subprocess.Popen[str]) -> str:
        """The server prints `listening URL` once it accepts connections."""
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"the scripted server did not start (it printed {line!r})")
        return line.removeprefix("listening ")
