"""The forward scheduler on a real scripted server: dataflow order, no barriers, failures,
cancellation, residual edges, votes and concatenation."""

from __future__ import annotations

import asyncio
import time

import anyio
import pytest

from dlngraph.engine import ForwardRun, NodeExecutionError, run_forward
from dlngraph.testing.server import Latency, Script, ScriptedServer
from tests.scripted import (
    close_models,
    network_from_text,
    scripted_models,
    shipped_network,
)

CHAIN4 = """
name: chain4
models: {m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}}
nodes:
  - {kind: lm, id: l1, model: m, prompt: "one"}
  - {kind: lm, id: l2, model: m, prompt: "two", inputs: [l1]}
  - {kind: lm, id: l3, model: m, prompt: "three", inputs: [l2]}
  - {kind: lm, id: l4, model: m, prompt: "four", inputs: [l3]}
output: l4
"""

LATENCY_S = 0.15


async def test_chain_of_four_over_twenty_examples_takes_about_four_latencies() -> None:
    network = network_from_text(CHAIN4)
    assert network.critical_path_length == 4
    async with ScriptedServer(latency=Latency(mean_s=LATENCY_S)) as server:
        models = scripted_models(network, server)
        try:
            started = time.perf_counter()
            result = await run_forward(network, models, [f"example {i}" for i in range(20)])
            elapsed = time.perf_counter() - started
        finally:
            await close_models(models)
        assert server.stats.requests == 80
    limit = network.critical_path_length * LATENCY_S
    assert elapsed < 1.5 * limit + 0.3, f"{elapsed:.2f}s against a critical path of {limit:.2f}s"
    assert all(text for text in result.texts("l4"))


async def test_each_node_reads_its_parent_for_the_same_example() -> None:
    network = network_from_text(CHAIN4)
    script = Script().answer(r"example (\d)", "parent")
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            result = await run_forward(network, models, ["example 1", "example 2"])
        finally:
            await close_models(models)
    for example in range(2):
        l1 = result.output("l1", example)
        assert l1 is not None and l1.text == "parent"
        l2 = result.output("l2", example)
        assert l2 is not None and l1.text in l2.rendered and "two" in l2.rendered


async def test_a_failure_names_the_node_and_the_example() -> None:
    network = network_from_text(CHAIN4)
    # Layer 2 sees layer 1's output, which embeds the example's input only through l1's
    # rendered text; fail layer 2 of example 7 by matching its prompt and parent text.
    script = Script().answer(r"example 7\b", "poisoned").fail(r"(?s)poisoned.*two", 400, "layer two refused")
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            with pytest.raises(NodeExecutionError) as raised:
                await run_forward(network, models, [f"example {i}" for i in range(10)])
        finally:
            await close_models(models)
    assert raised.value.node == "l2" and raised.value.example == 7
    assert "node 'l2' failed on example 7" in str(raised.value)
    assert "layer two refused" in str(raised.value)


async def test_keep_going_reports_the_failed_example_and_finishes_the_others() -> None:
    network = network_from_text(CHAIN4)
    script = Script().answer(r"example 3\b", "poisoned").fail(r"(?s)poisoned.*two", 400, "no")
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            result = await run_forward(network, models, [f"example {i}" for i in range(6)], keep_going=True)
        finally:
            await close_models(models)
    assert result.failed_examples == [3]
    failed = {(failure.node, failure.skipped) for failure in result.failures}
    assert failed == {("l2", False), ("l3", True), ("l4", True)}
    predictions = result.predictions()
    assert predictions[3] is None
    assert all(predictions[i] for i in (0, 1, 2, 4, 5))


async def test_cancellation_leaves_no_pending_tasks() -> None:
    network = network_from_text(CHAIN4)
    async with ScriptedServer(latency=Latency(mean_s=0.5)) as server:
        models = scripted_models(network, server)
        before = set(asyncio.all_tasks())
        try:
            with anyio.move_on_after(0.2):
                await run_forward(network, models, [f"example {i}" for i in range(20)])
            await asyncio.sleep(0)
            leftover = [task for task in asyncio.all_tasks() - before if not task.done() and not _server_side(task)]
            assert leftover == [], leftover
            assert all(model.limiter.in_use == 0 for model in models.values())
        finally:
            await close_models(models)


def _server_side(task: asyncio.Task) -> bool:
    """The scripted server runs in the test's loop; its handlers wind down on their own."""
    return task.get_coro().__qualname__.startswith("RequestHandler")


