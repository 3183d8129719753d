"""Turning plain YAML data into schema Structs while collecting *every* problem.

`msgspec.convert` stops at the first error. To report all of them at once, this module walks
the schema itself: a Struct field by field, a tagged union by its tag, a list item by item and
a dict entry by entry, and only hands the leaves (`int`, `list[str]`, ...) to msgspec. Errors
become `Finding`s with the path of the offending value and a found-vs-expected message.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import msgspec

from dlngraph.spec.errors import Finding
from dlngraph.spec.paths import DocPath, split_msgspec_path
from dlngraph.spec.suggest import closest


class _Invalid:
    """Marks a value that could not be converted (its findings are already recorded)."""


INVALID: Any = _Invalid()


def convert(value: Any, target: Any, path: DocPath, findings: list[Finding]) -> Any:
    """Convert `value` to the type `target`; on failure record findings and return INVALID."""
    if _is_struct(target):
        return _convert_struct(value, target, path, findings)
    origin, args = typing.get_origin(target), typing.get_args(target)
    if origin in (typing.Union, types.UnionType):
        return _convert_union(value, args, path, findings)
    if origin is Literal:
        return _convert_literal(value, args, path, findings)
    if origin is list and _needs_walk(args[0]):
        return _convert_list(value, args[0], path, findings)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and _needs_walk(args[0]):
        items = _convert_list(list(value) if isinstance(value, tuple) else value, args[0], path, findings)  # frozen: endpoints
        return items if items is INVALID else tuple(items)
    if origin is dict and _needs_walk(args[1]):
        return _convert_dict(value, args[1], path, findings)
    return _convert_leaf(value, target, path, findings)


def describe(value: Any, *, mapping: str = "a mapping") -> str:
    """A short description of a found value for "found ..." messages; `mapping` names a dict
    in the document's own terms ("an object" in JSON)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return mapping
    return type(value).__name__


def _is_struct(target: Any) -> bool:
    return isinstance(target, type) and issubclass(target, msgspec.Struct)


def _tagged_structs(args: tuple[Any, ...]) -> list[type[msgspec.Struct]]:
    structs = [arg for arg in args if _is_struct(arg)]
    return structs if structs and all(s.__struct_config__.tag is not None for s in structs) else []


def _needs_walk(target: Any) -> bool:
    """True for types holding Structs: they are walked here rather than by msgspec."""
    if _is_struct(target):
        return True
    return any(_needs_walk(arg) for arg in typing.get_args(target))


def _convert_struct(
    value: Any, struct: type[msgspec.Struct], path: DocPath, findings: list[Finding], tag_field: str | None = None
) -> Any:
    if not isinstance(value, dict):
        findings.append(Finding(path, f"expected a mapping{_struct_label(struct)}, found {describe(value)}"))
        return INVALID
    fields = {field.encode_name: field for field in msgspec.structs.fields(struct)}
    allowed = set(fields) | ({tag_field} if tag_field else set())
    before = len(findings)
    for key in value:
        if key not in allowed:
            findings.append(Finding((*path, str(key)), f"unknown field '{key}'{closest(key, allowed)}", key=True))
    for name, field in fields.items():
        if field.required and name not in value:
            findings.append(Finding(path, f"missing required field '{name}'{_struct_label(struct)}"))
    converted = {
        name: convert(value[name], field.type, (*path, name), findings)
        for name, field in fields.items()
        if name in value
    }
    if len(findings) > before:
        return INVALID
    if tag_field:
        converted[tag_field] = value[tag_field]
    try:
        return msgspec.convert(converted, struct)
    except msgspec.ValidationError as error:
        return _leaf_failure(error, value, path, findings)


def _convert_union(value: Any, args: tuple[Any, ...], path: DocPath, findings: list[Finding]) -> Any:
    options = [arg for arg in args if arg is not type(None)]
    if value is None and len(options) < len(args):
        return None
    structs = _tagged_structs(tuple(options))
    if structs and len(structs) == len(options):
        return _convert_tagged(value, structs, path, findings)
    if len(options) == 1 and _needs_walk(options[0]):
        return convert(value, options[0], path, findings)
    return _convert_leaf(value, typing.Union[args], path, findings)  # noqa: UP007 (rebuilds the union)


