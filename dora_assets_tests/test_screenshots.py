"""The README's UI screenshots can be retaken: `docs/capture_screenshots.py` injects a silent
repo into a demo history, refreshes (which must fail), asks a real dagster-webserver whether it
shows the check as failed, and photographs the pages with headless Chromium."""

from __future__ import annotations

import importlib.util
import shutil
import struct
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_capture_script():
    spec = importlib.util.spec_from_file_location("capture_screenshots", REPO_ROOT / "docs" / "capture_screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_screenshots_of_a_failed_check_are_taken_from_a_real_webserver(tmp_path: Path) -> None:
    capture = load_capture_script()
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (make test installs it)"

    capture.capture(tmp_path, chromium)

    names = sorted(path.name for path in tmp_path.glob("*.png"))
    assert names == sorted(name for name, _ in capture.SHOTS)
    for name in names:
        assert png_size(tmp_path / name) == (1600, 1000)
        # A blank page compresses to a few KB; a rendered Dagster page does not.
        assert (tmp_path / name).stat().st_size > 30_000
    # The README shows these files.
    readme = (REPO_ROOT / "README.md").read_text()
    assert all(f"docs/{name}" in readme for name in names)
