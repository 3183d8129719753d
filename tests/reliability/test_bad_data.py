"""Bad data files: the files a `data: {source: files}` spec reads (BBH JSON, BIG-bench task.json,
JSON Lines, CSV), mutated at random (hypothesis) and built to hurt (binary, non-UTF-8, BOMs,
empty, deep nesting, huge), each load or end in an error naming the file and the line or field.
Through `dlngraph train` and `train --dry-run` (the commands that read data; `validate` checks
the spec alone): exit code 1, no traceback, no run directory, in bounded time and memory."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlngraph.data import DataError, load_dataset
from dlngraph.spec.data import FileData
from tests.reliability.cli import COMMAND, ROOT, SPECS
from tests.reliability.mutations import mutate
from tests.reliability.test_bad_input import limited

ROWS = [("Take 2 steps. Turn around. Take 2 steps.", "Yes"), ("Take 1 step.\nTake 3 steps.", "No"),
        ("Say \"hi\", then turn left.", "No"), ("Always face forward; take 4 steps back.", "Yes")]

GOOD: dict[str, bytes] = {
    "bbh": json.dumps({"examples": [{"input": text, "target": target} for text, target in ROWS]}, indent=2).encode(),
    "bigbench": json.dumps({"task_prefix": "Navigate.", "examples": [
        {"input": text, "target_scores": {"Yes": int(target == "Yes"), "No": int(target == "No")}} for text, target in ROWS[:2]
    ] + [{"input": text, "target": [target, target.lower()]} for text, target in ROWS[2:]]}, indent=1).encode(),
    "jsonl": b"".join(json.dumps({"input": text, "target": target}).encode() + b"\n" for text, target in ROWS),
    "csv": b"input,target\n" + b"".join(f'"{text.replace(chr(34), 2 * chr(34))}",{target}\n'.encode() for text, target in ROWS),
}
SUFFIX = {"bbh": ".json", "bigbench": ".json", "jsonl": ".jsonl", "csv": ".csv"}
NASTY = [b"", b"\n", b"\r\n", b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\xfe\xff", b'"', b"'", b",", b":", b"{", b"}",
         b"[", b"]", b"null", b"true", b"1e999", b"NaN", b"-1", b"[]", b"{}", b'"input"', b'"target"', b'"examples"',
         b'"target_scores"', b"\\", b"\\u", b"\t", b"{{ input.__class__ }}"]
WHOLE_FILE = ("the file holds no examples", "file is empty")
"""Problems of a whole file, which have no line or field to name."""


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A good file of some format with a few byte-level edits: spans cut, doubled or replaced."""
    format = draw(st.sampled_from(sorted(GOOD)))
    return format, mutate(draw, GOOD[format], st.sampled_from(NASTY) | st.binary(max_size=6), span=30)


def assert_loads_or_names_the_place(format: str, path: Path) -> None:
    """The file loads, or every issue names it and a line or field (or is about the whole file)."""
    try:
        load_dataset(FileData(format=format, train=str(path), dev=str(path)), base_dir=path.parent, seed=0)
    except DataError as error:
        assert error.issues
        for issue in error.issues:
            assert issue.file == str(path) and issue.message, issue
            assert issue.line >= 1 or issue.where or issue.message.startswith(WHOLE_FILE), issue


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutated())
def test_a_mutated_data_file_loads_or_is_refused_naming_file_and_line_or_field(tmp_path: Path, case: tuple[str, bytes]) -> None:
    format, content = case
    path = tmp_path / f"train{SUFFIX[format]}"
    path.write_bytes(content)
    assert_loads_or_names_the_place(format, path)


def deep(format: str) -> bytes:
    nested = b"[" * 100_000 + b"]" * 100_000
    if format == "csv":
        return b"input,target\n" + nested + b",Yes\n"
    row = b'{"input": ' + nested + b', "target": "Yes"}'
    return row + b"\n" if format == "jsonl" else b'{"examples": [' + row + b"]}"


