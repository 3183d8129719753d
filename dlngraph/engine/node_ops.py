"""How each kind of node turns its parents' outputs into its own.

- `lm`: render the node's template and call its model: a class distribution when the node has
  classes and the model can score them, generated text otherwise;
- `vote`: majority over its inputs' labels, or the mean of their class distributions;
- `concat`: render a template over its inputs' texts, no model call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from dlngraph.engine.answer_labels import match_class
from dlngraph.engine.results import NodeOutput
from dlngraph.graph import CompiledNetwork
from dlngraph.llm.class_probs import Verbalizers
from dlngraph.llm.errors import ContextWindowExceeded
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
from dlngraph.spec.classes import parse_classes
from dlngraph.spec.nodes import INPUT, ConcatNode, Demonstration, LMNode, Node, VoteNode

T = TypeVar("T")


class ModelHandle(Protocol):
    """What the engine and the training step need of a model (a `dlngraph.llm.LanguageModel`
    provides it)."""

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def context_window(self) -> int | None: ...

    async def count_tokens(self, text: str) -> int: ...

    async def generate(self, request: GenerateRequest, *, tag: Tag = ...) -> Generation: ...

    async def score(self, request: ScoreRequest, *, tag: Tag = ...) -> Score: ...

    async def class_distribution(self, request: ClassDistributionRequest, *, tag: Tag = ...) -> ClassDistribution: ...


class Models(Protocol):
    def __getitem__(self, name: str) -> ModelHandle: ...


def join_texts(texts: Sequence[str]) -> str:
    return "\n\n".join(texts)


def lm_variables(
    node: LMNode, prompt: str, text_of: Mapping[str, str], demonstrations: Sequence[Demonstration] = ()
) -> dict[str, Any]:
    """The variables a forward template sees (see `dlngraph.spec.templates`)."""
    return {
        "prompt": prompt,
        "input": join_texts([text_of[source] for source in node.inputs]),
        "residual": join_texts([text_of[source] for source in node.residual]),
        "demonstrations": [demonstration.as_variables() for demonstration in demonstrations],
    }


def render_lm(
    network: CompiledNetwork,
    node: LMNode,
    prompt: str,
    text_of: Mapping[str, str],
    demonstrations: Sequence[Demonstration] | None = None,
) -> str:
    """The node's prompt on one example; `demonstrations` None shows the node's own."""
    shown = node.demonstrations if demonstrations is None else demonstrations
    return network.template(node.id).render(**lm_variables(node, prompt, text_of, shown))


def can_score_classes(model: ModelHandle) -> bool:
    return model.capabilities.top_logprobs > 0


def generate_request(
    network: CompiledNetwork,
    node: LMNode,
    rendered: str,
    *,
    temperature: float | None,
    sample: int,
    seed: int | None,
) -> GenerateRequest:
    """The node's sampling options: call override, then the node's own, then its model's."""
    sampling = network.spec.models[node.model].sampling
    if temperature is None:
        temperature = node.temperature if node.temperature is not None else sampling.temperature
    return GenerateRequest(
        prompt=rendered,
        max_tokens=node.max_tokens or sampling.max_tokens,
        temperature=temperature,
        stop=sampling.stop,
        top_p=sampling.top_p,
        seed=None if seed is None else seed + sample,
        sample_index=sample if temperature > 0 else 0,
    )


async def evaluate_lm(
    network: CompiledNetwork,
    models: Models,
    node: LMNode,
    prompt: str,
    text_of: Mapping[str, str],
    *,
    temperature: float | None,
    sample: int,
    seed: int | None,
    phase: str,
    priority: int = 0,
    demonstrations: Sequence[Demonstration] | None = None,
) -> NodeOutput:
    """One call of an lm node on one example (`demonstrations` None shows the node's own).

    A prompt over the model's context window shows fewer demonstrations, the last ones left
    out first, rather than failing: the instruction and the example always go in whole. The
    output says how many were left out; a prompt over the window without any still fails."""
    tag = Tag(node=node.id, phase=phase, priority=priority)

    async def call(shown: Sequence[Demonstration]) -> NodeOutput:
        rendered = render_lm(network, node, prompt, text_of, shown)
        return await _call_lm(network, models[node.model], node, rendered, tag,
                              temperature=temperature, sample=sample, seed=seed)

    output, left_out = await fitting_demonstrations(node.demonstrations if demonstrations is None else demonstrations, call)
    output.demonstrations_left_out = left_out
    return output