async def test_prompts_can_be_overridden_per_call_without_mutating_the_network() -> None:
    network = network_from_text(CHAIN4)
    async with ScriptedServer() as server:
        models = scripted_models(network, server)
        try:
            result = await run_forward(network, models, ["x"], prompts={"l4": "a brand new prompt"})
        finally:
            await close_models(models)
    rendered = result.output("l4", 0).rendered
    assert "a brand new prompt" in rendered
    assert network.prompts()["l4"] == "four"


async def test_samples_fan_out_independent_chains() -> None:
    network = network_from_text(CHAIN4)
    async with ScriptedServer() as server:
        models = scripted_models(network, server)
        try:
            result = await run_forward(network, models, ["x"], samples=3, temperature=0.7, seed=1)
        finally:
            await close_models(models)
    texts = {result.output("l1", 0, sample).text for sample in range(3)}
    assert len(texts) == 3
    for sample in range(3):
        assert result.output("l1", 0, sample).text in result.output("l2", 0, sample).rendered


async def test_residual_edge_shows_the_question_to_the_classifier() -> None:
    network = shipped_network("dln2")
    script = Script().answer(r"step at a time", " I walk around.").class_logprobs(
        r"(?s)Question:.*Always face forward.*I walk around.*Answer:", {" Yes": -0.1, " No": -2.5}
    )
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            result = await run_forward(network, models, ["Always face forward. Take 1 step."])
        finally:
            await close_models(models)
    answer = result.output("answer", 0)
    assert answer.label == "Yes" and answer.probs["Yes"] > 0.9
    assert result.predictions() == ["Yes"]


async def test_a_running_pass_shows_each_examples_outputs_and_its_class_distributions() -> None:
    """What a training step reads while the pass runs: an example's finished outputs by node,
    and the distribution already computed for an exact prompt (so it is not asked again)."""
    network = shipped_network("dln2")
    script = Script().answer(r".", " I walk around.").class_logprobs(r"(?s)Answer:", {" Yes": -0.1, " No": -2.5})
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            run = ForwardRun(network, models, ["Take 1 step.", "Turn left."])
            outputs = run.outputs_of(1)
            assert dict(outputs) == {} and "reason" not in outputs
            await run.execute()
        finally:
            await close_models(models)
    assert set(outputs) == {"reason", "answer"} and len(outputs) == 2
    assert outputs["reason"] is run.output("reason", 1)
    answer = run.output("answer", 1)
    assert run.distribution_for("answer", answer.rendered) == answer.probs
    assert run.distribution_for("answer", answer.rendered + " ") is None
    assert run.distribution_for("reason", run.output("reason", 1).rendered) is None  # free text: no classes


async def test_wide_ensemble_votes_over_its_members() -> None:
    network = shipped_network("wide_ensemble")
    members = [node for node in network.parents(network.output)]
    assert len(members) == 3
    script = Script().class_logprobs(r".", {" No": -0.2, " Yes": -1.8})
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            result = await run_forward(network, models, ["a", "b"])
        finally:
            await close_models(models)
        assert server.stats.requests == 6 + 1  # the first class call's 100 top logprobs were refused
    assert result.predictions() == ["No", "No"]


async def test_concat_joins_its_inputs_without_a_model_call() -> None:
    network = network_from_text(
        """
        name: joined
        models: {m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}}
        nodes:
          - {kind: lm, id: a, model: m, prompt: "first"}
          - {kind: lm, id: b, model: m, prompt: "second"}
          - {kind: concat, id: both, inputs: [a, b]}
          - {kind: lm, id: out, model: m, prompt: "combine", inputs: [both]}
        output: out
        """
    )
    script = Script().answer(r"first", "AAA").answer(r"second", "BBB")
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            result = await run_forward(network, models, ["x"])
        finally:
            await close_models(models)
        assert server.stats.requests == 3
    assert result.output("both", 0).text == "AAA\n\nBBB"


async def test_a_misspelt_option_is_refused_before_any_call() -> None:
    """`run_forward` and `ForwardRun` share one set of options (`ForwardOptions`); a key outside it
    is refused, as a misspelt keyword argument would be, instead of silently ignored."""
    network = network_from_text(CHAIN4)
    with pytest.raises(TypeError, match="unknown forward options keepgoing; known: prompts, samples"):
        ForwardRun(network, {}, ["x"], keepgoing=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unknown forward options keepgoing"):
        await run_forward(network, {}, ["x"], keepgoing=True)  # type: ignore[call-arg]
