"""Classes: well-formed, only where something reads them, and shared by every input of a vote.

Classes are read on the output (its answer is matched to a class) and on every input of a vote
(the vote counts labels). Training's *scored* nodes (`CompiledNetwork.scored`) are among them,
but this check runs before compiling and also covers votes the output does not depend on.
"""

from __future__ import annotations

from dlngraph.spec.classes import class_labels, parse_class
from dlngraph.spec.errors import Finding
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import INPUT, LMNode, VoteNode


def classes_read(spec: NetworkSpec) -> set[str]:
    """Ids of the nodes whose classes something reads: the output and every input of a vote."""
    return {spec.output} | {source for node in spec.nodes if isinstance(node, VoteNode) for source in node.inputs}


def check_classes(spec: NetworkSpec) -> list[Finding]:
    findings: list[Finding] = []
    read = classes_read(spec)
    lm_nodes = {node.id: node for node in spec.nodes if isinstance(node, LMNode)}
    for index, node in enumerate(spec.nodes):
        path = ("nodes", index)
        if isinstance(node, LMNode) and node.classes is not None:
            findings += _check_entries(node.classes, (*path, "classes"))
            if node.id not in read:
                findings.append(
                    Finding(
                        (*path, "classes"),
                        f"node '{node.id}' is not scored and no vote reads it, so its classes would never be used",
                    )
                )
        if isinstance(node, VoteNode):
            findings += _check_vote(node, path, lm_nodes, {INPUT} | {other.id for other in spec.nodes})
    return findings


def _check_entries(entries: list[str], path: tuple[str | int, ...]) -> list[Finding]:
    findings = []
    if len(entries) < 2:
        findings.append(Finding(path, f"expected at least two classes, found {len(entries)}"))
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        verbalizers = parse_class(entry)
        if any(not verbalizer.strip() for verbalizer in verbalizers):
            findings.append(
                Finding((*path, position), f"class {entry!r} has an empty part: expected 'label|verbalizer|...'")
            )
        elif verbalizers[0] in seen:
            findings.append(Finding((*path, position), f"class label '{verbalizers[0]}' is given twice"))
        seen.add(verbalizers[0])
    return findings


def _check_vote(
    node: VoteNode, path: tuple[str | int, ...], lm_nodes: dict[str, LMNode], node_ids: set[str]
) -> list[Finding]:
    findings = []
    first: tuple[str, list[str]] | None = None
    for position, source in enumerate(node.inputs):
        source_node = lm_nodes.get(source)
        where = (*path, "inputs", position)
        if source not in node_ids:
            continue  # an unknown id: reported by the reference checks
        if source_node is None or source_node.classes is None:
            findings.append(Finding(where, f"vote '{node.id}' reads '{source}', which is not an lm node with classes"))
            continue
        labels = class_labels(source_node.classes)
        if first is None:
            first = (source, labels)
        elif set(labels) != set(first[1]):
            findings.append(
                Finding(
                    where,
                    f"'{source}' has classes {', '.join(labels)} but '{first[0]}' has {', '.join(first[1])}: "
                    f"every input of vote '{node.id}' needs the same class labels",
                )
            )
    return findings