def huge(format: str) -> bytes:
    """About 4 MB of good rows, then one bad row: the error still names its line."""
    good = GOOD[format]
    if format in ("bbh", "bigbench"):
        rows = json.loads(good)["examples"]
        return json.dumps({"examples": rows * 8_000 + [{"input": 5, "target": "Yes"}]}, indent=0).encode()
    body = good.split(b"\n", 1)[1] if format == "csv" else good
    bad = b'"",Yes\n' if format == "csv" else b'{"input": 5, "target": "Yes"}\n'
    return good + body * 20_000 + bad


BAD: dict[str, tuple[object, str]] = {
    # name: (content, or a function of the format giving it; what the error says)
    "empty": (b"", ""),
    "blank lines": (b"\n\n  \n", ""),
    "binary": (bytes(range(256)) * 40, "not UTF-8 text"),
    "non-UTF-8": (lambda format: GOOD[format].replace(b"Turn", "T\u00fcrn".encode("latin-1")), "not UTF-8 text"),
    "UTF-16 with BOM": (lambda format: GOOD[format].decode().encode("utf-16"), "not UTF-8 text"),
    "UTF-8 BOM": (lambda format: b"\xef\xbb\xbf" + GOOD[format].replace(b'"input"', b'"inptu"', 1).replace(b"input,", b"inptu,"), "input"),
    "syntax error": (lambda format: GOOD[format].replace(b"}", b"", 1).replace(b"input,target\n", b'input,target\n"open,'), ":"),
    "wrong types": (lambda format: GOOD[format].replace(b'"input": "', b'"input": 7, "x": "', 1)
                    .replace(b'"Take 1 step.\nTake 3 steps."', b'""'), "input: "),
    "unknown fields": (lambda format: GOOD[format].replace(b'"input"', b'"question"').replace(b"input,", b"question,"), "input"),
    "deep nesting": (deep, "nested too deeply"),  # a CSV has no nesting: 200 kB in one value is too large
    "huge": (huge, "input: "),
}


def expected(name: str, format: str) -> str:
    return "field larger than field limit" if (name, format) == ("deep nesting", "csv") else BAD[name][1]


def bad_content(name: str, format: str) -> bytes:
    content, _ = BAD[name]
    return content(format) if callable(content) else content  # type: ignore[operator]


@pytest.mark.parametrize("format", sorted(GOOD))
@pytest.mark.parametrize("name", BAD)
def test_a_data_file_built_to_hurt_is_refused_naming_file_and_place(name: str, format: str, tmp_path: Path) -> None:
    path = tmp_path / f"train{SUFFIX[format]}"
    path.write_bytes(bad_content(name, format))
    with pytest.raises(DataError) as raised:
        load_dataset(FileData(format=format, train=str(path)), base_dir=tmp_path, seed=0)
    assert expected(name, format) in str(raised.value) and str(raised.value).startswith(str(path)), str(raised.value)[:2000]
    assert_loads_or_names_the_place(format, path)


def files_spec(folder: Path, format: str) -> Path:
    text = (SPECS / "dln1.yaml").read_text()
    text = text[: text.index("data:\n  source: generated")]
    spec = folder / "spec.yaml"
    spec.write_text(text + f"data:\n  source: files\n  format: {format}\n  train: data/train{SUFFIX[format]}\n")
    return spec


@pytest.mark.parametrize(("name", "format"), [
    ("binary", "bbh"), ("deep nesting", "bigbench"), ("syntax error", "jsonl"), ("huge", "csv"),
])
def test_a_bad_data_file_stops_train_and_dry_run_clearly_leaving_nothing(name: str, format: str, tmp_path: Path) -> None:
    spec = files_spec(tmp_path, format)
    (tmp_path / "data").mkdir()
    data = tmp_path / "data" / f"train{SUFFIX[format]}"
    data.write_bytes(bad_content(name, format))
    runs = tmp_path / "runs"
    for command in (("train", str(spec), "--dry-run"), ("train", str(spec), "--runs", str(runs), "--progress", "quiet")):
        result = subprocess.run([*COMMAND, *command], capture_output=True, text=True, cwd=ROOT, timeout=120, preexec_fn=limited)
        said = result.stdout + result.stderr
        assert result.returncode == 1, said
        assert said.startswith(f"error: {data}") and expected(name, format) in said, said[:2000]
        assert "Traceback" not in said and "internal error" not in said
    assert not runs.exists()
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["data", "spec.yaml", data.name]
