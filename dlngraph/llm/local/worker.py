"""`ModelWorker`: one loaded model per model file per process, and the one thread that uses it.

A DLN spec typically names the same model file twice (a cold forward model and a warm backward
model that differ only in sampling options); both share one `ModelWorker`, so the weights are
loaded once and the two never run llama.cpp at the same time (a llama.cpp context is not
thread-safe, and on a few cores two concurrent evaluations would only slow each other down).
The worker thread is the only thread that calls llama.cpp: it loads the model, tokenises every
text (callers hand it texts, not tokens) and frees the model.

Callers on any asyncio loop submit jobs and await an asyncio future; the worker thread runs the
jobs one by one and settles the futures with `loop.call_soon_threadsafe`, so the event loop is
never blocked by model work. A caller that is cancelled marks its job cancelled: a queued job is
then skipped, and a running generation stops at its next token.

Scheduling: urgent jobs (token counts, which need no evaluation) run first. With prefix
grouping on, the worker then runs the queued job whose text's tokens share the longest prefix
with the KV cache (the same prompt on other examples), so that only the suffix is evaluated.
Arrival order is kept among equals, and a job passed over `MAX_PASSED_OVER` times runs next
regardless, so no job waits forever.

This module does not import llama.cpp: the engine is imported when the model is first loaded.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dlngraph.llm.errors import PermanentError
from dlngraph.llm.waiters import settle

if TYPE_CHECKING:
    from dlngraph.llm.local.engine import LlamaEngine

T = TypeVar("T")
Work = Callable[["LlamaEngine", Callable[[], bool]], T]
"""What a job does with the engine; the second argument tells whether the job was abandoned."""

MAX_PASSED_OVER = 64


@dataclass(frozen=True)
class EngineSettings:
    """What identifies a loaded model: backends with equal settings share one `ModelWorker`."""

    model_path: Path
    n_ctx: int
    n_threads: int
    block_size: int
    extra_buffers: bool
    """Whether llama.cpp may use its extra buffer types (`dlngraph.llm.local.buffers`)."""


@dataclass(eq=False)
class _Job:
    text: str
    """The text whose tokens the job evaluates first (what prefix grouping compares)."""
    work: Work[Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    prefix_grouping: bool
    urgent: bool = False
    cancelled: bool = False
    passed_over: int = 0


@dataclass(eq=False)
class _Queue:
    """Jobs waiting for the worker, in arrival order, and the worker's state; guarded by `lock`."""

    lock: threading.Condition = field(default_factory=threading.Condition)
    pending: list[_Job] = field(default_factory=list)
    closing: bool = False


