"""What callers ask a language model for, and what they get back.

Three kinds of request cover everything a DLN needs:
- `GenerateRequest`: sample text (forward passes, posterior samples, prompt proposals);
- `ScoreRequest`: log p(target | context), the ELBO's likelihood terms;
- `ClassDistributionRequest`: p(class | prompt) over a node's output classes.
Requests are frozen so that they can be hashed for the cache and for in-flight deduplication.
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec


class GenerateRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    prompt: str
    max_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    top_p: float = 1.0
    n: int = 1
    seed: int | None = None
    sample_index: int = 0
    """Tells apart otherwise identical sampled requests (temperature > 0) in the cache, so that
    the i-th draw of a seeded run replays as the i-th draw."""


class ScoreRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    context: str
    target: str
    burn_in_ratio: float = 0.0
    """The first int(ratio * n) of the target's n tokens are left out of the score (the
    paper's `burn_in_ratio`): the first words of a text are the hardest to predict."""


def after_burn_in(logprobs: list[float], ratio: float) -> list[float]:
    """The target's token logprobs without the burn-in, as the paper's `LogProbsScore` drops it."""
    return logprobs[int(ratio * len(logprobs)):]


class ClassDistributionRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    prompt: str
    classes: tuple[tuple[str, ...], ...]
    """One tuple of verbalizers per class; the first verbalizer is the class label."""

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(verbalizers[0] for verbalizers in self.classes)


Request = GenerateRequest | ScoreRequest | ClassDistributionRequest


class Usage(msgspec.Struct, kw_only=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Generation(msgspec.Struct, kw_only=True):
    texts: list[str]
    """One text per requested sample (`n`)."""
    finish_reasons: list[str | None]
    usage: Usage = msgspec.field(default_factory=Usage)
    latency_s: float = 0.0
    cached: bool = False

    @property
    def text(self) -> str:
        return self.texts[0]


class Score(msgspec.Struct, kw_only=True):
    logprob_sum: float
    logprob_mean: float
    num_tokens: int
    usage: Usage = msgspec.field(default_factory=Usage)
    latency_s: float = 0.0
    cached: bool = False


ClassDistributionMethod = Literal["logprobs", "chat_top_logprobs"]


class ClassDistribution(msgspec.Struct, kw_only=True):
    probs: dict[str, float]
    """Probability of each class label, renormalised over the classes (sums to 1)."""
    method: ClassDistributionMethod
    usage: Usage = msgspec.field(default_factory=Usage)
    latency_s: float = 0.0
    cached: bool = False

    @property
    def label(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)


Result = Generation | Score | ClassDistribution


class Capabilities(msgspec.Struct, frozen=True, kw_only=True):
    """What a backend can do; the client picks the best available way to score from this."""

    echo_scoring: bool
    """log p(target | context) of an arbitrary target (completions with echo, or local)."""
    top_logprobs: int
    """How many top log-probabilities a generated token can carry (0: none)."""
    checks_context_window: bool = False
    """The backend checks the context window itself, exactly, on the tokens it evaluates (and
    raises `ContextWindowExceeded`): the client skips its estimate."""


class Backend(Protocol):
    """One way of reaching one model. Backends do the wire work only: limits, retries, cache,
    deduplication and accounting wrap them in `dlngraph.llm.client`."""

    @property
    def identity(self) -> str:
        """Stable name of the model behind this backend (part of every cache key, no secrets)."""

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def context_window(self) -> int | None: ...

    async def count_tokens(self, text: str) -> int:
        """The tokens `text` takes as a prompt: exact where the backend has the model's
        tokenizer, otherwise a conservative over-estimate (`dlngraph.llm.tokens`)."""

    async def generate(self, request: GenerateRequest) -> Generation: ...

    async def score(self, request: ScoreRequest) -> Score:
        """Only asked of a backend whose `capabilities.echo_scoring` is true (`LanguageModel`
        checks it, naming the model, before any other step)."""

    async def class_distribution(self, request: ClassDistributionRequest) -> ClassDistribution: ...

    async def aclose(self) -> None: ...


class Tag(msgspec.Struct, frozen=True, kw_only=True):
    """Who asked, and how urgently: accounting groups calls by node and phase (forward,
    posterior, proposal, score); when a model's slots are all taken, calls of higher
    `priority` are sent first."""

    node: str = ""
    phase: str = ""
    priority: int = 0
