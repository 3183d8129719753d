"""`write_report`: one run directory turned into report.html and the PNG charts it shows.

    write_report(Path("runs/dln2-20250101-120000"))   # -> runs/dln2-.../report.html

The page answers, in order: what ran and how it ended (overview), what the network is (its
picture), whether training helped (learning curves), what the prompts became (every node's
prompt after every step, with its score), the demonstrations they show, what else was tried (the
best candidates of each step), what the hidden nodes did, and where the calls and tokens went.

Each chart is written as a PNG beside the page and also embedded in it, so the page is
complete on its own and the pictures can go into slides or issues.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from matplotlib.figure import Figure

from dlngraph.dln.run_format import EndpointCounts, Usage
from dlngraph.report import formatting as fmt
from dlngraph.report import html, plots
from dlngraph.report.facts import run_facts
from dlngraph.report.graph_picture import network_picture
from dlngraph.report.html import Html
from dlngraph.report.runlog import RunLog, read_run
from dlngraph.report.tables import (
    PromptCell,
    RankedCandidate,
    prompt_history,
    top_candidates,
    usage_rows,
)
from dlngraph.report.usage import COUNTERS, breakdowns
from dlngraph.spec.nodes import Demonstration
from dlngraph.words import plural

REPORT_FILE = "report.html"

NETWORK_PICTURE = "network.png"
USAGE_CHART = "usage.png"


class Curve(NamedTuple):
    """One learning-curve chart of a run."""

    alt: str
    """The words that describe the picture (its `alt` text)."""
    draw: Callable[[RunLog], Figure]


CURVES: dict[str, Curve] = {
    "batch_loss.png": Curve("batch loss against training steps", lambda run: plots.batch_loss_chart([run])),
    "elbo.png": Curve("ELBO of the chosen prompt per node", plots.elbo_chart),
    "dev_accuracy.png": Curve("dev accuracy against training steps", lambda run: plots.dev_accuracy_chart([run])),
    "dev_accuracy_by_tokens.png": Curve(
        "dev accuracy against tokens spent", lambda run: plots.dev_accuracy_by_tokens_chart([run])
    ),
}
"""The learning curves by file name, in the order the page shows them."""


def write_report(run_dir: Path, out: Path | None = None, *, top_k: int = 3) -> Path:
    """Write report.html and its PNGs into `out` (default: the run directory); return the page's path."""
    return write_run_report(read_run(run_dir), out, top_k=top_k)


def write_run_report(run: RunLog, out: Path | None = None, *, top_k: int = 3) -> Path:
    """`write_report` of a run already read."""
    out = Path(out) if out is not None else run.path
    out.mkdir(parents=True, exist_ok=True)
    pictures = render_pictures(run)
    for name, png in pictures.items():
        (out / name).write_bytes(png)
    page = report_page(run, pictures, top_k=top_k)
    (out / REPORT_FILE).write_text(page, encoding="utf-8")
    return out / REPORT_FILE


def render_pictures(run: RunLog) -> dict[str, bytes]:
    """Every picture of the report as PNG bytes, by file name."""
    pictures = {name: plots.png_bytes(curve.draw(run)) for name, curve in CURVES.items()}
    pictures[USAGE_CHART] = plots.png_bytes(plots.usage_chart(run.usage or Usage()))
    if run.network is not None:
        pictures[NETWORK_PICTURE] = network_picture(run.network, "png")
    return pictures


def report_page(run: RunLog, pictures: dict[str, bytes], *, top_k: int = 3) -> str:
    return html.page(
        f"Run {run.name}",
        *[html.note(problem) for problem in run.problems],
        overview(run),
        network_section(pictures),
        curves_section(pictures),
        prompts_section(run),
        demonstrations_section(run),
        candidates_section(run, top_k),
        hidden_section(run),
        usage_section(run, pictures),
    )


