"""The step's likelihood terms: each asked once, and none the forward pass already has."""

from __future__ import annotations

from dlngraph.dln.step import TrainingStep
from dlngraph.testing.server import Script, ScriptedServer
from tests.dln.step.scripted_steps import BATCH, classes_favour, dln1_network, settings
from tests.scripted import close_models, scripted_models


async def test_a_class_distribution_the_forward_pass_has_is_not_asked_for_again() -> None:
    """The current prompt's score on the forward hidden state is the forward call itself."""
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "BEST")
    classes_favour(script, "BEST")
    network = dln1_network()
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            step = TrainingStep(network, models, BATCH, settings())
            result = await step.run()
        finally:
            await close_models(models)
        # the first class call asks the paper's 100 top logprobs and is refused: not an answer
        prompts = [body.get("prompt") for body in server.stats.bodies if body.get("logprobs", 0) <= server.max_logprobs]
    forward_prompts = [step.state.forward_run.output("answer", i).rendered for i in range(len(BATCH))]
    assert all(prompts.count(prompt) == 1 for prompt in forward_prompts)
    assert result.prompts["answer"] == "BEST"
