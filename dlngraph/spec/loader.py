"""Loading a network spec: YAML text -> checked `NetworkSpec`, or a `SpecError` listing every issue.

Three stages, each reporting all it finds before the next one runs:
1. YAML syntax (with the line and column PyYAML gives);
2. the schema: unknown or missing fields, wrong types (walked field by field, see `convert`);
3. meaning: references, cycles, reachability, templates, classes, ranges (see `checks`).
Warnings never stop loading; they travel with the result.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from dlngraph.spec.checks import check_spec
from dlngraph.spec.convert import INVALID, convert, describe
from dlngraph.spec.errors import Finding, SpecError, SpecIssue
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.yaml_source import parse_yaml


class LoadedSpec(msgspec.Struct, frozen=True, kw_only=True):
    spec: NetworkSpec
    path: Path
    warnings: list[SpecIssue] = msgspec.field(default_factory=list)


MAX_SPEC_BYTES = 4 << 20
"""A spec is prompts and settings: 4 MB is far beyond any, and the YAML parser (pure Python,
about 1.5 s per MB) would take minutes on a file a thousand times larger."""


def load_spec(path: str | Path) -> LoadedSpec:
    """Read and check the spec file at `path`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError([_file_issue(path, f"the file is {size:,} bytes; a spec is at most {MAX_SPEC_BYTES:,}")])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([_file_issue(path, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError([_file_issue(path, f"cannot read the file: {error}")]) from None
    return load_spec_text(text, filename=str(path))


def load_spec_text(text: str, filename: str = "<string>") -> LoadedSpec:
    """Check spec `text`; `filename` is only used to name the source in issues."""
    document = parse_yaml(text, filename)
    if not isinstance(document.data, dict):
        raise SpecError([document.source_map.place(_not_a_mapping(document.data))])
    findings: list[Finding] = []
    spec = convert(document.data, NetworkSpec, (), findings)
    if spec is INVALID:
        raise SpecError([document.source_map.place(finding) for finding in findings])
    issues = [document.source_map.place(finding) for finding in check_spec(spec)]
    if any(issue.severity == "error" for issue in issues):
        raise SpecError(issues)
    return LoadedSpec(spec=spec, path=Path(filename), warnings=issues)


def _not_a_mapping(data: object) -> Finding:
    found = "an empty document" if data is None else describe(data)
    return Finding((), f"expected a mapping with fields name, models, nodes and output, found {found}")


def _file_issue(path: Path, message: str) -> SpecIssue:
    return SpecIssue(file=str(path), path="", line=0, column=0, message=message)
