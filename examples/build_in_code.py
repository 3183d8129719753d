"""Build a DLN-2 in Python, check it, and save it as a YAML spec.

    python examples/build_in_code.py my_dln2.yaml
    dlngraph validate my_dln2.yaml && dlngraph show my_dln2.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

from dlngraph import (
    GeneratedData,
    LMNode,
    ModelSpec,
    NetworkSpec,
    Sampling,
    SplitSizes,
    TrainingSpec,
    compile_network,
    dump_spec,
    load_spec,
)


def build() -> NetworkSpec:
    return NetworkSpec(
        name="dln2-in-code",
        models={
            "forward": ModelSpec(backend="local", sampling=Sampling(temperature=0.0, max_tokens=64)),
            "backward": ModelSpec(backend="local", sampling=Sampling(temperature=0.7, max_tokens=96)),
        },
        nodes=[
            LMNode(id="think", model="forward", template="forward_cot", prompt="Track the position after each move."),
            LMNode(id="answer", model="forward", template="classify_residual", inputs=["think"], residual=["input"],
                   prompt="Do the moves end where they started? Answer Yes or No.", classes=["Yes|yes", "No|no"]),
        ],
        output="answer",
        training=TrainingSpec(iterations=2, batch_size=4, num_p_samples=3, num_h_samples=2, backward_model="backward"),
        data=GeneratedData(task="navigate", sizes=SplitSizes(train=40, dev=20, test=20)),
    )


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "dln2_in_code.yaml")
    spec = build()
    compile_network(spec)  # the same checks a YAML file goes through when compiled
    path.write_text(dump_spec(spec), encoding="utf-8")
    reloaded = load_spec(path)  # and the file loads back to the same network
    assert reloaded.spec == spec
    print(f"wrote {path}: {len(spec.nodes)} nodes, output '{spec.output}'")


if __name__ == "__main__":
    main()
