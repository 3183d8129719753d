"""`dlngraph data fetch` against a real HTTP server on 127.0.0.1 mirroring ../shared/data (conftest), with faults."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dlngraph.cli.main import main
from dlngraph.data import DataError, load_dataset
from dlngraph.data.download import source_url
from dlngraph.data.fetch import MIRROR_ENV, fetch_file, fetch_preset
from dlngraph.data.home import DATA_ENV, data_home
from dlngraph.data.sources import PRESET_FILES
from dlngraph.spec.data import PresetData


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sums_kept_in_the_package_are_those_of_the_shared_files(shared_data: Path) -> None:
    for files in PRESET_FILES.values():
        for file in files:
            path = shared_data / file.path
            assert (_sha256(path), path.stat().st_size) == (file.sha256, file.size), file.path


def test_fetch_downloads_checks_and_keeps(mirror: str, tmp_path: Path, shared_data: Path) -> None:
    fetched = fetch_preset("trec", tmp_path, mirror=mirror)
    assert [item.downloaded for item in fetched] == [True, True, True]
    for item in fetched:
        assert item.path.read_bytes() == (shared_data / item.file.path).read_bytes()
    assert [item.downloaded for item in fetch_preset("trec", tmp_path, mirror=mirror)] == [False] * 3
    assert sorted(path.name for path in (tmp_path / "nlu" / "trec").iterdir()) == [
        "dev_subsample.jsonl", "test.jsonl", "train.jsonl"]  # no temporary file left


@pytest.mark.parametrize("fault", ["truncated", "corrupt"])
def test_bad_download_is_an_error_naming_the_file_and_leaves_nothing(fault: str, mirror: str, tmp_path: Path) -> None:
    file = PRESET_FILES["navigate"][0]
    message = r"bbh/navigate\.json: (the )?download from .* (failed|has \d+ bytes)" if fault == "truncated" else \
        r"bbh/navigate\.json: sha256 of the download .* is [0-9a-f]{64}, expected " + file.sha256
    with pytest.raises(DataError, match=message):
        fetch_file(file, tmp_path, mirror=f"{mirror}/{fault}")
    assert list((tmp_path / "bbh").iterdir()) == []


def test_bad_download_keeps_the_file_already_there(mirror: str, tmp_path: Path) -> None:
    """A file replaced only once its download checks out: an old copy survives a bad one."""
    file = PRESET_FILES["navigate"][0]
    old = tmp_path / file.path
    old.parent.mkdir(parents=True)
    old.write_text("an older copy")
    with pytest.raises(DataError, match="sha256"):
        fetch_file(file, tmp_path, mirror=f"{mirror}/corrupt")
    assert old.read_text() == "an older copy"
    assert [path.name for path in old.parent.iterdir()] == ["navigate.json"]


def test_interrupted_download_leaves_no_half_file(mirror: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the middle of the body: the temporary file goes, nothing takes the real name."""
    import dlngraph.data.download as download
    import dlngraph.data.fetch as fetch

    class Interrupting:
        def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
            self.real = real
            self.written = 0

        def write(self, chunk: bytes) -> None:
            self.real.write(chunk)
            self.written += len(chunk)
            if self.written > 1000:
                raise KeyboardInterrupt

    real_download = fetch.download
    monkeypatch.setattr(fetch, "download", lambda url, out, name: real_download(url, Interrupting(out), name))
    monkeypatch.setattr(download, "CHUNK", 512)
    with pytest.raises(KeyboardInterrupt):
        fetch_file(PRESET_FILES["subj"][0], tmp_path, mirror=mirror)
    assert list((tmp_path / "nlu" / "subj").iterdir()) == []


def test_unreachable_server_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nlu/trec/train\.jsonl: download from http://127\.0\.0\.1:9/.* failed"):
        fetch_file(PRESET_FILES["trec"][0], tmp_path, mirror="http://127.0.0.1:9")


def test_sources_public_and_mirrored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool comes from BIG-bench's task.json, which a mirror holds at bigbench/<task>/task.json."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    bbh, pool = PRESET_FILES["hyperbaton"]
    assert source_url(bbh) == "https://raw.githubusercontent.com/suzgunmirac/BIG-Bench-Hard/main/bbh/hyperbaton.json"
    assert source_url(pool) == \
        "https://raw.githubusercontent.com/google/BIG-bench/main/bigbench/benchmark_tasks/hyperbaton/task.json"
    monkeypatch.setenv(MIRROR_ENV, "file:///copy/")
    assert (source_url(bbh), source_url(pool)) == ("file:///copy/bbh/hyperbaton.json", "file:///copy/bigbench/hyperbaton/task.json")


def test_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "mine"))
    assert data_home() == tmp_path / "mine"
    monkeypatch.delenv(DATA_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "dlngraph" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_home() == tmp_path / ".cache" / "dlngraph" / "data"


def test_cli_fetch_then_the_preset_reads_the_data_folder(
    mirror: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    monkeypatch.setenv(MIRROR_ENV, mirror)
    with pytest.raises(DataError, match=r"preset 'navigate' has no data here .*`dlngraph data fetch navigate`"):
        load_dataset(PresetData(name="navigate"), base_dir=Path("/nowhere"))
    assert main(["data", "list"]) == 0
    assert "navigate: missing 2 of 2 (dlngraph data fetch navigate)" in capsys.readouterr().out
    assert main(["data", "fetch", "navigate"]) == 0
    assert "navigate: 2 files ready" in capsys.readouterr().out
    data = load_dataset(PresetData(name="navigate"), base_dir=Path("/nowhere"))
    assert (len(data.train), len(data.dev), len(data.test)) == (375, 375, 250)
    main(["data", "list"])
    assert "navigate: ready" in capsys.readouterr().out


def test_cli_fetch_failure_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:9")
    assert main(["data", "--dir", str(tmp_path), "fetch", "trec"]) == 1
    assert "error: nlu/trec/train.jsonl: download from" in capsys.readouterr().err
