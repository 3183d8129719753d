"""Load a spec and run one forward pass over a few generated examples.

    python examples/forward_batch.py specs/dln2.yaml                 # the embedded model
    DLNGRAPH_BASE_URL=http://127.0.0.1:8000/v1 python examples/forward_batch.py specs/dln2.yaml
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from dlngraph import ModelPool, compile_network, load_dataset, load_spec, run_forward


async def main(spec_path: Path, count: int = 4) -> None:
    spec = load_spec(spec_path).spec
    network = compile_network(spec)
    dataset = load_dataset(spec.data, base_dir=spec_path.parent)
    examples = dataset.dev[:count]
    async with ModelPool.from_specs(spec.models, base_url=os.environ.get("DLNGRAPH_BASE_URL")) as models:
        result = await run_forward(network, models, [example.input for example in examples])
    for example, prediction in zip(examples, result.predictions(), strict=True):
        print(f"{example.input[:70]!r:75} -> {prediction!r} (target {example.target!r})")
    for node in network.topological_order:
        first = result.output(node, 0)
        print(f"\n[{node}] first example's output:\n{first.text if first else '(failed)'}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "specs/dln2.yaml")))
