"""The paper's schedule as a model wrapper: mini-batches of at most 20, strictly one after the
other, each holding one phase of one node."""

from __future__ import annotations

import itertools
import random

import anyio
import pytest

from dlngraph.bench.gate import MiniBatches, MiniBatchGate, gate_models
from dlngraph.engine import gather
from dlngraph.llm.types import Capabilities, GenerateRequest, Generation, Tag

FORWARD = Tag(node="reason", phase="forward")
POSTERIOR = Tag(node="reason", phase="posterior")


class RecordingModel:
    """Answers after a random number of event-loop turns and logs every start and end."""

    name = "fake"
    capabilities = Capabilities(echo_scoring=True, top_logprobs=5)
    context_window = None

    def __init__(self, log: list[tuple[str, str, Tag]], seed: int = 0, turns: dict[str, int] | None = None) -> None:
        self.log = log
        self.rng = random.Random(seed)
        self.turns = turns or {}
        self.in_flight = 0
        self.max_in_flight = 0

    async def count_tokens(self, text: str) -> int:
        return len(text.split())

    async def generate(self, request: GenerateRequest, *, tag: Tag = FORWARD) -> Generation:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.log.append(("start", request.prompt, tag))
        for _ in range(self.turns.get(request.prompt) or self.rng.randrange(1, 30)):
            await anyio.lowlevel.checkpoint()
        self.log.append(("end", request.prompt, tag))
        self.in_flight -= 1
        return Generation(texts=[request.prompt.upper()], finish_reasons=["stop"])


def request(name: str) -> GenerateRequest:
    return GenerateRequest(prompt=name, max_tokens=8, temperature=0.0)


def gated(seed: int = 0, turns: dict[str, int] | None = None) -> tuple[MiniBatchGate, MiniBatches, RecordingModel, list]:
    log: list[tuple[str, str, Tag]] = []
    model = RecordingModel(log, seed, turns)
    batches = MiniBatches(20)
    return MiniBatchGate(model, batches), batches, model, log  # type: ignore[arg-type]


def groups_of(log: list[tuple[str, str, Tag]], batches: MiniBatches) -> list[set[str]]:
    """The calls of each group: groups open in the order of `batches.history`, so the calls
    started first belong to the first group, and so on."""
    started = [name for event, name, _ in log if event == "start"]
    groups, position = [], 0
    for record in batches.history:
        groups.append(set(started[position:position + record.admitted]))
        position += record.admitted
    return groups


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_never_more_than_twenty_in_flight_and_groups_are_strictly_sequential(seed: int) -> None:
    gate, batches, model, log = gated(seed)
    results = await gather(gate.generate(request(f"call {i}"), tag=FORWARD) for i in range(55))
    assert [r.text for r in results] == [f"CALL {i}" for i in range(55)]
    assert model.max_in_flight == 20 and batches.max_in_flight == 20
    assert [record.admitted for record in batches.history] == [20, 20, 15]
    # every call of a group has ended before the first call of the next group starts
    groups = groups_of(log, batches)
    for earlier, later in itertools.pairwise(groups):
        last_end = max(i for i, (event, name, _) in enumerate(log) if event == "end" and name in earlier)
        first_start = min(i for i, (event, name, _) in enumerate(log) if event == "start" and name in later)
        assert last_end < first_start


async def test_a_group_holds_one_phase_of_one_node() -> None:
    gate, batches, _, log = gated()
    calls = [gate.generate(request(f"f{i}"), tag=FORWARD) for i in range(25)]
    calls += [gate.generate(request(f"p{i}"), tag=POSTERIOR) for i in range(10)]
    await gather(calls)
    assert [(record.tag, record.admitted) for record in batches.history] == [(FORWARD, 20), (FORWARD, 5), (POSTERIOR, 10)]
    for group in groups_of(log, batches):
        assert len({name[0] for name in group}) == 1


async def test_the_rest_of_a_burst_joins_until_a_member_finishes() -> None:
    gate, batches, _, _ = gated(turns={"first": 10, "late": 1})

    async def late_arrival() -> None:
        await anyio.lowlevel.checkpoint()  # arrives after the first call, before any ends
        await gate.generate(request("late"), tag=FORWARD)

    await gather([gate.generate(request("first"), tag=FORWARD), late_arrival()])
    assert [record.admitted for record in batches.history] == [2]


async def test_once_a_member_has_finished_newcomers_wait_for_the_next_group() -> None:
    gate, batches, _, log = gated(turns={"quick": 1, "slow": 50, "newcomer": 1})
    quick_done = anyio.Event()

    async def quick() -> None:
        await gate.generate(request("quick"), tag=FORWARD)
        quick_done.set()

    async def newcomer() -> None:
        await quick_done.wait()
        await gate.generate(request("newcomer"), tag=FORWARD)

    await gather([quick(), gate.generate(request("slow"), tag=FORWARD), newcomer()])
    assert [record.admitted for record in batches.history] == [2, 1]
    assert log.index(("end", "slow", FORWARD)) < log.index(("start", "newcomer", FORWARD))


async def test_cancelled_waiters_leave_no_trace() -> None:
    gate, batches, _, _ = gated()
    with anyio.move_on_after(0):
        await gather(gate.generate(request(f"x{i}"), tag=FORWARD) for i in range(45))
    assert batches.in_flight == 0
    results = await gather(gate.generate(request(f"y{i}"), tag=POSTERIOR) for i in range(25))
    assert len(results) == 25 and batches.in_flight == 0
    assert batches.history[-1].tag == POSTERIOR


async def test_gate_models_share_one_admission_and_pass_everything_else_through() -> None:
    log: list = []
    models = {"a": RecordingModel(log), "b": RecordingModel(log, seed=1)}
    gates, batches = gate_models(models, size=3)  # type: ignore[arg-type]
    assert gates["a"].batches is gates["b"].batches is batches
    assert gates["a"].capabilities.echo_scoring and await gates["a"].count_tokens("two words") == 2
    await gather([*(gates["a"].generate(request(f"a{i}"), tag=FORWARD) for i in range(4)),
                  *(gates["b"].generate(request(f"b{i}"), tag=FORWARD) for i in range(4))])
    assert batches.max_in_flight == 3
    with pytest.raises(ValueError):
        MiniBatches(0)
