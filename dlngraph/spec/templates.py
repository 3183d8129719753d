"""Prompt templates: how a node's prompt, inputs and examples become the text sent to a model.

Built-in templates live in `templates/<name>@<version>.yaml` beside this module; a reference
is `name` (latest version) or `name@N`, so a spec can pin the exact wording it was trained
with. Templates render in a sandboxed jinja2 environment where an undefined variable is an
error, never an empty string.

Variable contracts, relied upon by the engine and the trainer:
- forward templates of `lm` nodes: `prompt`, `input`, `residual` (texts joined by blank lines),
  `demonstrations` (a list of {input, residual, output, source}, the node's worked examples);
- `concat` templates: `inputs` (list of texts);
- proposal templates: `prompt`, `successes`, `errors` (lists of {input, output, target}), `message`;
- posterior templates: `input`, `prompt`, `h`, `next_prompt`, `target`.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any

import jinja2
import jinja2.meta
import jinja2.sandbox
import msgspec

from dlngraph.spec.nodes import ConcatNode, LMNode
from dlngraph.spec.suggest import closest

FORWARD_VARIABLES = frozenset({"prompt", "input", "residual", "demonstrations"})
CONCAT_VARIABLES = frozenset({"inputs"})
PROPOSAL_VARIABLES = frozenset({"prompt", "successes", "errors", "message"})
POSTERIOR_VARIABLES = frozenset({"input", "prompt", "h", "next_prompt", "target"})

_OPTIONAL: dict[str, Any] = {"demonstrations": ()}
"""Variables a caller may leave out, and what a template then sees: a template that shows
demonstrations renders without any, so that versions 2 render as versions 1 for a caller that
knows nothing of them."""

_ENVIRONMENT = jinja2.sandbox.SandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)
_ENVIRONMENT.globals.clear()
"""No `range`, `lipsum`, `cycler`, `joiner`, `namespace` or `dict`: a prompt needs none of them,
and each is a known first step out of a sandbox. A template sees only its node's variables."""


class TemplateError(ValueError):
    """A template that cannot be found, parsed or rendered. `line` is set for syntax errors."""

    def __init__(self, message: str, *, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


class TemplateFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The layout of a built-in template file."""

    description: str
    template: str
    messages: list[str] = msgspec.field(default_factory=list)


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    source: str
    description: str = ""
    messages: tuple[str, ...] = ()
    variables: frozenset[str] = field(init=False)
    _compiled: jinja2.Template = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            parsed = _ENVIRONMENT.parse(self.source)
            compiled = _ENVIRONMENT.from_string(parsed)  # compiles the tree parsed above
        except jinja2.TemplateSyntaxError as error:
            raise TemplateError(
                f"template '{self.ref}' line {error.lineno}: invalid jinja syntax: {error.message}",
                line=error.lineno or 0,
            ) from None
        object.__setattr__(self, "variables", frozenset(jinja2.meta.find_undeclared_variables(parsed)))
        object.__setattr__(self, "_compiled", compiled)

    @property
    def ref(self) -> str:
        """`name@version`, the exact reference that reproduces a built-in; the name of an inline one."""
        return f"{self.name}@{self.version}" if self.version else self.name

    def render(self, **variables: Any) -> str:
        """The text for these variables; `demonstrations` may be left out (none are shown)."""
        missing = sorted(self.variables - variables.keys() - _OPTIONAL.keys())
        if missing:
            given = ", ".join(sorted(variables)) or "none"
            raise TemplateError(
                f"template '{self.ref}' needs variable '{missing[0]}', which was not given (given: {given})"
            )
        try:
            return self._compiled.render({**_OPTIONAL, **variables})
        except jinja2.TemplateError as error:
            raise TemplateError(f"template '{self.ref}' failed to render: {error}") from None


def get_template(ref: str) -> Template:
    """The built-in template `name` (its latest version) or `name@N`."""
    name, _, version_text = ref.partition("@")
    versions = _versions().get(name)
    if not versions:
        known = ", ".join(sorted(_versions()))
        hint = closest(name, _versions()) or f" (built-in templates: {known})"
        raise TemplateError(f"unknown template '{name}'{hint}")
    if not version_text:
        return _load(name, max(versions))
    if not version_text.isdigit() or int(version_text) not in versions:
        known = ", ".join(f"{name}@{version}" for version in sorted(versions))
        raise TemplateError(f"unknown version '{version_text}' of template '{name}' (available: {known})")
    return _load(name, int(version_text))


def inline_template(source: str, *, name: str = "inline") -> Template:
    """A template written in a spec (`template_source`); its version is 0. It is rendered once
    on sample text here, so that what the sandbox refuses is an error of the spec, not of every
    call of a run."""
    template = Template(name=name, version=0, source=source)
    sample = {variable: _SAMPLE_VALUES.get(variable, "x") for variable in template.variables}
    try:
        template._compiled.render(**sample)
    except jinja2.sandbox.SecurityError as error:
        raise TemplateError(f"template '{name}' is refused by the sandbox: {error}") from None
    except Exception:  # noqa: BLE001 - depends on the real texts (or names a variable the spec checks report)
        pass
    return template


_SAMPLE_VALUES: dict[str, Any] = {
    "inputs": ["x", "y"],
    "demonstrations": [{"input": "x", "residual": "x", "output": "x", "source": "x"}],
}


def available_templates() -> list[str]:
    """Every built-in template as `name@version`, sorted."""
    return [f"{name}@{version}" for name, versions in sorted(_versions().items()) for version in sorted(versions)]


def forward_template(node: LMNode | ConcatNode) -> Template:
    """The template a node renders its input with: its inline source, else its built-in ref."""
    if node.template_source is not None:
        return inline_template(node.template_source)
    return get_template(node.template)


def _template_directory() -> Traversable:
    return importlib.resources.files("dlngraph.spec").joinpath("templates")


@functools.cache
def _versions() -> dict[str, frozenset[int]]:
    found: dict[str, set[int]] = {}
    for entry in _template_directory().iterdir():
        stem, _, suffix = entry.name.rpartition(".")
        name, _, version = stem.partition("@")
        if suffix == "yaml" and version.isdigit():
            found.setdefault(name, set()).add(int(version))
    return {name: frozenset(versions) for name, versions in found.items()}


@functools.cache
def _load(name: str, version: int) -> Template:
    path = _template_directory().joinpath(f"{name}@{version}.yaml")
    data = msgspec.yaml.decode(path.read_bytes(), type=TemplateFile)
    return Template(
        name=name, version=version, source=data.template, description=data.description, messages=tuple(data.messages)
    )
