"""A persistent cache of LLM results in one SQLite file.

Re-running a training run (or resuming it, or sharing a sweep's cache between processes) must
not pay twice for the same call. A result is keyed by what determines it:

    key = sha256(msgpack((backend.identity, request kind, request)))

The request carries `sample_index`, so sampled requests replay draw by draw. API keys are in
neither the identity nor the request, so they never reach the file.

The file is in WAL mode, so several processes may read and write it at once, and every write is
an SQLite transaction, so a killed process never leaves it corrupt. To stay cheap on the hot
path, writes are buffered (write-behind) and committed in one transaction a moment later, when
the buffer is full, or on `flush()`/`close()`: a result is on disk once `flush()` has returned.
Lookups see buffered results too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Literal, Self, TypeVar

import msgspec

from dlngraph.llm.types import ClassDistribution, Generation, Request, Result, Score

CacheMode = Literal["readwrite", "readonly", "off"]
R = TypeVar("R", Generation, Score, ClassDistribution)

logger = logging.getLogger(__name__)

_SCHEMA = "CREATE TABLE IF NOT EXISTS results (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"
_LOOKUP = "SELECT value FROM results WHERE key = ?"
_STORE = "INSERT OR IGNORE INTO results (key, value) VALUES (?, ?)"
"""First writer wins: a replayed run sees the draw that was stored first."""


class Cache:
    """Results by request, in `path` (created with its parent folders in `readwrite` mode).

    Modes: `readwrite` looks up and stores; `readonly` only looks up (a missing file is an empty
    cache); `off` does nothing (`Cache.off()`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        mode: CacheMode = "readwrite",
        *,
        flush_interval_s: float = 0.2,
        max_pending: int = 512,
        busy_timeout_s: float = 10.0,
    ) -> None:
        if mode not in ("readwrite", "readonly", "off"):
            raise ValueError(f"unknown cache mode {mode!r}; use 'readwrite', 'readonly' or 'off'")
        if mode != "off" and path is None:
            raise ValueError(f"a {mode} cache needs a path")
        self.path = Path(path) if path is not None else None
        self.mode: CacheMode = mode
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self._pending: dict[bytes, bytes] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._encoder = msgspec.msgpack.Encoder()
        self._decoders: dict[type, msgspec.msgpack.Decoder] = {}
        self._db = self._connect(busy_timeout_s) if self.path is not None and mode != "off" else None

    @classmethod
    def off(cls) -> Cache:
        return cls(None, "off")

    @property
    def enabled(self) -> bool:
        """Whether lookups can ever hit (readonly on a missing file cannot)."""
        return self._db is not None

    def key(self, identity: str, kind: str, request: Request) -> bytes:
        return hashlib.sha256(self._encoder.encode((identity, kind, request))).digest()

    def get(self, key: bytes, result_type: type[R]) -> R | None:
        """The stored result, marked `cached=True`, or None."""
        if self._db is None:
            return None
        value = self._pending.get(key)
        if value is None:
            row = self._db.execute(_LOOKUP, (key,)).fetchone()
            if row is None:
                return None
            value = row[0]
        try:
            result = self._decoder(result_type).decode(value)
        except msgspec.DecodeError:  # written by an incompatible version: treat as a miss
            return None
        result.cached = True
        return result

    def put(self, key: bytes, result: Result) -> None:
        """Store `result` (soon: see the module docstring); a no-op unless `readwrite`."""
        if self._db is None or self.mode != "readwrite":
            return
        self._pending[key] = self._encoder.encode(result)
        if len(self._pending) >= self.max_pending:
            self.flush()
        elif self._timer is None or self._timer_loop.is_closed():  # type: ignore[union-attr]
            self._arm_timer()

    def flush(self) -> None:
        """Commit every buffered result in one transaction."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending or self._db is None:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(_STORE, self._pending.items())
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # SQLite ends it itself on some errors (a full disk)
                self._db.execute("ROLLBACK")
            raise
        self._pending.clear()

    def close(self) -> None:
        """Flush and close the file; the cache answers nothing afterwards."""
        if self._db is None:
            return
        try:
            self.flush()
        finally:
            self._db.close()
            self._db = None

    async def aclose(self) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _connect(self, busy_timeout_s: float) -> sqlite3.Connection | None:
        assert self.path is not None
        if self.mode == "readonly":
            if not self.path.exists():
                return None
            uri = self.path.resolve().as_uri() + "?mode=ro"
            return sqlite3.connect(uri, uri=True, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._open_readwrite(busy_timeout_s)
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError):  # locked, disk full, read-only: not damage
                raise
            aside = self._move_aside(error)
            logger.warning("%s is damaged (%s): moved to %s; a new, empty cache is built (the calls it held"
                           " will be made again)", self.path, error, aside.name)
            return self._open_readwrite(busy_timeout_s)

    def _open_readwrite(self, busy_timeout_s: float) -> sqlite3.Connection:
        """The file in WAL mode, checked: a damaged one raises `sqlite3.DatabaseError` here,
        not in the middle of a run."""
        assert self.path is not None
        db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable across a killed process
            db.execute(_SCHEMA)
            (verdict,) = db.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {verdict}")
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, error: sqlite3.DatabaseError) -> Path:
        """Rename the damaged file (and its WAL) to `NAME.damaged`, kept for a person to look at."""
        assert self.path is not None
        aside = self.path.with_name(self.path.name + ".damaged")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                os.replace(part, Path(f"{aside}{suffix}"))
        return aside

    def _decoder(self, result_type: type[R]) -> msgspec.msgpack.Decoder:
        decoder = self._decoders.get(result_type)
        if decoder is None:
            decoder = self._decoders[result_type] = msgspec.msgpack.Decoder(result_type)
        return decoder

    def _arm_timer(self) -> None:
        """Flush a moment from now on the running event loop; at once outside asyncio."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._timer = loop.call_later(self.flush_interval_s, self._flush_on_timer)
        self._timer_loop = loop

    def _flush_on_timer(self) -> None:
        self._timer = None
        try:
            self.flush()
        except sqlite3.Error as error:  # e.g. another process held the lock too long: try again
            logger.warning("cache flush to %s failed (%s); retrying", self.path, error)
            self._arm_timer()