def _convert_tagged(value: Any, structs: list[type[msgspec.Struct]], path: DocPath, findings: list[Finding]) -> Any:
    tag_field = str(structs[0].__struct_config__.tag_field)
    by_tag = {str(struct.__struct_config__.tag): struct for struct in structs}
    expected = ", ".join(f"'{tag}'" for tag in by_tag)
    if not isinstance(value, dict):
        findings.append(
            Finding(path, f"expected a mapping with '{tag_field}' (one of {expected}), found {describe(value)}")
        )
        return INVALID
    if tag_field not in value:
        findings.append(Finding(path, f"missing field '{tag_field}' (expected one of {expected})"))
        return INVALID
    tag = value[tag_field]
    if not isinstance(tag, str) or tag not in by_tag:
        findings.append(
            Finding(
                (*path, tag_field),
                f"unknown {tag_field} {_quoted(tag)}, expected one of {expected}{closest(tag, by_tag)}",
            )
        )
        return INVALID
    return _convert_struct(value, by_tag[tag], path, findings, tag_field=tag_field)


def _convert_literal(value: Any, choices: tuple[Any, ...], path: DocPath, findings: list[Finding]) -> Any:
    if any(value == choice and type(value) is type(choice) for choice in choices):
        return value
    expected = ", ".join(repr(choice) for choice in choices)
    hint = closest(value, [str(choice) for choice in choices]) if isinstance(value, str) else ""
    findings.append(Finding(path, f"expected one of {expected}, found {describe(value)}{hint}"))
    return INVALID


def _convert_list(value: Any, item_type: Any, path: DocPath, findings: list[Finding]) -> Any:
    if not isinstance(value, list):
        findings.append(Finding(path, f"expected a list, found {describe(value)}"))
        return INVALID
    before = len(findings)
    items = [convert(item, item_type, (*path, index), findings) for index, item in enumerate(value)]
    return INVALID if len(findings) > before else items


def _convert_dict(value: Any, value_type: Any, path: DocPath, findings: list[Finding]) -> Any:
    if not isinstance(value, dict):
        findings.append(Finding(path, f"expected a mapping of names, found {describe(value)}"))
        return INVALID
    before = len(findings)
    converted = {}
    for key, item in value.items():
        if not isinstance(key, str):
            findings.append(Finding((*path, str(key)), f"names must be strings, found {describe(key)}", key=True))
            continue
        converted[key] = convert(item, value_type, (*path, key), findings)
    return INVALID if len(findings) > before else converted


def _convert_leaf(value: Any, target: Any, path: DocPath, findings: list[Finding]) -> Any:
    try:
        return msgspec.convert(value, target)
    except msgspec.ValidationError as error:
        return _leaf_failure(error, value, path, findings)


def _leaf_failure(error: msgspec.ValidationError, value: Any, path: DocPath, findings: list[Finding]) -> Any:
    text, inner = split_msgspec_path(str(error))
    found = _value_at(value, inner)
    if text.startswith("Expected `"):
        expected = text.removeprefix("Expected `").partition("`")[0]
        message = f"expected {_readable_type(expected)}, found {describe(found)}"
    else:
        message = text[:1].lower() + text[1:]
    findings.append(Finding((*path, *inner), message))
    return INVALID


_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
    "array": "a list",
    "object": "a mapping",
}


def _readable_type(msgspec_type: str) -> str:
    return " or ".join(_TYPE_WORDS.get(part, part) for part in msgspec_type.split(" | "))


def _value_at(value: Any, path: DocPath) -> Any:
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return value
    return value


def _quoted(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else describe(value)


def _struct_label(struct: type[msgspec.Struct]) -> str:
    """ " for kind 'lm'" for a member of a tagged union, "" otherwise."""
    config = struct.__struct_config__
    return f" for {config.tag_field} '{config.tag}'" if isinstance(config.tag, str) else ""