def overview(run: RunLog) -> Html:
    facts = run_facts(run)
    rows = [
        ("run directory", str(run.path)),
        ("network", run.spec.name if run.spec else fmt.MISSING),
        ("status", facts.status),
        ("training steps", str(facts.iterations)),
        ("dev accuracy", f"{fmt.accuracy(facts.initial_dev_accuracy)} at start -> {fmt.accuracy(facts.best_dev_accuracy)} best"),
        ("test accuracy", fmt.accuracy(facts.test_accuracy)),
        ("calls", fmt.count(facts.calls)),
        ("requests", fmt.count(facts.requests)),
        ("tokens", fmt.count(facts.tokens)),
        ("wall time", fmt.duration(facts.wall_time_s)),
    ]
    return html.section("Overview", html.table([], rows))


def network_section(pictures: dict[str, bytes]) -> Html:
    if NETWORK_PICTURE not in pictures:
        return html.section("Network", html.note("no readable spec.yaml: the network cannot be drawn"))
    return html.section("Network", html.png_image(pictures[NETWORK_PICTURE], "the network's graph"))


def curves_section(pictures: dict[str, bytes]) -> Html:
    images = [html.png_image(pictures[name], curve.alt) for name, curve in CURVES.items()]
    return html.section("Learning curves", html.element("div", *images, class_="charts"))


def prompts_section(run: RunLog) -> Html:
    """Every node's prompt after every step; a prompt that changed is highlighted."""
    nodes = run.nodes
    rows = [
        [row.label, fmt.accuracy(row.dev_accuracy), *(_prompt_cell(row.cells.get(node)) for node in nodes)]
        for row in prompt_history(run)
    ]
    explanation = ("After each training step: the prompt each node kept, the score that made it win, "
                   "and where it came from.")
    return html.section("Prompts over time", html.element("p", explanation),
                        html.table(["step", "dev accuracy", *nodes], rows, numbers={0, 1}))


def demonstrations_section(run: RunLog) -> Html:
    """The demonstrations the run's prompts show, each node's in order (absent when none do)."""
    shown = run.demonstrations
    if not shown:
        return Html("")
    whose = "the best prompts" if run.summary is not None else "the prompts of the last logged step"
    explanation = (f"The worked examples shown with {whose}, in the order they are shown. "
                   "Each is a training example (its id under source), with what the node should answer there.")
    parts: list[Html] = [html.element("p", explanation)]
    for node, demonstrations in shown.items():
        parts += [html.element("h3", f"{node}: {plural(len(demonstrations), 'demonstration')}"),
                  demonstrations_table(demonstrations)]
    return html.section("Demonstrations", *parts)


def demonstrations_table(demonstrations: Sequence[Demonstration]) -> Html:
    """One row a demonstration: what the node read (its residual text first, if any), what it
    should answer, and which training example it is."""
    rows = [[str(number), html.prompt_text(_read(demonstration)), html.prompt_text(demonstration.output),
             demonstration.source] for number, demonstration in enumerate(demonstrations, start=1)]
    return html.table(["#", "input", "output", "source"], rows, numbers={0})


def _read(demonstration: Demonstration) -> str:
    return f"{demonstration.residual}\n\n{demonstration.input}" if demonstration.residual else demonstration.input


def candidates_section(run: RunLog, k: int) -> Html:
    """For each step, the `k` best-scored candidates of each trained node (with the sources of
    their demonstrations, when the run shows any)."""
    shows = any(candidate.demonstrations for iteration in run.iterations
                for update in iteration.updates.values() for candidate in update.candidates)
    validated = any(iteration.shortlist for iteration in run.iterations)
    headers = ["node", "rank", "score", "ELBO", "penalty", "origin", "chosen", *(["dev"] if validated else []),
               "prompt", *(["demonstrations"] if shows else [])]
    about = f"The {plural(k, 'best candidate')} of each node at each step, by score (ELBO minus penalty)."
    if validated:
        about += (" dev: the dev accuracy of the network with that candidate, for those validated with the step's"
                  " choice (validate_top); training went on from the one marked kept.")
    parts = [html.element("p", about)]
    for iteration in run.iterations:
        rows = [_candidate_row(node, ranked, shows, validated) for node, update in iteration.updates.items()
                for ranked in top_candidates(update, k, iteration.shortlist)]
        if rows:
            parts += [html.element("h3", f"Step {iteration.steps_done}"), html.table(headers, rows, numbers={1, 2, 3, 4})]
    return html.section("Best candidates per step", *parts)


