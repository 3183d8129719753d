"""The spec layer: a Deep Language Network declared as one YAML document.

`load_spec` reads and checks a file (every problem is reported with its line and column);
`dump_spec` writes a spec back; `templates` holds the built-in prompt templates.
"""

from dlngraph.spec.dump import dump_spec
from dlngraph.spec.errors import SpecError, SpecIssue
from dlngraph.spec.loader import LoadedSpec, load_spec, load_spec_text
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import INPUT, ConcatNode, Demonstration, LMNode, Node, VoteNode
from dlngraph.spec.templates import (
    Template,
    TemplateError,
    available_templates,
    get_template,
    inline_template,
)

__all__ = [
    "INPUT",
    "ConcatNode",
    "Demonstration",
    "LMNode",
    "LoadedSpec",
    "NetworkSpec",
    "Node",
    "SpecError",
    "SpecIssue",
    "Template",
    "TemplateError",
    "VoteNode",
    "available_templates",
    "dump_spec",
    "get_template",
    "inline_template",
    "load_spec",
    "load_spec_text",
]
