"""GitHub history from the API, as users run it: `dora-assets extract github` and a `dagster`
CLI backfill of landing/github_api, against a fake GitHub API served on 127.0.0.1 (real HTTP),
then `dora-assets refresh` to the gold figures. The fake server's data is one small history in
a whole month M that ended a month or more before the day the test runs (every date is relative
to the clock, so the tests pass on any date):

acme/payments, main: c1 (M-02 06:00), c2 (M-02 07:00), c3 (M-03 07:00);
deployment D1 of c2 (success M-02 10:00), D2 of c3 (success M-03 12:00), a staging deployment of
c3, and a deployment in the month before M (outside the window); PR #? merged M-02 05:50, one
closed unmerged; incident issue (root cause c3) opened M-03 13:10, closed 15:10; an issue without
label. Expected: lead times c1 4h, c2 3h (D1), c3 5h (D2); D2 failed; time to restore 2h."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from dora_assets.extract.github import CURSOR_OVERLAP, PENDING_HORIZON, RepoExtraction, extract_repo
from dora_assets.extract.github_client import GitHubClient
from dora_assets.resources import DuckDBWarehouse
from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import FIXTURES, deployment_status, envelope, push, write_landing_file
from dora_assets_tests.fake_github import DEFAULT_TOKEN, FakeGitHub
from dora_assets_tests.helpers import gold_monthly, query
from dora_assets_tests.helpers import run_cli as run_dora_assets

pytestmark = pytest.mark.slow

REPO = "acme/payments"
C1, C2, C3 = "1" * 40, "2" * 40, "3" * 40
GOLD_COLUMNS = (
    "deployments",
    "deploy_days",
    "lead_time_median_hours",
    "failed_deployments",
    "incidents_resolved",
    "time_to_restore_median_hours",
)


def history_month(today: date) -> date:
    """The first day of the month M of the history: the month that began 50 to 80 days before
    the first day of ``today``'s month (so M is over and a whole month, on any date)."""
    return (today.replace(day=1) - timedelta(days=50)).replace(day=1)


class History:
    """The fake API's objects, in month ``month``, with the delivery ids an extraction of it must land."""

    def __init__(self, github: FakeGitHub, month: date) -> None:
        self.github = github
        self.month = month
        self.month_end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        github.add_repo(REPO)
        github.add_commit(REPO, sha=C1, at=self.at(2, "06:00"))
        github.add_commit(REPO, sha=C2, at=self.at(2, "07:00"))
        self.merged = github.add_pull(REPO, at=self.at(2, "05:00"), merged_at=self.at(2, "05:50"))
        github.add_pull(REPO, at=self.at(2, "05:10"), closed_at=self.at(2, "05:20"))
        self.d1 = github.add_deployment(
            REPO,
            sha=C2,
            at=self.at(2, "09:59"),
            statuses=[("in_progress", self.at(2, "09:59:30")), ("success", self.at(2, "10:00"))],
        )
        github.add_commit(REPO, sha=C3, at=self.at(3, "07:00"))
        self.d2 = github.add_deployment(
            REPO, sha=C3, at=self.at(3, "11:59"), statuses=[("success", self.at(3, "12:00"))]
        )
        self.staging = github.add_deployment(
            REPO,
            sha=C3,
            environment="staging",
            at=self.at(3, "11:00"),
            statuses=[("success", self.at(3, "11:01"))],
        )
        month_before = (month - timedelta(days=1)).replace(day=10)
        self.earlier = github.add_deployment(
            REPO,
            sha=C1,
            at=f"{month_before.isoformat()}T10:00:00Z",
            statuses=[("success", f"{month_before.isoformat()}T10:01:00Z")],
        )
        self.incident = github.add_issue(
            REPO,
            labels=["incident"],
            at=self.at(3, "13:10"),
            closed_at=self.at(3, "15:10"),
            body=f"Payments down.\n\nRoot cause: {C3}",
        )
        github.add_issue(REPO, labels=["bug"], at=self.at(3, "13:00"))

    def at(self, day: int, clock: str) -> str:
        """An ISO-8601 UTC moment on ``day`` of the month (``clock`` is HH:MM or HH:MM:SS)."""
        return f"{self.month.replace(day=day).isoformat()}T{clock if clock.count(':') == 2 else clock + ':00'}Z"

    def expected_gold(self) -> dict[tuple, dict]:
        figures = dict(zip(GOLD_COLUMNS, (2, 2, 4.0, 1, 1, 2.0), strict=True))
        return {(self.month, REPO): figures, (self.month, "*"): figures}

    def window(self) -> tuple[str, ...]:
        """The CLI arguments that extract exactly month M."""
        return ("--since", self.month.isoformat(), "--until", self.month_end.isoformat())

    def status_ids(self, *deployments: dict) -> set[str]:
        return {
            f"api:deployment_status:{status['id']}"
            for deployment in deployments
            for status in self.github.deployment_statuses(REPO, deployment["id"])
        }

    def month_delivery_ids(self) -> set[str]:
        return {
            *(f"api:commit:{REPO}:{sha}" for sha in (C1, C2, C3)),
            *self.status_ids(self.d1, self.d2, self.staging),
            f"api:pull_request:{REPO}:{self.merged['number']}",
            f"api:issue:{REPO}:{self.incident['number']}:{self.incident['updated_at']}",
        }


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def history(github: FakeGitHub) -> History:
    return History(github, history_month(datetime.now(UTC).date()))