class ModelWorker:
    """One model and its worker thread (see the module docstring). Get one with `acquire`."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self._engine: LlamaEngine | None = None
        self._load_lock = threading.Lock()
        self._queue = _Queue()
        self._thread: threading.Thread | None = None

    # --- the model ---------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def _engine_on_worker(self) -> LlamaEngine:
        """The loaded engine, loading it on first use; called on the worker thread only."""
        if self._engine is None:
            from dlngraph.llm.local.engine import LlamaEngine

            s = self.settings
            engine = LlamaEngine(
                s.model_path, n_ctx=s.n_ctx, n_threads=s.n_threads, block_size=s.block_size,
                extra_buffers=s.extra_buffers,
            )
            with self._load_lock:
                self._engine = engine
        return self._engine

    async def load(self) -> None:
        """Have the worker load the model now (a second or so, once per process)."""
        if self._engine is None:
            await self.run("", lambda engine, cancelled: None, urgent=True)

    # --- jobs --------------------------------------------------------------------------------

    async def run(self, text: str, work: Work[T], *, prefix_grouping: bool = True, urgent: bool = False) -> T:
        """Queue `work` (which evaluates `text` first) and wait for the worker to do it;
        `urgent` work runs before the other queued jobs."""
        loop = asyncio.get_running_loop()
        job = _Job(text, work, loop, loop.create_future(), prefix_grouping and not urgent, urgent)
        job.future.add_done_callback(lambda future: _mark_cancelled(job, future))
        with self._queue.lock:
            if self._queue.closing:
                raise PermanentError("the local model was closed")
            self._queue.pending.append(job)
            self._start_thread()
            self._queue.lock.notify()
        return await job.future

    def stop(self) -> threading.Thread | None:
        """Fail the queued jobs and let the thread end after the running one; returns the
        thread to join, if one was started."""
        with self._queue.lock:
            self._queue.closing = True
            dropped, self._queue.pending = self._queue.pending, []
            self._queue.lock.notify()
            thread = self._thread
        for job in dropped:
            _deliver(job, error=PermanentError("the local model was closed"))
        return thread  # None: no job was ever queued, so no model was loaded

    def _start_thread(self) -> None:
        if self._thread is None:
            name = f"dlngraph-local:{self.settings.model_path.name}"
            self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
            self._thread.start()

    # --- the worker thread -------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while (job := self._next_job()) is not None:
                self._run_job(job)
        finally:
            self._close_engine()

    def _close_engine(self) -> None:
        with self._load_lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()

    def _run_job(self, job: _Job) -> None:
        from dlngraph.llm.local.engine import Abandoned

        try:
            result = job.work(self._engine_on_worker(), lambda: job.cancelled)
        except Abandoned:
            return
        except BaseException as error:  # noqa: BLE001 - handed to the caller, the worker lives on
            _deliver(job, error=error)
        else:
            _deliver(job, result=result)

    def _next_job(self) -> _Job | None:
        """Block until there is a job to run (None once closing).

        Choosing compares every queued job's tokens with the KV cache, which takes a while
        with hundreds queued, so it is done on a copy of the queue outside the lock: callers
        queueing jobs on the event loop never wait for it. The job chosen is still queued
        afterwards, since only this thread removes jobs (and `stop`, which sets `closing`);
        if its caller cancelled it meanwhile, the choice is made again."""
        queue = self._queue
        while (waiting := self._queued_jobs()) is not None:
            chosen = self._choose(waiting)
            with queue.lock:
                if queue.closing:
                    return None  # `stop` has failed every queued job, this one included
                if not chosen.cancelled:
                    queue.pending.remove(chosen)
                    return chosen
        return None

    def _queued_jobs(self) -> list[_Job] | None:
        """Block until a job is queued; a copy of the queue without cancelled jobs (None
        once closing)."""
        queue = self._queue
        with queue.lock:
            while True:
                queue.pending = [job for job in queue.pending if not job.cancelled]
                if queue.closing:
                    return None
                if queue.pending:
                    return list(queue.pending)
                queue.lock.wait()

    def _choose(self, waiting: list[_Job]) -> _Job:
        """The job to run next (see the module docstring), counting the jobs it passes over.
        Tokenises the jobs' texts and reads the KV cache's tokens: on this thread only."""
        urgent = next((job for job in waiting if job.urgent), None)
        if urgent is not None:
            return urgent
        best = 0
        oldest = waiting[0]
        engine = self._engine  # None before the first job: nothing cached to reuse yet
        if engine is not None and oldest.prefix_grouping and oldest.passed_over < MAX_PASSED_OVER:
            best_reuse = engine.reusable_prefix(engine.tokens(oldest.text))
            for index, job in enumerate(waiting[1:], start=1):
                if job.prefix_grouping:
                    reuse = engine.reusable_prefix(engine.tokens(job.text))
                    if reuse > best_reuse:
                        best, best_reuse = index, reuse
        for job in waiting[:best]:
            job.passed_over += 1
        return waiting[best]


def _mark_cancelled(job: _Job, future: asyncio.Future[Any]) -> None:
    if future.cancelled():
        job.cancelled = True


def _deliver(job: _Job, *, result: Any = None, error: BaseException | None = None) -> None:
    """Settle the job's future on its own loop, unless its caller has gone."""
    try:
        job.loop.call_soon_threadsafe(functools.partial(settle, (job.future,), result=result, error=error))
    except RuntimeError:
        pass  # the caller's loop is closed: nobody is waiting


# --- one worker per model per process ---------------------------------------------------------

_registry_lock = threading.Lock()
_workers: dict[EngineSettings, ModelWorker] = {}
_users: dict[EngineSettings, int] = {}


def acquire(settings: EngineSettings) -> ModelWorker:
    """The shared worker for these settings, counting one more user."""
    with _registry_lock:
        worker = _workers.get(settings)
        if worker is None:
            worker = _workers[settings] = ModelWorker(settings)
            _users[settings] = 0
        _users[settings] += 1
        return worker


def release(worker: ModelWorker) -> threading.Thread | None:
    """One user fewer; the last one stops the worker and frees the model. Returns the thread
    to join when it was the last."""
    settings = worker.settings
    with _registry_lock:
        if _workers.get(settings) is not worker:
            return None
        _users[settings] -= 1
        if _users[settings] > 0:
            return None
        del _workers[settings], _users[settings]
    return worker.stop()
