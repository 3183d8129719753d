"""A local instruct model's proposals and posterior samples without and with its chat template.

    python benchmarks/bench_chat.py --model qwen1.5b.gguf [--runs DIR]

Trains benchmarks/chat/subj-dln1.yaml (DLN-1: proposals, dev start -> best) and
subj-dln2.yaml (DLN-2: posterior samples too) with the model in both roles, once with
`chat: false` and once with `chat: true` on the backward model (the one that writes
proposals and posterior samples; the forward model is the same in both, so the two runs of a
spec share one cache and the second replays the forward calls). Prints, per run, the proposals
asked and dropped by cleaning (`dropped_proposals` in events.jsonl), the posterior samples per
example and how many examples changed their best hidden text, dev start -> best, and one
proposal written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from dlngraph.runs import TrainOptions, train_spec
from dlngraph.spec import load_spec

SPECS = Path(__file__).resolve().parent / "chat"


async def measure(spec: str, model: Path, chat: bool, runs: Path, threads: int | None) -> dict[str, object]:
    overrides = [f"models.{name}.model_path={model.resolve()}" for name in ("fast", "backward")]
    if threads is not None:  # one thread copes far better than two with a CPU shared by other work
        overrides += [f"models.{name}.n_threads={threads}" for name in ("fast", "backward")]
    options = TrainOptions(runs_root=runs / spec, overrides=[*overrides, f"models.backward.chat={str(chat).lower()}"],
                           cache_path=runs / f"{spec}-cache.sqlite")
    started = time.perf_counter()
    summary = await train_spec(SPECS / f"{spec}.yaml", options)
    return {"spec": spec, "chat": chat, **figures(Path(summary.run_dir)), "wall_s": round(time.perf_counter() - started)}


def figures(run_dir: Path) -> dict[str, object]:
    """What a run's events.jsonl and summary.json say of its proposals and posterior samples."""
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    summary = json.loads((run_dir / "summary.json").read_text())
    training = load_spec(run_dir / "spec.yaml").spec.training
    updates = [update for event in events for update in event.get("updates", {}).values()]
    hidden = [inference for event in events for inference in event.get("hidden", {}).values()]
    written = [candidate["prompt"] for update in updates for candidate in update["candidates"]
               if candidate["origin"] == "proposal"]
    asked = len(updates) * (training.num_p_samples - 1)
    dropped = sum(update.get("dropped_proposals", 0) for update in updates)
    return {
        "proposals_asked": asked, "dropped_by_cleaning": dropped, "distinct_new": len(written),
        "repeats": asked - dropped - len(written),  # the current prompt again, or another proposal again
        "posterior_samples_per_example": [inference["mean_samples"] for inference in hidden],
        "hidden_changed": [inference["changed"] for inference in hidden],
        "dev_start": summary["initial_dev_accuracy"], "dev_best": summary["best_dev_accuracy"],
        "a_proposal": written[0] if written else None, "run_dir": str(run_dir),
    }


async def main_async(model: Path, runs: Path, specs: list[str], chats: list[bool], threads: int | None) -> None:
    for spec in specs:
        for chat in chats:
            print(json.dumps(await measure(spec, model, chat, runs, threads)), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a GGUF instruct model with a chat template")
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-chat"), help="folder for the runs and caches")
    parser.add_argument("--specs", nargs="+", default=["subj-dln1", "subj-dln2"], help="which of benchmarks/chat/")
    parser.add_argument("--chat", choices=["off", "on", "both"], default="both",
                        help="which runs: without the template, with it, or both (default; two processes may share --runs)")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: all cores)")
    args = parser.parse_args(argv)
    chats = {"off": [False], "on": [True], "both": [False, True]}[args.chat]
    asyncio.run(main_async(args.model, args.runs, args.specs, chats, args.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