async def fitting_demonstrations(
    demonstrations: Sequence[Demonstration], call: Callable[[Sequence[Demonstration]], Awaitable[T]]
) -> tuple[T, int]:
    """`call(shown)` with every demonstration, then with fewer, the last left out first, for as
    long as the prompt is over the model's context window (`ContextWindowExceeded`, raised before
    anything is sent); its result and how many were left out. Without any it fails as it is."""
    shown = list(demonstrations)
    while True:
        try:
            return await call(shown), len(demonstrations) - len(shown)
        except ContextWindowExceeded:
            if not shown:
                raise
            shown.pop()


async def _call_lm(
    network: CompiledNetwork,
    model: ModelHandle,
    node: LMNode,
    rendered: str,
    tag: Tag,
    *,
    temperature: float | None,
    sample: int,
    seed: int | None,
) -> NodeOutput:
    """A class distribution when the node has classes and the model can score them, else
    generated text (matched to a class when the node has classes)."""
    if node.classes and can_score_classes(model):
        verbalizers = parse_classes(node.classes)
        distribution = await model.class_distribution(
            ClassDistributionRequest(prompt=rendered, classes=verbalizers), tag=tag
        )
        label = distribution.label
        return NodeOutput(text=label, label=label, probs=distribution.probs, rendered=rendered)
    request = generate_request(network, node, rendered, temperature=temperature, sample=sample, seed=seed)
    text = (await model.generate(request, tag=tag)).text.strip()
    label = match_class(text, parse_classes(node.classes)) if node.classes else None
    return NodeOutput(text=text, label=label, rendered=rendered)


def evaluate_vote(node: VoteNode, parents: Sequence[NodeOutput], verbalizers: Verbalizers) -> NodeOutput:
    """Majority vote (ties go to the label with the larger summed probability, then to class
    order), or the mean of the class distributions (a parent without one counts as one-hot)."""
    order = [names[0] for names in verbalizers]
    mean = _mean_distribution(parents, order)
    if node.method == "mean":
        label = max(order, key=lambda name: (mean[name], -order.index(name)))
    else:
        votes = Counter(parent.label for parent in parents if parent.label is not None)
        label = max(order, key=lambda name: (votes[name], mean[name], -order.index(name)))
    return NodeOutput(text=label, label=label, probs=mean)


def _mean_distribution(parents: Sequence[NodeOutput], order: list[str]) -> dict[str, float]:
    totals = dict.fromkeys(order, 0.0)
    for parent in parents:
        probs = parent.probs or {name: float(name == parent.label) for name in order}
        for name in order:
            totals[name] += probs.get(name, 0.0)
    count = max(len(parents), 1)
    return {name: total / count for name, total in totals.items()}


def evaluate_combiner(
    network: CompiledNetwork, node: Node, example_input: str, parents: Mapping[str, NodeOutput]
) -> NodeOutput:
    """A vote or concat node for one example: its inputs' outputs rearranged, no model call."""
    ordered = [parents[source] if source != INPUT else NodeOutput(text=example_input) for source in node.inputs]
    if isinstance(node, VoteNode):
        return evaluate_vote(node, ordered, vote_verbalizers(network, node))
    if isinstance(node, ConcatNode):
        return evaluate_concat(network, node, [output.text for output in ordered])
    raise TypeError(f"unknown node kind: {type(node).__name__}")


def evaluate_concat(network: CompiledNetwork, node: ConcatNode, texts: Sequence[str]) -> NodeOutput:
    rendered = network.template(node.id).render(inputs=list(texts))
    return NodeOutput(text=rendered)


def vote_verbalizers(network: CompiledNetwork, node: VoteNode) -> Verbalizers:
    """A vote's classes are those of its first lm input (validation makes them agree)."""
    for source in node.inputs:
        parent = network.node(source)
        if isinstance(parent, LMNode) and parent.classes:
            return parse_classes(parent.classes)
        if isinstance(parent, VoteNode):
            return vote_verbalizers(network, parent)
    raise ValueError(f"vote node '{node.id}' has no input with classes")


def source_texts(sources: Sequence[str], example_input: str, outputs: Mapping[str, NodeOutput]) -> dict[str, str]:
    """Map every source name (`input` or a node id) to its text for one example."""
    texts = {INPUT: example_input}
    for source in sources:
        if source != INPUT:
            texts[source] = outputs[source].text
    return texts