def hidden_section(run: RunLog) -> Html:
    """How posterior inference went at the hidden nodes (absent from one-layer networks)."""
    rows = [
        [str(it.steps_done), node, f"{info.mean_samples:.1f}", str(info.changed), f"{info.normalized_entropy:.2f}"]
        for it in run.iterations
        for node, info in it.hidden.items()
    ]
    if not rows:
        return Html("")
    explanation = ("Samples: posterior samples per example. Changed: examples whose best hidden text differs from "
                   "the forward pass. Entropy: of the sharpening weights, 1 = flat, 0 = one clear winner.")
    return html.section("Hidden nodes", html.element("p", explanation),
                        html.table(["step", "node", "samples", "changed", "entropy"], rows, numbers={0, 2, 3, 4}))


def usage_section(run: RunLog, pictures: dict[str, bytes]) -> Html:
    """Calls and tokens of the logged steps, by node, phase and model."""
    parts: list[Html] = [
        html.element("p", "Calls and tokens of the logged training steps (validation included; the validation "
                          "before the first step and the final test are counted only in the overview)."),
        html.png_image(pictures[USAGE_CHART], "calls and tokens per node and phase"),
    ]
    counters = [*COUNTERS, "tokens"]
    headers = [name.replace("_", " ") for name in counters]
    usage = run.usage or Usage()
    for kind, groups in breakdowns(usage).items():
        rows = [[row.name, *(fmt.count(row.counts[key]) for key in counters)] for row in usage_rows(groups)]
        if rows:
            table = html.table([kind, *headers], rows, numbers=set(range(1, len(counters) + 1)))
            parts += [html.element("h3", f"By {kind}"), table]
    parts += endpoint_table(usage.by_endpoint or {})
    return html.section("Calls and tokens", *parts)


def endpoint_table(replicas: dict[str, EndpointCounts]) -> list[Html]:
    """The replicas of endpoint pools: what each answered, how fast, how often it failed."""
    if not replicas:
        return []
    rows = []
    for url, counts in replicas.items():
        mean_ms = 1000 * counts.latency_s / counts.requests if counts.requests else None
        rows.append([url, fmt.count(counts.requests), fmt.count(counts.errors),
                     "-" if mean_ms is None else f"{mean_ms:.0f} ms", fmt.count(counts.taken_out)])
    table = html.table(["endpoint", "requests", "errors", "mean latency", "taken out"], rows, numbers={1, 2, 3, 4})
    return [html.element("h3", "By endpoint"), table]


def _prompt_cell(cell: PromptCell | None) -> Html:
    if cell is None:
        return Html("")
    meta = [] if cell.score is None else [f"score {fmt.score(cell.score)}"]
    meta += [cell.origin] if cell.origin else []
    parts = [html.prompt_text(cell.prompt, changed=cell.changed), html.element("div", " · ".join(meta), class_="meta")]
    if cell.demonstrations:
        count = plural(len(cell.demonstrations), "demonstration")
        parts.append(html.element("details", html.element("summary", count), demonstrations_table(cell.demonstrations)))
    return html.join(parts)


def _candidate_row(node: str, ranked: RankedCandidate, shows_demonstrations: bool, validated: bool) -> list[str | Html]:
    candidate = ranked.candidate
    row: list[str | Html] = [
        node, str(ranked.rank), fmt.score(candidate.score), fmt.score(candidate.elbo), fmt.score(candidate.penalty),
        candidate.origin, "✓" if ranked.chosen else "",
    ]
    if validated:
        dev = "" if ranked.dev_accuracy is None else f"{ranked.dev_accuracy:.3f}"
        row.append(f"{dev} kept" if ranked.kept else dev)
    row.append(html.prompt_text(candidate.prompt))
    if shows_demonstrations:
        row.append(", ".join(demonstration.source or "?" for demonstration in candidate.demonstrations) or "none")
    return row
