"""Live progress of a training run: a rich panel on a terminal, plain lines otherwise, JSON
lines for scripts, or nothing.

It listens to the trainer's events (start or resume, iteration, phase, validation, checkpoint, done) and polls
the models' usage (calls, requests and retries, tokens, cache hits, requests in flight) twice a second.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, Literal, Self, get_args

import msgspec
from rich.console import Console
from rich.live import Live
from rich.table import Table

from dlngraph.engine import Event

Mode = Literal["auto", "rich", "lines", "json", "quiet"]
UsageProbe = Callable[[], dict[str, Any]]


def add_progress_argument(parser: argparse.ArgumentParser) -> None:
    """`--progress MODE`, for the commands that train."""
    parser.add_argument(
        "--progress", choices=get_args(Mode), default="auto",
        help="how to show a run as it goes: rich (a live panel), lines (a line per iteration), json (a JSON"
             " object per event, for scripts), quiet (nothing), auto (rich on a terminal, else lines; the default)",
    )


class Progress:
    """Subscribe an instance to an `EventBus`; use it as a context manager around the run."""

    def __init__(self, mode: Mode = "auto", *, title: str = "training") -> None:
        if mode == "auto":
            mode = "rich" if sys.stdout.isatty() else "lines"
        self.mode = mode
        self.title = title
        self.usage: UsageProbe = dict
        self.started = time.monotonic()
        self.state: dict[str, Any] = {"iteration": 0, "of": 0, "phase": "starting", "dev": None, "best": None, "loss": None,
                                      "start": None, "shortened": 0}
        self.iteration_times: list[float] = []
        self._live: Live | None = None

    def watch(self, usage: UsageProbe) -> None:
        self.usage = usage

    def __enter__(self) -> Self:
        if self.mode == "rich":
            self._live = Live(get_renderable=self._panel, console=Console(), refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc_info)  # type: ignore[arg-type]

    def __call__(self, event: Event) -> None:
        self._update(event)
        if self.mode == "json":
            totals = self._read_usage().get("total", {})
            print(msgspec.json.encode({"event": event.kind, **event.data, "usage": totals}).decode(), flush=True)
        elif self.mode == "lines":
            line = self._line(event)
            if line:
                print(line, flush=True)

    def _update(self, event: Event) -> None:
        data = event.data
        if event.kind == "iteration":
            self.state.update(iteration=data["iteration"], of=data["of"])
            self.iteration_times.append(time.monotonic())
        elif event.kind == "phase":
            self.state["phase"] = data["phase"]
        elif event.kind in ("start", "resume"):
            self.state["start"] = data["dev_accuracy"]
        elif event.kind == "validation":
            self.state.update(dev=data["dev_accuracy"], best=data["best_dev_accuracy"])
        elif event.kind == "checkpoint":
            self.state.update(loss=data["batch_loss"], phase="checkpoint")
        elif event.kind == "done":
            self.state["phase"] = f"done ({data['stopped']})"
            if data.get("initial_dev_accuracy") is not None:  # a resumed run measured it in an earlier session
                self.state["start"] = data["initial_dev_accuracy"]
        elif event.kind == "demonstrations_left_out":
            self.state["shortened"] += 1

    def _line(self, event: Event) -> str | None:
        data = event.data
        if event.kind == "start":
            return (f"[{self.title}] start: dev={data['dev_accuracy']:.3f} with the initial prompts"
                    f" elapsed={self._elapsed():.0f}s")
        if event.kind == "resume":
            return (f"[{self.title}] resumed after iteration {data['iteration']}: dev {three_decimals(data['dev_accuracy'])}"
                    f" at start")
        if event.kind == "checkpoint":
            totals = self._read_usage().get("total", {})
            dev = "" if data["dev_accuracy"] is None else f" dev={data['dev_accuracy']:.3f}"
            best = "" if data["best_dev_accuracy"] is None else f" best={data['best_dev_accuracy']:.3f}"
            return (f"[{self.title}] iteration {data['iteration'] + 1}/{self.state['of']} loss={data['batch_loss']:.3f}"
                    f"{dev}{best}{self._since_start()} calls={totals.get('calls', 0)} requests={totals.get('requests', 0)}"
                    f" retries={totals.get('retries', 0)} tokens={_tokens(totals)} cache_hits={totals.get('cache_hits', 0)}"
                    f"{self._shortened()} elapsed={self._elapsed():.0f}s")
        if event.kind == "done":
            return (f"[{self.title}] done: {data['stopped']}, dev {three_decimals(self.state['start'])} at start"
                    f" -> {three_decimals(data.get('best_dev_accuracy'))} best,"
                    f" test={three_decimals(data.get('test_accuracy'))}")
        if event.kind == "budget":
            return f"[{self.title}] budget reached: {data['message']}"
        return None

    def _panel(self) -> Table:
        usage = self._read_usage()  # once per refresh: the probe walks every counter group
        totals = usage.get("total", {})
        by_phase = ", ".join(f"{phase} {counts.get('calls', 0)}" for phase, counts in usage.get("by_phase", {}).items())
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        state = self.state
        table.add_row(self.title, f"iteration {state['iteration'] + 1}/{state['of']}  phase: {state['phase']}")
        table.add_row("requests", f"{totals.get('requests', 0)} sent ({totals.get('retries', 0)} retries), {usage.get('in_flight', 0)} in flight,"
                      f" {totals.get('cache_hits', 0)} cache hits")
        table.add_row("tokens", f"{_tokens(totals)}")
        table.add_row("by phase", by_phase or "-")
        table.add_row("dev accuracy", f"{three_decimals(state['start'])} at start, last {three_decimals(state['dev'])},"
                      f" best {three_decimals(state['best'])}; batch loss {three_decimals(state['loss'])}")
        table.add_row("time", f"{self._elapsed():.0f}s elapsed, ETA {self._eta()}")
        return table

    def _shortened(self) -> str:
        """How many prompts showed fewer demonstrations to fit a context window (only once any did)."""
        count = self.state["shortened"]
        return f" shortened_prompts={count}" if count else ""

    def _since_start(self) -> str:
        start = self.state["start"]
        return "" if start is None else f" (start={start:.3f})"

    def _read_usage(self) -> dict[str, Any]:
        try:
            return self.usage()
        except Exception:  # noqa: BLE001 - a display must never break a run
            return {}

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _eta(self) -> str:
        done = len(self.iteration_times) - 1
        if done < 1 or not self.state["of"]:
            return "-"
        per_iteration = (self.iteration_times[-1] - self.iteration_times[0]) / done
        remaining = self.state["of"] - self.state["iteration"]
        return f"~{per_iteration * remaining:.0f}s"


def _tokens(totals: dict[str, Any]) -> int:
    return int(totals.get("prompt_tokens", 0)) + int(totals.get("completion_tokens", 0))


def three_decimals(value: float | None) -> str:
    """How the command line prints accuracies: 0.833, or - when there is none."""
    return "-" if value is None else f"{value:.3f}"


def requests_sent(requests: int | None, retries: int | None) -> str:
    """'831 requests, 93 of them retries': what a run's calls cost on the wire (calls answered
    by the cache or by a joined call send nothing; a retried call sends several)."""
    if requests is None:
        return "requests not recorded"
    return f"{requests} requests, {retries or 0} of them retries"
