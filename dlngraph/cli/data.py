"""`dlngraph data list` and `dlngraph data fetch NAME...`: the paper's preset data in the user's data folder.

`list` shows each preset, whether its files are in the folder and where they come from;
`fetch` downloads the missing or wrong ones (rebuilding the BIG-bench pools from BIG-bench's
task.json), checked against the sums kept in the package (`dlngraph/data/sources.py`,
`dlngraph/data/fetch.py`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dlngraph.data.fetch import MIRROR_ENV, Fetched, fetch_preset, missing_files
from dlngraph.data.home import DATA_ENV, data_home
from dlngraph.data.sources import PRESET_FILES, DataFile
from dlngraph.words import plural

NAME = "data"
HELP = "list the paper's preset tasks and fetch their data into the data folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, metavar="DIR", help=f"the data folder (default: ${DATA_ENV}, else the cache folder)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="each preset, whether its data is here, and its sources")
    fetch = actions.add_parser("fetch", help=f"download presets' files (from ${MIRROR_ENV} when set)")
    fetch.add_argument("names", nargs="+", choices=list(PRESET_FILES), metavar="NAME",
                       help=f"presets: {', '.join(PRESET_FILES)}")


def run(args: argparse.Namespace) -> int:
    folder = args.dir if args.dir is not None else data_home()
    if args.action == "list":
        _list(folder)
        return 0
    for name in args.names:
        fetched = fetch_preset(name, folder, report=_report)
        print(f"{name}: {plural(len(fetched), 'file')} ready in {folder}")
    return 0


def _list(folder: Path) -> None:
    print(f"data folder: {folder}")
    for name, files in PRESET_FILES.items():
        missing = missing_files(name, folder)
        state = "ready" if not missing else f"missing {len(missing)} of {len(files)} (dlngraph data fetch {name})"
        print(f"{name}: {state}")
        for file in files:
            print(f"  {file.path}  {file.size} bytes  {_source(file)}")


def _source(file: DataFile) -> str:
    if file.rebuild is None:
        return file.url
    return f"rebuilt from {file.url} minus the items of {file.rebuild.bbh.path}"


def _report(fetched: Fetched) -> None:
    made = "rebuilt from BIG-bench's task.json" if fetched.file.rebuild is not None else "downloaded"
    verb = made if fetched.downloaded else "already there"
    print(f"  {fetched.file.path}: {verb}")
