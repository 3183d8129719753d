"""The whole step as `TrainingStep.run` starts it, on a network of three layers."""

from __future__ import annotations

import math

from dlngraph.testing.server import Script
from tests.dln.step.scripted_steps import run_step, settings
from tests.scripted import Example, network_from_text

CHAIN3 = """
name: chain3
models:
  m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}
  back: {backend: openai, base_url: "http://127.0.0.1:9/v1", sampling: {temperature: 0.7}}
nodes:
  - {kind: lm, id: first, model: m, prompt: "FIRST"}
  - {kind: lm, id: second, model: m, prompt: "SECOND", inputs: [first], residual: [input], template: residual}
  - {kind: lm, id: third, model: m, template: classify, prompt: "THIRD", inputs: [second], classes: ["Yes|yes", "No|no"]}
output: third
"""


async def test_a_three_layer_chain_trains_every_node() -> None:
    network = network_from_text(CHAIN3)
    script = Script()
    for name in ("FIRST", "SECOND", "THIRD"):
        script.answer(rf"(?s)instruction:\n{name}.*New instruction:", f"{name} v2", f"{name} v3")
    for text in ("v2", "v3"):
        script.class_logprobs(rf"(?s)THIRD {text}.*Answer:", {" Yes": -0.01, " No": -4.0} if text == "v3" else {" No": -0.01})
    _, result = await run_step(network, script, settings(num_p_samples=3, num_h_samples=2), [Example(input="Q1", target="Yes")])
    assert set(result.updates) == {"first", "second", "third"}
    for node in ("first", "second", "third"):
        update = result.updates[node]
        assert len(update.candidates) == 3
        assert all(math.isfinite(candidate.score) for candidate in update.candidates)
    assert result.prompts["third"] == "THIRD v3"
    assert set(result.hidden) == {"first", "second"}
