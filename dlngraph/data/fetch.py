"""A preset's files in the data folder, each downloaded (or rebuilt) and checked against the sums in `sources`.

A file whose sum already matches is kept; any other is downloaded from its public address or
the mirror (`download`), or, for a BIG-bench pool, rebuilt from BIG-bench's task.json once its
BBH file is there (`bigbench_pool`). Either way it takes its name only once its size and
sha256 match, so a failure leaves nothing behind and a good file is never replaced by a bad one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec

from dlngraph.data.bigbench_pool import rebuild_pool
from dlngraph.data.download import MIRROR_ENV, check_sum, download, sha256_of, source_url, write_atomically
from dlngraph.data.errors import DataError
from dlngraph.data.sources import PRESET_FILES, DataFile

__all__ = ["MIRROR_ENV", "Fetched", "fetch_file", "fetch_preset", "missing_files", "preset_files"]


class Fetched(msgspec.Struct, frozen=True, kw_only=True):
    file: DataFile
    path: Path
    downloaded: bool
    """False when a good copy was already there."""


def inside(data_dir: Path, name: str) -> Path:
    """`data_dir / name`, refused unless `name` is a relative path that stays in `data_dir`
    (no `..`, not absolute), so a file list can never make a fetch write elsewhere."""
    relative = Path(name)
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise DataError.about(name, f"a data file's name must be a path inside the data folder {data_dir}")
    return data_dir / relative


def preset_files(name: str) -> tuple[DataFile, ...]:
    """The files of preset `name`; an unknown name is an error listing the known ones."""
    if name not in PRESET_FILES:
        raise DataError.about("", f"unknown preset '{name}' (expected one of {', '.join(PRESET_FILES)})")
    return PRESET_FILES[name]


def missing_files(name: str, data_dir: Path) -> list[DataFile]:
    """The files of preset `name` not present in `data_dir` (presence only: sums are checked when fetched)."""
    return [file for file in preset_files(name) if not (data_dir / file.path).is_file()]


def fetch_preset(
    name: str, data_dir: Path, *, mirror: str | None = None, report: Callable[[Fetched], None] | None = None
) -> list[Fetched]:
    """Every file of preset `name` in `data_dir`, downloaded where missing or wrong."""
    fetched = []
    for file in preset_files(name):
        result = fetch_file(file, data_dir, mirror=mirror)
        if report is not None:
            report(result)
        fetched.append(result)
    return fetched


def fetch_file(file: DataFile, data_dir: Path, *, mirror: str | None = None) -> Fetched:
    """`file` under `data_dir`, kept if its sum matches, else downloaded (or rebuilt) and checked."""
    destination = inside(data_dir, file.path)
    if destination.is_file() and sha256_of(destination) == file.sha256:
        return Fetched(file=file, path=destination, downloaded=False)
    url = source_url(file, mirror)
    if file.rebuild is not None:
        bbh = fetch_file(file.rebuild.bbh, data_dir, mirror=mirror)
        rebuild_pool(file, url, bbh.path, destination)
    else:
        write_atomically(destination, lambda out: check_sum(file, f"the download from {url}", *download(url, out, file.path)))
    return Fetched(file=file, path=destination, downloaded=True)
