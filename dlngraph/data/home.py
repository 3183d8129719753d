"""The user's data folder, where `dlngraph data fetch` puts the presets' files and presets read them.

`DLNGRAPH_DATA` names it when set; otherwise it is `dlngraph/data` in the platform's cache
folder: `$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS,
`%LOCALAPPDATA%` on Windows. A cache, because every file in it can be fetched again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DATA_ENV = "DLNGRAPH_DATA"


def data_home() -> Path:
    """The data folder (not created here: fetching creates it)."""
    explicit = os.environ.get(DATA_ENV)
    if explicit:
        return Path(explicit).expanduser()
    return _cache_root() / "dlngraph" / "data"


def _cache_root() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
