"""One case, timed under two schedules against the same server: dlngraph's and the paper's.

- dlngraph: `run_forward` or `TrainingStep.run` as the library runs them, every call fired as
  soon as what it reads is ready, held back only by the models' concurrency limit;
- layer-synchronous baseline: the forward pass layer by layer in mini-batches of 20
  (`run_layer_synchronous`), the training step as the same `TrainingStep` behind a
  `MiniBatchGate` (phases one after the other, mini-batches of 20 awaited in full). Its backend
  sends each mini-batch's prompts in one `/completions` request, as the paper's `forward` does
  (`_get_completion_response(prompt_batch)`): the same calls, in the paper's HTTP requests.

The limit is what no scheduler can beat against this server: the dependency depth times the
latency (rounds of calls that must follow one another), or the requests dlngraph sent times
the latency divided by the server's concurrency (its throughput), whichever is larger.

The staged limit is tighter, and still a bound at that mean latency: a step's calls cannot
all go out at round 0.
For each round r, the calls that cannot start before r (by `phase_start_rounds`, the step's
own waits) need r rounds plus their share of the server's throughput after them. The proposed
candidates' scores count from the round after the proposals (`later_start_rounds`): in a
one-layer step they are 270 of 387 calls, and they do not exist before.

The slot limit is tighter still, and a bound when every call takes the mean latency: a call
holds one of the server's slots for a whole latency, so n calls that cannot start before round
r keep some slot busy for ceil(n / concurrency) latencies after it. The staged limit's share of
the throughput is the fluid version of that: 300 calls of one layer on 256 slots are 1.17
latencies there, and 2 here (some slot serves two of them, one after the other).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from dlngraph.bench.cases import Case, synthetic_examples
from dlngraph.bench.gate import gate_models
from dlngraph.bench.layer_sync import mini_batches, run_layer_synchronous
from dlngraph.bench.models import bench_models, requests_by_tag, requests_sent
from dlngraph.bench.paper_client import PaperClientBackend
from dlngraph.bench.server import ServerSettings
from dlngraph.dln.plan import (
    LaterStart,
    dependency_depth,
    forward_start_rounds,
    later_start_rounds,
    phase_start_rounds,
)
from dlngraph.dln.step import TrainingStep
from dlngraph.engine import gather, run_forward
from dlngraph.graph import CompiledNetwork
from dlngraph.llm.client import LanguageModel
from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.llm.types import ClassDistributionRequest
from dlngraph.spec.classes import parse_classes
from dlngraph.spec.models import Limits


class Measurement(msgspec.Struct, frozen=True, kw_only=True):
    case: str
    requests: int
    """Requests dlngraph sent (the limit's call count)."""
    baseline_requests: int
    depth: int
    """Rounds of latency the case needs at best."""
    dlngraph_s: float
    """Median wall time over the repeats."""
    dlngraph_runs_s: list[float]
    baseline_s: float
    baseline_groups: int
    """Mini-batches the baseline sent one after the other."""
    baseline_http_requests: int = 0
    """HTTP requests those mini-batches took (one per mini-batch when its calls share their
    parameters, as the paper's do)."""
    baseline_client_s: float = 0.0
    """Of `baseline_s`, the paper client's own time after its requests (`paper_client`)."""
    limit_s: float
    staged_limit_s: float
    """The limit, counting only the calls that cannot start before each round after it."""
    slot_limit_s: float = 0.0
    """The staged limit in whole rounds of the server's slots (0 when not computed)."""

    @property
    def speedup(self) -> float:
        """How many times faster dlngraph is than the layer-synchronous baseline."""
        return self.baseline_s / self.dlngraph_s

    @property
    def ratio_to_limit(self) -> float:
        """dlngraph's wall time over the limit: 1.0 is as fast as the server allows."""
        return self.dlngraph_s / self.limit_s

    @property
    def ratio_to_slot_limit(self) -> float:
        """dlngraph's wall time over the slot limit."""
        return self.dlngraph_s / self.slot_limit_s if self.slot_limit_s > 0 else 0.0

    @property
    def ratio_to_staged_limit(self) -> float:
        """dlngraph's wall time over the staged limit (what this case's structure allows)."""
        return self.dlngraph_s / self.staged_limit_s


def limit_s(depth: int, requests: int, server: ServerSettings) -> float:
    """max(depth x latency, requests x latency / server concurrency)."""
    return max(depth * server.latency_s, requests * server.latency_s / server.concurrency)


def staged_limit_s(
    starts: Mapping[tuple[str, str], int], requests: Mapping[tuple[str, str], int], depth: int, server: ServerSettings,
    later: Mapping[tuple[str, str], LaterStart] | None = None,
) -> float:
    """max(limit, max over rounds r of r x latency + requests that cannot start before round r
    x latency / server concurrency), the requests counted by the (node, phase) that sent them,
    `starts` giving each one's first round (an unknown tag counts from round 0) and `later`
    the tags some of whose requests start later (`later_start_rounds`)."""
    per_round = _requests_per_round(starts, requests, later)
    waiting = sum(per_round.values())  # the requests that cannot start before round `start`
    bound = limit_s(depth, waiting, server)
    for start in sorted(per_round):
        bound = max(bound, start * server.latency_s + waiting * server.latency_s / server.concurrency)
        waiting -= per_round[start]
    return bound


def slot_limit_s(
    starts: Mapping[tuple[str, str], int], requests: Mapping[tuple[str, str], int], depth: int, server: ServerSettings,
    later: Mapping[tuple[str, str], LaterStart] | None = None,
) -> float:
    """max(depth x latency, max over rounds r of (r + ceil(requests that cannot start before
    round r / server concurrency)) x latency): `staged_limit_s` with each slot serving whole
    calls, one after the other."""
    per_round = _requests_per_round(starts, requests, later)
    waiting = sum(per_round.values())
    bound = depth * server.latency_s
    for start in sorted(per_round):
        bound = max(bound, (start + math.ceil(waiting / server.concurrency)) * server.latency_s)
        waiting -= per_round[start]
    return bound


def _requests_per_round(
    starts: Mapping[tuple[str, str], int], requests: Mapping[tuple[str, str], int],
    later: Mapping[tuple[str, str], LaterStart] | None,
) -> Counter[int]:
    """Requests by the first round they can start in (an unknown tag counts from round 0). A
    tag in `later` counts at most `earlier_at_most` of its requests in its first round and the
    rest in the later one: as few late ones as can be, so that the bound stays a bound."""
    per_round: Counter[int] = Counter()
    for tag, count in requests.items():
        first, split = starts.get(tag, 0), (later or {}).get(tag)
        early = count if split is None else min(count, split.earlier_at_most)
        per_round[first] += early
        if split is not None:
            per_round[split.round] += count - early
    return per_round


def case_start_rounds(case: Case, network: CompiledNetwork) -> dict[tuple[str, str], int]:
    """Each (node, phase)'s first round: a step's `phase_start_rounds`, a forward pass's layers."""
    if case.kind == "step":
        return phase_start_rounds(network, case.step_settings(network).training)
    return {(node, "forward"): start for node, start in forward_start_rounds(network).items()}


async def case_later_starts(
    case: Case, network: CompiledNetwork, backend: OpenAIBackend, server: ServerSettings
) -> dict[tuple[str, str], LaterStart]:
    """A step's `later_start_rounds` (none in a forward pass), with how many score requests
    the known candidates really send: the plan's count is an upper bound, and most of the
    current prompt's terms are the forward pass's or the sharpening's. They are counted on
    one untimed run of the case without proposals (`num_p_samples` 1): the same candidates,
    the same requests, deduplicated the same way."""
    if case.kind != "step":
        return {}
    planned = later_start_rounds(network, case.step_settings(network).training)
    _, known = await _dlngraph_run(msgspec.structs.replace(case, num_p_samples=1), network, backend, server)
    return {
        tag: split._replace(earlier_at_most=min(split.earlier_at_most, known.get(tag, 0)))
        for tag, split in planned.items()
    }


def case_depth(case: Case, network: CompiledNetwork) -> int:
    """A step's `dependency_depth`; a forward pass's critical path."""
    if case.kind == "step":
        return dependency_depth(network, case.step_settings(network).training)
    return network.critical_path_length


async def measure(
    case: Case, backend: OpenAIBackend, paper_backend: PaperClientBackend, server: ServerSettings, *, repeats: int = 3
) -> Measurement:
    """Time `case` `repeats` times under dlngraph's schedule (keeping the median, since a
    run lasts a few seconds and a shared machine is noisy), then once under the
    layer-synchronous one on `paper_backend` (a `paper_backend`: up to 20 prompts per request,
    each followed by the paper client's own time;
    dozens of sequential mini-batches average the noise out)."""
    network = case.network()
    runs = [await _dlngraph_run(case, network, backend, server) for _ in range(repeats)]
    dlngraph_s, by_tag = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
    requests = sum(by_tag.values())
    http_before, client_before = http_requests(paper_backend), paper_backend.client_time_s
    baseline_s, baseline_requests, groups = await _baseline_run(case, network, paper_backend, server)
    depth, starts = case_depth(case, network), case_start_rounds(case, network)
    later = await case_later_starts(case, network, backend, server)
    return Measurement(
        case=case.name, requests=requests, baseline_requests=baseline_requests, depth=depth,
        dlngraph_s=dlngraph_s, dlngraph_runs_s=[seconds for seconds, _ in runs],
        baseline_s=baseline_s, baseline_groups=groups,
        baseline_http_requests=http_requests(paper_backend) - http_before,
        baseline_client_s=paper_backend.client_time_s - client_before, limit_s=limit_s(depth, requests, server),
        staged_limit_s=staged_limit_s(starts, by_tag, depth, server, later),
        slot_limit_s=slot_limit_s(starts, by_tag, depth, server, later),
    )


def http_requests(backend: OpenAIBackend) -> int:
    """HTTP requests a batching backend has sent so far (0 for one that does not batch)."""
    return backend.batcher.requests_sent if backend.batcher is not None else 0


async def warm_up_case(case: Case, backend: OpenAIBackend, server: ServerSettings) -> None:
    """One untimed run, so that no measured run pays for first-use costs (template
    compilation, code paths taken for the first time)."""
    await _dlngraph_run(case, case.network(), backend, server)


async def _dlngraph_run(
    case: Case, network: CompiledNetwork, backend: OpenAIBackend, server: ServerSettings
) -> tuple[float, dict[tuple[str, str], int]]:
    models = bench_models(network, backend, server.concurrency)
    seconds = await _timed(lambda: run_case(case, network, models))
    return seconds, requests_by_tag(models)


async def _baseline_run(
    case: Case, network: CompiledNetwork, backend: OpenAIBackend, server: ServerSettings
) -> tuple[float, int, int]:
    """The forward pass runs layer by layer on the plain models (it makes its own
    mini-batches); the training step runs through the gate."""
    models = bench_models(network, backend, server.concurrency)
    if case.kind == "forward":
        inputs = [example.input for example in synthetic_examples(case.examples)]
        seconds = await _timed(lambda: run_layer_synchronous(network, models, inputs))
        return seconds, requests_sent(models), forward_groups(network, case.examples)
    gated, batches = gate_models(models)
    seconds = await _timed(lambda: run_case(case, network, gated))
    return seconds, requests_sent(models), len(batches.history)


async def run_case(case: Case, network: CompiledNetwork, models: Mapping[str, Any]) -> object:
    """The work itself: a forward pass over the examples, or one training step on them."""
    examples = synthetic_examples(case.examples)
    if case.kind == "forward":
        return await run_forward(network, models, [example.input for example in examples])
    return await TrainingStep(network, models, examples, case.step_settings(network)).run()


async def _timed(run: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await run()
    return time.perf_counter() - started


def forward_groups(network: CompiledNetwork, examples: int) -> int:
    """Mini-batches the layer-synchronous forward pass sends."""
    return sum(len(mini_batches(network, layer, examples)) for layer in network.layers)


class Saturation(msgspec.Struct, frozen=True, kw_only=True):
    """Independent calls through the same client stack: what this machine can serve."""

    requests: int
    wall_s: float

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.wall_s


async def measure_saturation(backend: OpenAIBackend, server: ServerSettings, requests: int) -> Saturation:
    """`requests` distinct class-distribution calls at once, with no dependencies at all:
    how close client and server together get to `concurrency / latency` requests/s."""
    model = LanguageModel("saturation", backend, limits=Limits(max_concurrency=server.concurrency))
    classes = parse_classes(["Yes|yes", "No|no"])
    calls = (
        model.class_distribution(ClassDistributionRequest(prompt=f"Q{i} Do you return to the start?\nAnswer:", classes=classes))
        for i in range(requests)
    )
    seconds = await _timed(lambda: gather(calls))
    return Saturation(requests=requests, wall_s=seconds)
