"""Kill this process with SIGKILL at a chosen point of a run, for the crash tests.

Python imports `sitecustomize` at start-up when it is on the path: the tests put this folder on
PYTHONPATH and set DLNGRAPH_CRASH=POINT:N to die the Nth time POINT is reached, where POINT is

    checkpoint-inside  checkpoint.json's temporary file is written and fsynced, not yet renamed
    checkpoint-after   checkpoint.json has just been replaced
    event-torn         half of an events.jsonl line is on disk
    cache-inside       a cache transaction has inserted its rows and not committed them
    cache-put          a result is about to be handed to the cache
"""

from __future__ import annotations

import os
import signal

_SETTING = os.environ.get("DLNGRAPH_CRASH")


def _install(point: str, nth: int) -> None:
    import msgspec

    from dlngraph.dln.rundir import RunDirectory
    from dlngraph.llm import cache as cache_module

    seen = {"count": 0}

    def reached() -> bool:
        seen["count"] += 1
        return seen["count"] == nth

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    if point.startswith("checkpoint-"):
        replace = os.replace

        def replacing(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
            hit = str(dst).endswith("checkpoint.json") and reached()
            if hit and point == "checkpoint-inside":
                die()
            replace(src, dst, *args, **kwargs)
            if hit:
                die()

        os.replace = replacing
    elif point == "event-torn":
        append = RunDirectory.append_event

        def appending(self, record):  # type: ignore[no-untyped-def]
            if reached():
                line = msgspec.json.encode(record) + b"\n"
                with open(self.events_path, "ab") as handle:
                    handle.write(line[: len(line) // 2])
                    handle.flush()
                    os.fsync(handle.fileno())
                die()
            append(self, record)

        RunDirectory.append_event = appending
    elif point == "cache-inside":
        flush = cache_module.Cache.flush

        def flushing(self):  # type: ignore[no-untyped-def]
            if self._pending and self._db is not None and reached():
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(cache_module._STORE, self._pending.items())
                die()
            flush(self)

        cache_module.Cache.flush = flushing
    elif point == "cache-put":
        put = cache_module.Cache.put

        def putting(self, key, result):  # type: ignore[no-untyped-def]
            if reached():
                die()
            put(self, key, result)

        cache_module.Cache.put = putting
    else:
        raise SystemExit(f"DLNGRAPH_CRASH: unknown point {point!r}")


if _SETTING:
    _point, _, _nth = _SETTING.partition(":")
    _install(_point, int(_nth or 1))
