"""The report as a person sees it: headless Chromium opens report.html and takes a screenshot.

Chromium comes from Debian (`scripts/install-chromium.sh`). Without it the test is skipped,
unless DLNGRAPH_REQUIRE_CHROMIUM is set (as CI does), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.report.pictures import assert_picture, coloured_fraction

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture
def browser() -> str:
    """The browser's path; skips (or fails, when CI requires the browser) if there is none.
    Tests ask for it first, so that a skip comes before any training."""
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    message = f"none of {', '.join(BROWSERS)} is on PATH: run scripts/install-chromium.sh"
    if os.environ.get("DLNGRAPH_REQUIRE_CHROMIUM"):
        pytest.fail(f"{message} (DLNGRAPH_REQUIRE_CHROMIUM is set, so this cannot be skipped)")
    pytest.skip(f"{message}; set DLNGRAPH_REQUIRE_CHROMIUM=1 to make this a failure")


def screenshot(browser: str, page: Path, out: Path, *, width: int = 1200, height: int = 3000) -> Path:
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        f"--user-data-dir={out.parent / 'chromium-profile'}",
        f"--screenshot={out}", f"--window-size={width},{height}", page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and out.exists(), f"chromium failed:\n{result.stderr[-2000:]}"
    return out


def test_the_report_shows_charts_and_text_in_a_browser(browser: str, finished_report: Path, tmp_path: Path) -> None:
    shot = screenshot(browser, finished_report, tmp_path / "screenshot.png")
    pixels = assert_picture(shot, min_width=1200, min_height=3000)
    top = pixels[:1500]  # the overview, the network and the learning curves
    # Charts draw in colour (about 0.2% of these pixels); text, rules and broken images do not (<0.01%).
    assert coloured_fraction(top) > 0.0005, "no chart is visible at the top of the page"
    rgb = top[..., :3]
    assert (rgb.max(axis=-1) < 0.3).mean() > 0.002, "no dark text is visible at the top of the page"
