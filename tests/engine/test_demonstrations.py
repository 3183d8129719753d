"""Demonstrations in the forward pass, on the scripted server: every call shows its node's
demonstrations in its template's form, k = 0 sends the very prompts it sent before they
existed, and a prompt over the model's context window shows fewer of them instead of failing."""

from __future__ import annotations

import pytest

from dlngraph.engine import EventBus, ForwardRun, NodeExecutionError, run_forward
from dlngraph.llm.client import LanguageModel
from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.spec import Demonstration
from dlngraph.spec.models import Limits
from dlngraph.testing.server import ScriptedServer
from tests.scripted import (
    close_models,
    network_from_text,
    scripted_models,
    shipped_network,
)

ONE = """
name: one
models: {m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}}
nodes:
  - kind: lm
    id: answer
    model: m
    template: classify
    prompt: Add the numbers.
    classes: ["4", "6", "10"]
    demonstrations:
      - {input: "2 + 2", output: "4", source: "train-1"}
      - {input: "3 + 3", output: "6", source: "train-2"}
output: answer
"""

SHOWN = "Add the numbers.\n\n2 + 2\nAnswer: 4\n\n3 + 3\nAnswer: 6\n\n5 + 5\nAnswer:"


def prompts_sent(server: ScriptedServer) -> list[str]:
    """Each distinct prompt the server received, in order (a class distribution's first request
    is sent again once the server has said how many top logprobs it allows)."""
    return list(dict.fromkeys(body["prompt"] for body in server.stats.bodies if isinstance(body.get("prompt"), str)))


async def test_a_call_shows_its_nodes_demonstrations_and_a_pass_may_replace_them() -> None:
    network = network_from_text(ONE)
    async with ScriptedServer() as server:
        models = scripted_models(network, server)
        try:
            result = await run_forward(network, models, ["5 + 5"])
            other = [Demonstration(input="1 + 1", output="2")]
            await run_forward(network, models, ["5 + 5"], demonstrations={"answer": other})
        finally:
            await close_models(models)
    assert result.output("answer", 0).rendered == SHOWN
    assert prompts_sent(server) == [SHOWN, "Add the numbers.\n\n1 + 1\nAnswer: 2\n\n5 + 5\nAnswer:"]


@pytest.mark.parametrize("spec", ["dln1", "dln2"])
async def test_without_demonstrations_the_calls_are_those_of_the_version_1_templates(spec: str) -> None:
    """k = 0 keeps today's behaviour exactly: the same prompts, byte for byte, in the same number."""
    network = shipped_network(spec)
    pinned = network_from_text(_pinned_to_version_1(network))
    inputs = ["If you follow these instructions, do you return to the starting point? Take 1 step.", "Is 4 even?"]
    sent = []
    for each in (network, pinned):
        async with ScriptedServer() as server:
            models = scripted_models(each, server)
            try:
                await run_forward(each, models, inputs)
            finally:
                await close_models(models)
        sent.append(sorted(prompts_sent(server)))
    assert sent[0] == sent[1] and len(set(sent[0])) == len(inputs) * len(network.lm_nodes)
    assert all(network.template(node).version == 2 for node in network.lm_nodes)


def _pinned_to_version_1(network) -> str:
    from dlngraph.spec import dump_spec

    text = dump_spec(network.spec)
    for node in network.lm_nodes:
        name = network.template(node).name
        text = text.replace(f"template: {name}\n", f"template: {name}@1\n")
    assert text.count("@1\n") == len(network.lm_nodes)
    return text


def windowed_models(network, server: ScriptedServer, window: int | None) -> dict[str, LanguageModel]:
    """The spec's models with a declared context window (as `context_window` in a model spec),
    or none (`None`: only the server knows its window)."""
    backend = OpenAIBackend(base_url=server.base_url, model=server.model, context_window=window)
    # Two attempts: the scripted server refuses the paper's 100 top logprobs once (a re-send spends one).
    return {name: LanguageModel(name, backend, limits=Limits(max_attempts=2)) for name in network.spec.models}


async def test_a_prompt_over_the_context_window_shows_fewer_demonstrations_the_last_left_out_first() -> None:
    long = [Demonstration(input=f"{i} + {i} " + "and more " * 40, output=str(2 * i)) for i in range(1, 4)]
    network = network_from_text(ONE).with_demonstrations({"answer": long})
    events = EventBus()
    seen = []
    events.subscribe(seen.append)
    async with ScriptedServer() as server:
        models = windowed_models(network, server, window=260)  # room for about one demonstration
        try:
            run = ForwardRun(network, models, ["5 + 5", "7 + 7"], events=events, phase="dev")
            result = await run.execute()
        finally:
            await close_models(models)
    output = result.output("answer", 0)
    assert output is not None and 0 < output.demonstrations_left_out < 3
    shown = 3 - output.demonstrations_left_out
    assert [demo.input in output.rendered for demo in long] == [True] * shown + [False] * (3 - shown)
    assert result.shortened() == {"answer": 2}
    assert [(event.kind, event.data["node"], event.data["left_out"], event.data["phase"]) for event in seen] == [
        ("demonstrations_left_out", "answer", 3 - shown, "dev")
    ] * 2
    assert prompts_sent(server) == [result.output("answer", i).rendered for i in range(2)]  # nothing longer was sent


async def test_a_server_that_refuses_a_long_prompt_gets_fewer_demonstrations_too() -> None:
    """No window declared on our side: the server's 400 `context_length_exceeded` (as
    llama_cpp.server words it) is the same error, so the call is sent again with fewer."""
    long = [Demonstration(input=f"{i} + {i} " + "and more " * 40, output=str(2 * i)) for i in range(1, 4)]
    network = network_from_text(ONE).with_demonstrations({"answer": long})
    async with ScriptedServer(context_window=260) as server:
        models = windowed_models(network, server, window=None)
        try:
            result = await run_forward(network, models, ["5 + 5"])
        finally:
            await close_models(models)
    output = result.output("answer", 0)
    assert output is not None and 0 < output.demonstrations_left_out < 3
    assert long[0].input in output.rendered and long[2].input not in output.rendered


async def test_a_prompt_over_the_window_without_any_demonstration_still_fails() -> None:
    network = network_from_text(ONE)
    async with ScriptedServer() as server:
        models = windowed_models(network, server, window=8)
        try:
            with pytest.raises(NodeExecutionError, match="context window of 8"):
                await run_forward(network, models, ["5 + 5"])
        finally:
            await close_models(models)
    assert prompts_sent(server) == []


@pytest.mark.slow
async def test_the_embedded_model_shows_fewer_demonstrations_when_its_context_window_is_full() -> None:
    """Counted in real tokens by llama.cpp's own tokenizer (Gemma 3 270M, a 256-token window)."""
    from dlngraph.llm.pool import ModelPool
    from dlngraph.spec.models import ModelSpec

    long = [Demonstration(input=f"{i} + {i}, " + "then add nothing more, " * 12, output=str(2 * i)) for i in range(1, 5)]
    network = network_from_text(ONE).with_demonstrations({"answer": long})
    async with ModelPool.from_specs({"m": ModelSpec(backend="local", context_window=256)}) as pool:
        result = await run_forward(network, pool, ["5 + 5", "7 + 7"])
    for example in range(2):
        output = result.output("answer", example)
        assert output is not None and 0 < output.demonstrations_left_out < 4
        shown = 4 - output.demonstrations_left_out
        assert [demo.input in output.rendered for demo in long] == [True] * shown + [False] * (4 - shown)
