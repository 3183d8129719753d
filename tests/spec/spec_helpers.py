"""Small helpers shared by the spec tests: write a spec to a real file and load it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dlngraph.spec import LoadedSpec, SpecError, SpecIssue, load_spec

SPECS_DIR = Path(__file__).resolve().parents[2] / "specs"
SHIPPED_SPECS = sorted(SPECS_DIR.glob("*.yaml"))


def write(tmp_path: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> LoadedSpec:
    return load_spec(write(tmp_path, text))


def issues(tmp_path: Path, text: str) -> list[SpecIssue]:
    """The issues of a spec that must fail to load."""
    with pytest.raises(SpecError) as raised:
        load(tmp_path, text)
    return raised.value.issues


def only_error(tmp_path: Path, text: str) -> SpecIssue:
    errors = [issue for issue in issues(tmp_path, text) if issue.severity == "error"]
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]
