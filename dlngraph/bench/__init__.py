"""The side-by-side benchmark: dlngraph's dataflow scheduler against the paper's
layer-synchronous one (mini-batches of 20, phases one after the other), on a scripted server
with a real server's latency and batch limit.

- `gate`: `MiniBatchGate`, the paper's request schedule as a model wrapper;
- `layer_sync`: the paper's forward pass, layer by layer;
- `cases`, `measure`: what is timed and how, and the limit no scheduler can beat;
- `server`, `models`: the scripted server in a subprocess and the models pointed at it;
- `extras`: the client stack's and the local backend's own figures;
- `run`, `report`: `dlngraph bench` end to end, and its table.
"""

from dlngraph.bench.gate import (
    PAPER_MINI_BATCH,
    MiniBatches,
    MiniBatchGate,
    gate_models,
)
from dlngraph.bench.layer_sync import run_layer_synchronous

__all__ = ["PAPER_MINI_BATCH", "MiniBatchGate", "MiniBatches", "gate_models", "run_layer_synchronous"]
