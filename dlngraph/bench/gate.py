"""The paper's way of sending calls, as a model wrapper: mini-batches of 20, one at a time.

The reference DLN code runs a training step as a sequence of phases (forward layer 1, forward
layer 2, posterior samples, their scores, proposals, candidate scores, ...). Each phase hands
its prompts to the model in mini-batches of 20 and awaits a whole mini-batch before sending the
next. `MiniBatchGate` reproduces that schedule under any caller, so dlngraph's own
`TrainingStep` can be timed against it without rewriting the algorithm:

- requests are admitted in groups of at most `size`; the next group opens only when every
  request of the current one has finished, so at most `size` requests are ever in flight;
- a group holds requests of one phase of one node (their `Tag`), as one call of the paper's
  code does;
- a group takes the requests waiting when it opens, and requests of its tag that arrive while
  none of its members has finished yet (the rest of a burst that one `gather` fires);
  after that it is closed, and late arrivals wait for a later group.

Groups open in arrival order of their first waiting request: phases that dlngraph would run
side by side are serialised, as they are in the paper's code.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio

from dlngraph.llm.client import NO_TAG, LanguageModel
from dlngraph.llm.types import (
    Capabilities,
    ClassDistribution,
    ClassDistributionRequest,
    GenerateRequest,
    Generation,
    Score,
    ScoreRequest,
    Tag,
)

PAPER_MINI_BATCH = 20
"""`batch_size=20` of the reference code's asynchronous generation."""


@dataclass
class GroupRecord:
    """What one mini-batch was: its tag and how many requests it admitted."""

    tag: Tag
    admitted: int = 0
    running: int = 0
    closed: bool = False


@dataclass
class _Ticket:
    tag: Tag
    admitted: anyio.Event = field(default_factory=anyio.Event)
    group: GroupRecord | None = None


class MiniBatches:
    """Admission control shared by every gated model of one run (the paper's code sends one
    mini-batch at a time, whichever model it is for)."""

    def __init__(self, size: int = PAPER_MINI_BATCH) -> None:
        if size < 1:
            raise ValueError(f"a mini-batch holds at least one request, got size={size}")
        self.size = size
        self.history: list[GroupRecord] = []
        """Every group opened so far, in order."""
        self.in_flight = 0
        self.max_in_flight = 0
        self._current: GroupRecord | None = None
        self._waiting: deque[_Ticket] = deque()

    @asynccontextmanager
    async def admitted(self, tag: Tag) -> AsyncIterator[None]:
        """Hold a place in a mini-batch for the duration of one request."""
        group = await self._enter(tag)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1
            self._leave(group)

    async def _enter(self, tag: Tag) -> GroupRecord:
        """Join the current group if it takes this request (or open one when idle), else wait
        in line until a group opens for this request's tag."""
        group = self._current if self._current is not None else self._open(tag)
        if self._takes(group, tag):
            return self._join(group)
        ticket = _Ticket(tag)
        self._waiting.append(ticket)
        try:
            await ticket.admitted.wait()
        except BaseException:
            if ticket.group is None:
                self._waiting.remove(ticket)
            else:  # admitted, then cancelled before it could run: give the place back
                self._leave(ticket.group)
            raise
        assert ticket.group is not None
        return ticket.group

    def _takes(self, group: GroupRecord, tag: Tag) -> bool:
        return not group.closed and group.tag == tag and group.admitted < self.size

    def _join(self, group: GroupRecord) -> GroupRecord:
        group.admitted += 1
        group.running += 1
        return group

    def _leave(self, group: GroupRecord) -> None:
        """A request finished: its group takes no newcomers from now on, and when it was the
        last one running, the next group opens."""
        group.running -= 1
        group.closed = True
        if group.running == 0 and group is self._current:
            self._current = None
            if self._waiting:
                self._open(self._waiting[0].tag)

    def _open(self, tag: Tag) -> GroupRecord:
        """Start a group for `tag` and admit the waiting requests of that tag, oldest first."""
        group = self._current = GroupRecord(tag=tag)
        self.history.append(group)
        for ticket in [ticket for ticket in self._waiting if ticket.tag == tag][: self.size]:
            self._waiting.remove(ticket)
            ticket.group = self._join(group)
            ticket.admitted.set()
        return group


class MiniBatchGate:
    """A `LanguageModel` whose requests pass through shared `MiniBatches` first.

    Everything else (limits, retries, accounting) is the wrapped model's, so the gate changes
    when requests are sent and nothing else.
    """

    def __init__(self, model: LanguageModel, batches: MiniBatches) -> None:
        self.model = model
        self.batches = batches

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def capabilities(self) -> Capabilities:
        return self.model.capabilities

    @property
    def context_window(self) -> int | None:
        return self.model.context_window

    async def count_tokens(self, text: str) -> int:
        return await self.model.count_tokens(text)

    async def generate(self, request: GenerateRequest, *, tag: Tag = NO_TAG) -> Generation:
        async with self.batches.admitted(tag):
            return await self.model.generate(request, tag=tag)

    async def score(self, request: ScoreRequest, *, tag: Tag = NO_TAG) -> Score:
        async with self.batches.admitted(tag):
            return await self.model.score(request, tag=tag)

    async def class_distribution(self, request: ClassDistributionRequest, *, tag: Tag = NO_TAG) -> ClassDistribution:
        async with self.batches.admitted(tag):
            return await self.model.class_distribution(request, tag=tag)


def gate_models(
    models: Mapping[str, LanguageModel], size: int = PAPER_MINI_BATCH
) -> tuple[dict[str, MiniBatchGate], MiniBatches]:
    """Every model behind one shared `MiniBatches` of `size`, and that `MiniBatches`."""
    batches = MiniBatches(size)
    return {name: MiniBatchGate(model, batches) for name, model in models.items()}, batches
