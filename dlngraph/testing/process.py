"""The scripted server in a subprocess: its work shares neither the event loop nor (on a
multi-core machine) the core of the client being tested or measured.

    with ServerProcess("--latency-ms", "200", "--concurrency", "256") as server:
        ... server.base_url ...
    async with ServerProcess() as server:      # the same, started without blocking the loop
        ...
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Self

START_TIMEOUT_S = 30.0


def stop_process(process: subprocess.Popen[str], timeout_s: float = 10.0) -> None:
    """Ask a server process to stop, kill it if it has not within `timeout_s`, and reap it."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ServerProcess:
    """`python -m dlngraph.testing --port 0 ARGUMENTS...`; `base_url` once started.

    With `log` set, the server's stderr goes to that file and, once stopped, the rest of its
    stdout is appended to it: what a test may search (for a leaked secret, say). `env` adds
    variables to the server's environment (the key of `--api-key-env`, say)."""

    def __init__(self, *arguments: str, log: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.arguments = arguments
        self.log = log
        self.env = env or {}
        self.stats: dict[str, Any] | None = None
        """What the server counted (requests, by endpoint, faults injected), once stopped."""
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server process is not running")
        return self._process.pid

    def start(self) -> Self:
        command = [sys.executable, "-m", "dlngraph.testing", "--port", "0", *self.arguments]
        stderr = self.log.open("a") if self.log is not None else None
        try:
            self._process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=stderr, text=True, env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
            )
        finally:
            if stderr is not None:
                stderr.close()
        try:
            self.base_url = self._read_url(self._process)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        stop_process(process)
        if process.stdout is not None:
            rest = process.stdout.read()
            process.stdout.close()
            for line in rest.splitlines():
                if line.startswith("stats "):
                    self.stats = json.loads(line.removeprefix("stats "))
            if self.log is not None:
                with self.log.open("a") as log:
                    log.write(rest)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the server has used so far (Linux only, else None)."""
        try:
            with open(f"/proc/{self.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, RuntimeError):
            return None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.start), START_TIMEOUT_S)
        except TimeoutError:
            self.stop()  # the process started but never said it listens: do not leave it running
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()

    @staticmethod
    def _read_url(process: subprocess.Popen[str]) -> str:
        """The server prints `listening URL` once it accepts connections."""
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening "):
            raise RuntimeError(f"the scripted server did not start (it printed {line!r})")
        return line.split()[1]
