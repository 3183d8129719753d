"""Does a step's ranking on its batch foretell the dev accuracy of what it chose?

    python benchmarks/bench_ranking_signal.py RUNS_FOLDER [RUNS_FOLDER ...]

Reads every run directory under the folders given (`dlngraph demo --runs`, `bench_presets.py
--runs`) and makes no call. A step replaces a node's prompt (or demonstrations) when a
candidate outscores the current one on the batch; the validation right after it says whether
the new network is better on dev. For every step that changed a node and was validated right
after the validation before it (so the dev change is that step's alone), this prints the
batch margin (the winner's score minus the current one's, in nats per example) beside the dev
change, and per group of runs the rank correlation of the two: near 0, the batch ranking
picks among candidates no better than chance as far as dev can tell.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from dlngraph.report.runlog import read_run


def step_changes(run_dir: Path) -> list[tuple[str, float, float]]:
    """(node, batch margin, dev change) of each step of one run that changed a node and whose
    dev change is its own."""
    run = read_run(run_dir)
    if run.start is None:
        return []
    found = []
    last_dev, last_validated = run.start.dev_accuracy, -1
    for record in run.iterations:
        if record.dev_accuracy is None:
            continue
        if record.iteration == last_validated + 1:
            # with a shortlist (`validate_top`), the step's choice is its first network, and
            # training went on from the one kept (`record.dev_accuracy`)
            chosen_dev = record.shortlist[0].dev_accuracy if record.shortlist else record.dev_accuracy
            for update in record.updates.values():
                if update.chosen != 0:
                    margin = update.candidates[update.chosen].score - update.candidates[0].score
                    found.append((update.node, margin, chosen_dev - last_dev))
        last_dev, last_validated = record.dev_accuracy, record.iteration
    return found


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation; tied values share their mean rank (dev changes tie often)."""
    return statistics.correlation(_ranks(xs), _ranks(ys)) if len(xs) > 2 else float("nan")


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2
        start = end + 1
    return ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    for folder in args.folders:
        print(f"\n{folder}\n")
        print_table(changes_by_group(folder))


def changes_by_group(folder: Path) -> dict[str, list[tuple[float, float]]]:
    """(margin, dev change) per spec name and node. A run replayed from its cache repeats its
    steps exactly: each step is counted once."""
    groups: dict[str, set[tuple[float, float]]] = defaultdict(set)
    for events in sorted(folder.rglob("events.jsonl")):
        spec_name = events.parent.name.rsplit("-", 2)[0]  # `<spec name>-<date>-<time>`
        for node, margin, change in step_changes(events.parent):
            groups[f"{spec_name} {node}"].add((margin, change))
    return {name: sorted(rows) for name, rows in groups.items()}


def print_table(groups: dict[str, list[tuple[float, float]]]) -> None:
    print("| runs, node | steps that changed it | dev up / same / down | mean dev change | Spearman(margin, dev change) |")
    print("|---|---:|---:|---:|---:|")
    for name, rows in sorted(groups.items()):
        margins, changes = [margin for margin, _ in rows], [change for _, change in rows]
        up, down = sum(change > 1e-9 for change in changes), sum(change < -1e-9 for change in changes)
        print(f"| {name} | {len(rows)} | {up} / {len(rows) - up - down} / {down} | {statistics.mean(changes):+.3f} |"
              f" {spearman(margins, changes):+.2f} |")


if __name__ == "__main__":
    main()
