"""What `dlngraph bench` measures: a spec, a forward pass or a training step, and its settings.

A step case is named by its spec, batch / prompt samples / hidden samples and memory. The
headline, "DLN-2 step 10/10/5 mem 2", keeps the figures of benchmarks/RESULTS.md comparable: it
mixes the paper's navigate scripts (batch 10 and 10 prompt samples from
`two_layers_e2e/navigate.sh`, 5 hidden samples and a memory of 2 from `navigate_vllm.sh`).
"navigate.sh DLN-2 step 10/10/10 mem 5" is `specs/paper/navigate-dln2.yaml`, the real
navigate.sh configuration (trust factor, logp penalty and held-out ranking included). The
examples are synthetic navigate-like questions with Yes/No targets: the scripted server
answers any text, and only the number and shape of the calls matter here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from dlngraph.dln.step import StepSettings
from dlngraph.graph import CompiledNetwork, compile_network
from dlngraph.spec import load_spec
from dlngraph.spec.shipped import SHIPPED_SPECS

SPECS_DIR = SHIPPED_SPECS
FORWARD_EXAMPLES = 20
"""One mini-batch of the paper's schedule: what `benchmarks/bench_scheduler.py` runs."""
DEV_PASS_EXAMPLES = 100
"""A validation pass over a dev set: the forward passes of `dlngraph bench`."""
HEADLINE_MEMORY = 2


class Example(msgspec.Struct, frozen=True):
    input: str
    target: str


class Case(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    spec: str
    """A file name in `specs/` without `.yaml`."""
    kind: Literal["forward", "step"]
    examples: int
    num_p_samples: int = 0
    num_h_samples: int = 0
    use_memory: int = 0

    def network(self, specs_dir: Path = SPECS_DIR) -> CompiledNetwork:
        return compile_network(load_spec(specs_dir / f"{self.spec}.yaml").spec)

    def step_settings(self, network: CompiledNetwork) -> StepSettings:
        """The spec's training section with this case's batch and sample counts, and a
        memory already holding `use_memory` remembered prompts per trainable node."""
        training = msgspec.structs.replace(
            network.spec.training,
            batch_size=self.examples,
            num_p_samples=self.num_p_samples,
            num_h_samples=self.num_h_samples,
            use_memory=self.use_memory,
        )
        prompts = network.prompts()
        memory = {
            node: [f"{prompts[node]} (remembered prompt {k + 1})" for k in range(self.use_memory)]
            for node in network.trainable
        }
        return StepSettings(training=training, iteration=0, memory=memory)


def step_case(spec: str, batch: int = 10, prompts: int = 10, hidden: int = 5, memory: int = HEADLINE_MEMORY,
              label: str | None = None) -> Case:
    """A training step of `spec` with these counts, named by them (and by `label`, or the spec)."""
    label = label or {"dln2": "DLN-2"}.get(spec, spec)
    return Case(
        name=f"{label} step {batch}/{prompts}/{hidden} mem {memory}", spec=spec, kind="step",
        examples=batch, num_p_samples=prompts, num_h_samples=hidden, use_memory=memory,
    )


def forward_pass(spec: str, examples: int = FORWARD_EXAMPLES) -> Case:
    return Case(name=f"{spec} forward x{examples}", spec=spec, kind="forward", examples=examples)


HEADLINE = step_case("dln2")
"""The case the last line of `dlngraph bench` reports."""

PAPER_ITERATION = step_case("dln2", memory=0)
"""The calls of the paper code's iteration that was timed against this server (navigate.sh with
5 hidden samples, no memory, ranking on the whole batch: 1,278 prompts in 69 requests, 18.7-19.3 s;
benchmarks/RESULTS.md), so that the baseline's time can be checked against the real one."""

NAVIGATE_SH = step_case("paper/navigate-dln2", batch=10, prompts=10, hidden=10, memory=5, label="navigate.sh DLN-2")
"""The paper's `two_layers_e2e/navigate.sh` at 036d895 (`specs/paper/navigate-dln2.yaml`)."""


def bench_cases(quick: bool) -> list[Case]:
    """The headline DLN-2 step first; quick mode adds only two cheap forward passes. Each step
    case's name says its batch / prompt samples / hidden samples and memory."""
    deep4, wide = forward_pass("deep4", DEV_PASS_EXAMPLES), forward_pass("wide_ensemble", DEV_PASS_EXAMPLES)
    if quick:
        return [HEADLINE, deep4, wide]
    return [
        HEADLINE,
        PAPER_ITERATION,
        NAVIGATE_SH,
        step_case("dln2", batch=20, prompts=20, hidden=5),
        deep4,
        step_case("deep4"),
        wide,
        step_case("wide_ensemble"),
    ]


def synthetic_examples(count: int) -> list[Example]:
    """Navigate-like questions; the answer is Yes when the two walks cancel out."""
    examples = []
    for i in range(count):
        forward, back = 1 + i % 4, 1 + (i * 7) % 4
        question = (
            f"Q{i} If you follow these instructions, do you return to the starting point? "
            f"Take {forward} steps. Turn around. Take {back} steps."
        )
        examples.append(Example(input=question, target="Yes" if forward == back else "No"))
    return examples
