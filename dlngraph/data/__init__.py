"""The data layer: examples for a network to learn from, and how to draw them.

`load_dataset` turns the spec's `data` section into a `Dataset` (train, dev and test
examples, the class labels, the initial instruction); `BatchSampler` draws training
batches from a split and `few_shot` the demonstrations of an in-context baseline. Every
problem with the data is a `DataError` naming the file and line.
"""

from dlngraph.data.batches import BatchSampler, few_shot
from dlngraph.data.errors import DataError, DataIssue
from dlngraph.data.load import load_dataset
from dlngraph.data.types import Dataset, Example

__all__ = ["BatchSampler", "DataError", "DataIssue", "Dataset", "Example", "few_shot", "load_dataset"]
