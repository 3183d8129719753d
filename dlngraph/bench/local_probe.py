"""How fast the local backend scores, with and without prefix grouping.

The workload is the one a DLN's scoring step produces: a few candidate prompts, each scored on
the same batch of examples, with requests arriving interleaved (prompt 1 on example 1, prompt
2 on example 1, ...). In arrival order nearly every request evaluates its whole prompt; with
prefix grouping the worker runs the requests of one prompt back to back and evaluates the
prompt once. `measure_local_scoring` is importable (for `dlngraph bench`); the script
`benchmarks/bench_local.py` prints its figures as a table.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from dlngraph.llm.local.backend import LocalBackend
from dlngraph.llm.types import ScoreRequest
from dlngraph.spec.models import ModelSpec

_INSTRUCTIONS = (
    (
        "Read the movie review below and decide whether the reviewer liked the film. Answer"
        " 'positive' if the overall opinion is favourable and 'negative' otherwise. Pay attention"
        " to sarcasm, to contrasts introduced by 'but' or 'however', and to the final verdict,"
        " which matters more than isolated remarks about actors, music or photography."
    ),
    (
        "You are a careful film critic. Classify the sentiment of each review as positive or"
        " negative. A review that praises some aspects but concludes that the film is not worth"
        " watching is negative; a review with minor complaints that still recommends the film is"
        " positive. Think about what the reviewer would tell a friend."
    ),
    (
        "Task: sentiment classification of short movie reviews. Output exactly one word, positive"
        " or negative. Reviews may be informal, contain typos, or use irony. Focus on the"
        " reviewer's overall judgement of the film rather than on the plot summary, and ignore"
        " opinions about the cinema, the snacks or the audience."
    ),
    (
        "Decide if the following review expresses a positive or a negative opinion of the movie."
        " Consider the strength of the words used, the reviewer's recommendation, and whether"
        " they would watch it again. When in doubt, weigh the last sentence most heavily, since"
        " reviewers usually state their verdict at the end."
    ),
)

_DEMONSTRATIONS = (
    "Review: A clumsy script and wooden acting sink what could have been a fun adventure.\n"
    "Sentiment: negative\n\n"
    "Review: I laughed, I cried, and I went back to see it a second time the next day.\n"
    "Sentiment: positive\n\n"
)

EXAMPLES = (
    ("The cast is wonderful and the final twist left the whole theatre speechless.", "positive"),
    ("Two hours of my life I will never get back; the plot makes no sense at all.", "negative"),
    ("Beautifully shot, but so slow that I checked my watch every ten minutes.", "negative"),
    ("A warm, funny and surprisingly moving story that the whole family will enjoy.", "positive"),
    ("The sequel nobody asked for, with jokes recycled from the first film.", "negative"),
    ("Not perfect, but the performances are strong and it stayed with me for days.", "positive"),
    ("The dialogue is painfully bad and the special effects look unfinished.", "negative"),
    ("An instant classic: clever, tense and gorgeous to look at from start to finish.", "positive"),
)


def scoring_workload(num_prompts: int, num_examples: int) -> list[ScoreRequest]:
    """log p(label | prompt, example) for every prompt and example, interleaved by example
    as a trainer that scores candidate prompts on one batch submits them."""
    prompts = [f"{instruction}\n\n{_DEMONSTRATIONS}" for instruction in _INSTRUCTIONS[:num_prompts]]
    return [
        ScoreRequest(context=f"{prompt}Review: {text}\nSentiment:", target=f" {label}")
        for text, label in EXAMPLES[:num_examples]
        for prompt in prompts
    ]


async def measure_local_scoring(
    quick: bool = False, *, model_spec: ModelSpec | None = None
) -> dict[str, Any]:
    """Scoring throughput (calls/s) of the local backend in arrival order and with prefix
    grouping on the same workload, and their ratio. Model loading is not timed.

    `quick`: 4 prompts x 3 examples, one round; otherwise 4 x 8, best of two rounds (the
    machine may be shared, and the best round is the least disturbed one).
    """
    spec = model_spec if model_spec is not None else ModelSpec(backend="local")
    num_prompts, num_examples, rounds = (4, 3, 1) if quick else (4, 8, 2)
    requests = scoring_workload(num_prompts, num_examples)
    backends = {
        "arrival_order": LocalBackend.from_spec(spec, prefix_grouping=False),
        "prefix_grouping": LocalBackend.from_spec(spec, prefix_grouping=True),
    }
    try:
        first = next(iter(backends.values()))
        await first.warm_up()
        timings: dict[str, float] = {}
        scores: dict[str, list[float]] = {}
        for _ in range(rounds):
            for mode, backend in backends.items():
                seconds, scores[mode] = await _time_scoring(backend, requests)
                timings[mode] = min(seconds, timings.get(mode, seconds))
        prompt_tokens = [await first.count_tokens(request.context) for request in requests]
        shape = {"prompts": num_prompts, "examples": num_examples, "calls": len(requests)}
        return _summary(first, shape, prompt_tokens, timings, scores, quick)
    finally:
        for backend in backends.values():
            await backend.aclose()


async def _time_scoring(
    backend: LocalBackend, requests: list[ScoreRequest]
) -> tuple[float, list[float]]:
    """Submit all requests at once (after emptying the KV cache) and time them."""
    await backend.score(ScoreRequest(context="Unrelated.", target=" text"))
    started = time.perf_counter()
    results = await asyncio.gather(*(backend.score(request) for request in requests))
    return time.perf_counter() - started, [result.logprob_sum for result in results]


def _summary(
    backend: LocalBackend,
    shape: dict[str, int],
    prompt_tokens: list[int],
    timings: dict[str, float],
    scores: dict[str, list[float]],
    quick: bool,
) -> dict[str, Any]:
    calls = shape["calls"]
    modes = {
        mode: {"seconds": seconds, "calls_per_s": calls / seconds}
        for mode, seconds in timings.items()
    }
    grouped, arrival = scores["prefix_grouping"], scores["arrival_order"]
    return {
        "model": backend.identity,
        "quick": quick,
        **shape,
        "mean_context_tokens": sum(prompt_tokens) / len(prompt_tokens),
        "modes": modes,
        "speedup": modes["prefix_grouping"]["calls_per_s"] / modes["arrival_order"]["calls_per_s"],
        "max_abs_score_difference": max(abs(a - b) for a, b in zip(grouped, arrival, strict=True)),
    }


def format_table(figures: dict[str, Any]) -> str:
    """The figures of `measure_local_scoring` as a plain-text table."""
    lines = [
        (
            f"local scoring throughput - {figures['model']}: {figures['prompts']} prompts x"
            f" {figures['examples']} examples = {figures['calls']} score calls,"
            f" ~{figures['mean_context_tokens']:.0f} context tokens each"
        ),
        "",
        f"{'order':<18}{'seconds':>10}{'calls/s':>10}",
    ]
    for mode, row in figures["modes"].items():
        lines.append(f"{mode:<18}{row['seconds']:>10.2f}{row['calls_per_s']:>10.2f}")
    lines += [
        "",
        f"speedup (prefix grouping / arrival order): {figures['speedup']:.2f}x",
        f"largest score difference between the orders: {figures['max_abs_score_difference']:.3g}",
    ]
    return "\n".join(lines)
