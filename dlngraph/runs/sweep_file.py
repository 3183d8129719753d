"""The sweep file: one spec, the overrides to try on it, the seeds, and the metric to rank by.

    spec: ../specs/dln1.yaml           # relative to this file
    grid:                              # every combination of these values...
      batch_size: [4, 8]
      data.sizes.train: [20, 40]
    variants:                          # ...with each of these sets of overrides (default: none)
      - {}
      - {num_p_samples: 4, models.fast.sampling.temperature: 0.7}
    seeds: [1, 2, 3]                   # ...for each seed (default: the spec's own)
    metric: best_dev_accuracy          # or test_accuracy, initial_dev_accuracy

FIELDs are those of `--set` (`dlngraph.runs.overrides`). Every value is tried on the spec when
the file is read, so a bad one is reported with this file's line, like a spec error, before
any run starts. A run's id is made from its overrides alone, so that re-reading an edited sweep
file finds the runs it still names under the same folders.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path
from typing import Any, Literal

import msgspec

from dlngraph.runs.overrides import OverrideError, apply_overrides, field_path, format_assignment
from dlngraph.spec import load_spec
from dlngraph.spec.convert import INVALID, convert
from dlngraph.spec.errors import Finding, SpecError, SpecIssue
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.paths import DocPath
from dlngraph.spec.yaml_source import parse_yaml

Metric = Literal["best_dev_accuracy", "test_accuracy", "initial_dev_accuracy"]

MAX_ID_LENGTH = 100
"""Longer ids are cut and end with a hash of the whole, so that they stay unique."""


class SweepFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    spec: str
    grid: dict[str, list[Any]] = msgspec.field(default_factory=dict)
    variants: list[dict[str, Any]] = msgspec.field(default_factory=list)
    seeds: list[int] = msgspec.field(default_factory=list)
    metric: Metric = "best_dev_accuracy"


class SweepRun(msgspec.Struct, frozen=True, kw_only=True):
    """One combination: its id (the folder name of its run directory) and its `--set` overrides."""

    id: str
    overrides: list[str]


class Sweep(msgspec.Struct, kw_only=True):
    """A checked sweep file: the spec it sweeps and every run it asks for, in order."""

    path: Path
    spec_path: Path
    spec: NetworkSpec
    runs: list[SweepRun]
    metric: Metric


def load_sweep(path: Path) -> Sweep:
    """Read and check the sweep file at `path`; raise `SpecError` naming its file, field and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError([SpecIssue(file=str(path), path="", line=0, column=0, message=f"cannot read the file: {error}")]) from None
    document = parse_yaml(text, str(path))
    places = document.source_map
    findings: list[Finding] = []
    if not isinstance(document.data, dict):
        raise SpecError([places.place(Finding((), "expected a mapping with fields spec, grid, variants, seeds, metric"))])
    sweep = convert(document.data, SweepFile, (), findings)
    if sweep is INVALID:
        raise SpecError([places.place(finding) for finding in findings])
    spec_path = Path(path).parent / sweep.spec
    if not spec_path.is_file():
        raise SpecError([places.place(Finding(("spec",), f"no spec file at {spec_path}"))])
    spec = load_spec(spec_path).spec
    findings = _check_values(sweep, spec)
    runs: list[SweepRun] = []
    if not findings:
        runs, findings = _combinations(sweep, spec)
    if findings:
        raise SpecError([places.place(finding) for finding in findings])
    return Sweep(path=Path(path), spec_path=spec_path, spec=spec, runs=runs, metric=sweep.metric)


def _check_values(sweep: SweepFile, spec: NetworkSpec) -> list[Finding]:
    """Each field and value tried alone on the spec, where the file gives it."""
    findings: list[Finding] = []
    entries: list[tuple[DocPath, str, Any]] = []
    for field, values in sweep.grid.items():
        if not values:
            findings.append(Finding(("grid", field), "expected at least one value"))
        entries.extend((("grid", field, index), field, value) for index, value in enumerate(values))
    for number, variant in enumerate(sweep.variants):
        entries.extend((("variants", number, field), field, value) for field, value in variant.items())
    for place, field, value in entries:
        try:
            if field_path(field)[-1] == "seed" and sweep.seeds and field_path(field)[0] == "training":
                raise OverrideError("the seed is swept by `seeds`; give it there")
            apply_overrides(spec, [format_assignment(field, value)])
        except OverrideError as error:
            findings.append(Finding(place, str(error).removeprefix("--set").lstrip(": "), key=place[0] == "variants"))
    return findings


def _combinations(sweep: SweepFile, spec: NetworkSpec) -> tuple[list[SweepRun], list[Finding]]:
    """Variants x grid x seeds, each checked as a whole (some checks join fields)."""
    fields = list(sweep.grid)
    grid = [dict(zip(fields, values, strict=True)) for values in itertools.product(*sweep.grid.values())]
    seeds: list[int | None] = list(sweep.seeds) or [None]
    runs: list[SweepRun] = []
    findings: list[Finding] = []
    seen: dict[str, int] = {}
    for number, variant in enumerate(sweep.variants or [{}]):
        for point, seed in itertools.product(grid, seeds):
            settings = {**variant, **point} | ({} if seed is None else {"seed": seed})
            overrides = [format_assignment(field, value) for field, value in settings.items()]
            place: DocPath = ("variants", number) if sweep.variants else ("grid",)
            try:
                apply_overrides(spec, overrides)
            except OverrideError as error:
                findings.append(Finding(place, f"the run {' '.join(overrides) or '(no overrides)'}: {error}"))
                continue
            run = SweepRun(id=run_id(overrides), overrides=overrides)
            if run.id in seen:
                findings.append(Finding(place, f"the run {run.id} is asked for twice"))
                continue
            seen[run.id] = number
            runs.append(run)
    return runs, findings


def run_id(overrides: list[str]) -> str:
    """A folder name for a run with these overrides: readable, and the same whenever asked."""
    if not overrides:
        return "base"
    text = re.sub(r"[^A-Za-z0-9._=,+-]+", "_", ",".join(overrides))
    if len(text) <= MAX_ID_LENGTH:
        return text
    digest = hashlib.sha256(",".join(overrides).encode()).hexdigest()[:10]
    return f"{text[:MAX_ID_LENGTH - 11]}-{digest}"

