"""The layer-synchronous baseline computes what dlngraph computes, in the paper's order."""

from __future__ import annotations

import msgspec
import pytest

from dlngraph.bench.cases import HEADLINE, PAPER_ITERATION, Case, synthetic_examples
from dlngraph.bench.gate import gate_models
from dlngraph.bench.layer_sync import run_layer_synchronous
from dlngraph.bench.measure import forward_groups, http_requests, run_case
from dlngraph.bench.models import bench_models, paper_backend
from dlngraph.bench.paper_client import NO_COST, PaperClientCost
from dlngraph.dln.step import TrainingStep
from dlngraph.engine import gather, run_forward
from dlngraph.llm.client import LanguageModel
from dlngraph.llm.types import GenerateRequest, ScoreRequest
from dlngraph.testing.server import ScriptedServer
from tests.scripted import close_models, scripted_models, shipped_network

INPUTS = [example.input for example in synthetic_examples(30)]


@pytest.mark.parametrize("spec", ["dln2", "deep4", "wide_ensemble", "residual"])
async def test_layer_by_layer_gives_the_outputs_of_the_dataflow_scheduler(spec: str) -> None:
    network = shipped_network(spec)
    async with ScriptedServer(max_concurrency=64) as server:
        models = scripted_models(network, server)
        try:
            dataflow = await run_forward(network, models, INPUTS)
            server.stats.reset()
            layered = await run_layer_synchronous(network, models, INPUTS)
        finally:
            await close_models(models)
    assert layered.predictions() == dataflow.predictions()
    for node in network.lm_nodes:
        assert layered.texts(node) == dataflow.texts(node)
    assert server.stats.max_in_flight <= 20
    lm_calls = len(network.lm_nodes) * len(INPUTS)
    assert server.stats.requests == lm_calls
    assert forward_groups(network, len(INPUTS)) >= lm_calls / 20


async def test_a_training_step_through_the_gate_is_the_same_step_in_mini_batches() -> None:
    case = msgspec.structs.replace(HEADLINE, examples=4, num_p_samples=3, num_h_samples=2)
    network = case.network()
    examples = synthetic_examples(case.examples)
    async with ScriptedServer() as server:
        models = scripted_models(network, server)
        try:
            free = await TrainingStep(network, models, examples, case.step_settings(network)).run()
            server.stats.reset()
            gated, batches = gate_models(models)
            paced = await TrainingStep(network, gated, examples, case.step_settings(network)).run()
        finally:
            await close_models(models)
    assert paced.prompts == free.prompts
    assert paced.batch_loss == free.batch_loss
    assert server.stats.max_in_flight <= 20 and batches.max_in_flight <= 20
    phases = [record.tag.phase for record in batches.history]
    assert phases[:2] == ["forward", "forward"]  # the two layers, one mini-batch each
    assert {"posterior", "proposal", "sharpening", "score"} <= set(phases)
    assert all(record.admitted <= 20 for record in batches.history)


async def test_the_paper_backend_sends_each_mini_batch_in_one_request() -> None:
    """The paper's `forward` sends a phase's prompts 20 per request, one request at a time: the
    DLN-2 step without memory takes 69 requests for 1,278 prompts in the paper's code."""
    case = PAPER_ITERATION
    network = case.network()
    async with ScriptedServer(max_concurrency=256) as server:
        backend = paper_backend(server.base_url, 256, NO_COST)
        try:
            gated, batches = gate_models(bench_models(network, backend, 256))
            await run_case(case, network, gated)
        finally:
            await backend.aclose()
    lists = [len(body["prompt"]) for body in server.stats.bodies if isinstance(body["prompt"], list)]
    assert max(lists) == 20 and server.stats.max_in_flight <= 20
    # 67 mini-batches, plus the top-logprobs probe's refused request (its call is sent again
    # with the rest of its mini-batch); the paper's code sends 69 for the same 1,278 prompts.
    assert http_requests(backend) == server.stats.requests == 68
    assert len(batches.history) == 67
    assert server.stats.sequences == 1278 + 1
    assert all("seed" not in body for body in server.stats.bodies)


def test_the_paper_client_costs_more_for_echoed_prompts_and_per_prompt() -> None:
    cost = PaperClientCost(per_request_s=0.005, per_prompt_s=0.001, per_echoed_prompt_s=0.002, per_other_prompt_s=0.0005)
    assert cost.of({"prompt": "one", "max_tokens": 8}) == pytest.approx(0.005 + 0.0015)
    assert cost.of({"prompt": ["a"] * 20, "echo": True}) == pytest.approx(0.005 + 20 * 0.003)
    assert cost.of({"prompt": ["a"] * 20, "logprobs": 5}) == pytest.approx(0.005 + 20 * 0.0015)
    assert NO_COST.of({"prompt": ["a"] * 20, "echo": True}) == 0.0


async def test_the_paper_backend_spends_the_paper_clients_time_after_each_request() -> None:
    """A mini-batch of 20 echo scores is one request and one cost; a generation is another."""
    cost = PaperClientCost(per_request_s=0.01, per_prompt_s=0.001, per_echoed_prompt_s=0.002, per_other_prompt_s=0.0005)
    async with ScriptedServer() as server:
        backend = paper_backend(server.base_url, 256, cost)
        model = LanguageModel("paper", backend)
        try:
            await gather(model.score(ScoreRequest(context=f"Question {i}:", target=" Yes")) for i in range(20))
            await model.generate(GenerateRequest(prompt="Propose an instruction.", max_tokens=8))
        finally:
            await backend.aclose()
    assert server.stats.requests == 2
    assert backend.client_time_s == pytest.approx(cost.of({"prompt": ["q"] * 20, "echo": True}) + cost.of({"prompt": "p"}))


def test_memory_is_seeded_with_remembered_prompts() -> None:
    case = Case(name="t", spec="dln2", kind="step", examples=2, num_p_samples=2, num_h_samples=1, use_memory=2)
    network = case.network()
    settings = case.step_settings(network)
    assert settings.training.use_memory == 2 and settings.training.batch_size == 2
    assert set(settings.memory) == set(network.trainable)
    assert all(len(prompts) == 2 for prompts in settings.memory.values())