def run_cli(
    paths: DoraPaths, github: FakeGitHub, *args: str, token: str = DEFAULT_TOKEN
) -> subprocess.CompletedProcess:
    """The dora-assets command pointed at the fake API (an empty ``token`` means none is set)."""
    return run_dora_assets(paths, *args, extra_env={"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": token})


def landed_ids(paths: DoraPaths) -> list[str]:
    return [
        json.loads(line)["delivery_id"]
        for path in sorted((paths.landing_dir / "github-api").rglob("*.ndjson"))
        for line in path.read_text().splitlines()
    ]


def test_extract_then_refresh_lands_exactly_the_windows_objects_and_gives_the_metrics(
    data_home: DoraPaths, github: FakeGitHub, history: History
) -> None:
    result = run_cli(data_home, github, "extract", "github", "--repo", REPO, *history.window())

    assert result.returncode == 0, result.stderr
    assert sorted(landed_ids(data_home)) == sorted(history.month_delivery_ids())
    assert "landed 3 commits, 4 deployments, 1 pull requests, 1 incident issues" in result.stdout
    refresh = run_cli(data_home, github, "refresh", "--quiet")
    assert refresh.returncode == 0, refresh.stderr
    assert gold_monthly(data_home, GOLD_COLUMNS) == history.expected_gold()
    assert query(data_home, "SELECT source, pull_request_id, time_merged::VARCHAR FROM silver.pull_requests") == [
        ("github", str(history.merged["number"]), f"{history.month.isoformat()[:8]}02 05:50:00+00")
    ]
    # The token never leaves the process: not in the output, the landed files or the run history.
    everything = [result.stdout, result.stderr, refresh.stdout, refresh.stderr]
    everything += [path.read_bytes().decode("utf-8", "replace") for path in data_home.home.rglob("*") if path.is_file()]
    assert not any(DEFAULT_TOKEN in text for text in everything)
    assert all(request.token_ok for request in github.requests)


def test_webhooks_and_api_objects_of_the_same_facts_count_once(
    data_home: DoraPaths, github: FakeGitHub, history: History
) -> None:
    # The webhooks saw D1 and the push of c1+c2; the extraction then brings everything again.
    write_landing_file(
        data_home.landing_dir / "webhooks.ndjson",
        [
            envelope(
                "push",
                push(
                    REPO,
                    "main",
                    "0" * 40,
                    [(C1, history.at(2, "06:00")), (C2, history.at(2, "07:00"))],
                    history.at(2, "07:01"),
                ),
                "hook-push",
                history.at(2, "07:01:01"),
            ),
            envelope(
                "deployment_status",
                deployment_status(REPO, history.d1["id"], C2, history.at(2, "10:00")),
                "hook-d1",
                history.at(2, "10:00:01"),
            ),
        ],
    )
    extract = run_cli(data_home, github, "extract", "github", "--repo", REPO, *history.window())
    assert extract.returncode == 0, extract.stderr
    refresh = run_cli(data_home, github, "refresh", "--quiet")
    assert refresh.returncode == 0, refresh.stderr

    assert gold_monthly(data_home, GOLD_COLUMNS) == history.expected_gold()
    assert query(data_home, "SELECT count(*) FROM silver.deployments") == [(2,)]
    assert query(data_home, "SELECT count(*), count(DISTINCT change_id) FROM silver.deployment_changes") == [(3, 3)]


