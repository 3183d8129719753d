"""Three views of a compiled network: plain text for a terminal, Graphviz DOT and Mermaid.

Residual edges are drawn dashed in DOT and Mermaid and marked `(residual)` in text.
"""

from __future__ import annotations

import json

from dlngraph.graph.compiled import CompiledNetwork
from dlngraph.spec.classes import class_labels
from dlngraph.spec.nodes import INPUT, ConcatNode, LMNode, Node, VoteNode
from dlngraph.words import plural


def node_summary(network: CompiledNetwork, node_id: str) -> str:
    """One line about a node: kind, template, model and what makes it special."""
    node = network.node(node_id)
    parts = [_kind(node)]
    if isinstance(node, LMNode):
        parts += [f"template={network.template(node_id).ref}", f"model={node.model}"]
        parts.append("trainable" if node.trainable else "frozen")
        if node.classes:
            parts.append(f"classes={'/'.join(class_labels(node.classes))}")
    elif isinstance(node, VoteNode):
        parts.append(f"method={node.method}")
    elif isinstance(node, ConcatNode):
        parts.append(f"template={network.template(node_id).ref}")
    if node_id == network.output:
        parts.append("[output]")
    elif node_id not in network.required_by_output:
        parts.append("[unused]")
    return " ".join(parts)


def edges(network: CompiledNetwork) -> list[tuple[str, str, str]]:
    """(source, reader, kind) for every edge, readers in declaration order."""
    found = []
    for reader in network.node_ids:
        for source, _, kind in sorted(network.graph.in_edges(reader, data="kind"), key=lambda edge: edge[2] != "input"):
            found.append((source, reader, kind))
    return found


def to_text(network: CompiledNetwork) -> str:
    width = max(len(node_id) for node_id in network.node_ids)
    lines = [f"network {network.spec.name}: {plural(len(network.node_ids), 'node')}, output '{network.output}'"]
    if network.spec.description:
        lines.append(f"  {network.spec.description.strip().splitlines()[0]}")
    lines.append("nodes:")
    lines += [f"  {node_id:<{width}}  {node_summary(network, node_id)}" for node_id in network.node_ids]
    lines.append("edges:")
    lines += [
        f"  {source} -> {reader}" + (" (residual)" if kind == "residual" else "")
        for source, reader, kind in edges(network)
    ]
    lines.append("layers:")
    lines += [f"  {index}: {', '.join(layer)}" for index, layer in enumerate(network.layers)]
    path = " -> ".join([INPUT, *network.critical_path])
    lines.append(f"critical path: {path} ({plural(network.critical_path_length, 'LLM call')})")
    return "\n".join(lines) + "\n"


def to_dot(network: CompiledNetwork) -> str:
    lines = [f"digraph {_quote(network.spec.name)} {{", "  rankdir=TB;", f"  {_quote(INPUT)} [shape=oval];"]
    for node_id in network.node_ids:
        shape = "doubleoctagon" if node_id == network.output else "box"
        label = f"{node_id}\n{_kind(network.node(node_id))}"
        lines.append(f"  {_quote(node_id)} [shape={shape}, label={_quote(label)}];")
    for source, reader, kind in edges(network):
        style = ' [style=dashed, label="residual"]' if kind == "residual" else ""
        lines.append(f"  {_quote(source)} -> {_quote(reader)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(network: CompiledNetwork) -> str:
    # Mermaid has reserved words (`end`, ...), so nodes get neutral ids and carry their names as labels.
    ids = {INPUT: "n0"} | {node_id: f"n{index}" for index, node_id in enumerate(network.node_ids, start=1)}
    lines = ["flowchart TD", f'  n0(["{INPUT}"])']
    for node_id in network.node_ids:
        label = f"{node_id}<br/>{_kind(network.node(node_id))}"
        opening, closing = ("[[", "]]") if node_id == network.output else ("[", "]")
        lines.append(f'  {ids[node_id]}{opening}"{label}"{closing}')
    for source, reader, kind in edges(network):
        arrow = "-. residual .->" if kind == "residual" else "-->"
        lines.append(f"  {ids[source]} {arrow} {ids[reader]}")
    return "\n".join(lines) + "\n"


def _kind(node: Node) -> str:
    return str(type(node).__struct_config__.tag)


def _quote(text: str) -> str:
    """A DOT string literal (JSON's escaping is a subset DOT accepts)."""
    return json.dumps(text, ensure_ascii=False)
