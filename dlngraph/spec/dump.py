"""Writing a spec back to YAML: for saving trained prompts and networks built in code.

The output loads back to an equal spec. Fields equal to their defaults are left out, so the
file shows what is particular to the network; multi-line strings (prompts, templates) use
YAML's literal block style so they read as written.
"""

from __future__ import annotations

from typing import Any

import msgspec
import yaml

from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import Demonstration

_TOP_LEVEL_ORDER = ("name", "description", "models", "nodes", "output", "training", "data")


def dump_spec(spec: NetworkSpec) -> str:
    plain = _plain(spec)
    ordered = {key: plain[key] for key in _TOP_LEVEL_ORDER if key in plain}
    ordered.update((key, value) for key, value in plain.items() if key not in ordered)
    return yaml.dump(
        ordered, Dumper=_SpecDumper, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )


def _plain(value: Any) -> Any:
    """Builtins for YAML: Structs become mappings without their default-valued fields."""
    if isinstance(value, Demonstration):
        return _Block(_plain_struct(value))
    if isinstance(value, msgspec.Struct):
        return _plain_struct(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _plain_struct(struct: msgspec.Struct) -> dict[str, Any]:
    config = struct.__struct_config__
    plain: dict[str, Any] = {}
    if isinstance(config.tag, str) and config.tag_field:
        plain[config.tag_field] = config.tag
    for field in msgspec.structs.fields(struct):
        value = getattr(struct, field.name)
        if field.required or value != _default(field):
            plain[field.encode_name] = _plain(value)
    return plain


def _default(field: msgspec.structs.FieldInfo) -> Any:
    if field.default_factory is not msgspec.NODEFAULT:
        return field.default_factory()
    return field.default


class _SpecDumper(yaml.SafeDumper):
    """Safe YAML with literal blocks for multi-line strings and no anchors for shared values."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # indent list items under their key


class _Block(dict):
    """A mapping always written in block style, one field a line (a demonstration's input and
    output read best so, however short)."""


def _represent_block(dumper: yaml.SafeDumper, value: _Block) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=False)


_UNICODE_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if any(line_break in value for line_break in _UNICODE_LINE_BREAKS):
        style: str | None = '"'  # PyYAML garbles these in other styles; double quotes escape them
    else:
        style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_SpecDumper.add_representer(str, _represent_str)
_SpecDumper.add_representer(_Block, _represent_block)
