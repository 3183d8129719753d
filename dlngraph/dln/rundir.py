"""The run directory's mechanics: files written so that a crash at any moment leaves them
readable (`atomic_write`), the lock that lets one process train a run, links refused, and the
temporaries a killed write leaves behind. What the files hold, and their format version, is
`dlngraph.dln.run_format`'s business.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from dlngraph.dln import run_format
from dlngraph.dln.run_format import Event, IterationRecord, StartRecord, check_file_version


def atomic_write(path: Path, data: bytes) -> None:
    """Write-then-rename in the same folder, fsynced: readers see the old file or the new one.

    The file gets the mode of any new file (0666 minus the umask). A crash can leave the
    temporary file behind (`.NAME.XXXXXXXX`, see `is_temporary`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


_TEMPORARY = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}")
"""`.NAME.` and 8 characters: `atomic_write`'s temporary names, and the ones `tempfile.mkstemp`
made before it (so their leftovers are recognised too)."""


def is_temporary(name: str, target: str) -> bool:
    """Whether `name` is a temporary file of `atomic_write` writing the file `target`."""
    match = _TEMPORARY.fullmatch(name)
    return match is not None and match["target"] == target


def _create_temporary(path: Path) -> tuple[int, Path]:
    # Not tempfile.mkstemp: it creates the file 0600, and os.replace keeps that mode. With
    # O_CREAT the kernel applies the umask to 0666, as for any new file.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path}: no free temporary name beside it")


@dataclass
class EventLog:
    """events.jsonl read back (`RunDirectory.read_events`)."""

    records: list[Event] = field(default_factory=list)
    """Every readable line's record, in the order of the file."""
    skipped: dict[int, str] = field(default_factory=dict)
    """The lines of another shape, left out: line number -> why."""

    @property
    def start(self) -> StartRecord | None:
        """The start record (the initial prompts' dev accuracy), if the log has one."""
        starts = [record for record in self.records if isinstance(record, StartRecord)]
        return starts[-1] if starts else None

    @property
    def iterations(self) -> list[IterationRecord]:
        return [record for record in self.records if isinstance(record, IterationRecord)]


class RunDirectoryError(Exception):
    """A run directory that cannot be trained as it is: busy, or a file damaged. The message
    names the file and what to do."""


RESTART_ADVICE = (
    "delete checkpoint.json to train the run again from its start (events.jsonl is then"
    " rewritten, and the cache replays the calls already made), or restore it from a backup"
)


