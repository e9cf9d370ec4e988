"""The dashboard as a user sees it: a demo history refreshed through Dagster, the page rendered
by headless Chromium (Debian's `chromium`), its tiles read back from the rendered DOM and
compared with gold.dora_summary; a failing ERROR check shows on the page; the screenshot the
README shows is saved under docs/."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance

from dora_assets.definitions import REPORT_JOB_NAME, defs
from dora_assets.demo.generator import generate_demo
from dora_assets.report.dashboard import TILES, format_figure
from dora_assets.runs import run_job
from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import envelope, iso, push, write_landing_file
from dora_assets_tests.conftest import materialize_everything, query_dicts, refresh_runs

REPO_ROOT = Path(__file__).resolve().parents[1]
TILE = re.compile(
    r'<div class="tile [^"]*" data-metric="(?P<metric>\w+)" data-value="(?P<value>[^"]*)">'
    r'<div class="label">[^<]*</div><div class="value">(?P<shown>[^<]*)</div>'
)


def chromium(*args: str, page: Path, profile: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is needed (make test installs it)"
    flags = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run")
    return subprocess.run(
        [binary, *flags, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture
def dashboard(data_home: DoraPaths) -> Path:
    generate_demo(data_home.landing_dir, days=60, repos=3, seed=5)
    materialize_everything()
    page = data_home.reports_dir / "dora.html"
    assert page.is_file()
    return page


def test_the_rendered_tiles_show_gold_dora_summary(dashboard: Path, data_home: DoraPaths, tmp_path: Path) -> None:
    dom = chromium("--dump-dom", page=dashboard, profile=tmp_path / "profile").stdout
    tiles = {match["metric"]: match for match in TILE.finditer(dom)}
    [summary] = query_dicts(data_home, "SELECT * FROM gold.dora_summary WHERE scope = 'org' AND window_days = 30")

    assert set(tiles) == {column for column, *_ in TILES}
    for column, tile in tiles.items():
        expected = summary[column]
        assert tile["shown"] == format_figure(column, expected), column
        assert (float(tile["value"]) if tile["value"] else None) == (None if expected is None else float(expected))
    assert summary["deployments"] > 0  # the history is recent enough for the tiles to mean something
    assert 'data-health="passing"' in dom
    assert "<script" not in dashboard.read_text() and "http" not in dashboard.read_text().split("<body>")[0]

    # The picture the README shows.
    docs = REPO_ROOT / "docs"
    chromium(
        "--hide-scrollbars",
        "--window-size=1600,1500",
        f"--screenshot={docs / 'dashboard.png'}",
        page=dashboard,
        profile=tmp_path / "profile",
    )
    assert (docs / "dashboard.png").stat().st_size > 30_000


def test_a_failing_error_check_is_shown_above_the_figures(data_home: DoraPaths, tmp_path: Path) -> None:
    # A delivery stamped a day in the future: no_future_deliveries (ERROR) fails.
    future = datetime.now(UTC) + timedelta(days=1)
    write_landing_file(
        data_home.landing_dir / "skewed.ndjson",
        [
            envelope(
                "push",
                push("acme/app", "main", "0" * 40, [("a" * 40, iso(future))], iso(future)),
                "skewed",
                iso(future),
            )
        ],
    )
    # The blocking silver checks stop gold (and the dashboard after it) in the refresh, as they
    # should; the report job (`dora-assets report`) then renders the page with the failures.
    instance = DagsterInstance.ephemeral()
    refresh_runs(instance, defs.resources)
    assert run_job(REPORT_JOB_NAME, instance).success
    page = data_home.reports_dir / "dora.html"
    dom = chromium("--dump-dom", page=page, profile=tmp_path / "profile").stdout

    assert 'data-health="failing"' in dom
    assert "bronze/raw_events: no_future_deliveries" in dom
