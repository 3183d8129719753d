"""The run directory's format: its files, their version, and every record written into them.

    runs/<name>-<timestamp>/
      spec.yaml        the resolved spec the run trains (overrides applied)
      events.jsonl     the start's dev accuracy (`StartRecord`, "kind": "start"), then one
                       `IterationRecord` per iteration (prompts, candidates, scores, usage)
      checkpoint.json  `TrainState` after the last finished iteration (atomic)
      final.yaml       the spec with the best prompts, for `dlngraph eval`
      summary.json     `RunSummary`: accuracies, calls, tokens and wall time of the run
      cache.sqlite     the LLM cache: a resumed or repeated run replays calls from it
      run.lock         held (flock) by the one process training the run

Every JSON record carries `format_version`. A reader checks it before anything else
(`check_version`), so a run written by a newer dlngraph is refused with the file and the
version named, instead of being half understood. Runs written before the version was recorded
have version 1's shape and are read as version 1.

Versions: 1, prompts alone; 2, the demonstrations beside them (`demonstrations` of the state,
the records and the candidates; a version 1 file reads as having none, which is what its run
showed, and resumes so). How the files are written (atomically, under
the lock, never through a link) is `rundir`'s business; this module says what is in them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from dlngraph.spec.nodes import Demonstration

Demonstrations = dict[str, list[Demonstration]]
"""The demonstrations of the nodes that show any (`CompiledNetwork.demonstrating`), by node."""

FORMAT_VERSION = 2
"""The version this code writes, and the newest it reads."""

UNVERSIONED = 1
"""The version of a file without `format_version`: runs written before it was recorded."""

SPEC_FILE = "spec.yaml"
EVENTS_FILE = "events.jsonl"
CHECKPOINT_FILE = "checkpoint.json"
FINAL_SPEC_FILE = "final.yaml"
SUMMARY_FILE = "summary.json"
CACHE_FILE = "cache.sqlite"
LOCK_FILE = "run.lock"


class FormatVersionError(Exception):
    """A run file of a format version this dlngraph does not read (newer, or not a version)."""


def check_version(record: Mapping[str, Any], where: str) -> None:
    """Raise `FormatVersionError` unless `record` (a decoded JSON object) is of a version this
    code reads; `where` names the file (and line) for the message."""
    found = record.get("format_version", UNVERSIONED)
    if isinstance(found, int) and not isinstance(found, bool) and 1 <= found <= FORMAT_VERSION:
        return
    if isinstance(found, int) and not isinstance(found, bool) and found > FORMAT_VERSION:
        raise FormatVersionError(
            f"{where}: run format version {found}, newer than this dlngraph reads (version {FORMAT_VERSION}):"
            " upgrade dlngraph to read or resume this run"
        )
    raise FormatVersionError(
        f"{where}: unknown run format version {found!r} (this dlngraph reads version {FORMAT_VERSION})"
    )


# --- what one training step decides (events.jsonl's `updates` and `hidden`) --------------------


class Candidate(msgspec.Struct, kw_only=True):
    prompt: str
    origin: Literal["current", "proposal", "memory", "demonstrations"]
    """`demonstrations`: the current prompt with a proposed set of demonstrations."""
    demonstrations: list[Demonstration] = msgspec.field(default_factory=list)
    """Shown with `prompt` (none at a node that shows no demonstrations)."""
    elbo: float = 0.0
    penalty: float = 0.0
    """Trust-region KL (scored nodes) or logp penalty (hidden nodes), already weighted."""
    score: float = 0.0
    """`elbo - penalty`: what the ranking maximises."""


class NodeUpdate(msgspec.Struct, kw_only=True):
    node: str
    role: Literal["scored", "hidden"]
    method: str
    candidates: list[Candidate]
    chosen: int
    dropped_proposals: int = 0
    """Proposals with nothing left after cleaning (`clean_proposal`): not candidates."""

    @property
    def prompt(self) -> str:
        return self.candidates[self.chosen].prompt

    @property
    def demonstrations(self) -> list[Demonstration]:
        return self.candidates[self.chosen].demonstrations


class HiddenInference(msgspec.Struct, kw_only=True):
    node: str
    mean_samples: float
    """Posterior samples per example, the current hidden state included."""
    changed: int
    """Examples whose best hidden state h* differs from the forward one."""
    normalized_entropy: float
    """Mean entropy of the sharpening weights / log(#samples): 1 flat, 0 peaked."""


class StepResult(msgspec.Struct, kw_only=True):
    """What a training step returns; the trainer logs it as an `IterationRecord`."""

    iteration: int
    prompts: dict[str, str]
    updates: dict[str, NodeUpdate]
    hidden: dict[str, HiddenInference]
    batch_loss: float
    failed_examples: list[int]
    demonstrations: Demonstrations = msgspec.field(default_factory=dict)
    """The demonstrations after this step (of the nodes that show any)."""
    harvested: Demonstrations = msgspec.field(default_factory=dict)
    """Per node, the demonstrations this step's batch gave (for the pool of later steps)."""


# --- what calls cost (events.jsonl's `usage`) ---------------------------------------------------


class Counts(msgspec.Struct, kw_only=True):
    """The counters of one group of calls (`dlngraph.llm.pool.USAGE_FIELDS`)."""

    calls: int = 0
    cache_hits: int = 0
    deduplicated: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: int = 0
    retries: int = 0


class EndpointCounts(msgspec.Struct, kw_only=True):
    """One replica of an endpoint pool."""

    requests: int = 0
    errors: int = 0
    latency_s: float = 0.0
    taken_out: int = 0


class Usage(msgspec.Struct, kw_only=True):
    """What a stretch of training cost: the change of `ModelPool.usage()` over it. Counters
    missing from an older run read as zero."""

    total: Counts = msgspec.field(default_factory=Counts)
    by_phase: dict[str, Counts] = msgspec.field(default_factory=dict)
    by_node: dict[str, Counts] = msgspec.field(default_factory=dict)
    by_model: dict[str, Counts] = msgspec.field(default_factory=dict)
    by_endpoint: dict[str, EndpointCounts] | msgspec.UnsetType = msgspec.UNSET
    """Only with endpoint pools (absent from the file otherwise)."""
    in_flight: int = 0
    max_in_flight: int = 0


# --- events.jsonl -------------------------------------------------------------------------------


class StartRecord(msgspec.Struct, kw_only=True, tag="start", tag_field="kind"):
    """The first line of events.jsonl: the initial prompts' dev accuracy, before any step."""

    format_version: int = FORMAT_VERSION
    prompts: dict[str, str]
    dev_accuracy: float
    demonstrations: Demonstrations = msgspec.field(default_factory=dict)
    usage: Usage | None = None
    """None when the trainer had no usage probe."""
    elapsed_s: float = 0.0


class Shortlisted(msgspec.Struct, kw_only=True):
    """One network of a step validated on dev (`dln/shortlist.py`)."""

    choices: dict[str, int]
    """Each trained node's candidate, by its index in the step's `NodeUpdate.candidates`; empty
    for the network before the step (validated before, it competes for free)."""
    dev_accuracy: float
    kept: bool = False
    """Whether training went on from it: the best on dev (the earliest of equals)."""


class IterationRecord(msgspec.Struct, kw_only=True):
    """One line of events.jsonl per training step. Every field but `iteration` has a default,
    so that lines from older versions still read."""

    format_version: int = FORMAT_VERSION
    iteration: int
    """Zero-based: `iteration` 0 is the log of the first training step."""
    prompts: dict[str, str] = msgspec.field(default_factory=dict)
    """The prompts after this step."""
    demonstrations: Demonstrations = msgspec.field(default_factory=dict)
    """The demonstrations after this step (of the nodes that show any)."""
    batch_loss: float | None = None
    dev_accuracy: float | None = None
    """None when this step was not followed by a validation (`val_freq`)."""
    best_dev_accuracy: float | None = None
    updates: dict[str, NodeUpdate] = msgspec.field(default_factory=dict)
    hidden: dict[str, HiddenInference] = msgspec.field(default_factory=dict)
    failed_examples: list[int] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    """What this step cost; None when the trainer had no usage probe."""
    elapsed_s: float = 0.0
    shortlist: list[Shortlisted] = msgspec.field(default_factory=list)
    """The networks of this step validated on dev (`validate_top` > 1), the step's choice
    first; empty when only the choice was (then `prompts` are the choice's)."""

    @property
    def steps_done(self) -> int:
        """The x coordinate of curves: how many training steps had run when this was logged."""
        return self.iteration + 1


Event = StartRecord | IterationRecord


def event_of(record: Mapping[str, Any], where: str) -> Event:
    """A decoded line of events.jsonl as its record; raises `FormatVersionError`, or
    `msgspec.ValidationError` for a line of another shape."""
    if not isinstance(record, Mapping):
        raise msgspec.ValidationError(f"expected a JSON object, got {type(record).__name__}")
    check_version(record, where)
    kind = StartRecord if record.get("kind") == "start" else IterationRecord
    return msgspec.convert(record, kind)


# --- checkpoint.json ----------------------------------------------------------------------------


class Remembered(msgspec.Struct, kw_only=True):
    prompts: dict[str, str]
    dev_accuracy: float
    demonstrations: Demonstrations = msgspec.field(default_factory=dict)


class Spent(msgspec.Struct, kw_only=True):
    """What a run has cost so far, over all its sessions (a resumed run adds to it)."""

    calls: int = 0
    """Calls the run made, as events.jsonl counts them: cache hits and calls that joined an
    identical call in flight included."""
    requests: int = 0
    """HTTP (or embedded-model) requests sent: calls not answered by the cache or a joined
    call, once per attempt, so retries included."""
    retries: int = 0
    """Attempts repeated after a transient failure, or after the server refused a setting the
    backend then lowered (the top-logprobs cap: once per backend); counted in `requests` too."""
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_time_s: float = 0.0

    @classmethod
    def of(cls, usage: Mapping[str, Any], wall_time_s: float = 0.0) -> Spent:
        """The totals of a model pool's cumulative usage (`ModelPool.usage()`)."""
        totals = usage.get("total", {})
        return cls(
            calls=int(totals.get("calls", 0)),
            requests=int(totals.get("requests", 0)),
            retries=int(totals.get("retries", 0)),
            cache_hits=int(totals.get("cache_hits", 0)),
            prompt_tokens=int(totals.get("prompt_tokens", 0)),
            completion_tokens=int(totals.get("completion_tokens", 0)),
            wall_time_s=wall_time_s,
        )

    def plus(self, other: Spent) -> Spent:
        return Spent(**{name: getattr(self, name) + getattr(other, name) for name in self.__struct_fields__})

    def minus(self, other: Spent) -> Spent:
        return Spent(**{name: getattr(self, name) - getattr(other, name) for name in self.__struct_fields__})


class TrainState(msgspec.Struct, kw_only=True):
    """checkpoint.json: exactly what the trainer needs to continue a run as if it had never
    stopped. Batches and random choices are re-derived from the seed and the iteration, so no
    generator state needs saving."""

    format_version: int = FORMAT_VERSION
    iteration: int = 0
    """The next iteration to run."""
    prompts: dict[str, str]
    best_prompts: dict[str, str]
    demonstrations: Demonstrations = msgspec.field(default_factory=dict)
    """The current demonstrations of the nodes that show any; a version 1 checkpoint has
    none, and its run showed the spec's own (`CompiledNetwork.with_demonstrations` of an
    empty mapping changes nothing)."""
    best_demonstrations: Demonstrations = msgspec.field(default_factory=dict)
    demonstration_pool: Demonstrations = msgspec.field(default_factory=dict)
    """Per node, the demonstrations harvested from earlier steps, newest first, from which a step
    draws candidate sets (never one of its own batch's examples)."""
    best_dev_accuracy: float | None = None
    best_iteration: int = -1
    """Training steps taken when the best prompts were validated: 0 for the initial prompts,
    -1 before any validation."""
    stale_validations: int = 0
    """Validations since the best dev accuracy improved (for `tolerance` and `early_stop`)."""
    reloads: int = 0
    """Times the best prompts were loaded back (`tolerance`)."""
    memory: list[Remembered] = msgspec.field(default_factory=list)
    dev_scores: dict[str, float] = msgspec.field(default_factory=dict)
    """Dev accuracy per prompt set with its demonstrations (`prompt_key`): validated once."""
    dev_losses: dict[str, list[float]] = msgspec.field(default_factory=dict)
    """Per prompt set, its loss on each dev example, for the paired test of `selection_z` (absent
    from a checkpoint written before it: such a set then wins by accuracy alone)."""
    stopped: Literal["running", "completed", "early_stop", "budget"] = "running"
    spent: Spent = msgspec.field(default_factory=Spent)
    """The run's cost through this checkpoint; work after it is redone (mostly from the cache)."""

    def remember(self, prompts: dict[str, str], dev_accuracy: float, size: int,
                 demonstrations: Demonstrations | None = None) -> None:
        """Keep the `size` best prompt sets (with their demonstrations) by dev accuracy (`use_memory`)."""
        if size <= 0:
            return
        demonstrations = dict(demonstrations or {})
        if all((entry.prompts, entry.demonstrations) != (prompts, demonstrations) for entry in self.memory):
            self.memory.append(Remembered(prompts=dict(prompts), dev_accuracy=dev_accuracy, demonstrations=demonstrations))
        self.memory.sort(key=lambda entry: entry.dev_accuracy, reverse=True)
        del self.memory[size:]

    def memory_by_node(self) -> dict[str, list[str]]:
        by_node: dict[str, list[str]] = {}
        for entry in self.memory:
            for node, prompt in entry.prompts.items():
                by_node.setdefault(node, []).append(prompt)
        return by_node


def prompt_key(prompts: dict[str, str], demonstrations: Demonstrations | None = None) -> str:
    """The key of a prompt set, with its demonstrations, in `TrainState.dev_scores`. Without
    any demonstration it is the key of version 1, so a resumed version 1 run finds its scores."""
    key: object = prompts
    if demonstrations and any(demonstrations.values()):
        key = {"prompts": prompts, "demonstrations": msgspec.to_builtins(demonstrations)}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


# --- summary.json -------------------------------------------------------------------------------


class RunSummary(msgspec.Struct, kw_only=True):
    """summary.json: what a run achieved and what it cost."""

    format_version: int = FORMAT_VERSION
    name: str
    run_dir: str
    stopped: str
    iterations_run: int
    initial_dev_accuracy: float | None
    best_dev_accuracy: float | None
    best_iteration: int
    test_accuracy: float | None
    best_prompts: dict[str, str]
    calls: int
    """Calls made (cache hits included), as events.jsonl counts them; before `requests` was
    recorded, this field held the requests."""
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    wall_time_s: float
    requests: int | None = None
    """Requests sent to model servers, retries included (None in runs made before it was)."""
    retries: int | None = None
    best_demonstrations: Demonstrations = msgspec.field(default_factory=dict)
    """Shown with the best prompts (of the nodes that show any)."""


# --- reading the JSON files (`RunDirectory.write_json` writes them) ----------------------------

Record = TypeVar("Record", TrainState, RunSummary)


def check_file_version(path: Path) -> None:
    """`check_version` of a JSON file; a file that is no JSON object passes (its reader says
    it is damaged)."""
    try:
        header = msgspec.json.decode(path.read_bytes())
    except msgspec.DecodeError:
        return
    if isinstance(header, dict):
        check_version(header, str(path))


def decode_file(path: Path, data: bytes, kind: type[Record]) -> Record:
    """checkpoint.json (`TrainState`) or summary.json (`RunSummary`) read from `path`: raises
    `FormatVersionError` first, then `msgspec.DecodeError` for a damaged file."""
    header = msgspec.json.decode(data)
    if isinstance(header, dict):
        check_version(header, str(path))
    return msgspec.convert(header, kind)


def decode_checkpoint(path: Path) -> TrainState:
    return decode_file(path, path.read_bytes(), TrainState)


def decode_summary(path: Path) -> RunSummary:
    return decode_file(path, path.read_bytes(), RunSummary)
