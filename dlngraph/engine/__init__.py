"""The async engine: runs a compiled network over a batch, and fires whole phases of calls."""

from dlngraph.engine.events import Event, EventBus
from dlngraph.engine.forward import ForwardOptions, ForwardRun, run_forward
from dlngraph.engine.results import (
    ForwardResult,
    NodeExecutionError,
    NodeFailure,
    NodeOutput,
)
from dlngraph.engine.waves import gather

__all__ = [
    "Event",
    "EventBus",
    "ForwardOptions",
    "ForwardResult",
    "ForwardRun",
    "NodeExecutionError",
    "NodeFailure",
    "NodeOutput",
    "gather",
    "run_forward",
]
