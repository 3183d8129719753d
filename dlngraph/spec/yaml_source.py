"""Reading YAML while remembering where every value came from.

PyYAML's `compose` keeps each node's start mark; walking the composed tree records the line
and column of every document path, so that any later error can point at its source.

Scalars resolve as in YAML 1.2's core schema: only `true`/`false` are booleans and dates stay
strings, so that class labels such as `Yes` and `No` stay text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from dlngraph.spec.errors import Finding, SpecError, SpecIssue
from dlngraph.spec.paths import DocPath, format_path

_BOOL_TAG = "tag:yaml.org,2002:bool"
_DROPPED_TAGS = {_BOOL_TAG, "tag:yaml.org,2002:timestamp"}


class SpecResolver(Resolver):
    """YAML 1.1's implicit types without `yes`/`no`/`on`/`off` booleans and timestamps."""


SpecResolver.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
SpecResolver.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


class SpecLoader(Reader, Scanner, Parser, Composer, SafeConstructor, SpecResolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        SpecResolver.__init__(self)


@dataclass(frozen=True)
class Position:
    line: int
    """1-based."""
    column: int
    """1-based."""
    block_scalar: bool = False
    """A `|` or `>` scalar: its text starts on the line after the indicator."""


@dataclass
class SourceMap:
    """Line and column of every value (and mapping key) of one YAML document."""

    file: str
    values: dict[DocPath, Position] = field(default_factory=dict)
    keys: dict[DocPath, Position] = field(default_factory=dict)

    def position(self, path: DocPath, *, key: bool = False, text_line: int = 0) -> Position:
        """The closest known position: the path itself, else its nearest recorded parent."""
        for depth in range(len(path), -1, -1):
            prefix = path[:depth]
            if key and depth == len(path) and prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                found = self.values[prefix]
                if text_line and depth == len(path):
                    offset = text_line if found.block_scalar else text_line - 1
                    return Position(found.line + offset, 1 if offset else found.column)
                return found
        return Position(1, 1)  # an empty document: its first line

    def place(self, finding: Finding) -> SpecIssue:
        where = self.position(finding.path, key=finding.key, text_line=finding.text_line)
        return SpecIssue(
            file=self.file,
            path=format_path(finding.path),
            line=where.line,
            column=where.column,
            message=finding.message,
            severity=finding.severity,
        )


@dataclass
class ParsedYaml:
    data: Any
    source_map: SourceMap


def parse_yaml(text: str, file: str) -> ParsedYaml:
    """Parse one YAML document; raise `SpecError` on a syntax error or a duplicate key."""
    loader: SpecLoader | None = None
    try:
        loader = SpecLoader(text)  # the reader rejects control characters right here
        root = loader.get_single_node()
        source_map = SourceMap(file)
        duplicates: list[Finding] = []
        if root is not None:
            _record(root, (), source_map, duplicates)
        if duplicates:
            raise SpecError([source_map.place(finding) for finding in duplicates])
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        raise SpecError([_syntax_issue(error, text, file)]) from None
    except RecursionError:
        raise SpecError(
            [SpecIssue(file=file, path="", line=0, column=0, message="the YAML is nested too deeply")]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    return ParsedYaml(data, source_map)


def _record(node: yaml.Node, path: DocPath, source_map: SourceMap, duplicates: list[Finding]) -> None:
    mark = node.start_mark
    block = isinstance(node, yaml.ScalarNode) and node.style in ("|", ">")
    source_map.values[path] = Position(mark.line + 1, mark.column + 1, block)
    if len(source_map.values) > 100_000:
        raise yaml.YAMLError("the document is too large (aliases expand to over 100000 values)")
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record(item, (*path, index), source_map, duplicates)
    elif isinstance(node, yaml.MappingNode):
        first_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = key_node.value
            child = (*path, key)
            if key in first_lines:
                duplicates.append(
                    Finding(child, f"duplicate key '{key}' (first given on line {first_lines[key]})", key=True)
                )
            first_lines.setdefault(key, key_node.start_mark.line + 1)
            source_map.keys[child] = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _record(value_node, child, source_map, duplicates)


def _syntax_issue(error: yaml.YAMLError, text: str, file: str) -> SpecIssue:
    mark = getattr(error, "problem_mark", None)
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        message = (
            f"invalid YAML: character {error.character:#06x} is not allowed (use an escape in a double-quoted string)"
        )
        return SpecIssue(file=file, path="", line=line, column=column, message=message)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
    return SpecIssue(file=file, path="", line=line, column=column, message=message)
