"""Where the paper's reference data lives: /work/shared/data, beside the project, never copied in;
and a mirror of it on 127.0.0.1 for the fetch tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.data.bigbench_tasks import task_examples
from tests.data.mirror_server import mirror_folder, serving

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; tests that need it are skipped where it is absent."""
    if not (SHARED_DATA / "bbh").is_dir():
        pytest.skip(f"the paper's data is not at {SHARED_DATA} (expected bbh/, bb_minus_bbh/, nlu/)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mirror(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a mirror of the shared data, the pools given only as reconstructed task.json files."""
    tasks = {task: task_examples(shared_data, task) for task in ("navigate", "hyperbaton")}
    with serving(mirror_folder(tmp_path_factory.mktemp("mirror"), shared_data, tasks)) as url:
        yield url
