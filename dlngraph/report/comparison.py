"""Several runs side by side: a text table of their headline numbers, and overlaid curves.

    runs = [read_run(path) for path in paths]
    print(comparison_table(runs))
    write_comparison(runs, Path("compare"))   # PNGs + compare.html

Each run is named by its directory, which is unique among the runs of one `--runs` folder even
when they train the same spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dlngraph.report import formatting as fmt
from dlngraph.report import html, plots
from dlngraph.report.facts import run_facts
from dlngraph.report.html import Html
from dlngraph.report.run_report import demonstrations_table
from dlngraph.report.runlog import RunLog
from dlngraph.words import plural

HEADERS = ["run", "iterations", "dev: start -> best", "test", "calls", "tokens", "wall time"]

COMPARISON_FILE = "compare.html"

CHARTS = {
    "dev_accuracy.png": ("dev accuracy against training steps, one line per run", plots.dev_accuracy_chart),
    "batch_loss.png": ("batch loss against training steps, one line per run", plots.batch_loss_chart),
    "dev_accuracy_by_tokens.png": ("dev accuracy against tokens spent, one line per run",
                                   plots.dev_accuracy_by_tokens_chart),
}


def comparison_rows(runs: Sequence[RunLog]) -> list[list[str]]:
    """One row of `HEADERS` per run; a run still going shows what its log holds so far."""
    rows = []
    for run in runs:
        facts = run_facts(run)
        name = run.name if run.summary is not None else f"{run.name} ({facts.status})"
        rows.append([
            name, str(facts.iterations),
            f"{fmt.accuracy(facts.initial_dev_accuracy)} -> {fmt.accuracy(facts.best_dev_accuracy)}",
            fmt.accuracy(facts.test_accuracy),
            fmt.count(facts.calls), fmt.count(facts.tokens), fmt.duration(facts.wall_time_s),
        ])
    return rows


def comparison_table(runs: Sequence[RunLog]) -> str:
    """The table; when a run shows demonstrations, then each of them, a line each."""
    return text_table(HEADERS, comparison_rows(runs)) + "".join(demonstration_lines(run) for run in runs)


def demonstration_lines(run: RunLog, width: int = 100) -> str:
    """The run's demonstrations (`RunLog.demonstrations`) as text, one line each, cut to `width`."""
    lines = []
    for node, demonstrations in run.demonstrations.items():
        lines.append(f"\n{run.name}: {plural(len(demonstrations), 'demonstration')} at {node}\n")
        for demonstration in demonstrations:
            line = f"  [{demonstration.source or '?'}] {_one_line(demonstration.input)} -> {_one_line(demonstration.output)}"
            lines.append((line if len(line) <= width else line[:width - 3] + "...") + "\n")
    return "".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the first column left-aligned, numbers right-aligned."""
    widths = [max(len(row[column]) for row in [headers, *rows]) for column in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) if column == 0 else cell.rjust(width)
                  for column, (cell, width) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *map(line, rows)]) + "\n"


def demonstrations_sections(runs: Sequence[RunLog]) -> list[Html]:
    """A section with the demonstrations of the runs that show any (none without)."""
    parts = [part for run in runs for node, demonstrations in run.demonstrations.items()
             for part in (html.element("h3", f"{run.name}: {node}"), demonstrations_table(demonstrations))]
    return [html.section("Demonstrations", *parts)] if parts else []


def write_comparison(runs: Sequence[RunLog], out: Path) -> Path:
    """Write the overlaid curves as PNGs and a page holding them with the table; return its path."""
    out.mkdir(parents=True, exist_ok=True)
    images = []
    for name, (alt, chart) in CHARTS.items():
        png = plots.png_bytes(chart(runs))
        (out / name).write_bytes(png)
        images.append(html.png_image(png, alt))
    page = html.page(
        f"Comparison of {plural(len(runs), 'run')}",
        html.section("Runs", html.table(HEADERS, comparison_rows(runs), numbers=set(range(1, len(HEADERS)))),
                     html.element("p", "Directories: ", ", ".join(str(run.path) for run in runs), class_="meta")),
        html.section("Curves", html.element("div", *images, class_="charts")),
        *demonstrations_sections(runs),
    )
    (out / COMPARISON_FILE).write_text(page, encoding="utf-8")
    return out / COMPARISON_FILE
