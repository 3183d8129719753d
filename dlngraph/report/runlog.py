"""A run directory read back as typed data: what every report and comparison starts from.

    run = read_run(Path("runs/dln2-20250101-120000"))
    run.iterations[-1].prompts, run.summary.test_accuracy if run.summary else None

A run directory may be caught at any moment of its life: still training (no summary.json, no
final.yaml), killed mid-line (the last line of events.jsonl cut short), or written by an older
version (fields missing). Reading never fails on any of these: it keeps what it can read and
lists what it could not in `RunLog.problems`, so that a report can say so instead of crashing.
Only a run of a format version this code does not know is refused (`FormatVersionError`): what
it holds cannot be told apart from damage. The records are `dlngraph.dln.run_format`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import msgspec

from dlngraph.dln.run_format import Demonstrations, IterationRecord, RunSummary, StartRecord, Usage, decode_summary
from dlngraph.dln.rundir import RunDirectory
from dlngraph.graph import CompiledNetwork, compile_network
from dlngraph.report.usage import summed
from dlngraph.spec import NetworkSpec, SpecError, load_spec


class NotARunDirectory(Exception):
    """The path holds neither a spec.yaml nor an events.jsonl: nothing to report on."""


@dataclass(frozen=True)
class RunLog:
    """Everything a run directory says about its run."""

    path: Path
    spec: NetworkSpec | None
    """The spec the run trained (spec.yaml), None if missing or unreadable."""
    start: StartRecord | None
    """The initial prompts' dev accuracy (the first line of events.jsonl), if it was measured."""
    iterations: list[IterationRecord]
    summary: RunSummary | None
    """summary.json, written only when a run ends: None while it runs or after a crash."""
    problems: list[str] = field(default_factory=list)
    """What could not be read, in words for the reader of a report."""

    @property
    def name(self) -> str:
        """The run directory's name (`<spec name>-<timestamp>`): unique among runs of one root."""
        return self.path.name

    @cached_property
    def network(self) -> CompiledNetwork | None:
        """The compiled spec, for drawing the graph (None without a readable spec)."""
        return compile_network(self.spec) if self.spec is not None else None

    @property
    def initial_prompts(self) -> dict[str, str]:
        """The prompts before training, as spec.yaml declares them."""
        return self.network.prompts() if self.network is not None else {}

    @property
    def initial_demonstrations(self) -> Demonstrations:
        """The demonstrations before training, as spec.yaml declares them."""
        return self.network.demonstrations() if self.network is not None else {}

    @property
    def demonstrations(self) -> Demonstrations:
        """What the run shows with its prompts: the best prompts' demonstrations once it has
        ended (summary.json), the last logged step's while it goes; only nodes with some."""
        if self.summary is not None:
            found = self.summary.best_demonstrations
        else:
            found = self.iterations[-1].demonstrations if self.iterations else self.initial_demonstrations
        return {node: shown for node, shown in found.items() if shown}

    @property
    def nodes(self) -> list[str]:
        """The lm nodes of the run: in the spec's order, then any only the log names."""
        ordered = list(self.network.lm_nodes) if self.network is not None else []
        for iteration in self.iterations:
            ordered += [node for node in [*iteration.prompts, *iteration.updates] if node not in ordered]
        return ordered

    @property
    def initial_dev_accuracy(self) -> float | None:
        """Dev accuracy of the initial prompts: from the log's start record, so a run still
        going has it too; else from summary.json."""
        if self.start is not None:
            return self.start.dev_accuracy
        return self.summary.initial_dev_accuracy if self.summary is not None else None

    @cached_property
    def usage(self) -> Usage | None:
        """What the logged validation of the start and iterations cost together (see
        `report.usage`); None if no record carries a usage (logged without a usage probe).
        The final test is not in the log: summary.json counts it."""
        logged = [self.start] if self.start is not None else []
        usages = [record.usage for record in [*logged, *self.iterations] if record.usage is not None]
        return summed(usages) if usages else None


def read_run(path: Path) -> RunLog:
    """Read the run directory at `path`; raises `NotARunDirectory` if it is not one, and
    `FormatVersionError` for a file of a format version this code does not read."""
    run = RunDirectory(Path(path))
    if not run.spec_path.exists() and not run.events_path.exists():
        raise NotARunDirectory(f"{path}: not a run directory (no spec.yaml and no events.jsonl)")
    problems: list[str] = []
    start, iterations = _read_events(run, problems)
    return RunLog(
        path=run.path,
        spec=_read_spec(run, problems),
        start=start,
        iterations=iterations,
        summary=_read_summary(run, problems),
        problems=problems,
    )


def _read_spec(run: RunDirectory, problems: list[str]) -> NetworkSpec | None:
    if not run.spec_path.exists():
        problems.append("spec.yaml is missing: the network cannot be drawn")
        return None
    try:
        return load_spec(run.spec_path).spec
    except SpecError as error:
        problems.append(f"spec.yaml cannot be read: {error}")
        return None


def _read_events(run: RunDirectory, problems: list[str]) -> tuple[StartRecord | None, list[IterationRecord]]:
    """The start record and every readable iteration of events.jsonl; a line of an unexpected
    shape is skipped, not fatal."""
    log = run.read_events()
    problems += [f"events.jsonl line {number} skipped: {why}" for number, why in log.skipped.items()]
    if not log.iterations:
        problems.append("no iteration is logged yet (events.jsonl is missing or empty)")
    return log.start, log.iterations


def _read_summary(run: RunDirectory, problems: list[str]) -> RunSummary | None:
    if not run.summary_path.exists():
        problems.append("summary.json is missing: the run is still going, or stopped before its end")
        return None
    try:
        return decode_summary(run.summary_path)
    except msgspec.DecodeError as error:  # ValidationError is a DecodeError too
        problems.append(f"summary.json cannot be read: {error}")
        return None
