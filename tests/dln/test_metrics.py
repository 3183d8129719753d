"""Any metric: built-in losses after answer extraction, Python metrics named in the spec, their
errors, and a free-text word-problem task trained end to end on the scripted server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest

from dlngraph.data import Example, load_dataset
from dlngraph.dln.evaluate import evaluate
from dlngraph.dln.postprocess import example_loss, loss_of
from dlngraph.dln.run_format import StepResult
from dlngraph.dln.scoring import likelihood
from dlngraph.dln.step import StepSettings, TrainingStep
from dlngraph.runs import TrainOptions, train_spec
from dlngraph.spec import SpecError, load_spec, load_spec_text
from dlngraph.spec.metrics import MetricError
from dlngraph.spec.training import ExtractRegex, TrainingSpec
from dlngraph.testing.script import Script
from dlngraph.testing.server import ScriptedServer
from tests.dln.step.scripted_steps import dln2_script
from tests.dln.test_paper_options import run_dln2
from tests.scripted import DLN1, close_models, network_from_text, scripted_models

ROOT = Path(__file__).resolve().parents[2]
METRICS = "tests.dln.metric_functions"


def training(**fields: object) -> TrainingSpec:
    return msgspec.convert(fields, TrainingSpec)


def example(target: str, input: str = "a question", id: str = "train:1") -> Example:  # noqa: A002
    return Example(input=input, target=target, id=id)


def test_last_number_and_regex_extraction_feed_the_builtin_losses() -> None:
    last = loss_of(training(extract="last_number"))
    assert last("3 boxes of 4 is 12, minus 5 gives 7", example("7")) == 0.0
    assert last("7 minus 5 leaves 2", example("7")) == 1.0  # the target appears, but is not the answer
    assert example_loss("7 minus 5 leaves 2", example("7"), "number_presence") == 0.0  # without extraction it passes
    assert last("it is 1,250", example("1250")) == 0.0
    assert last(None, example("7")) == 1.0 and last("no number", example("7")) == 1.0
    regex = loss_of(msgspec.structs.replace(TrainingSpec(), extract=ExtractRegex(regex=r"Answer: (\w+)")))
    assert regex("blah. Answer: yes", example("Yes")) == 0.0
    assert regex("yes", example("Yes")) == 1.0  # no match: nothing to compare


def test_a_python_metric_named_in_the_spec_gives_partial_credit() -> None:
    loss = loss_of(training(loss=f"{METRICS}:within_one", extract="last_number"))
    assert [loss(text, example("10")) for text in ("so 10", "so 11", "so 13", None)] == [0.0, 0.5, 1.0, 1.0]


def test_a_python_metric_receives_the_whole_example() -> None:
    """The hint is in the input and contradicts the target: only a metric given the example
    itself (not its target) scores `yes` right."""
    loss = loss_of(training(loss=f"{METRICS}:follows_the_hint", extract=ExtractRegex(regex=r"Answer: (\w+)")))
    hinted = example("No", input="Is it? hint: yes")
    assert loss("Answer: yes", hinted) == 0.0
    assert loss("Answer: No", hinted) == 1.0
    assert loss(None, hinted) == 1.0


@pytest.mark.parametrize(("name", "message"), [
    ("explodes", r"metric 'tests\.dln\.metric_functions:explodes' raised RuntimeError: no luck"
                 r" \(prediction '4', example dev:3, target '5'\)"),
    ("out_of_range", r"metric 'tests\.dln\.metric_functions:out_of_range' returned 2\.0"
                     r" \(example dev:3, target '5'\); expected a number in \[0, 1\]"),
])
def test_a_metric_that_raises_or_returns_a_bad_value_is_named(name: str, message: str) -> None:
    with pytest.raises(MetricError, match=message):
        loss_of(training(loss=f"{METRICS}:{name}"))("4", example("5", id="dev:3"))


HINTED = [Example(input="Q1 walk hint: yes", target="No", id="train:1"),
          Example(input="Q2 walk hint: no", target="Yes", id="train:2")]
"""Targets that contradict the hints in the inputs: `follows_the_hint` and exact match disagree."""


async def test_evaluation_scores_predictions_with_the_metric_on_each_example() -> None:
    network = network_from_text(DLN1)
    script = Script().class_logprobs(r"(?s)CURRENT.*Q1", {" Yes": -0.05, " No": -3.0})
    script.class_logprobs(r"(?s)CURRENT.*Q2", {" No": -0.05, " Yes": -3.0})
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            by_hint = await evaluate(network, models, HINTED, split="dev",
                                     loss=loss_of(training(loss=f"{METRICS}:follows_the_hint")))
            by_target = await evaluate(network, models, HINTED, split="dev", loss=loss_of(training()))
        finally:
            await close_models(models)
    assert by_hint.predictions == ["Yes", "No"]
    assert (by_hint.accuracy, by_target.accuracy) == (1.0, 0.0)


async def accuracy_step(script: Script, batch: list[Example], metric: str, *, proposals: int) -> StepResult:
    """One DLN-1 step scored by `output_scoring: accuracy` under the test metric `metric`."""
    network = network_from_text(DLN1)
    settings = StepSettings(training=training(
        loss=f"{METRICS}:{metric}", output_scoring="accuracy", num_p_samples=proposals + 1, backward_model="back", seed=7,
    ), iteration=0)
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            return await TrainingStep(network, models, batch, settings).run()
        finally:
            await close_models(models)


async def test_accuracy_scoring_ranks_candidates_by_the_metric_on_each_example() -> None:
    """`output_scoring: accuracy`: each candidate's greedy answers are judged by the metric on
    the example; HINTS follows the hints, TARGETS the targets, and the metric prefers HINTS."""
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "HINTS", "TARGETS")
    script.class_logprobs(r"(?s)CURRENT.*Q1", {" No": -0.05, " Yes": -3.0})
    script.class_logprobs(r"(?s)CURRENT.*Q2", {" Yes": -0.05, " No": -3.0})
    for prompt, (first, second) in {"HINTS": ("yes", "no"), "TARGETS": ("No", "Yes"), "CURRENT": ("No", "Yes")}.items():
        script.answer(rf"(?s)^{prompt}.*Q1", first)
        script.answer(rf"(?s)^{prompt}.*Q2", second)
    result = await accuracy_step(script, HINTED, "follows_the_hint", proposals=2)
    update = result.updates["answer"]
    assert update.method == "accuracy"
    assert {candidate.prompt: candidate.elbo for candidate in update.candidates} == {
        "CURRENT": 0.0, "HINTS": 1.0, "TARGETS": 0.0}
    assert result.prompts["answer"] == "HINTS"
    assert result.batch_loss == 1.0  # the forward pass answers the targets, which the hints contradict


async def test_accuracy_under_a_metric_is_not_shared_between_examples_that_read_alike() -> None:
    """Two examples with the same input and target render the same prompt; a metric reading the
    id scores them apart, so each candidate's accuracy is the mean of 1 and 0."""
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "OTHER")
    script.class_logprobs(r"(?s)CURRENT.*Q1", {" Yes": -0.05, " No": -3.0})
    twins = [Example(input="Q1 walk", target="Yes", id="train:1"), Example(input="Q1 walk", target="Yes", id="train:2")]
    result = await accuracy_step(script, twins, "first_example_only", proposals=1)
    assert [candidate.elbo for candidate in result.updates["answer"].candidates] == [0.5, 0.5]


