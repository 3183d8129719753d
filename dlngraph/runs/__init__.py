"""Runs: what `dlngraph train` and `dlngraph eval` do, as a library.

This layer joins the others for one job: it reads a spec, builds its dataset and its models
(with the run's cache and budget), runs the trainer or an evaluation, and writes the run
directory. The command line is a thin shell over it.
"""

from dlngraph.runs.evaluate import EvalReport, evaluate_splits
from dlngraph.runs.train import RunSummary, TrainOptions, resume_run, train_spec

__all__ = ["EvalReport", "RunSummary", "TrainOptions", "evaluate_splits", "resume_run", "train_spec"]
