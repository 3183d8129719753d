"""Templates: each node's templates exist, parse, and use only variables the node can supply."""

from __future__ import annotations

from dlngraph.spec.errors import Finding
from dlngraph.spec.network import NetworkSpec, num_demos, shows_demonstrations
from dlngraph.spec.nodes import ConcatNode, LMNode
from dlngraph.spec.paths import DocPath
from dlngraph.spec.templates import (
    CONCAT_VARIABLES,
    FORWARD_VARIABLES,
    POSTERIOR_VARIABLES,
    PROPOSAL_VARIABLES,
    Template,
    TemplateError,
    available_templates,
    forward_template,
    get_template,
)
from dlngraph.spec.training import TrainingSpec
from dlngraph.words import plural


def check_template_use(spec: NetworkSpec) -> list[Finding]:
    findings: list[Finding] = []
    read = _read_by_others(spec)
    for index, node in enumerate(spec.nodes):
        if isinstance(node, LMNode):
            findings += _check_lm_node(node, ("nodes", index), spec.training, hidden=node.id in read)
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


def _check_lm_node(node: LMNode, path: DocPath, training: TrainingSpec, *, hidden: bool = False) -> list[Finding]:
    findings: list[Finding] = []
    template = _resolve_forward(node, path, findings)
    if template is not None:
        findings += _unsupported(template, FORWARD_VARIABLES, "lm nodes", _template_path(node, path))
        findings += _check_sources_match(node, template, path)
        findings += _check_prompt_use(node, template, path, hidden=hidden)
        findings += _check_demonstrations_shown(node, template, path, training)
    findings += _check_demonstration_count(node, path, training)
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


def _check_demonstrations_shown(node: LMNode, template: Template, path: DocPath, training: TrainingSpec) -> list[Finding]:
    """A node that learns demonstrations, or is given some, needs a template that shows them."""
    if not shows_demonstrations(node, training) or "demonstrations" in template.variables:
        return []
    k = num_demos(node, training)
    why = f"num_demos is {k}" if k > 0 else f"it is given {plural(len(node.demonstrations), 'demonstration')}"
    return [
        Finding(
            _template_path(node, path),
            f"node '{node.id}' shows demonstrations ({why}), but its template '{template.ref}' never uses "
            f"'demonstrations'; expected a template that shows them: {_showing_templates(template)}",
        )
    ]


def _showing_templates(template: Template) -> str:
    """The built-in templates that show demonstrations, the same name's first."""
    showing = [ref for ref in available_templates() if "demonstrations" in get_template(ref).variables]
    same = [ref for ref in showing if ref.partition("@")[0] == template.name]
    if same:
        return f"'{same[-1]}' (the latest '{template.name}'), or a template_source that loops over 'demonstrations'"
    return ", ".join(f"'{ref}'" for ref in showing) + ", or a template_source that loops over 'demonstrations'"


def _check_demonstration_count(node: LMNode, path: DocPath, training: TrainingSpec) -> list[Finding]:
    """Training keeps at most k demonstrations; more given than that is a contradiction (k = 0
    learns none, so any given are shown as they are)."""
    k = num_demos(node, training)
    if 0 < k < len(node.demonstrations):
        return [
            Finding(
                (*path, "demonstrations"),
                f"node '{node.id}' is given {plural(len(node.demonstrations), 'demonstration')}, more than its "
                f"num_demos ({k}); expected at most {k}",
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
