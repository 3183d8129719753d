"""`dlngraph sweep --ray`: a real local Ray (2 CPUs, started here and shut down after)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlngraph.runs.sweep import SweepOptions, run_sweep
from dlngraph.runs.sweep_file import load_sweep
from dlngraph.testing.process import ServerProcess
from tests.runs.test_sweep import closed_port_url, outcomes, sweep_json, write_sweep

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow  # a local Ray takes about 5 s to start


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with ServerProcess("--latency-ms", "10") as server:
        yield server.base_url


def test_a_four_run_sweep_on_ray_reports_the_failed_run_and_finishes_the_others(
    tmp_path: Path, server_url: str, local_ray: None
) -> None:
    from dlngraph.runs.sweep_ray import RayOptions, run_sweep_on_ray

    path = write_sweep(tmp_path, server_url, f"""\
variants:
  - {{}}
  - {{models.fast.base_url: "{closed_port_url()}", models.fast.limits.max_attempts: 1}}
seeds: [1, 2]
""")
    sweep = load_sweep(path)
    assert len(sweep.runs) == 4
    finished = []
    result = run_sweep_on_ray(sweep, SweepOptions(out=tmp_path / "ray"), RayOptions(), finished.append)
    statuses = sorted(record.status for record in result.runs)
    assert statuses == ["failed", "failed", "finished", "finished"], result.runs
    assert all("onnect" in (record.error or "") for record in result.runs if record.status == "failed")
    assert len(finished) == 4 and len(sweep_json(tmp_path / "ray")["ranking"]) == 2

    asyncio.run(run_sweep(sweep, SweepOptions(out=tmp_path / "local", max_parallel=2)))
    assert outcomes(tmp_path / "ray") == outcomes(tmp_path / "local")  # a Ray task trains as a local run does


def test_the_budget_caps_a_sweep_across_ray_workers_and_a_second_session_finishes_it(
    tmp_path: Path, server_url: str, local_ray: None
) -> None:
    from dlngraph.runs.sweep_ray import RayOptions, run_sweep_on_ray

    sweep = load_sweep(write_sweep(tmp_path, server_url, "seeds: [1, 2, 3, 4]\n"))
    whole = asyncio.run(run_sweep(sweep, SweepOptions(out=tmp_path / "whole", max_parallel=2)))
    # The budget charges calls sent to a server: requests less their retries (not cache hits).
    cap = sum(record.summary.requests - record.summary.retries for record in whole.runs) // 2
    capped = run_sweep_on_ray(sweep, SweepOptions(out=tmp_path / "capped", max_calls=cap), RayOptions())
    spent = [record.summary.requests - record.summary.retries for record in capped.runs if record.summary is not None]
    assert sum(spent) <= cap  # granted in blocks, never past the ceiling
    assert sum(spent) > cap // 2 and len(spent) >= 2, capped.runs  # runs on both workers drew on it
    assert any(record.status in ("stopped", "waiting") for record in capped.runs), capped.runs
    assert all(record.summary.stopped == "budget" for record in capped.runs if record.status == "stopped")

    run_sweep_on_ray(sweep, SweepOptions(out=tmp_path / "capped"), RayOptions())  # no cap: the rest
    assert outcomes(tmp_path / "capped") == outcomes(tmp_path / "whole")


def test_the_shared_limiter_holds_a_concurrency_of_n_across_two_ray_workers(local_ray: None) -> None:
    from dlngraph.llm.cluster.limits import ClusterSlots, cluster_slot_table

    table = cluster_slot_table("test-limits-concurrency", 3, lease_s=5.0)

    def hammer(table, holder: str) -> tuple[int, int]:  # noqa: ANN001 - a Ray actor handle
        """In a worker: 8 calls at once through the shared slots; the most this worker held."""
        async def main() -> tuple[int, int]:
            slots = ClusterSlots.of_actor(table, holder=holder)
            inside = most = 0

            async def call() -> None:
                nonlocal inside, most
                async with slots.slot():
                    inside += 1
                    most = max(most, inside)
                    await asyncio.sleep(0.05)
                    inside -= 1

            await asyncio.gather(*(call() for _ in range(8)))
            return most, 8

        return asyncio.run(main())

    worker = ray.remote(num_cpus=1)(hammer)
    results = ray.get([worker.remote(table, f"worker-{index}") for index in range(2)])
    stats = ray.get(table.stats.remote())
    assert stats["max_held"] == 3 and stats["held"] == 0, stats  # together, never more than 3
    assert sum(calls for _, calls in results) == 16 and all(most >= 1 for most, _ in results)
    ray.kill(table)


def test_a_killed_worker_s_slots_come_back_when_their_leases_expire(local_ray: None) -> None:
    import time

    from dlngraph.llm.cluster.limits import ClusterSlots, cluster_slot_table

    table = cluster_slot_table("test-limits-leases", 2, lease_s=0.5)

    class Holder:
        """An actor whose event loop (on a thread of its own) holds two slots and renews them."""

        def grab(self, table) -> int:  # noqa: ANN001 - a Ray actor handle
            import threading

            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True).start()
            slots = ClusterSlots.of_actor(table, holder="doomed", lease_s=0.5)
            entered = threading.Semaphore(0)

            async def hold() -> None:
                async with slots.slot():
                    entered.release()
                    await asyncio.sleep(3600)

            for _ in range(2):
                asyncio.run_coroutine_threadsafe(hold(), loop)
            entered.acquire()
            entered.acquire()
            return 2

    holder = ray.remote(num_cpus=0)(Holder).remote()
    assert ray.get(holder.grab.remote(table)) == 2
    time.sleep(1.2)  # over two lease terms: renewals keep the slots
    assert ray.get(table.held.remote()) == 2
    ray.kill(holder)  # dies holding both slots
    deadline = time.monotonic() + 10
    while ray.get(table.held.remote()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.get(table.stats.remote())["expired"] == 2
    ray.kill(table)
