"""The commands collect the youngest generation less often; an importing program is left alone."""

from __future__ import annotations

import subprocess
import sys

from dlngraph.runs.gc_tuning import OLDER_THRESHOLDS, YOUNGEST_THRESHOLD


def thresholds_after(code: str) -> tuple[int, ...]:
    output = subprocess.run([sys.executable, "-c", code + "; import gc; print(gc.get_threshold())"],
                            capture_output=True, text=True, check=True).stdout
    last_line = output.strip().splitlines()[-1]
    return tuple(int(part) for part in last_line.strip("()").split(","))


def test_a_command_raises_the_youngest_generations_threshold() -> None:
    code = "from dlngraph.cli.main import main; main(['validate', 'specs/dln1.yaml'])"
    assert thresholds_after(code) == (YOUNGEST_THRESHOLD, *OLDER_THRESHOLDS)


def test_importing_dlngraph_keeps_the_programs_own_settings() -> None:
    code = "import dlngraph.dln.trainer, dlngraph.llm.client, dlngraph.cli.main"
    assert thresholds_after(code) == thresholds_after("pass")
