"""Procedural tasks: datasets dlngraph generates itself, with exact answers, offline.

`get_task(name, params)` returns a task with checked difficulty params; `generate_dataset`
turns it into balanced, disjoint train/dev/test splits fixed by a seed.
"""

from __future__ import annotations

from collections.abc import Mapping

from dlngraph.data.errors import DataError
from dlngraph.data.tasks.base import Task, generate_dataset
from dlngraph.data.tasks.navigate import Navigate
from dlngraph.data.tasks.object_counting import ObjectCounting
from dlngraph.data.tasks.reviews import Reviews
from dlngraph.data.tasks.word_problems import WordProblems

TASKS: dict[str, type[Task]] = {task.name: task for task in (Navigate, ObjectCounting, Reviews, WordProblems)}


def get_task(name: str, params: Mapping[str, object] | None = None) -> Task:
    """The task called `name` with `params` over its defaults; a DataError names what is wrong."""
    if name not in TASKS:
        known = ", ".join(sorted(TASKS))
        raise DataError.about("", f"unknown task '{name}' (known: {known})", where="data.task")
    return TASKS[name].from_params(params)


__all__ = ["TASKS", "Task", "generate_dataset", "get_task"]
