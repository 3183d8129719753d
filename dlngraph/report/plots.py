"""The report's charts, drawn with matplotlib into PNG bytes.

Figures are built with `matplotlib.figure.Figure` directly, never with `pyplot`: pyplot keeps
global state and picks an interactive backend when a display is around, while a bare Figure
renders with the Agg rasteriser and can be made from any thread. Every chart draws something
even without data ("nothing logged yet"), so a report of a run that just started still shows
where its curves will be.

The curve charts take several runs, so that `dlngraph compare` overlays them with the same code
that draws one run's report.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dlngraph.dln.run_format import Usage
from dlngraph.report import series
from dlngraph.report.runlog import RunLog
from dlngraph.report.series import Series
from dlngraph.report.tables import UsageRow, usage_rows
from dlngraph.report.usage import breakdowns

WIDE = (7.5, 3.8)
"""Inches of one chart; at `DPI` it fits the report's column."""
DPI = 110


def png_bytes(figure: Figure) -> bytes:
    """The figure as a PNG file's bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def line_chart(title: str, xlabel: str, ylabel: str, lines: Sequence[Series], *,
               integer_x: bool = False, unit_y: bool = False) -> Figure:
    """Lines with markers (runs are short: every point is a step worth seeing)."""
    figure = Figure(figsize=WIDE, layout="constrained")
    axes = figure.add_subplot()
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    drawn = [line for line in lines if line.x]
    for line in drawn:
        axes.plot(line.x, line.y, marker="o", markersize=4, label=line.label)
    if not drawn:
        _say(axes, "nothing logged yet")
    elif len(drawn) > 1:
        axes.legend(fontsize="small")
    if integer_x:
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if unit_y:
        axes.set_ylim(-0.03, 1.03)
    axes.grid(alpha=0.3)
    return figure


def batch_loss_chart(runs: Sequence[RunLog]) -> Figure:
    lines = [series.batch_loss(run, _label(run, runs, "batch loss")) for run in runs]
    return line_chart("Training batch loss", "training steps", "loss (lower is better)", lines, integer_x=True)


def dev_accuracy_chart(runs: Sequence[RunLog]) -> Figure:
    lines = [series.dev_accuracy(run, _label(run, runs, "dev accuracy")) for run in runs]
    return line_chart("Dev accuracy", "training steps", "accuracy", lines, integer_x=True, unit_y=True)


def dev_accuracy_by_tokens_chart(runs: Sequence[RunLog]) -> Figure:
    lines = [series.dev_accuracy_by_tokens(run, _label(run, runs, "dev accuracy")) for run in runs]
    figure = line_chart("Dev accuracy against tokens spent", "tokens spent (prompt + completion)", "accuracy",
                        lines, unit_y=True)
    if any(run.iterations for run in runs) and not any(any(series.cumulative_tokens(run)) for run in runs):
        _say(figure.axes[0], "the run logged no token counts", y=0.1)
    return figure


def elbo_chart(run: RunLog) -> Figure:
    """One line per trained node: the ELBO of the prompt it kept at each step."""
    return line_chart("ELBO of the chosen prompt, per node", "training steps", "ELBO (higher is better)",
                      series.chosen_elbo(run), integer_x=True)


def usage_chart(usage: Usage) -> Figure:
    """Calls and tokens per node and per phase: where the run's money went.

    Top row: calls (what callers awaited) beside requests (what reached a server; the rest
    were cache hits or joined identical calls). Bottom row: prompt and completion tokens, stacked.
    """
    groups = breakdowns(usage)
    kinds = [kind for kind in ("node", "phase") if groups.get(kind)] or ["node"]
    figure = Figure(figsize=(WIDE[0], 6.4), layout="constrained")
    grid = figure.subplots(2, len(kinds), squeeze=False)
    for column, kind in enumerate(kinds):
        rows = usage_rows(groups.get(kind, {}))
        _calls_bars(grid[0][column], rows, f"calls per {kind}")
        _token_bars(grid[1][column], rows, f"tokens per {kind}")
    return figure


def _calls_bars(axes: Axes, rows: list[UsageRow], title: str) -> None:
    axes.set_title(title)
    if not rows:
        _say(axes, "no calls logged")
        return
    positions = range(len(rows))
    axes.bar([p - 0.2 for p in positions], [row.counts["calls"] for row in rows], width=0.4, label="calls")
    axes.bar([p + 0.2 for p in positions], [row.counts["requests"] for row in rows], width=0.4, label="requests")
    _name_ticks(axes, [row.name for row in rows])
    axes.legend(fontsize="small")


def _token_bars(axes: Axes, rows: list[UsageRow], title: str) -> None:
    axes.set_title(title)
    if not rows:
        _say(axes, "no tokens logged")
        return
    positions = list(range(len(rows)))
    prompt = [row.counts["prompt_tokens"] for row in rows]
    axes.bar(positions, prompt, label="prompt")
    axes.bar(positions, [row.counts["completion_tokens"] for row in rows], bottom=prompt, label="completion")
    _name_ticks(axes, [row.name for row in rows])
    axes.legend(fontsize="small")


def _name_ticks(axes: Axes, names: list[str]) -> None:
    axes.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize="small")


def _label(run: RunLog, runs: Sequence[RunLog], single: str) -> str:
    """A line is named after its run when several runs share the chart."""
    return run.name if len(runs) > 1 else single


def _say(axes: Axes, message: str, y: float = 0.5) -> None:
    axes.text(0.5, y, message, transform=axes.transAxes, ha="center", va="center", color="0.45")
