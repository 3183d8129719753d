"""The run directory: everything a training run leaves behind, written so that a crash at any
moment leaves it readable.

    runs/<name>-<timestamp>/
      spec.yaml        the resolved spec the run trains (overrides applied)
      events.jsonl     one JSON object per iteration (prompts, candidates, scores, usage)
      checkpoint.json  the trainer's state after the last finished iteration (atomic)
      final.yaml       the spec with the best prompts, for `dlngraph eval`
      summary.json     accuracies, calls, tokens and wall time of the run
      cache.sqlite     the LLM cache: a resumed or repeated run replays calls from it
"""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
from pathlib import Path
from typing import Any

import msgspec


def atomic_write(path: Path, data: bytes) -> None:
    """Write-then-rename in the same folder, fsynced: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class RunDirectory:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, root: Path, name: str) -> RunDirectory:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path(root) / f"{name}-{stamp}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = Path(root) / f"{name}-{stamp}-{suffix}"
        path.mkdir(parents=True)
        return cls(path)

    spec_path = property(lambda self: self.path / "spec.yaml")
    events_path = property(lambda self: self.path / "events.jsonl")
    checkpoint_path = property(lambda self: self.path / "checkpoint.json")
    final_spec_path = property(lambda self: self.path / "final.yaml")
    summary_path = property(lambda self: self.path / "summary.json")
    cache_path = property(lambda self: self.path / "cache.sqlite")

    def write_spec(self, text: str) -> None:
        atomic_write(self.spec_path, text.encode())

    def write_final_spec(self, text: str) -> None:
        atomic_write(self.final_spec_path, text.encode())

    def write_json(self, path: Path, value: Any) -> None:
        atomic_write(path, msgspec.json.format(msgspec.json.encode(value), indent=2) + b"\n")

    def append_event(self, record: Any) -> None:
        with open(self.events_path, "ab") as handle:
            handle.write(msgspec.json.encode(record) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read_events(self) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        events = []
        for line in self.events_path.read_bytes().splitlines():
            try:
                events.append(msgspec.json.decode(line))
            except msgspec.DecodeError:
                break  # a line cut by a crash ends the readable log
        return events

    def keep_events_through(self, iteration: int) -> None:
        """Drop events past the checkpoint (written by an iteration a crash interrupted)."""
        kept = [event for event in self.read_events() if event.get("iteration", -1) <= iteration]
        atomic_write(self.events_path, b"".join(msgspec.json.encode(event) + b"\n" for event in kept))
