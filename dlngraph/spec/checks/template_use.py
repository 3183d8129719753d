"""Templates: each node's templates exist, parse, and use only variables the node can supply."""

from __future__ import annotations

from dlngraph.spec.errors import Finding
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import ConcatNode, LMNode
from dlngraph.spec.paths import DocPath
from dlngraph.spec.templates import (
    CONCAT_VARIABLES,
    FORWARD_VARIABLES,
    POSTERIOR_VARIABLES,
    PROPOSAL_VARIABLES,
    Template,
    TemplateError,
    forward_template,
    get_template,
)


def check_template_use(spec: NetworkSpec) -> list[Finding]:
    findings: list[Finding] = []
    read = _read_by_others(spec)
    for index, node in enumerate(spec.nodes):
        if isinstance(node, LMNode):
            findings += _check_lm_node(node, ("nodes", index), hidden=node.id in read)
        elif isinstance(node, ConcatNode):
            template = _resolve_forward(node, ("nodes", index), findings)
            if template is not None:
                findings += _unsupported(
                    template, CONCAT_VARIABLES, "concat nodes", _template_path(node, ("nodes", index))
                )
    return findings


def _read_by_others(spec: NetworkSpec) -> set[str]:
    """Ids of the nodes some other node reads (as an input or a residual source)."""
    return {
        source
        for node in spec.nodes
        for source in [*node.inputs, *(node.residual if isinstance(node, LMNode) else [])]
    }


def _check_lm_node(node: LMNode, path: DocPath, *, hidden: bool = False) -> list[Finding]:
    findings: list[Finding] = []
    template = _resolve_forward(node, path, findings)
    if template is not None:
        findings += _unsupported(template, FORWARD_VARIABLES, "lm nodes", _template_path(node, path))
        findings += _check_sources_match(node, template, path)
        findings += _check_prompt_use(node, template, path, hidden=hidden)
    if node.trainable:
        findings += _check_backward(
            node.proposal_template, PROPOSAL_VARIABLES, "proposal", (*path, "proposal_template")
        )
        findings += _check_backward(
            node.posterior_template, POSTERIOR_VARIABLES, "posterior", (*path, "posterior_template")
        )
    return findings


def _template_path(node: LMNode | ConcatNode, path: DocPath) -> DocPath:
    return (*path, "template_source" if node.template_source is not None else "template")


def _resolve_forward(node: LMNode | ConcatNode, path: DocPath, findings: list[Finding]) -> Template | None:
    try:
        return forward_template(node)
    except TemplateError as error:
        findings.append(Finding(_template_path(node, path), str(error), text_line=error.line))
        return None


def _unsupported(template: Template, supplied: frozenset[str], who: str, path: DocPath) -> list[Finding]:
    return [
        Finding(
            path,
            f"template '{template.ref}' uses variable '{name}', which {who} do not supply "
            f"(they supply: {', '.join(sorted(supplied))})",
        )
        for name in sorted(template.variables - supplied)
    ]


def _check_sources_match(node: LMNode, template: Template, path: DocPath) -> list[Finding]:
    """A template variable needs sources to fill it; sources nothing reads are suspicious."""
    findings = []
    for variable, field in (("input", "inputs"), ("residual", "residual")):
        has_sources = bool(getattr(node, field))
        if variable in template.variables and not has_sources:
            findings.append(
                Finding(
                    _template_path(node, path),
                    f"template '{template.ref}' uses '{variable}', but node '{node.id}' has none"
                    f" (its '{field}' list is empty)",
                )
            )
        elif has_sources and variable not in template.variables:
            findings.append(
                Finding(
                    (*path, field),
                    f"node '{node.id}' has sources in '{field}', "
                    f"but its template '{template.ref}' never shows '{variable}'",
                    severity="warning",
                )
            )
    return findings


def _check_prompt_use(node: LMNode, template: Template, path: DocPath, *, hidden: bool = False) -> list[Finding]:
    """A trainable node's prompt must be shown and non-empty; a layer other nodes read may
    start empty (a warning), as the paper's first layer does (`init_p1` is "")."""
    if not node.trainable:
        return []
    if "prompt" not in template.variables:
        return [
            Finding(
                _template_path(node, path),
                f"node '{node.id}' is trainable, but its template '{template.ref}' never shows 'prompt', "
                "so training cannot change it",
                severity="warning",
            )
        ]
    if not node.prompt.strip():
        if hidden:
            return [
                Finding(
                    (*path, "prompt"),
                    f"trainable node '{node.id}' starts from an empty prompt (as the paper's first layer): "
                    "its first proposals are written from the examples alone",
                    severity="warning",
                )
            ]
        return [
            Finding(
                (*path, "prompt"),
                f"trainable node '{node.id}' needs an initial prompt: "
                f"its template '{template.ref}' shows 'prompt', which is empty",
            )
        ]
    return []


def _check_backward(ref: str, supplied: frozenset[str], role: str, path: DocPath) -> list[Finding]:
    try:
        template = get_template(ref)
    except TemplateError as error:
        return [Finding(path, str(error))]
    findings = _unsupported(template, supplied, f"{role} steps", path)
    if "message" in template.variables and not template.messages:
        findings.append(Finding(path, f"template '{template.ref}' uses 'message' but defines no messages"))
    return findings
