"""Posterior samples of a hidden state: h~ ~ q(h | x, target of its consumer, prompts).

The posterior template shows what the node read, its current output, the prompt of the node
that consumes it and the target that consumer should produce; the backward model rewrites the
hidden state so that it leads to that target.
"""

from __future__ import annotations

import msgspec

from dlngraph.dln.priorities import URGENT
from dlngraph.engine.node_ops import ModelHandle
from dlngraph.engine.waves import gather
from dlngraph.llm.types import GenerateRequest, Tag
from dlngraph.spec.templates import Template


class PosteriorQuery(msgspec.Struct, kw_only=True):
    input: str
    h: str
    target: str
    prompt: str
    next_prompt: str


async def sample_posteriors(
    *,
    model: ModelHandle,
    template: Template,
    queries: list[PosteriorQuery],
    num_samples: int,
    temperature: float,
    max_tokens: int,
    seed: int,
    node: str,
) -> list[list[str]]:
    """`num_samples` rewrites per query, all requested at once; empty rewrites are dropped
    (the current hidden state is always kept by the caller, so no example ends up empty)."""
    tag = Tag(node=node, phase="posterior", priority=URGENT)
    requests = [
        GenerateRequest(
            prompt=template.render(**msgspec.structs.asdict(query)),
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed + i * num_samples + j,
            sample_index=j,
        )
        for i, query in enumerate(queries)
        for j in range(num_samples)
    ]
    generations = await gather(model.generate(request, tag=tag) for request in requests)
    texts = [generation.text.strip() for generation in generations]
    return [
        [text for text in texts[i * num_samples:(i + 1) * num_samples] if text]
        for i in range(len(queries))
    ]