def ago(**delta: float) -> str:
    """An ISO-8601 UTC moment that long before now."""
    return (datetime.now(UTC) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pending_deployments(paths: DoraPaths) -> list[int]:
    return [row[0] for row in query(paths, "SELECT deployment_id FROM extract.pending_deployments ORDER BY 1")]


def test_incremental_extraction_lands_only_what_is_new(
    data_home: DoraPaths, github: FakeGitHub, history: History
) -> None:
    first = run_cli(data_home, github, "extract", "github", "--repo", REPO, "--since", history.month.isoformat())
    assert first.returncode == 0, first.stderr
    assert run_cli(data_home, github, "refresh", "--quiet").returncode == 0
    landed_first = landed_ids(data_home)

    # Nothing new: the cursor's overlap is re-read but not re-landed; the pull-request listing
    # (sorted by update, so any merge changes its first page) answers 304 to the stored ETag, and
    # the branch has not moved, so no comparison is asked for.
    github.requests.clear()
    again = run_cli(data_home, github, "extract", "github", "--repo", REPO)
    assert again.returncode == 0, again.stderr
    assert landed_ids(data_home) == landed_first
    conditional = [request for request in github.requests if request.headers.get("if-none-match")]
    assert {request.path.rsplit("/", 1)[-1] for request in conditional} == {"pulls"}
    assert all(request.status == 304 for request in conditional)
    assert not [request for request in github.requests if "/compare/" in request.path]

    # A new deployment of a new commit: exactly those land.
    new_commit = "4" * 40
    history.github.add_commit(REPO, sha=new_commit, at=ago(hours=2))
    deployment = history.github.add_deployment(REPO, sha=new_commit, at=ago(hours=1))
    third = run_cli(data_home, github, "extract", "github", "--repo", REPO)
    assert third.returncode == 0, third.stderr
    assert sorted(set(landed_ids(data_home)) - set(landed_first)) == sorted(
        {f"api:commit:{REPO}:{new_commit}", *history.status_ids(deployment)}
    )
    assert len(landed_ids(data_home)) == len(set(landed_ids(data_home)))


def test_a_late_dated_commit_and_a_late_status_land_on_the_next_incremental_run_once(
    data_home: DoraPaths, github: FakeGitHub, history: History
) -> None:
    # A deployment still in progress when the first extraction runs.
    shipped = "5" * 40
    github.add_commit(REPO, sha=shipped, at=ago(hours=3))
    slow = github.add_deployment(REPO, sha=shipped, at=ago(hours=2), statuses=[("in_progress", ago(hours=2))])
    first = run_cli(data_home, github, "extract", "github", "--repo", REPO, "--since", history.month.isoformat())
    assert first.returncode == 0, first.stderr
    assert "1 deployments still waiting for a final status" in first.stdout
    assert pending_deployments(data_home) == [slow["id"]]
    landed_first = landed_ids(data_home)

    # Then a long-lived branch is merged: its commit reaches main dated 20 days ago, long before
    # the cursor (minus its one-day overlap). And the slow deployment reports success, days later
    # than a date-based listing would look.
    late = "6" * 40
    github.add_commit(REPO, sha=late, at=ago(days=20))
    success = github.add_deployment_status(REPO, slow["id"], "success", at=ago(minutes=1))
    github.requests.clear()
    second = run_cli(data_home, github, "extract", "github", "--repo", REPO)
    assert second.returncode == 0, second.stderr
    assert sorted(set(landed_ids(data_home)) - set(landed_first)) == sorted(
        {f"api:commit:{REPO}:{late}", f"api:deployment_status:{success['id']}"}
    )
    assert [request.path for request in github.requests if "/compare/" in request.path] == [
        f"/repos/{REPO}/compare/{shipped}...{late}"
    ]
    assert pending_deployments(data_home) == []
    assert "0 deployments still waiting" in second.stdout

    # Nothing is landed twice: not by this run (the in-progress status was not landed again),
    # not by the next one, with or without a refresh in between.
    third = run_cli(data_home, github, "extract", "github", "--repo", REPO)
    assert third.returncode == 0, third.stderr
    assert run_cli(data_home, github, "refresh", "--quiet").returncode == 0
    fourth = run_cli(data_home, github, "extract", "github", "--repo", REPO)
    assert fourth.returncode == 0, fourth.stderr
    everything = landed_ids(data_home)
    assert len(everything) == len(set(everything)) == len(landed_first) + 2
    # And the late facts reach silver: the slow deployment succeeded, the late commit is a change.
    assert query(
        data_home, "SELECT count(*) FROM silver.deployments WHERE deploy_id = $id", {"id": str(slow["id"])}
    ) == [(1,)]
    assert query(data_home, "SELECT count(*) FROM silver.changes WHERE change_id = $sha", {"sha": late}) == [(1,)]


def test_a_force_pushed_branch_falls_back_to_the_dated_listing_with_a_warning(
    data_home: DoraPaths, github: FakeGitHub, history: History
) -> None:
    first = run_cli(data_home, github, "extract", "github", "--repo", REPO, "--since", history.month.isoformat())
    assert first.returncode == 0, first.stderr
    recent = "7" * 40
    github.add_commit(REPO, sha=recent, at=ago(hours=1))
    # The head extracted last is gone (force-pushed away and collected): GitHub answers 404.
    github.fail_next(f"/repos/{REPO}/compare/", statuses=[404])
    second = run_cli(data_home, github, "extract", "github", "--repo", REPO)

    assert second.returncode == 0, second.stderr
    assert "warning:" in second.stderr and "force-pushed" in second.stderr
    assert f"api:commit:{REPO}:{recent}" in landed_ids(data_home)
    # The new head is recorded: the next run compares from it.
    assert query(data_home, "SELECT head_sha FROM extract.cursors WHERE resource = 'commits'") == [(recent,)]


def test_a_dagster_backfill_of_days_pulls_only_those_days(
    data_home: DoraPaths, github: FakeGitHub, history: History
) -> None:
    data_home.default_config.write_text(f"github: {{extract_repos: [{REPO}]}}\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DORA_", "DAGSTER_", "GITHUB_"))}
    env |= {
        "DORA_HOME": str(data_home.home),
        "DAGSTER_HOME": str(data_home.dagster_home),
        "GITHUB_API_URL": github.api_url,
        "GITHUB_TOKEN": DEFAULT_TOKEN,
    }
    data_home.dagster_home.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "dagster", "asset", "materialize", "-m", "dora_assets.definitions"),
            *(
                "--select",
                "landing/github_api",
                "--partition-range",
                f"{history.month}...{history.month.replace(day=2)}",
            ),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(landed_ids(data_home)) == sorted(
        {
            f"api:commit:{REPO}:{C1}",
            f"api:commit:{REPO}:{C2}",
            *history.status_ids(history.d1),
            f"api:pull_request:{REPO}:{history.merged['number']}",
        }
    )
    assert DEFAULT_TOKEN not in result.stdout + result.stderr


