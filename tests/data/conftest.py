"""Where the paper's reference data lives: /work/shared/data, beside the project, never copied in."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; tests that need it are skipped where it is absent."""
    if not (SHARED_DATA / "bbh").is_dir():
        pytest.skip(f"the paper's data is not at {SHARED_DATA} (expected bbh/, bb_minus_bbh/, nlu/)")
    return SHARED_DATA
