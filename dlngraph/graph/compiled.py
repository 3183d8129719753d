"""A checked spec turned into a graph the engine and the trainer can walk.

`compile_network` validates the spec, builds the dependency DiGraph (`input` plus node ids,
edges `source -> reader` with `kind="input"|"residual"`) and precomputes what every caller
asks: the order of work, the rounds that can run in parallel, the critical path, the
trainable nodes, the roles of nodes in training, and each node's resolved template.

The three roles have their one definition here (`dlngraph.dln.roles.Roles` reads them):

- *scored* nodes are compared with the label: the output lm node, or the lm nodes whose answers
  reach the output only through `vote` nodes (the members of an ensemble);
- *hidden* nodes are the other lm nodes that run and take part in inference: their text is
  latent, and they are trainable or have a trainable ancestor;
- a node's *consumers* are the nearest lm nodes that read it, looking through `concat` nodes
  (which only re-arrange their inputs' texts).

`children` (every direct reader) and `intermediate` (every node that runs but the output) are
the plain structural ideas, whatever the kind of node.

Only the nodes the output depends on run: nodes the output ignores are warned about by the
loader and left out of `topological_order`, `layers` and the lists derived from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec
import networkx as nx

from dlngraph.graph.analysis import critical_path, layers, ordered_topologically
from dlngraph.spec.dependencies import dependency_graph, parent_ids, residual_sources
from dlngraph.spec.network import NetworkSpec, num_demos, shows_demonstrations
from dlngraph.spec.nodes import INPUT, ConcatNode, Demonstration, LMNode, Node, VoteNode
from dlngraph.spec.templates import Template, forward_template
from dlngraph.spec.validate import ensure_valid


def compile_network(spec: NetworkSpec) -> CompiledNetwork:
    """Check `spec` (raising `SpecError` on any error) and compile it."""
    ensure_valid(spec)
    return CompiledNetwork(spec, nx.freeze(dependency_graph(spec)))


class CompiledNetwork:
    """A read-only view of one network; `with_prompts` makes new ones."""

    def __init__(self, spec: NetworkSpec, graph: nx.DiGraph) -> None:
        self.spec = spec
        self.graph = graph
        self.output = spec.output
        self._nodes: dict[str, Node] = {node.id: node for node in spec.nodes}
        self._lm_nodes = {node.id: node for node in spec.nodes if isinstance(node, LMNode)}
        declared = {node.id: index for index, node in enumerate(spec.nodes)}
        self._required = (nx.ancestors(graph, spec.output) | {spec.output}) - {INPUT}
        self._order = ordered_topologically(graph, self._required, declared.__getitem__)
        self._layers = layers(graph, self._order)
        self._critical_path = critical_path(graph, self._order, spec.output, self._llm_calls)
        self._templates = {
            node.id: forward_template(node) for node in spec.nodes if isinstance(node, (LMNode, ConcatNode))
        }
        self._scored = list(dict.fromkeys(self._scored_from(spec.output)))
        self._hidden = self._find_hidden()

    def __repr__(self) -> str:
        return f"CompiledNetwork({self.spec.name!r}, nodes={len(self._nodes)}, output={self.output!r})"

    def node(self, node_id: str) -> Node:
        """The spec node with this id."""
        try:
            return self._nodes[node_id]
        except KeyError:
            raise KeyError(f"network '{self.spec.name}' has no node '{node_id}'") from None

    @property
    def node_ids(self) -> list[str]:
        """Every declared node, in declaration order (including nodes that never run)."""
        return list(self._nodes)

    @property
    def topological_order(self) -> list[str]:
        """The nodes that run, each after all of its sources."""
        return list(self._order)

    @property
    def layers(self) -> list[list[str]]:
        """Rounds of nodes that can run together; layer 0 reads only the input."""
        return [list(layer) for layer in self._layers]

    @property
    def required_by_output(self) -> set[str]:
        """The nodes that run: the output and every node it depends on."""
        return set(self._required)

    def parents(self, node_id: str) -> list[str]:
        """The node's `inputs`, in declared order (may include `input`)."""
        return list(self.node(node_id).inputs)

    def residual_sources(self, node_id: str) -> list[str]:
        return residual_sources(self.node(node_id))

    def children(self, node_id: str) -> list[str]:
        """Nodes that read this one (as an input or a residual), in declaration order."""
        if node_id != INPUT:
            self.node(node_id)
        readers = set(self.graph.successors(node_id))
        return [other for other in self._nodes if other in readers]

    @property
    def lm_nodes(self) -> list[str]:
        """The lm nodes that run, in topological order."""
        return [node_id for node_id in self._order if node_id in self._lm_nodes]

    @property
    def trainable(self) -> list[str]:
        """The lm nodes whose prompt training may change, in topological order."""
        return [node_id for node_id in self.lm_nodes if self._lm_nodes[node_id].trainable]

    @property
    def intermediate(self) -> list[str]:
        """Every node that runs except the output (of any kind), in topological order."""
        return [node_id for node_id in self._order if node_id != self.output]

    @property
    def scored(self) -> list[str]:
        """The lm nodes compared with the label (see the module docstring); empty when the
        output is neither an lm node nor a vote over lm nodes."""
        return list(self._scored)

    @property
    def hidden(self) -> list[str]:
        """The lm nodes with latent text that inference trains or passes targets through
        (see the module docstring), in topological order."""
        return list(self._hidden)

    def consumers(self, node_id: str) -> list[str]:
        """The nearest lm nodes that read `node_id`, looking through concat nodes."""
        found: list[str] = []
        for child in self.children(node_id):
            node = self.node(child)
            if isinstance(node, LMNode):
                found.append(child)
            elif isinstance(node, ConcatNode):
                found.extend(self.consumers(child))
        return list(dict.fromkeys(found))

    def hidden_parents(self, node_id: str) -> list[str]:
        """The nearest hidden nodes that `node_id` reads, looking through concat nodes."""
        found: list[str] = []
        for source in parent_ids(self.node(node_id)):
            if source in self._hidden:
                found.append(source)
            elif isinstance(self.node(source), ConcatNode):
                found.extend(self.hidden_parents(source))
        return list(dict.fromkeys(found))

    @property
    def critical_path(self) -> list[str]:
        """The input->output path with the most LLM calls (node ids, `input` left out)."""
        return list(self._critical_path)

    @property
    def critical_path_length(self) -> int:
        """LLM calls one example waits for in sequence (vote and concat nodes cost none)."""
        return sum(self._llm_calls(node_id) for node_id in self._critical_path)

    def template(self, node_id: str) -> Template:
        """The resolved forward template of an lm or concat node."""
        try:
            return self._templates[node_id]
        except KeyError:
            raise KeyError(f"node '{node_id}' of network '{self.spec.name}' has no template") from None

    def prompts(self) -> dict[str, str]:
        """The current prompt of every lm node, by id."""
        return {node_id: node.prompt for node_id, node in self._lm_nodes.items()}

    def with_prompts(self, prompts: Mapping[str, str]) -> CompiledNetwork:
        """A new network whose lm nodes listed in `prompts` carry new prompts.

        The structure is unchanged, so nothing is re-validated; this network is untouched.
        """
        return self._with_lm_field("prompt", prompts)

    def num_demos(self, node_id: str) -> int:
        """k of an lm node: how many demonstrations training learns for it."""
        return num_demos(self._lm_node(node_id), self.spec.training)

    @property
    def demonstrating(self) -> list[str]:
        """The lm nodes that run whose prompts hold demonstrations (learned, k > 0, or given),
        in topological order; the others' prompts are instructions alone, as before k existed."""
        return [node_id for node_id in self.lm_nodes if shows_demonstrations(self._lm_nodes[node_id], self.spec.training)]

    def demonstrations(self) -> dict[str, list[Demonstration]]:
        """The current demonstrations of every node in `demonstrating`, by id."""
        return {node_id: list(self._lm_nodes[node_id].demonstrations) for node_id in self.demonstrating}

    def with_demonstrations(self, demonstrations: Mapping[str, Sequence[Demonstration]]) -> CompiledNetwork:
        """A new network whose lm nodes listed carry these demonstrations (as `with_prompts`)."""
        return self._with_lm_field("demonstrations", {node: list(shown) for node, shown in demonstrations.items()})

    def _with_lm_field(self, name: str, values: Mapping[str, object]) -> CompiledNetwork:
        unknown = [node_id for node_id in values if node_id not in self._lm_nodes]
        if unknown:
            raise KeyError(f"cannot set {name}s of {', '.join(map(repr, unknown))}: not lm nodes of '{self.spec.name}'")
        nodes = [
            msgspec.structs.replace(node, **{name: values[node.id]}) if node.id in values else node
            for node in self.spec.nodes
        ]
        return CompiledNetwork(msgspec.structs.replace(self.spec, nodes=nodes), self.graph)

    def _lm_node(self, node_id: str) -> LMNode:
        try:
            return self._lm_nodes[node_id]
        except KeyError:
            raise KeyError(f"network '{self.spec.name}' has no lm node '{node_id}'") from None

    def _llm_calls(self, node_id: str) -> int:
        return 1 if node_id in self._lm_nodes else 0

    def _scored_from(self, node_id: str) -> list[str]:
        node = self.node(node_id)
        if isinstance(node, LMNode):
            return [node_id]
        if isinstance(node, VoteNode):
            return [scored for source in node.inputs for scored in self._scored_from(source)]
        return []

    def _find_hidden(self) -> list[str]:
        trainable = set(self.trainable)
        return [
            node_id for node_id in self.lm_nodes
            if node_id not in self._scored and (node_id in trainable or trainable & nx.ancestors(self.graph, node_id))
        ]