def test_a_bad_token_or_repo_fails_in_one_line_and_other_repos_still_land(
    data_home: DoraPaths, github: FakeGitHub, history: History
) -> None:
    wrong = run_cli(
        data_home,
        github,
        "extract",
        "github",
        "--repo",
        REPO,
        "--since",
        history.month.isoformat(),
        token="ghp_wrong0token",
    )
    assert wrong.returncode != 0
    assert "Traceback" not in wrong.stderr
    assert "401" in wrong.stderr and "GITHUB_TOKEN" in wrong.stderr
    assert "ghp_wrong0token" not in wrong.stdout + wrong.stderr
    assert len([request for request in github.requests if not request.token_ok]) == 1  # no retry loop

    missing = run_cli(
        data_home, github, "extract", "github", "--repo", REPO, "--since", history.month.isoformat(), token=""
    )
    assert missing.returncode == 2
    assert "GITHUB_TOKEN is not set" in missing.stderr

    never = run_cli(data_home, github, "extract", "github", "--repo", REPO)
    assert never.returncode == 2
    assert "--since" in never.stderr

    both = run_cli(
        data_home,
        github,
        "extract",
        "github",
        "--repo",
        "acme/missing",
        "--repo",
        REPO,
        "--since",
        history.month.isoformat(),
    )
    assert both.returncode != 0
    assert "acme/missing" in both.stderr and "404" in both.stderr
    assert sorted(landed_ids(data_home)) == sorted(history.month_delivery_ids())


