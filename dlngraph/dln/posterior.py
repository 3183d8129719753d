"""Posterior samples of a hidden state: h~ ~ q(h | x, target of its consumer, prompts).

The posterior template shows what the node read, its current output, the prompt of the node
that consumes it and the target that consumer should produce; the backward model rewrites the
hidden state so that it leads to that target.
"""

from __future__ import annotations

import msgspec

from dlngraph.dln.phases import Phase
from dlngraph.dln.priorities import step_tag
from dlngraph.engine.node_ops import ModelHandle
from dlngraph.engine.waves import gather
from dlngraph.llm.types import GenerateRequest, ScoreRequest
from dlngraph.spec.templates import Template


class PosteriorQuery(msgspec.Struct, kw_only=True):
    input: str
    h: str
    target: str
    prompt: str
    next_prompt: str


def render_posterior(template: Template, query: PosteriorQuery) -> str:
    """The prompt posterior samples are drawn from (and scored under, `correct_weighting`)."""
    return template.render(**msgspec.structs.asdict(query))


async def posterior_logprob(*, model: ModelHandle, prompt: str, sample: str, node: str) -> float:
    """log q(h~ | ...) per token: the backward model's mean log-probability of a posterior
    sample after its prompt, which the paper reads off the sampling call (`return_logprobs`)."""
    score = await model.score(ScoreRequest(context=prompt, target=sample), tag=step_tag(node, Phase.SHARPENING))
    return score.logprob_mean


async def sample_posterior(
    *,
    model: ModelHandle,
    template: Template,
    query: PosteriorQuery,
    num_samples: int,
    temperature: float,
    max_tokens: int,
    seed: int,
    node: str,
) -> list[str]:
    """`num_samples` rewrites of one hidden state, all requested at once (sample j with seed
    `seed + j`); empty rewrites are dropped (the caller always keeps the current hidden
    state, so no example ends up without one)."""
    tag = step_tag(node, Phase.POSTERIOR)
    prompt = render_posterior(template, query)
    requests = [
        GenerateRequest(prompt=prompt, max_tokens=max_tokens, temperature=temperature, seed=seed + j, sample_index=j)
        for j in range(num_samples)
    ]
    generations = await gather(model.generate(request, tag=tag) for request in requests)
    return [text for generation in generations if (text := generation.text.strip())]
