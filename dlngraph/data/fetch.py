"""Downloading a preset's files into the data folder, checked against the sums in `sources`.

A file is streamed into a temporary file beside its destination while its sha256 is
computed, and renamed into place only when size and sum match: an interrupted download or a
bad file never leaves a half-written or wrong file under its real name, and a good file
already there is kept (a file whose sum matches is not downloaded again).

`DLNGRAPH_DATA_MIRROR` replaces every public address with `<mirror>/<path>` (a folder laid
out like the data folder, served over HTTP or as a `file:` URL): for a local copy, and for
the files that have no public address of their own (the BIG-bench pools).
Standard library only (urllib), as the data layer allows.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import msgspec

from dlngraph.data.errors import DataError
from dlngraph.data.sources import PRESET_FILES, DataFile

MIRROR_ENV = "DLNGRAPH_DATA_MIRROR"
CHUNK = 1 << 16
TIMEOUT_S = 60.0


class Fetched(msgspec.Struct, frozen=True, kw_only=True):
    file: DataFile
    path: Path
    downloaded: bool
    """False when a good copy was already there."""


def preset_files(name: str) -> tuple[DataFile, ...]:
    """The files of preset `name`; an unknown name is an error listing the known ones."""
    if name not in PRESET_FILES:
        raise DataError.about("", f"unknown preset '{name}' (expected one of {', '.join(PRESET_FILES)})")
    return PRESET_FILES[name]


def missing_files(name: str, data_dir: Path) -> list[DataFile]:
    """The files of preset `name` not present in `data_dir` (presence only: sums are checked when fetched)."""
    return [file for file in preset_files(name) if not (data_dir / file.path).is_file()]


def source_url(file: DataFile, mirror: str | None = None) -> str:
    """Where `file` is downloaded from: the mirror when one is set, else its public address."""
    mirror = os.environ.get(MIRROR_ENV) if mirror is None else mirror
    if mirror:
        return f"{mirror.rstrip('/')}/{file.path}"
    if file.url is None:
        raise DataError.about(
            file.path, f"no public copy of this file ({file.origin}); set {MIRROR_ENV} to a folder or URL holding it"
        )
    return file.url


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
    """`file` under `data_dir`, kept if its sum matches, else downloaded and checked."""
    destination = data_dir / file.path
    if destination.is_file() and _sha256_of(destination) == file.sha256:
        return Fetched(file=file, path=destination, downloaded=False)
    url = source_url(file, mirror)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            digest, size = _download(url, out, file)
            out.flush()
            os.fsync(out.fileno())
        _check(file, url, digest, size)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 is for the half file, not the data
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Fetched(file=file, path=destination, downloaded=True)


def _download(url: str, out, file: DataFile) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """The sha256 and size of what `url` sent, written to `out` as it arrives."""
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:  # HTTPError is a URLError
        raise DataError.about(file.path, f"download from {url} failed: {_reason(error)}") from error
    return digest.hexdigest(), size


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return f"{type(error).__name__}: {error}"


def _check(file: DataFile, url: str, digest: str, size: int) -> None:
    if size != file.size:
        raise DataError.about(file.path, f"download from {url} has {size} bytes, expected {file.size} (truncated or changed)")
    if digest != file.sha256:
        raise DataError.about(file.path, f"sha256 of the download from {url} is {digest}, expected {file.sha256}")


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
