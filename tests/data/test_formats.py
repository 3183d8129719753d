"""Reading user files: good rows become examples, every bad row is reported with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlngraph.data import DataError, Example
from dlngraph.data.formats import (
    FieldMap,
    read_bbh,
    read_bigbench,
    read_csv,
    read_jsonl,
)
from dlngraph.data.formats.json_positions import element_lines

YES_NO = FieldMap(labels=["Yes", "No"])
BINARY = FieldMap(input_field="text", target_field="label", label_map={"0": "negative", "1": "positive"})


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(read, path: Path) -> str:
    with pytest.raises(DataError) as caught:
        read(path)
    return str(caught.value)


def assert_lines(message: str, file: str, expected: dict[int, str]) -> None:
    """Exactly the `expected` lines are reported, each with its text."""
    reported = {int(line.split(":")[1]): line for line in message.splitlines()}
    assert set(reported) == set(expected), message
    for number, text in expected.items():
        assert reported[number].startswith(f"{file}:{number}:") and text in reported[number], message


# BIG-Bench-Hard JSON

BBH_BAD = """{
  "examples": [
    {"input": "fine", "target": "Yes"},
    {"input": "no target"},
    {"input": "", "target": "No"},
    {"input": "wrong label", "target": "Maybe"},
    "not an object",
    {"input": "also fine", "target": "No"},
    {"target": "No"}
  ]
}
"""


def test_bbh_reads_examples_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, "task.json", json.dumps({"canary": "x", "examples": [{"input": "a", "target": "Yes"}, {"input": "b", "target": 3}]}))
    assert read_bbh(path, role="test") == [Example(input="a", target="Yes", id="test:0"), Example(input="b", target="3", id="test:1")]


def test_bbh_reports_every_bad_row(tmp_path: Path) -> None:
    message = problems(lambda p: read_bbh(p, role="train", fields=YES_NO), write(tmp_path, "bad.json", BBH_BAD))
    assert_lines(message, str(tmp_path / "bad.json"), {
        4: "examples[1].target: missing field 'target'",
        5: "examples[2].input: the input is empty",
        6: "examples[3].target: target 'Maybe' is not one of the labels",
        7: "examples[4]: expected an object",
        9: "examples[6].input: missing field 'input'",
    })


def test_bbh_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.json", '{"examples": [\n  {"input": "a", "target": "b"},\n  {"input": "c" "target": "d"}\n]}\n')
    message = problems(lambda p: read_bbh(p, role="train"), path)
    assert message.startswith(f"{path}:3: invalid JSON")


@pytest.mark.parametrize(("text", "found"), [("[]", "expected a JSON object"), ('{"rows": []}', "no 'examples' field"), ('{"examples": {}}', "found an object")])
def test_bbh_wrong_shape(tmp_path: Path, text: str, found: str) -> None:
    assert found in problems(lambda p: read_bbh(p, role="train"), write(tmp_path, "shape.json", text))


def test_one_line_json_still_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "flat.json", json.dumps({"examples": [{"input": "a", "target": "b"}, {"input": "c"}]}))
    assert problems(lambda p: read_bbh(p, role="train"), path) == f"{path}:1: examples[1].target: missing field 'target' (the target)"


# BIG-bench task.json

BIGBENCH = """{
  "name": "toy",
  "task_prefix": "Answer the question.\\n",
  "examples": [
    {"input": "Is it?", "target_scores": {"yes": 0, "no": 1}},
    {"input": "Gen?", "target": ["first", "second"]},
    {"input": "Pick", "target_scores": {"red": 0, "green": 0, "blue": 1}}
  ]
}
"""


def test_bigbench_becomes_bbh_style(tmp_path: Path) -> None:
    task = read_bigbench(write(tmp_path, "task.json", BIGBENCH), role="train")
    assert task.task_prefix == "Answer the question."
    assert task.examples == [
        Example(input="Is it?\nOptions:\n(A) yes\n(B) no", target="(B)", id="train:0"),
        Example(input="Gen?", target="first", id="train:1"),
        Example(input="Pick\nOptions:\n(A) red\n(B) green\n(C) blue", target="(C)", id="train:2"),
    ]
    words = read_bigbench(tmp_path / "task.json", role="train", choice_style="words")
    assert words.examples[0] == Example(input="Is it?\nOptions:\n- yes\n- no", target="no", id="train:0")


def test_bigbench_reports_every_bad_row(tmp_path: Path) -> None:
    text = """{
  "examples": [
    {"input": "Tie?", "target_scores": {"yes": 1, "no": 1}},
    {"input": "Nothing?"},
    {"input": "  ", "target": "x"},
    {"input": "Fine", "target": "y"},
    {"input": "Empty list?", "target": []},
    {"input": "One option", "target_scores": {"yes": 1}},
    {"input": "Scores", "target_scores": {"yes": "high", "no": 0}}
  ]
}
"""
    path = write(tmp_path, "task.json", text)
    assert_lines(problems(lambda p: read_bigbench(p, role="train"), path), str(path), {
        3: "examples[0].target_scores: no single best option",
        4: "examples[1]: missing field 'target_scores' or 'target'",
        5: "examples[2].input: the input is empty",
        7: "examples[4].target: expected at least one target",
        8: "examples[5].target_scores: expected 2 to 26 options, found 1",
        9: "examples[6].target_scores: expected an object of option -> number",
    })


# JSON Lines

JSONL_BAD = '{"text": "good", "label": 0}\n\n{"text": "bad json",\n{"label": 1}\n{"text": "   ", "label": 1}\n{"text": "odd", "label": 7}\n[1, 2]\n{"text": "fine", "label": "1"}\n{"text": "no label"}\n'


def test_jsonl_reads_rows_with_the_label_map(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.jsonl", '{"text": "a", "label": 0}\n\n{"text": "b", "label": "1"}\n')
    assert read_jsonl(path, role="dev", fields=BINARY) == [
        Example(input="a", target="negative", id="dev:1"),
        Example(input="b", target="positive", id="dev:3"),
    ]


def test_jsonl_reports_every_bad_row(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.jsonl", JSONL_BAD)
    assert_lines(problems(lambda p: read_jsonl(p, role="train", fields=BINARY), path), str(path), {
        3: "invalid JSON",
        4: "text: missing field 'text'",
        5: "text: the input is empty",
        6: "label: label '7' is not in the label map",
        7: "expected a JSON object, found a list",
        9: "label: missing field 'label'",
    })


def test_many_problems_are_counted_beyond_those_shown(tmp_path: Path) -> None:
    path = write(tmp_path, "many.jsonl", '{"text": ""}\n' * 30)
    with pytest.raises(DataError) as caught:
        read_jsonl(path, role="train")
    assert caught.value.total == 60 and len(caught.value.issues) == 20
    assert str(caught.value).endswith("... and 40 more problems not shown")


# CSV

CSV_BAD = 'text,label\ngood,0\n"multi\nline",1\n,1\nodd,7\nshort\n\nfine,1\n"   ",0\n'


def test_csv_reads_rows_quoted_across_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.csv", 'label,text\n0,good\n\n1,"multi\nline, with comma"\n')
    assert read_csv(path, role="train", fields=BINARY) == [
        Example(input="good", target="negative", id="train:2"),
        Example(input="multi\nline, with comma", target="positive", id="train:4"),
    ]


def test_tsv_by_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.tsv", "input\ttarget\nhello, world\tgreeting\n")
    assert read_csv(path, role="train") == [Example(input="hello, world", target="greeting", id="train:2")]


def test_csv_reports_every_bad_row(tmp_path: Path) -> None:
    path = write(tmp_path, "rows.csv", CSV_BAD)
    assert_lines(problems(lambda p: read_csv(p, role="train", fields=BINARY), path), str(path), {
        5: "text: the input is empty",
        6: "label: label '7' is not in the label map",
        7: "the row has 1 value but the header has 2 columns",
        10: "text: the input is empty",
    })


def test_csv_missing_column_or_empty_file(tmp_path: Path) -> None:
    message = problems(lambda p: read_csv(p, role="train", fields=BINARY), write(tmp_path, "cols.csv", "sentence,label\na,0\n"))
    assert message == f"{tmp_path / 'cols.csv'}:1: no column 'text' for the input (the header has 'sentence', 'label')"
    assert "the file is empty" in problems(lambda p: read_csv(p, role="train"), write(tmp_path, "empty.csv", "\n\n"))


# Files themselves


def test_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    assert problems(lambda p: read_jsonl(p, role="train"), tmp_path / "nope.jsonl") == f"{tmp_path / 'nope.jsonl'}: file not found"
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"input": "a", "target": "b"}\n{"input": "caf\xe9", "target": "b"}\n')
    assert problems(lambda p: read_jsonl(p, role="train"), path).startswith(f"{path}:2: not UTF-8 text")


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffinput,target\na,b\n".encode())
    assert read_csv(path, role="train") == [Example(input="a", target="b", id="train:2")]


# Line numbers of JSON array elements

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="ab[]{},:\"\\\n "),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=6,
)


@given(st.lists(st.tuples(json_values, st.integers(0, 2), st.sampled_from(["", " ", "\t"])), max_size=6), st.booleans())
def test_element_lines_finds_where_each_element_starts(elements, indent: bool) -> None:
    text, expected = '{"name": "x [\\"]", "other": [1, {"a": [2]}],\n "examples": [', []
    for index, (value, blank_lines, space) in enumerate(elements):
        text += ("," if index else "") + "\n" * blank_lines + space
        expected.append(text.count("\n") + 1)
        text += json.dumps(value, indent=1 if indent else None)
    text += "\n]}\n"
    assert json.loads(text)["examples"] == [value for value, _, _ in elements]
    assert element_lines(text, "examples") == expected