def test_a_deployment_that_never_reports_back_is_given_up_after_the_horizon(tmp_path: Path, github: FakeGitHub) -> None:
    # extract_repo with an injected "now" (a frozen clock, no calendar date matters), on a real
    # DuckDB file and the fake API.
    start = datetime(2023, 6, 15, 12, 0, tzinfo=UTC)
    github.add_repo(REPO)
    github.add_commit(REPO, sha=C1, at=start - timedelta(hours=2))
    stuck = github.add_deployment(REPO, sha=C1, at=start - timedelta(hours=1), statuses=["queued"])
    deleted = github.add_deployment(REPO, sha=C1, at=start - timedelta(minutes=30), statuses=["in_progress"])
    warehouse = DuckDBWarehouse(database=str(tmp_path / "warehouse.duckdb"))
    client = GitHubClient(token=github.token, base_url=github.url)

    def extract(now: datetime) -> RepoExtraction:
        with client.session() as session, warehouse.get_connection() as connection:
            return extract_repo(
                session,
                connection,
                tmp_path / "landing",
                REPO,
                now - timedelta(days=1),
                now,
                incident_labels=(),
                now=now,
            )

    assert extract(start).pending_deployments == 2
    # Within the horizon both are re-read; the deleted one answers 404 and is given up at once.
    github.fail_next(f"/repos/{REPO}/deployments/{deleted['id']}", statuses=[404])
    github.requests.clear()
    within = extract(start + PENDING_HORIZON - timedelta(days=1))
    assert [request.path for request in github.requests if request.path.endswith(f"/deployments/{stuck['id']}")] == [
        f"/repos/{REPO}/deployments/{stuck['id']}"
    ]
    assert (within.pending_deployments, within.given_up_deployments) == (1, [deleted["id"]])
    assert "deleted from GitHub (404)" in within.warnings[0]
    # Past the horizon it is given up without another request, and said so.
    github.requests.clear()
    past = extract(start + PENDING_HORIZON + timedelta(hours=2))
    assert not [request for request in github.requests if f"/deployments/{stuck['id']}" in request.path]
    assert (past.pending_deployments, past.given_up_deployments) == (0, [stuck["id"]])
    assert f"no final status {PENDING_HORIZON.days} days after it was created" in past.warnings[0]


def test_a_real_history_extracted_weekly_lands_every_commit_once_whatever_its_date(
    tmp_path: Path, github: FakeGitHub
) -> None:
    """sqlalchemy's real first-parent history (fixtures/real-histories: 887 commits, bursty, 359
    merges), served by the fake with each commit dated at its real author time, as commits merged
    unrewritten keep their own dates: 51 of them reach main more than a day after that date.
    Weekly incremental runs, each with a frozen "now" on the history's own timeline, as the CLI
    runs them (from the last run's end minus the one-day overlap)."""
    rows = list(csv.DictReader((FIXTURES / "real-histories" / "sqlalchemy.tsv").open(encoding="utf-8"), delimiter="\t"))
    rows.reverse()  # oldest first, as they reached main
    github.add_repo(REPO)
    warehouse = DuckDBWarehouse(database=str(tmp_path / "warehouse.duckdb"))
    client = GitHubClient(token=github.token, base_url=github.url)
    reached = iter(rows)
    waiting = next(reached)
    since = min(datetime.fromisoformat(row["author_time"]) for row in rows)  # the first extraction's --since
    now = datetime.fromisoformat(rows[0]["commit_time"]) + timedelta(days=7)
    missed_by_date = 0  # commits a date-only incremental run would have skipped, counted from the data alone
    runs = 0
    with client.session() as session, warehouse.get_connection() as connection:
        while waiting is not None:
            while waiting is not None and datetime.fromisoformat(waiting["commit_time"]) <= now:
                github.add_commit(REPO, sha=waiting["sha"], message=waiting["subject"], at=waiting["author_time"])
                missed_by_date += runs > 0 and datetime.fromisoformat(waiting["author_time"]) < since
                waiting = next(reached, None)
            extract_repo(session, connection, tmp_path / "landing", REPO, since, now, incident_labels=(), now=now)
            runs += 1
            since, now = now - CURSOR_OVERLAP, now + timedelta(days=7)

    landed = Counter(
        json.loads(line)["payload"]["after"]
        for path in (tmp_path / "landing").rglob("*.ndjson")
        for line in path.read_text(encoding="utf-8").splitlines()
    )
    assert runs > 100 and missed_by_date > 0
    assert landed == Counter(row["sha"] for row in rows)


def test_cursors_of_an_older_warehouse_gain_the_branch_head_and_keep_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as older:  # extract.cursors as it was declared before head_sha
        older.execute(
            "CREATE SCHEMA extract; CREATE TABLE extract.cursors (source VARCHAR NOT NULL, repo VARCHAR NOT NULL, "
            "resource VARCHAR NOT NULL, extracted_to TIMESTAMPTZ NOT NULL, etag VARCHAR, "
            "updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (source, repo, resource))"
        )
        older.execute(
            "INSERT INTO extract.cursors VALUES ('github', $repo, 'commits', '2015-03-04 00:00:00+00', NULL, "
            "'2015-03-04 00:00:00+00')",
            {"repo": REPO},
        )
    with DuckDBWarehouse(database=str(path)).get_connection() as connection:
        rows = connection.execute(
            "SELECT repo, resource, extracted_to::VARCHAR, head_sha FROM extract.cursors"
        ).fetchall()
    assert rows == [(REPO, "commits", "2015-03-04 00:00:00+00", None)]
