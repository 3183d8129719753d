"""The specs shipped with dlngraph: the README's, the demo's and the paper's.

They are package data (`dlngraph/specs/`, in a clone a link to the repository's `specs/`), so an
installed package has them too: the demo trains them, and `dlngraph specs --copy DIR` writes
them out for the README's commands.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SHIPPED_SPECS = Path(__file__).resolve().parents[1] / "specs"
"""The folder of the shipped specs, laid out as the repository's `specs/`."""


def shipped_spec_files() -> list[Path]:
    """Every shipped spec and sweep file, relative to `SHIPPED_SPECS`, sorted."""
    return sorted(path.relative_to(SHIPPED_SPECS) for path in SHIPPED_SPECS.rglob("*.yaml"))


def copy_shipped_specs(folder: Path) -> list[Path]:
    """The shipped specs copied into `folder` (created if missing), as the repository lays them
    out; refuses to overwrite a file that is already there (a `FileExistsError` names it)."""
    files = shipped_spec_files()
    existing = [folder / file for file in files if (folder / file).exists()]
    if existing:
        raise FileExistsError(f"{existing[0]} already exists; copy into an empty folder or remove it")
    for file in files:
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHIPPED_SPECS / file, folder / file)
    return [folder / file for file in files]
