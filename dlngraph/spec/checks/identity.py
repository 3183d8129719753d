"""Names: the network has one that can name a folder, and every node id is well-formed, not
reserved and unique."""

from __future__ import annotations

import re

from dlngraph.spec.errors import Finding
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import INPUT
from dlngraph.spec.paths import IDENTIFIER as NODE_ID

RUN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
"""A name that stays one folder inside the runs folder: no separators, no `..`, nothing hidden."""


def check_identity(spec: NetworkSpec) -> list[Finding]:
    findings = []
    if not spec.name.strip():
        findings.append(Finding(("name",), "the network name must not be empty"))
    elif not RUN_NAME.fullmatch(spec.name):
        findings.append(Finding(("name",), (
            f"invalid network name {spec.name!r}: it names the run's folder, so it takes letters, digits,"
            " '_', '-' and '.' only, and does not start with '.'"
        )))
    if not spec.nodes:
        findings.append(Finding(("nodes",), "a network needs at least one node"))
    first_index: dict[str, int] = {}
    for index, node in enumerate(spec.nodes):
        path = ("nodes", index, "id")
        if node.id == INPUT:
            findings.append(Finding(path, f"'{INPUT}' is reserved for the example's input text; pick another id"))
        elif not NODE_ID.match(node.id):
            findings.append(
                Finding(
                    path,
                    f"invalid node id {node.id!r}: expected a letter or '_' followed by letters, digits, '_' or '-'",
                )
            )
        elif node.id in first_index:
            findings.append(
                Finding(path, f"duplicate node id '{node.id}' (already used by nodes[{first_index[node.id]}])")
            )
        first_index.setdefault(node.id, index)
    return findings
