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
from dora_assets_tests.builders import deployment_status, envelope, iso, issue, push, write_landing_file
from dora_assets_tests.helpers import materialize_everything, query_dicts, refresh_runs

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGE = re.compile(r'<rect class="stage" data-stage="(\w+)" data-hours="([^"]*)"')
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
    # The lead-time waterfall draws the organisation's 30-day median stages of gold.lead_time_stages
    # (the demo merges pull requests every day: the last 30 days have some; it tells no reviews, so
    # pickup has no figure and is drawn as such).
    [stages] = query_dicts(data_home, "SELECT * FROM gold.lead_time_stages WHERE scope = 'org' AND grain = '30d'")
    drawn = {match[1]: float(match[2]) if match[2] else None for match in STAGE.finditer(dom)}
    assert stages["changes"] > 0 and 'data-grain="30d"' in dom
    assert drawn == {stage: stages[f"{stage}_p50_hours"] for stage in ("coding", "pickup", "review", "deploy")}
    assert "<script" not in dashboard.read_text() and "http" not in dashboard.read_text().split("<body>")[0]

    # The page renders as a picture (the README's docs/dashboard.png was taken this way); written
    # to tmp_path, so that a test run never changes the checkout.
    picture = tmp_path / "dashboard.png"
    chromium(
        "--hide-scrollbars",
        "--window-size=1600,1500",
        f"--screenshot={picture}",
        page=dashboard,
        profile=tmp_path / "profile",
    )
    assert picture.stat().st_size > 30_000


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
    # The refresh's own dashboard is built before the hourly checks run; the report job
    # (`dora-assets report`) renders the page again with the latest results, failures included.
    instance = DagsterInstance.ephemeral()
    refresh_runs(instance, defs.resources)
    report = run_job(defs.resolve_job_def(REPORT_JOB_NAME), instance)
    assert report.success
    # Every check of the definitions is on the page, not only those of the report's own job.
    assert report.materialized["gold/dora_dashboard"]["checks_shown"] == len(
        defs.resolve_asset_graph().asset_check_keys
    )
    page = data_home.reports_dir / "dora.html"
    dom = chromium("--dump-dom", page=page, profile=tmp_path / "profile").stdout

    assert 'data-health="failing"' in dom
    assert "bronze/raw_events: no_future_deliveries" in dom


def test_rework_rate_and_p90s_by_hand(data_home: DoraPaths) -> None:
    """acme/app in March 2023 (long past on any date). D1 ships c1 (lead 1 h) at 10:00 on the 6th
    and causes an incident (11:00-13:00); D2 ships the fix c2 (0.5 h) at 12:00, during the
    incident: rework. D3 ships c3 (2 h) on the 9th. A second incident opens on the 24th at 10:00
    and is never resolved: D4 that
    afternoon is rework (an open incident counts for its first day), D5 two days later is not.
    c4 (1 h before D4) and c5 (3 h before D5) complete the lead times."""
    repo = "acme/app"
    c1, c2, c3, c4, c5 = (str(n) * 40 for n in range(1, 6))
    deliveries = []

    def deliver(event_type: str, payload: dict, at: str) -> None:
        deliveries.append(envelope(event_type, payload, f"d{len(deliveries)}", at))

    previous = "0" * 40
    for sha, committed, pushed, deploy_id, deployed in (
        (c1, "2023-03-06T09:00:00Z", "2023-03-06T09:10:00Z", 1, "2023-03-06T10:00:00Z"),
        (c2, "2023-03-06T11:30:00Z", "2023-03-06T11:35:00Z", 2, "2023-03-06T12:00:00Z"),
        (c3, "2023-03-09T08:00:00Z", "2023-03-09T08:10:00Z", 3, "2023-03-09T10:00:00Z"),
        (c4, "2023-03-24T14:00:00Z", "2023-03-24T14:10:00Z", 4, "2023-03-24T15:00:00Z"),
        (c5, "2023-03-26T09:00:00Z", "2023-03-26T09:10:00Z", 5, "2023-03-26T12:00:00Z"),
    ):
        deliver("push", push(repo, "main", previous, [(sha, committed)], pushed), pushed)
        deliver("deployment_status", deployment_status(repo, deploy_id, sha, deployed), deployed)
        previous = sha
    for number, created, closed, body in (
        (7, "2023-03-06T11:00:00Z", "2023-03-06T13:00:00Z", f"root cause: {c1}"),
        (8, "2023-03-24T10:00:00Z", None, ""),
    ):
        action = "closed" if closed else "opened"
        payload = issue(
            repo,
            number,
            action,
            labels=["incident"],
            created_at=created,
            updated_at=closed or created,
            closed_at=closed,
            body=body,
        )
        deliver("issues", payload, closed or created)
    write_landing_file(data_home.landing_dir / "history.ndjson", deliveries)
    materialize_everything()

    columns = (
        "deployments",
        "rework_deployments",
        "rework_rate",
        "failed_deployments",
        "change_failure_rate",
        "lead_time_median_hours",
        "lead_time_p90_hours",
        "incidents_resolved",
        "time_to_restore_median_hours",
        "time_to_restore_p90_hours",
    )
    # Lead times 1, 0.5, 2, 1, 3 h: median 1, p90 (continuous) 2.6. Restore: 2 h.
    expected = dict(zip(columns, (5, 2, 0.4, 1, 0.2, 1.0, 2.6, 1, 2.0, 2.0), strict=True))
    [march] = query_dicts(data_home, "SELECT * FROM gold.dora_monthly WHERE repo = '*'")
    assert {column: pytest.approx(march[column]) for column in columns} == expected
    weekly = {
        row["week"].isoformat(): (row["deployments"], row["rework_deployments"])
        for row in query_dicts(data_home, "SELECT * FROM gold.dora_weekly WHERE repo = '*' AND deployments > 0")
    }
    # ISO weeks start on Monday: the 6th to the 12th, and the 20th to the 26th.
    assert weekly == {"2023-03-06": (3, 1), "2023-03-20": (2, 1)}