async def test_a_dln2_step_scores_the_output_by_the_metric_in_sharpening_and_ranking() -> None:
    """DLN-2 with `output_scoring: accuracy`: the output node's terms (its sharpening terms on the
    posterior samples and its candidates' ranking) are the metric on each example, while the
    hidden node's own terms stay log-probabilities. Against the targets, which contradict the
    hints, exact match ranks the other way."""
    batch = [Example(input="Q1 Always face forward. hint: yes", target="No", id="train:1"),
             Example(input="Q2 Always face forward. hint: no", target="Yes", id="train:2")]
    hint = f"{METRICS}:follows_the_hint"
    ranked, weight_of_b = {}, {}
    for loss in (hint, "exact_match"):
        step, result, _ = await run_dln2(dln2_script(), batch=batch, output_scoring="accuracy", loss=loss)
        assert (result.updates["answer"].method, result.updates["reason"].method) == ("accuracy", "logprobs")
        ranked[loss] = {candidate.prompt: candidate.elbo for candidate in result.updates["answer"].candidates}
        assert await step.sharpening.best_hidden("reason") == ["notes B", "notes B"]  # its prior favours B either way
        samples, weights = (await step.samples.of("reason"))[0], (await step.sharpening.weights("reason"))[0]
        weight_of_b[loss] = weights[samples.index("notes B")]
    # The current answer prompt follows the hint only on notes B: its ELBO is B's sharpening weight.
    current = next(iter(ranked[hint]))  # candidates list the current prompt first
    assert ranked[hint][current] == pytest.approx(weight_of_b[hint])
    assert weight_of_b[hint] > weight_of_b["exact_match"]  # B's accuracy 1, not 0
    assert (ranked[hint]["ANSWER GOOD"], ranked[hint]["ANSWER BAD"]) == (1.0, 0.0)
    assert (ranked["exact_match"]["ANSWER GOOD"], ranked["exact_match"]["ANSWER BAD"]) == (0.0, pytest.approx(1.0))


async def test_accuracy_never_scores_a_hidden_text() -> None:
    """A hidden node's target h* is no example: the metric has nothing to judge it against."""
    network = network_from_text(DLN1)
    with pytest.raises(ValueError, match=r"node 'answer': accuracy scores an answer against an example"):
        await likelihood(network, {}, network.node("answer"), "rendered", "a hidden text",
                         method="accuracy", phase="score", loss=loss_of(training(loss=f"{METRICS}:follows_the_hint")))


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
