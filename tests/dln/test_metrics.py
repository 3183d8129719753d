"""Any metric: built-in losses after answer extraction, Python metrics named in the spec, their
errors, and a free-text word-problem task trained end to end on the scripted server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest

from dlngraph.data import load_dataset
from dlngraph.dln.postprocess import example_loss, loss_of
from dlngraph.llm.testserver import ScriptedServer
from dlngraph.llm.testserver_script import Script
from dlngraph.runs import TrainOptions, train_spec
from dlngraph.spec import SpecError, load_spec, load_spec_text
from dlngraph.spec.metrics import MetricError
from dlngraph.spec.training import ExtractRegex, TrainingSpec

ROOT = Path(__file__).resolve().parents[2]
METRICS = "tests.dln.metric_functions"


def training(**fields: object) -> TrainingSpec:
    return msgspec.convert(fields, TrainingSpec)


def test_last_number_and_regex_extraction_feed_the_builtin_losses() -> None:
    last = loss_of(training(extract="last_number"))
    assert last("3 boxes of 4 is 12, minus 5 gives 7", "7") == 0.0
    assert last("7 minus 5 leaves 2", "7") == 1.0  # the target appears, but is not the answer
    assert example_loss("7 minus 5 leaves 2", "7", "number_presence") == 0.0  # without extraction it passes
    assert last("it is 1,250", "1250") == 0.0
    assert last(None, "7") == 1.0 and last("no number", "7") == 1.0
    regex = loss_of(msgspec.structs.replace(TrainingSpec(), extract=ExtractRegex(regex=r"Answer: (\w+)")))
    assert regex("blah. Answer: yes", "Yes") == 0.0
    assert regex("yes", "Yes") == 1.0  # no match: nothing to compare


def test_a_python_metric_named_in_the_spec_gives_partial_credit() -> None:
    loss = loss_of(training(loss=f"{METRICS}:within_one", extract="last_number"))
    assert [loss(text, "10") for text in ("so 10", "so 11", "so 13", None)] == [0.0, 0.5, 1.0, 1.0]


@pytest.mark.parametrize(("name", "message"), [
    ("explodes", r"metric 'tests\.dln\.metric_functions:explodes' raised RuntimeError: no luck \(prediction '4'"),
    ("out_of_range", r"metric 'tests\.dln\.metric_functions:out_of_range' returned 2\.0; expected a number in \[0, 1\]"),
])
def test_a_metric_that_raises_or_returns_a_bad_value_is_named(name: str, message: str) -> None:
    with pytest.raises(MetricError, match=message):
        loss_of(training(loss=f"{METRICS}:{name}"))("4", "4")


SPEC = """name: wp
models:
  m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}
nodes:
  - {kind: lm, id: solve, model: m, template: forward, prompt: Solve.}
output: solve
training: {loss: LOSS, extract: EXTRACT}
data: {source: generated, task: word_problems}
"""


@pytest.mark.parametrize(("loss", "extract", "message"), [
    ("no_such_loss", "last_number", r"7:18: training\.loss: unknown loss 'no_such_loss': expected exact_match or number_presence"),
    ("no.such.module:f", "last_number", r"training\.loss: metric 'no\.such\.module:f': cannot import no\.such\.module: ModuleNotFoundError"),
    (f"{METRICS}:missing", "last_number", r"metric 'tests\.dln\.metric_functions:missing': tests\.dln\.metric_functions has no attribute 'missing'"),
    (f"{METRICS}:NOT_CALLABLE", "last_number", r"is not callable"),
    ("exact_match", "{regex: '(unclosed'}", r"training\.extract\.regex: not a regular expression"),
])
def test_a_metric_that_cannot_be_used_is_a_spec_error(loss: str, extract: str, message: str) -> None:
    text = SPEC.replace("LOSS", loss).replace("EXTRACT", extract)
    with pytest.raises(SpecError, match=message):
        load_spec_text(text)


def _script(dataset) -> Script:  # type: ignore[no-untyped-def]
    """A model that solves a problem only when told to SHOW THE WORK, and otherwise ends its answer
    with the first number of the problem; the backward model proposes that instruction."""
    script = Script().answer(r"(?s)instruction:.*New instruction:", "SHOW THE WORK, then give the final number.")
    for example in [*dataset.train, *dataset.dev, *dataset.test]:
        first = re.search(r"\d+", example.input).group(0)
        script.answer(r"(?s)" + re.escape(example.input) + ".*SHOW THE WORK",
                      f"Working it out step by step, the total comes to {example.target}")
        script.answer(re.escape(example.input), f"{example.target}? No: I think the answer is {first}")
    return script


async def test_word_problems_train_end_to_end_with_a_number_metric(tmp_path: Path) -> None:
    """Dev accuracy rises from its start to 1.0 once the proposal is taken, and test agrees."""
    spec = load_spec(ROOT / "specs" / "word_problems.yaml").spec
    spec = msgspec.structs.replace(spec, data=msgspec.structs.replace(
        spec.data, sizes=msgspec.convert({"train": 12, "dev": 10, "test": 10}, type(spec.data.sizes))))
    dataset = load_dataset(spec.data, base_dir=ROOT, seed=spec.training.seed)
    async with ScriptedServer(script=_script(dataset)) as server:
        summary = await train_spec(spec, TrainOptions(
            runs_root=tmp_path, base_url=server.base_url, overrides=["iterations=2", "val_freq=1"]))
    events = [json.loads(line) for line in (Path(summary.run_dir) / "events.jsonl").read_text().splitlines()]
    start = events[0]["dev_accuracy"]
    assert start < 0.5  # the model's own last number is the problem's first one, rarely the answer
    assert summary.best_dev_accuracy == 1.0 and summary.test_accuracy == 1.0
    assert summary.best_prompts["solve"].startswith("SHOW THE WORK")


async def test_a_metric_raising_during_training_stops_the_run_naming_it(tmp_path: Path) -> None:
    spec = load_spec(ROOT / "specs" / "word_problems.yaml").spec
    spec = msgspec.structs.replace(spec, training=msgspec.structs.replace(spec.training, loss=f"{METRICS}:explodes"))
    async with ScriptedServer() as server:
        with pytest.raises(MetricError, match=r"metric 'tests\.dln\.metric_functions:explodes' raised RuntimeError"):
            await train_spec(spec, TrainOptions(runs_root=tmp_path, base_url=server.base_url, overrides=["iterations=1"]))
