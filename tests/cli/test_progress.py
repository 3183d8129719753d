"""Live progress as scripts and terminals see it."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

from rich.console import Console

from dlngraph.cli.progress import Progress
from dlngraph.engine import EventBus

USAGE = {"total": {"calls": 15, "requests": 14, "retries": 2, "cache_hits": 3, "prompt_tokens": 100, "completion_tokens": 20},
         "by_phase": {"forward": {"calls": 8}, "score": {"calls": 4}}, "in_flight": 5}


def drive(progress: Progress) -> None:
    events = EventBus()
    events.subscribe(progress)
    progress.watch(lambda: USAGE)
    events.publish("start", dev_accuracy=0.5)
    events.publish("iteration", iteration=0, of=2)
    events.publish("phase", phase="forward", iteration=0)
    events.publish("validation", iteration=0, dev_accuracy=0.75, best_dev_accuracy=0.75)
    events.publish("checkpoint", iteration=0, batch_loss=0.5, dev_accuracy=0.75, best_dev_accuracy=0.75, prompts={})
    events.publish("done", stopped="completed", best_dev_accuracy=0.75, test_accuracy=0.5)


def test_lines_mode_prints_one_line_per_iteration_and_the_end() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        drive(Progress("lines", title="dln2"))
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[dln2] start: dev=0.500 with the initial prompts")
    assert lines[1].startswith(
        "[dln2] iteration 1/2 loss=0.500 dev=0.750 best=0.750 (start=0.500) calls=15 requests=14 retries=2 tokens=120 cache_hits=3")
    assert lines[2] == "[dln2] done: completed, dev 0.500 at start -> 0.750 best, test=0.500"


def test_json_mode_prints_one_object_per_event_with_usage() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        drive(Progress("json"))
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [record["event"] for record in records] == ["start", "iteration", "phase", "validation", "checkpoint", "done"]
    assert records[4]["usage"]["requests"] == 14


def test_quiet_mode_prints_nothing_and_auto_is_plain_when_not_a_terminal() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        drive(Progress("quiet"))
        assert Progress("auto").mode == "lines"  # stdout is a StringIO, not a terminal
    assert out.getvalue() == ""


def test_the_terminal_panel_shows_phase_requests_and_accuracy() -> None:
    progress = Progress("quiet", title="dln2")
    drive(progress)
    console = Console(file=io.StringIO(), width=120)
    console.print(progress._panel())
    text = console.file.getvalue()
    assert "5 in flight" in text and "3 cache hits" in text
    assert "forward 8, score 4" in text
    assert "best 0.750" in text


def test_a_resumed_run_shows_the_start_score_an_earlier_session_measured() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        events = EventBus()
        events.subscribe(Progress("lines", title="dln2"))
        events.publish("resume", iteration=2, dev_accuracy=0.81)
        events.publish("done", stopped="completed", initial_dev_accuracy=0.81, best_dev_accuracy=0.87, test_accuracy=0.8)
    assert out.getvalue().splitlines() == [
        "[dln2] resumed after iteration 2: dev 0.810 at start",
        "[dln2] done: completed, dev 0.810 at start -> 0.870 best, test=0.800",
    ]


def test_lines_mode_counts_the_prompts_shown_with_fewer_demonstrations() -> None:
    out = io.StringIO()
    events = EventBus()
    progress = Progress("lines", title="dln1")
    events.subscribe(progress)
    progress.watch(lambda: USAGE)
    with redirect_stdout(out):
        events.publish("iteration", iteration=0, of=1)
        for example in range(3):
            events.publish("demonstrations_left_out", node="answer", example=example, sample=0, left_out=1, phase="dev")
        events.publish("checkpoint", iteration=0, batch_loss=0.5, dev_accuracy=None, best_dev_accuracy=None, prompts={})
    (line,) = out.getvalue().splitlines()
    assert " cache_hits=3 shortened_prompts=3 elapsed=" in line