class RunDirectory:
    ATOMIC_FILES = (run_format.SPEC_FILE, run_format.EVENTS_FILE, run_format.CHECKPOINT_FILE,
                    run_format.FINAL_SPEC_FILE, run_format.SUMMARY_FILE)
    """The files written with `atomic_write` (events.jsonl when a resume trims it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, root: Path, name: str) -> RunDirectory:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        Path(root).mkdir(parents=True, exist_ok=True)
        suffix = 1
        while True:
            path = Path(root) / (f"{name}-{stamp}" if suffix == 1 else f"{name}-{stamp}-{suffix}")
            try:
                path.mkdir()  # never exist_ok: whatever holds the name (a link too) is left alone
                return cls(path)
            except FileExistsError:
                suffix += 1

    spec_path = property(lambda self: self.path / run_format.SPEC_FILE)
    events_path = property(lambda self: self.path / run_format.EVENTS_FILE)
    checkpoint_path = property(lambda self: self.path / run_format.CHECKPOINT_FILE)
    final_spec_path = property(lambda self: self.path / run_format.FINAL_SPEC_FILE)
    summary_path = property(lambda self: self.path / run_format.SUMMARY_FILE)
    cache_path = property(lambda self: self.path / run_format.CACHE_FILE)
    lock_path = property(lambda self: self.path / run_format.LOCK_FILE)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run's lock while training it: a second process refuses at once. An flock
        belongs to the open file, so a killed holder leaves no stale lock behind."""
        self.refuse_links()
        handle = open(self.lock_path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunDirectoryError(
                f"{self.path}: another process is training this run (it holds {self.lock_path.name});"
                " wait for it to end, or stop it, then resume"
            ) from None
        try:
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")  # for a person wondering who holds it
            handle.flush()
            yield
        finally:
            handle.close()

    def refuse_links(self) -> None:
        """A run is written only into a real folder: a run directory that is a symbolic link, or
        one of its files that is, would send the writes somewhere the user did not choose."""
        for path in (self.path, *(self.path / name for name in self.ATOMIC_FILES), self.cache_path, self.lock_path):
            if path.is_symlink():
                raise RunDirectoryError(
                    f"{path}: a symbolic link (to {os.readlink(path)}); a run writes only into real folders"
                    " and files: use the folder it points to, or replace the link by a copy"
                )

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

    def read_events(self) -> EventLog:
        """events.jsonl as its records (`run_format.event_of`), up to the first line that is not
        JSON (a crash can cut the last line); a JSON line of another shape is left out and
        named in `EventLog.skipped`. Raises `run_format.FormatVersionError` for a line of a
        version this code does not read."""
        log = EventLog()
        for number, line in self._event_lines():
            try:
                log.records.append(run_format.event_of(line, f"{self.events_path} line {number}"))
            except msgspec.ValidationError as error:
                log.skipped[number] = str(error)
        return log

    def _event_lines(self, *, strict: bool = False) -> Iterator[tuple[int, Any]]:
        """Each line of events.jsonl decoded as JSON, with its number, up to the first one that
        is not JSON. `strict` raises `RunDirectoryError` for such a line with more lines after
        it (the file was damaged otherwise, and what follows it would be lost)."""
        if not self.events_path.exists():
            return
        lines = self.events_path.read_bytes().splitlines()
        for number, line in enumerate(lines, start=1):
            try:
                decoded = msgspec.json.decode(line)
            except msgspec.DecodeError:
                if strict and any(rest.strip() for rest in lines[number:]):
                    raise RunDirectoryError(
                        f"{self.events_path}: line {number} is not a JSON object, and lines follow it:"
                        f" the log is damaged; {RESTART_ADVICE}"
                    ) from None
                return  # a line cut by a crash ends the readable log
            yield number, decoded

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete the temporary files `atomic_write` left here when a process was killed mid-write
        (only its own names, for the run's own files); return them. Only while no process writes
        the run, as when it is resumed."""
        stale = [
            entry for entry in self.path.iterdir()
            if any(is_temporary(entry.name, target) for target in self.ATOMIC_FILES) and entry.is_file()
        ]
        for entry in stale:
            entry.unlink(missing_ok=True)
        return stale

    def check_format_version(self) -> None:
        """Raise `run_format.FormatVersionError` if checkpoint.json, summary.json or a line of
        events.jsonl is of a version this code does not read: before anything is written into
        the run. A damaged file is left to its reader, which says what to do."""
        for path in (self.checkpoint_path, self.summary_path):
            if path.exists():
                check_file_version(path)
        self.read_events()

    def keep_events_through(self, iteration: int) -> None:
        """Drop events past the checkpoint (written by an iteration a crash interrupted); the
        start record (no `iteration`) is kept, as the checkpoint follows it. Without a
        checkpoint, `clear_events`."""
        kept = [line for _, line in self._event_lines(strict=True) if self._iteration_of(line) <= iteration]
        atomic_write(self.events_path, b"".join(msgspec.json.encode(line) + b"\n" for line in kept))

    @staticmethod
    def _iteration_of(line: Any) -> int:
        """The iteration a decoded line of events.jsonl logs; -1 for the start record (and for
        a line of another shape, which is kept as it is)."""
        found = line.get("iteration", -1) if isinstance(line, dict) else -1
        return found if isinstance(found, int) else -1

    def clear_events(self) -> None:
        """Empty the log: a run resumed without a checkpoint starts again from nothing."""
        atomic_write(self.events_path, b"")
