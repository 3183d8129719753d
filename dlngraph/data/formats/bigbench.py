"""BIG-bench `task.json` files, turned into BBH-style examples.

A multiple-choice example (`target_scores`: option -> score) becomes, as BIG-Bench-Hard
wrote them, the input followed by `Options:` and one line per option, with the best-scored
option as target: `(A) text` lines and target `(A)` in the "letters" style, or `- text` lines
and the option's own text in the "words" style (BBH's Yes/No tasks). A generative example
(`target`: a string or a list of accepted strings) keeps its input; its first target is the
answer. The task's `task_prefix` is offered as the initial instruction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from dlngraph.data.errors import IssueLog
from dlngraph.data.formats.json_document import convert_examples, read_json_document
from dlngraph.data.formats.records import (
    DEFAULT_FIELDS,
    JSON_MAPPING,
    FieldMap,
    Record,
    to_example,
)
from dlngraph.data.options import LETTERS, ChoiceStyle, letter_target, with_options
from dlngraph.data.types import Example
from dlngraph.spec.convert import describe


class BigBenchTask(msgspec.Struct, frozen=True, kw_only=True):
    examples: list[Example]
    task_prefix: str | None
    """The task's own instruction, when the file has one."""


def read_bigbench(
    path: Path, *, role: str, fields: FieldMap = DEFAULT_FIELDS, choice_style: ChoiceStyle = "letters"
) -> BigBenchTask:
    """Every example of the task file, in file order; ids are `{role}:{index in examples}`."""
    text, document = read_json_document(path)
    append_choices = document.get("append_choices_to_input", True) is not False

    def convert(record: Record, log: IssueLog) -> Example | None:
        values = _bbh_style(record, fields, log, choice_style=choice_style, append_choices=append_choices)
        if values is None:
            return None
        return to_example(msgspec.structs.replace(record, values=values), fields, log)

    examples = convert_examples(path, text, document["examples"], role=role, convert=convert)
    prefix = document.get("task_prefix")
    return BigBenchTask(examples=examples, task_prefix=prefix.strip() if isinstance(prefix, str) and prefix.strip() else None)


def _bbh_style(
    record: Record, fields: FieldMap, log: IssueLog, *, choice_style: ChoiceStyle, append_choices: bool
) -> dict[str, Any] | None:
    """The row's values with the BBH-style input and the single target filled in."""
    values = dict(record.values)
    if "target_scores" in values:
        options = _scored_options(record, log)
        if options is None:
            return None
        best = max(options, key=options.__getitem__)
        text = values.get(fields.input_field)
        if append_choices and isinstance(text, str) and text.strip():
            values[fields.input_field] = with_options(text, list(options), choice_style)
        values[fields.target_field] = _option_target(list(options), best, choice_style, append_choices)
        return values
    if fields.target_field not in values:
        log.add(record.line, record.prefix, f"missing field 'target_scores' or '{fields.target_field}'")
        return None
    targets = values[fields.target_field]
    if isinstance(targets, list):
        if not targets:
            log.add(record.line, record.where(fields.target_field), "expected at least one target, found an empty list")
            return None
        values[fields.target_field] = targets[0]
    return values


def _scored_options(record: Record, log: IssueLog) -> dict[str, float] | None:
    """The option -> score mapping, when well formed: 2 to 26 options, one best score."""
    where = record.where("target_scores")
    scores = record.values["target_scores"]
    if not isinstance(scores, dict) or not all(_is_number(score) for score in scores.values()):
        log.add(record.line, where, f"expected an object of option -> number, found {describe(scores, mapping=JSON_MAPPING)}")
        return None
    if not 2 <= len(scores) <= len(LETTERS):
        log.add(record.line, where, f"expected 2 to {len(LETTERS)} options, found {len(scores)}")
        return None
    if any(not option.strip() for option in scores):
        log.add(record.line, where, "an option is empty")
        return None
    top = max(scores.values())
    if sum(score == top for score in scores.values()) > 1:
        tied = ", ".join(repr(option) for option, score in scores.items() if score == top)
        log.add(record.line, where, f"no single best option: {tied} share the top score {top}")
        return None
    return scores


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _option_target(options: list[str], best: str, style: ChoiceStyle, append_choices: bool) -> str:
    if style == "letters" and append_choices:
        return letter_target(options.index(best))
    return best
