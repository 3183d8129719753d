"""Train a DLN-1 on BIG-Bench-Hard navigate through any OpenAI-compatible endpoint.

The endpoint comes from the environment; the API key stays there (the spec names the variable):

    export DLNGRAPH_BASE_URL=http://127.0.0.1:8000/v1     # vLLM, llama.cpp server, or OpenAI
    export DLNGRAPH_MODEL=meta-llama/Llama-3.1-8B-Instruct
    export DLNGRAPH_API_KEY=...                            # optional
    python examples/train_bbh_openai.py ../shared/data

It writes a run directory under runs/ and prints the summary.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from dlngraph import (
    LMNode,
    ModelSpec,
    NetworkSpec,
    PresetData,
    Sampling,
    TrainingSpec,
    TrainOptions,
    train_spec,
)


def spec(data_dir: Path, base_url: str, model: str) -> NetworkSpec:
    def endpoint(temperature: float) -> ModelSpec:
        return ModelSpec(backend="openai", base_url=base_url, model=model, api_key_env="DLNGRAPH_API_KEY",
                         sampling=Sampling(temperature=temperature, max_tokens=256))

    return NetworkSpec(
        name="bbh-navigate-dln1",
        models={"forward": endpoint(0.0), "backward": endpoint(0.7)},
        nodes=[LMNode(id="answer", model="forward", template="classify", classes=["Yes|yes", "No|no"],
                      prompt="If you follow these instructions, do you return to the starting point?")],
        output="answer",
        training=TrainingSpec(iterations=int(os.environ.get("DLNGRAPH_ITERATIONS", "10")), batch_size=10,
                              num_p_samples=10, backward_model="backward", use_memory=2, val_freq=1),
        data=PresetData(name="navigate", data_dir=str(data_dir.resolve())),
    )


async def main() -> None:
    data_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    base_url = os.environ.get("DLNGRAPH_BASE_URL", "https://api.openai.com/v1")
    model = os.environ.get("DLNGRAPH_MODEL", "gpt-3.5-turbo-instruct")
    options = TrainOptions(runs_root=Path(os.environ.get("DLNGRAPH_RUNS", "runs")))
    summary = await train_spec(spec(data_dir, base_url, model), options)
    print(f"run {summary.run_dir}: best dev {summary.best_dev_accuracy}, test {summary.test_accuracy},"
          f" {summary.calls} calls, {summary.prompt_tokens + summary.completion_tokens} tokens")


if __name__ == "__main__":
    asyncio.run(main())
