"""The parts of the local backend that need no model file: draw seeds and the worker's queue,
run on a stand-in engine (fast; the real model is tested in test_local.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from dlngraph.llm.local.backend import draw_seed
from dlngraph.llm.local.worker import EngineSettings, ModelWorker
from dlngraph.llm.types import GenerateRequest


@pytest.mark.parametrize(
    ("seed", "sample_index", "sample", "expected"),
    [(None, 0, 0, 1169626256), (0, 0, 0, 1399798480), (1, 0, 1, 1124777344), (7, 3, 2, 1430511385),
     (123456789, 11, 4, 424245341)],
)
def test_draw_seeds_never_change(seed: int | None, sample_index: int, sample: int, expected: int) -> None:
    """Cached runs replay their draws only if every seed stays what it was."""
    request = GenerateRequest(prompt="any", temperature=0.7, seed=seed, sample_index=sample_index)
    assert draw_seed(request, sample) == expected


class StandInEngine:
    """Whose KV cache holds `cached`; notes, at each comparison, whether the queue was free."""

    def __init__(self, worker: ModelWorker, cached: Sequence[int]) -> None:
        self.worker = worker
        self.cached = list(cached)
        self.queue_free: list[bool] = []

    def tokens(self, text: str) -> list[int]:
        """A stand-in tokenizer: "1 2 3" is [1, 2, 3]."""
        return [int(word) for word in text.split()]

    def reusable_prefix(self, tokens: Sequence[int]) -> int:
        self.queue_free.append(_free(self.worker._queue.lock))
        shared = 0
        for mine, theirs in zip(self.cached, tokens, strict=False):
            if mine != theirs:
                break
            shared += 1
        return shared

    def close(self) -> None:
        pass


def _free(lock: threading.Condition) -> bool:
    """Whether another thread could take `lock` now (its holder could take it again)."""
    answer: list[bool] = []

    def probe() -> None:
        taken = lock.acquire(blocking=False)
        if taken:
            lock.release()
        answer.append(taken)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return answer[0]


Work = Callable[[object, Callable[[], bool]], str]


class Jobs:
    """Work for a worker: `hold` keeps it busy until `release`, `record(name)` notes its turn."""

    def __init__(self) -> None:
        self.busy, self.release = threading.Event(), threading.Event()
        self.ran: list[str] = []

    def hold(self, _engine: object, _cancelled: Callable[[], bool]) -> str:
        self.busy.set()
        self.release.wait(10)
        return "hold"

    def record(self, name: str) -> Work:
        def work(_engine: object, _cancelled: Callable[[], bool]) -> str:
            self.ran.append(name)
            return name

        return work


def stand_in_worker(engine: type[StandInEngine] = StandInEngine) -> tuple[ModelWorker, StandInEngine]:
    """A worker whose engine is a stand-in that has tokens 1, 2, 3 in its KV cache."""
    worker = ModelWorker(EngineSettings(model_path=Path("stand-in.gguf"), n_ctx=64, n_threads=1, block_size=32, extra_buffers=False))
    worker._engine = stand_in = engine(worker, cached=[1, 2, 3])  # type: ignore[assignment]
    return worker, stand_in


async def stop(worker: ModelWorker, *waits: threading.Event) -> None:
    """Let every held job go, then stop the worker and join its thread."""
    for event in waits:
        event.set()
    thread = worker.stop()
    if thread is not None:
        await asyncio.to_thread(thread.join, 10)


async def test_the_worker_chooses_by_prefix_without_holding_the_queue() -> None:
    pytest.importorskip("llama_cpp")  # the worker imports the engine module to run a job
    worker, engine = stand_in_worker()
    jobs = Jobs()
    try:
        holding = asyncio.ensure_future(worker.run("5", jobs.hold))
        await asyncio.to_thread(jobs.busy.wait, 10)
        queued = [
            asyncio.ensure_future(worker.run(text, jobs.record(name)))
            for name, text in (("far", "9 9"), ("near", "1 2 3 4"))
        ]
        await asyncio.sleep(0)  # both are queued behind `hold`
        jobs.release.set()
        assert await holding == "hold"
        assert await asyncio.gather(*queued) == ["far", "near"]
    finally:
        await stop(worker, jobs.release)
    assert jobs.ran == ["near", "far"]
    assert engine.queue_free and all(engine.queue_free)


async def test_a_job_cancelled_while_the_worker_chooses_is_not_run() -> None:
    """The choice is made outside the queue's lock, so its caller may cancel the job chosen
    meanwhile: the worker chooses again rather than spend an evaluation on nobody."""
    pytest.importorskip("llama_cpp")
    choosing, proceed = threading.Event(), threading.Event()

    class SlowToChoose(StandInEngine):
        def reusable_prefix(self, tokens: Sequence[int]) -> int:
            if list(tokens) == [1, 2, 3, 4]:  # weighing `near`, which it is about to choose
                choosing.set()
                proceed.wait(10)
            return super().reusable_prefix(tokens)

    worker, _ = stand_in_worker(SlowToChoose)
    jobs = Jobs()
    try:
        holding = asyncio.ensure_future(worker.run("5", jobs.hold))
        await asyncio.to_thread(jobs.busy.wait, 10)
        far = asyncio.ensure_future(worker.run("9 9", jobs.record("far")))
        near = asyncio.ensure_future(worker.run("1 2 3 4", jobs.record("near")))
        await asyncio.sleep(0)  # both are queued behind `hold`
        jobs.release.set()
        assert await holding == "hold"
        await asyncio.to_thread(choosing.wait, 10)  # the worker is choosing `near`
        near.cancel()
        with pytest.raises(asyncio.CancelledError):
            await near
        await asyncio.sleep(0)  # the job learns that its caller has gone
        proceed.set()
        assert await far == "far"
    finally:
        await stop(worker, jobs.release, proceed)
    assert jobs.ran == ["far"]


async def test_urgent_jobs_go_before_the_queue() -> None:
    """Token counts evaluate nothing: they jump the queue rather than wait behind evaluations."""
    pytest.importorskip("llama_cpp")
    worker, _ = stand_in_worker()
    jobs = Jobs()
    try:
        holding = asyncio.ensure_future(worker.run("5", jobs.hold))
        await asyncio.to_thread(jobs.busy.wait, 10)
        queued = [asyncio.ensure_future(worker.run("1 2 3", jobs.record("evaluation")))]
        queued.append(asyncio.ensure_future(worker.run("9", jobs.record("count"), urgent=True)))
        await asyncio.sleep(0)
        jobs.release.set()
        await holding
        await asyncio.gather(*queued)
    finally:
        await stop(worker, jobs.release)
    assert jobs.ran == ["count", "evaluation"]
