"""An endpoint pool: one model served by several replicas (vLLM or llama-server processes).

One dlngraph process drives far more requests than one replica absorbs, so a model may list
several URLs. Every request goes to the replica with the fewest requests in flight for its
weight. A replica that refuses connections, or answers `UNHEALTHY_STREAK` 5xx (or dropped
connections) in a row, is taken out; after `PROBE_AFTER_S` one request probes it (the wait
doubles, up to `MAX_PROBE_AFTER_S`, while probes fail) and a success brings it back.

A request that fails that way on one replica is sent at once to another one it has not tried:
nothing was answered, so nothing is answered twice, and the call is not lost while another
replica is up. Other failures (429, timeouts, bad bodies) go back to the client, whose retry
picks a replica again. The pool is plain bookkeeping on the event loop: no locks, no tasks.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from dlngraph.llm.errors import TransientError
from dlngraph.llm.openai.http import Endpoint

UNHEALTHY_STREAK = 3
PROBE_AFTER_S = 1.0
MAX_PROBE_AFTER_S = 30.0

Api = Literal["completions", "chat"]
Send = Callable[[Endpoint, dict[str, Any]], Awaitable[tuple[dict[str, Any], float]]]
"""One HTTP attempt at an endpoint: the decoded body and the latency (`post_json`)."""


class Replica:
    """One server of the pool, its health and what it has answered."""

    __slots__ = ("backoff_s", "chat", "completions", "errors", "in_flight", "latency_s", "out_until", "probing",
                 "requests", "streak", "taken_out", "url", "weight")

    def __init__(self, url: str, weight: float, model: str) -> None:
        self.url = url.rstrip("/")
        self.weight = weight
        self.completions = Endpoint(url=f"{self.url}/completions", model=model)
        self.chat = Endpoint(url=f"{self.url}/chat/completions", model=model)
        self.in_flight = 0
        self.streak = 0
        self.out_until: float | None = None
        """While set, the replica is out; from then on one request may probe it."""
        self.backoff_s = 0.0
        self.probing = False
        self.requests = 0
        self.errors = 0
        self.latency_s = 0.0
        self.taken_out = 0

    def load(self) -> float:
        return (self.in_flight + 1) / self.weight


class EndpointPool:
    """The replicas of one model (see the module docstring); `post` sends through them."""

    def __init__(self, endpoints: Sequence[tuple[str, float]], model: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not endpoints:
            raise ValueError("an endpoint pool needs at least one URL")
        self.replicas = [Replica(url, weight, model) for url, weight in endpoints]
        self._clock = clock

    @property
    def urls(self) -> list[str]:
        return [replica.url for replica in self.replicas]

    async def post(self, send: Send, api: Api, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """`payload` answered by one replica, failing over to the others it has not tried."""
        tried: list[Replica] = []
        replica = self._choose(tried) or self._least_out()
        while True:
            tried.append(replica)
            try:
                data, latency_s = await self._attempt(replica, send, api, payload)
            except TransientError as error:
                replica.errors += 1
                self._failed(replica, error)
                following = self._choose(tried) if _replica_failure(error) else None
                if following is None:
                    raise
                replica = following
                continue
            replica.requests += 1
            replica.latency_s += latency_s
            replica.streak, replica.out_until, replica.backoff_s = 0, None, 0.0
            return data, latency_s

    def usage(self) -> dict[str, dict[str, float]]:
        """Per replica: requests answered, errors, their summed latency and times taken out."""
        return {
            replica.url: {"requests": replica.requests, "errors": replica.errors, "latency_s": replica.latency_s,
                          "taken_out": replica.taken_out}
            for replica in self.replicas
        }

    async def _attempt(self, replica: Replica, send: Send, api: Api, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        replica.probing = replica.out_until is not None
        replica.in_flight += 1
        try:
            return await send(replica.chat if api == "chat" else replica.completions, payload)
        finally:
            replica.in_flight -= 1
            replica.probing = False

    def _choose(self, tried: Sequence[Replica]) -> Replica | None:
        """The least loaded replica that is in (or due for a probe), not among `tried`."""
        now = self._clock()
        ready = [
            replica for replica in self.replicas
            if replica not in tried
            and (replica.out_until is None or (now >= replica.out_until and not replica.probing))
        ]
        return min(ready, key=Replica.load) if ready else None

    def _least_out(self) -> Replica:
        """Every replica is out: the one due back first (the client's retry paces the attempts)."""
        return min(self.replicas, key=lambda replica: (replica.out_until or 0.0, replica.in_flight))

    def _failed(self, replica: Replica, error: TransientError) -> None:
        if error.unreachable:
            self._take_out(replica)
        elif _replica_failure(error):
            replica.streak += 1
            if replica.streak >= UNHEALTHY_STREAK or replica.out_until is not None:
                self._take_out(replica)

    def _take_out(self, replica: Replica) -> None:
        replica.backoff_s = min(MAX_PROBE_AFTER_S, replica.backoff_s * 2 if replica.backoff_s else PROBE_AFTER_S)
        if replica.out_until is None:
            replica.taken_out += 1
        replica.out_until = self._clock() + replica.backoff_s


def _replica_failure(error: TransientError) -> bool:
    """A failure of the replica rather than of the request: refused, dropped, or a 5xx."""
    return error.unreachable or error.dropped or (error.status is not None and error.status >= 500)
