"""The demo's settings on tasks they were not written for: the DLN paper's four presets.

    python benchmarks/bench_presets.py [--tasks navigate subj] [--seeds 3] [--model PATH] [--set FIELD=VALUE] [--quick]

For each task, the shipped demo specs (specs/demo/dln1.yaml and dln2.yaml) are copied with only
what names the task changed:

- `data`: the preset, its dev and test sets cut to 100 examples each (`max_dev`, `max_test`,
  drawn with the data seed, so every training seed scores the same examples);
- the output node's instruction and classes: the paper's own (specs/paper/TASK-dln1.yaml);
- DLN-2's hidden node: one instruction written for no task in particular (`HIDDEN_PROMPT`).

Models, templates and every training setting stay the demo's: nothing here is tuned to a task.
`--set FIELD=VALUE` changes a training setting for every task alike (the demo's `--set`), to
measure a setting across tasks rather than on one.
Then `dlngraph demo --specs` runs each task (0-shot, random k-shot over 5 draws, DLN-1 and
DLN-2 over the seeds) and this script prints one markdown table of test accuracy. The specs,
runs, logs and each demo's JSON are kept under `--runs`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("navigate", "hyperbaton", "subj", "trec")
HIDDEN_PROMPT = "In one sentence, note what in the text decides the answer."
"""DLN-2's hidden instruction on every preset (the demo's own speaks of reviews)."""


def preset_specs(task: str, data_dir: Path, cap: int) -> dict[str, dict]:
    """The demo's two specs, moved onto `task` (see the module docstring)."""
    paper = yaml.safe_load((ROOT / "specs" / "paper" / f"{task}-dln1.yaml").read_text())
    (paper_output,) = [node for node in paper["nodes"] if node["id"] == paper["output"]]
    specs = {}
    for name in ("dln1", "dln2"):
        spec = yaml.safe_load((ROOT / "specs" / "demo" / f"{name}.yaml").read_text())
        spec["name"] = f"{task}-{name}"
        spec["description"] = f"The demo's {name.upper()} settings on the paper's {task}."
        for node in spec["nodes"]:
            if node["id"] == spec["output"]:
                node["prompt"], node["classes"] = paper_output["prompt"], paper_output["classes"]
            else:
                node["prompt"] = HIDDEN_PROMPT
        spec["data"] = {"source": "preset", "name": task, "data_dir": str(data_dir), "max_dev": cap, "max_test": cap}
        specs[name] = spec
    return specs


def run_task(task: str, args: argparse.Namespace) -> dict:
    """The demo on one task; returns its JSON result."""
    folder = args.runs / task
    specs_dir = folder / "specs"
    specs_dir.mkdir(parents=True, exist_ok=True)
    for name, spec in preset_specs(task, args.data.resolve(), args.cap).items():
        (specs_dir / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    command = demo_command(folder, args)
    with open(folder / "demo.log", "w") as log:
        print(f"[{task}] {' '.join(command)}", flush=True)
        done = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"[{task}] the demo failed (exit {done.returncode}): see {folder / 'demo.log'}")
    return json.loads((folder / "demo.json").read_text())


def demo_command(folder: Path, args: argparse.Namespace) -> list[str]:
    """`dlngraph demo` on the specs written under `folder`, with the options given here."""
    command = [sys.executable, "-m", "dlngraph.cli.main", "demo", "--specs", str(folder / "specs"), "--runs",
               str(folder / "runs"), "--seeds", str(args.seeds), "--progress", "lines", "--json", str(folder / "demo.json")]
    if args.model is not None:
        command += ["--model", str(args.model.resolve())]
    if args.quick:
        command += ["--quick"]
    for override in args.set:
        command += ["--set", override]
    return command


def table_row(task: str, result: dict) -> str:
    """| task | 0-shot | random k-shot (draws' range) | DLN-1 (per seed) | DLN-2 (per seed) | wall |"""
    systems = {system["system"]: system for system in result["systems"]}
    kshot = next(system for system in result["systems"] if system["test_draws"])
    draws = kshot["test_draws"]
    cells = [task, _f(systems["0-shot"]["test"][0]),
             f"{_f(statistics.fmean(draws))} ({_f(min(draws))}-{_f(max(draws))})"]
    for name in ("DLN-1", "DLN-2"):
        tests = systems[name]["test"]
        cells.append(f"{_f(statistics.fmean(tests))} ({', '.join(map(_f, tests))})")
    cells.append(f"{result['wall_time_s']:.0f} s")
    return "| " + " | ".join(cells) + " |"


def _f(value: float) -> str:
    return f"{value:.3f}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--seeds", type=int, default=3, help="training seeds 1..N (default 3)")
    parser.add_argument("--model", type=Path, help="a GGUF file for every model (default: the embedded Gemma 3 270M)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the folder holding bbh/, bb_minus_bbh/ and nlu/ (default ../shared/data)")
    parser.add_argument("--cap", type=int, default=100, help="dev and test examples per task (default 100)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: the demo's --quick (one seed, one iteration) with --cap 12")
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-presets"), help="folder for specs, runs and logs")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a training field of both networks, as the demo's --set (repeatable)")
    args = parser.parse_args(argv)
    if args.quick:
        args.cap = 12
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = [table_row(task, run_task(task, args)) for task in args.tasks]
    print("| task | 0-shot | random k-shot, mean (range of 5 draws) | DLN-1 (per seed) | DLN-2 (per seed) | wall |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
