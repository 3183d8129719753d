"""Bad input: shipped specs mutated at random (hypothesis) and files built to hurt (YAML bombs,
deep nesting, huge, binary, non-UTF-8, a BOM, empty, cycles, duplicate ids) each end in an error
naming the file, and the field or line: exit code 1, no traceback, no run directory, in bounded
time and memory."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlngraph.spec import SpecError, load_spec_text
from tests.reliability.cli import COMMAND, ROOT, SPECS
from tests.reliability.mutations import mutate

SHIPPED = sorted(path for path in SPECS.rglob("*.yaml"))
NASTY = ["", "\n", ":", "- ", "&a ", "*a", "*b", "{", "}", "[", "]", "!!python/object:os.system", "\t", "'", '"', "#",
         "~", "null", "-1", "1e999", "0x10", "true", "\x00", "\ufeff", "{{ input.__class__ }}", "<<: *a", "? ", "|", ">"]


@st.composite
def mutated_spec(draw: st.DrawFn) -> str:
    """A shipped spec with a few edits: spans cut, nasty tokens put in, lines doubled."""
    text = draw(st.sampled_from(SHIPPED)).read_text()
    return mutate(draw, text, st.sampled_from(NASTY) | st.text(max_size=8), span=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_spec())
def test_a_mutated_spec_loads_or_is_refused_with_placed_issues(text: str) -> None:
    try:
        load_spec_text(text, "mutated.yaml")
    except SpecError as error:
        assert error.issues and all(issue.file == "mutated.yaml" for issue in error.issues)
        assert all(issue.message for issue in error.issues)


def bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def with_nodes(extra: str) -> str:
    return (SPECS / "dln2.yaml").read_text().replace("output: answer", extra)


BAD_FILES: dict[str, tuple[bytes, str]] = {
    "billion laughs": (bomb().encode(), "aliases expand to over"),
    "deep nesting": (b"name: " + b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "deep mappings": (b"name: x\nmodels: " + b"{a: " * 5000 + b"1" + b"}" * 5000, "nested too deeply"),
    "huge": (b"name: dln1\ndescription: " + b"x" * 30_000_000 + b"\n", "a spec is at most 4,194,304"),
    "large": (b"name: dln1\ndescription: " + b"x" * 1_000_000 + b"\n", "missing required field"),
    "binary": (bytes(range(256)) * 40, "cannot read the file"),
    "non-UTF-8": ("name: caf\u00e9\n".encode("latin-1"), "cannot read the file"),
    "BOM": (b"\xef\xbb\xbf" + (SPECS / "dln1.yaml").read_bytes().replace(b"name: dln1", b"name: dln1\nnme: typo"), "nme"),
    "empty": (b"", "found an empty document"),
    "syntax error": ((SPECS / "dln1.yaml").read_bytes().replace(b"nodes:", b"nodes: [", 1), "invalid YAML"),
    "cycle": (with_nodes("output: answer").replace("inputs: [reason]", "inputs: [answer]").encode(), "answer"),
    "duplicate id": ((SPECS / "dln2.yaml").read_bytes().replace(b"id: reason", b"id: answer"), "duplicate node id 'answer'"),
    "python tag": (b"name: !!python/object/apply:os.system [id]\n", "could not determine a constructor for the tag"),
}


def limited() -> None:
    """At most 2 GB of memory for the child: a YAML bomb must fail, not swap."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_file_built_to_hurt_is_a_clear_error_in_bounded_time_and_memory(name: str, tmp_path: Path) -> None:
    content, expected = BAD_FILES[name]
    spec = tmp_path / "bad.yaml"
    spec.write_bytes(content)
    runs = tmp_path / "runs"
    for command in (("validate", str(spec)), ("train", str(spec), "--runs", str(runs), "--progress", "quiet")):
        result = subprocess.run([*COMMAND, *command], capture_output=True, text=True, cwd=ROOT, timeout=120,
                                preexec_fn=limited, env=os.environ.copy())
        said = result.stdout + result.stderr
        assert result.returncode == 1, said
        assert said.removeprefix("error: ").startswith(str(spec)) and expected in said, said[:2000]
        assert "Traceback" not in said and "internal error" not in said
    assert not runs.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize(("arguments", "expected"), [
    (("--set", "iterations=-1"), "training.iterations: expected a value >= 0"),
    (("--set", "iterations=[1, 2]"), "training.iterations: expected an integer"),
    (("--set", "seed=1e999"), "training.seed"),
    (("--set", "=3"), "--set"),
    (("--set", "batch_size"), "--set"),
    (("--budget", "calls=1.5"), "expected calls=N or tokens=N"),
])
def test_bad_command_line_values_are_named_and_write_nothing(arguments: tuple[str, ...], expected: str, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = subprocess.run([*COMMAND, "train", str(SPECS / "dln1.yaml"), "--runs", str(runs), "--progress", "quiet", *arguments],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode != 0
    assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not runs.exists()
