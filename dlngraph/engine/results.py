"""What a forward pass returns: per node, per example, per sample; no arrays of strings."""

from __future__ import annotations

import msgspec


class NodeOutput(msgspec.Struct, kw_only=True):
    """One node's result for one example and one sample chain.

    `text` is what downstream nodes read. Nodes with classes also carry the chosen `label`
    and, when the backend could score classes, the distribution `probs` over labels.
    `rendered` is the exact prompt sent to the model (empty for nodes that call no model);
    `demonstrations_left_out` counts the node's demonstrations it does not show, because the
    prompt would not have fit the model's context window with them.
    """

    text: str
    label: str | None = None
    probs: dict[str, float] | None = None
    rendered: str = ""
    demonstrations_left_out: int = 0


class NodeFailure(msgspec.Struct, kw_only=True):
    """Why a node produced nothing for an example; `skipped` when a parent had failed."""

    node: str
    example: int
    sample: int
    error: str
    skipped: bool = False

    def describe(self) -> str:
        return f"node '{self.node}' on example {self.example}: {self.error}"


class ForwardResult(msgspec.Struct, kw_only=True):
    """`outputs[node][example][sample]`; a missing cell (failed or skipped) is None."""

    output_node: str
    outputs: dict[str, list[list[NodeOutput | None]]]
    failures: list[NodeFailure] = msgspec.field(default_factory=list)

    def output(self, node: str, example: int, sample: int = 0) -> NodeOutput | None:
        return self.outputs[node][example][sample]

    def texts(self, node: str, sample: int = 0) -> list[str | None]:
        """The texts of one node for every example (None where it failed)."""
        return [None if cells[sample] is None else cells[sample].text for cells in self.outputs[node]]

    def predictions(self, sample: int = 0) -> list[str | None]:
        """The network's prediction per example: the output node's label, else its text."""
        predictions: list[str | None] = []
        for cells in self.outputs[self.output_node]:
            cell = cells[sample]
            predictions.append(None if cell is None else (cell.label if cell.label is not None else cell.text))
        return predictions

    @property
    def failed_examples(self) -> list[int]:
        return sorted({failure.example for failure in self.failures})

    def shortened(self) -> dict[str, int]:
        """Per node, the calls that showed fewer of its demonstrations to fit the context
        window (nodes that never had to are left out)."""
        counts = {
            node: sum(1 for cells in rows for cell in cells if cell is not None and cell.demonstrations_left_out)
            for node, rows in self.outputs.items()
        }
        return {node: count for node, count in counts.items() if count}

    def first_cause(self) -> NodeFailure | None:
        """The first failure that was not a consequence of another (a skipped dependant)."""
        return next((failure for failure in self.failures if not failure.skipped), None)


class NodeExecutionError(Exception):
    """A node failed on an example; raised when the run was not asked to keep going."""

    def __init__(self, node: str, example: int, sample: int, cause: BaseException) -> None:
        super().__init__(f"node '{node}' failed on example {example} (sample {sample}): {cause}")
        self.node = node
        self.example = example
        self.sample = sample
        self.__cause__ = cause
