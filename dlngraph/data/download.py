"""The checked, atomic download beneath `dlngraph data fetch`: where a file comes from, how it
is streamed, and how it takes its real name only once it is known good.

A file is written into a temporary file beside its destination and renamed into place only
after its check passes: an interrupted download or a bad file never leaves a half-written or
wrong file under its real name, and a good file already there survives a bad download.

`DLNGRAPH_DATA_MIRROR` replaces every public address with `<mirror>/<mirror path>` (a folder
served over HTTP or as a `file:` URL): a file's mirror path is its path in the data folder,
and for a rebuilt file that of what it is rebuilt from (`sources.DataFile.mirror_path`).
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
from typing import BinaryIO

from dlngraph.data.errors import DataError
from dlngraph.data.sources import DataFile

MIRROR_ENV = "DLNGRAPH_DATA_MIRROR"
CHUNK = 1 << 16
TIMEOUT_S = 60.0


def source_url(file: DataFile, mirror: str | None = None) -> str:
    """Where `file` (or what it is rebuilt from) is downloaded: the mirror when one is set, else its public address."""
    mirror = os.environ.get(MIRROR_ENV) if mirror is None else mirror
    if mirror:
        return f"{mirror.rstrip('/')}/{file.mirror_path}"
    return file.url


def download(url: str, out: BinaryIO, name: str) -> tuple[str, int]:
    """The sha256 and size of what `url` sent, written to `out` as it arrives; errors name `name`."""
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:  # HTTPError is a URLError
        raise DataError.about(name, f"download from {url} failed: {_reason(error)}") from error
    return digest.hexdigest(), size


def check_sum(file: DataFile, what: str, digest: str, size: int) -> None:
    """An error naming `file` unless `what` (e.g. "the download from URL") has its size and sha256."""
    if size != file.size:
        raise DataError.about(file.path, f"{what} has {size} bytes, expected {file.size} (truncated or changed)")
    if digest != file.sha256:
        raise DataError.about(file.path, f"sha256 of {what} is {digest}, expected {file.sha256}")


def write_atomically(destination: Path, write: Callable[[BinaryIO], None]) -> None:
    """`destination` holding what `write` wrote, or (if `write` raises) untouched and no temporary file left."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 is for the half file, not the data
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return f"{type(error).__name__}: {error}"
