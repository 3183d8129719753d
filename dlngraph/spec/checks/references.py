"""References: every source, the output and every model name points at something declared."""

from __future__ import annotations

from dlngraph.spec.dependencies import residual_sources
from dlngraph.spec.errors import Finding
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import INPUT, LMNode, Node
from dlngraph.spec.suggest import closest


def check_references(spec: NetworkSpec) -> list[Finding]:
    node_ids = {node.id for node in spec.nodes}
    findings = []
    for index, node in enumerate(spec.nodes):
        findings += _check_sources(node, index, node_ids)
        if isinstance(node, LMNode) and node.model not in spec.models:
            findings.append(_unknown_model(("nodes", index, "model"), node.model, spec))
    if spec.output not in node_ids:
        findings.append(
            Finding(("output",), f"output names unknown node '{spec.output}'{_known(spec.output, node_ids)}")
        )
    backward = spec.training.backward_model
    if backward is not None and backward not in spec.models:
        findings.append(_unknown_model(("training", "backward_model"), backward, spec))
    return findings


def _check_sources(node: Node, index: int, node_ids: set[str]) -> list[Finding]:
    findings = []
    lists = {"inputs": list(node.inputs), "residual": residual_sources(node)}
    if not isinstance(node, LMNode) and not node.inputs:
        findings.append(
            Finding(("nodes", index, "inputs"), f"a {type(node).__struct_config__.tag} node needs at least one input")
        )
    for field, sources in lists.items():
        seen: set[str] = set()
        for position, source in enumerate(sources):
            path = ("nodes", index, field, position)
            if source != INPUT and source not in node_ids:
                findings.append(Finding(path, f"unknown node '{source}'{_known(source, node_ids | {INPUT})}"))
            elif source in seen:
                findings.append(Finding(path, f"'{source}' is listed twice in {field}"))
            seen.add(source)
    for position, source in enumerate(lists["residual"]):
        if source in lists["inputs"]:
            findings.append(
                Finding(
                    ("nodes", index, "residual", position),
                    f"'{source}' is already an input of '{node.id}'; list it once",
                )
            )
    return findings


def _unknown_model(path: tuple[str | int, ...], name: str, spec: NetworkSpec) -> Finding:
    return Finding(path, f"unknown model '{name}'{_known(name, set(spec.models))}")


def _known(name: str, names: set[str]) -> str:
    """ " (did you mean 'x'?)" when a name is close, else the list of valid names."""
    hint = closest(name, names)
    if hint or not names:
        return hint
    return f" (known: {', '.join(sorted(names))})"
