"""GitHub history from the API, as users run it: `dora-assets extract github` and a `dagster`
CLI backfill of landing/github_api, against a fake GitHub API served on 127.0.0.1 (real HTTP),
then `dora-assets refresh` to the gold figures. The fake server's data is one small history:

acme/payments, main: c1 (03-02 06:00), c2 (03-02 07:00), c3 (03-03 07:00);
deployment D1 of c2 (success 03-02 10:00), D2 of c3 (success 03-03 12:00), a staging deployment of
c3, and a deployment in February (outside the window); PR #? merged 03-02 05:50, one closed
unmerged; incident issue (root cause c3) opened 03-03 13:10, closed 15:10; an issue without label.
Expected: lead times c1 4h, c2 3h (D1), c3 5h (D2); D2 failed; time to restore 2h."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import deployment_status, envelope, push, write_landing_file
from dora_assets_tests.conftest import gold_monthly, query
from dora_assets_tests.fake_github import DEFAULT_TOKEN, FakeGitHub
from dora_assets_tests.test_cli import run_cli as run_dora_assets

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
MARCH = date(2026, 3, 1)
EXPECTED_GOLD = {
    (MARCH, REPO): dict(zip(GOLD_COLUMNS, (2, 2, 4.0, 1, 1, 2.0), strict=True)),
    (MARCH, "*"): dict(zip(GOLD_COLUMNS, (2, 2, 4.0, 1, 1, 2.0), strict=True)),
}


class History:
    """The fake API's objects, with the delivery ids an extraction of March must land."""

    def __init__(self, github: FakeGitHub) -> None:
        self.github = github
        github.add_repo(REPO)
        github.add_commit(REPO, sha=C1, at="2026-03-02T06:00:00Z")
        github.add_commit(REPO, sha=C2, at="2026-03-02T07:00:00Z")
        self.merged = github.add_pull(REPO, at="2026-03-02T05:00:00Z", merged_at="2026-03-02T05:50:00Z")
        github.add_pull(REPO, at="2026-03-02T05:10:00Z", closed_at="2026-03-02T05:20:00Z")
        self.d1 = github.add_deployment(
            REPO,
            sha=C2,
            at="2026-03-02T09:59:00Z",
            statuses=[("in_progress", "2026-03-02T09:59:30Z"), ("success", "2026-03-02T10:00:00Z")],
        )
        github.add_commit(REPO, sha=C3, at="2026-03-03T07:00:00Z")
        self.d2 = github.add_deployment(
            REPO, sha=C3, at="2026-03-03T11:59:00Z", statuses=[("success", "2026-03-03T12:00:00Z")]
        )
        self.staging = github.add_deployment(
            REPO,
            sha=C3,
            environment="staging",
            at="2026-03-03T11:00:00Z",
            statuses=[("success", "2026-03-03T11:01:00Z")],
        )
        self.february = github.add_deployment(
            REPO, sha=C1, at="2026-02-10T10:00:00Z", statuses=[("success", "2026-02-10T10:01:00Z")]
        )
        self.incident = github.add_issue(
            REPO,
            labels=["incident"],
            at="2026-03-03T13:10:00Z",
            closed_at="2026-03-03T15:10:00Z",
            body=f"Payments down.\n\nRoot cause: {C3}",
        )
        github.add_issue(REPO, labels=["bug"], at="2026-03-03T13:00:00Z")

    def status_ids(self, *deployments: dict) -> set[str]:
        return {
            f"api:deployment_status:{status['id']}"
            for deployment in deployments
            for status in self.github.deployment_statuses(REPO, deployment["id"])
        }

    def march_delivery_ids(self) -> set[str]:
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
    return History(github)


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
    result = run_cli(
        data_home, github, "extract", "github", "--repo", REPO, "--since", "2026-03-01", "--until", "2026-03-31"
    )

    assert result.returncode == 0, result.stderr
    assert sorted(landed_ids(data_home)) == sorted(history.march_delivery_ids())
    assert "landed 3 commits, 4 deployments, 1 pull requests, 1 incident issues" in result.stdout
    refresh = run_cli(data_home, github, "refresh", "--quiet")
    assert refresh.returncode == 0, refresh.stderr
    assert gold_monthly(data_home, GOLD_COLUMNS) == EXPECTED_GOLD
    assert query(data_home, "SELECT source, pull_request_id, time_merged::VARCHAR FROM silver.pull_requests") == [
        ("github", str(history.merged["number"]), "2026-03-02 05:50:00+00")
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
                    [(C1, "2026-03-02T06:00:00Z"), (C2, "2026-03-02T07:00:00Z")],
                    "2026-03-02T07:01:00Z",
                ),
                "hook-push",
                "2026-03-02T07:01:01Z",
            ),
            envelope(
                "deployment_status",
                deployment_status(REPO, history.d1["id"], C2, "2026-03-02T10:00:00Z"),
                "hook-d1",
                "2026-03-02T10:00:01Z",
            ),
        ],
    )
    extract = run_cli(
        data_home, github, "extract", "github", "--repo", REPO, "--since", "2026-03-01", "--until", "2026-03-31"
    )
    assert extract.returncode == 0, extract.stderr
    refresh = run_cli(data_home, github, "refresh", "--quiet")
    assert refresh.returncode == 0, refresh.stderr

    assert gold_monthly(data_home, GOLD_COLUMNS) == EXPECTED_GOLD
    assert query(data_home, "SELECT count(*) FROM silver.deployments") == [(2,)]
    assert query(data_home, "SELECT count(*), count(DISTINCT change_id) FROM silver.deployment_changes") == [(3, 3)]


def test_incremental_extraction_lands_only_what_is_new(
    data_home: DoraPaths, github: FakeGitHub, history: History
) -> None:
    first = run_cli(data_home, github, "extract", "github", "--repo", REPO, "--since", "2026-03-01")
    assert first.returncode == 0, first.stderr
    assert run_cli(data_home, github, "refresh", "--quiet").returncode == 0
    landed_first = landed_ids(data_home)

    # Nothing new: the cursor's overlap is re-read but not re-landed; the pull-request listing
    # (sorted by update, so any merge changes its first page) answers 304 to the stored ETag.
    again = run_cli(data_home, github, "extract", "github", "--repo", REPO)
    assert again.returncode == 0, again.stderr
    assert landed_ids(data_home) == landed_first
    conditional = [request for request in github.requests if request.headers.get("if-none-match")]
    assert {request.path.rsplit("/", 1)[-1] for request in conditional} == {"pulls"}
    assert all(request.status == 304 for request in conditional)

    # A new deployment of a new commit: exactly those land.
    new_commit = "4" * 40
    history.github.add_commit(REPO, sha=new_commit, at="2026-11-25T09:00:00Z")
    deployment = history.github.add_deployment(REPO, sha=new_commit, at="2026-11-25T10:00:00Z")
    third = run_cli(data_home, github, "extract", "github", "--repo", REPO)
    assert third.returncode == 0, third.stderr
    assert sorted(set(landed_ids(data_home)) - set(landed_first)) == sorted(
        {f"api:commit:{REPO}:{new_commit}", *history.status_ids(deployment)}
    )


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
            *("--select", "landing/github_api", "--partition-range", "2026-03-01...2026-03-02"),
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
        data_home, github, "extract", "github", "--repo", REPO, "--since", "2026-03-01", token="ghp_wrong0token"
    )
    assert wrong.returncode != 0
    assert "Traceback" not in wrong.stderr
    assert "401" in wrong.stderr and "GITHUB_TOKEN" in wrong.stderr
    assert "ghp_wrong0token" not in wrong.stdout + wrong.stderr
    assert len([request for request in github.requests if not request.token_ok]) == 1  # no retry loop

    missing = run_cli(data_home, github, "extract", "github", "--repo", REPO, "--since", "2026-03-01", token="")
    assert missing.returncode == 2
    assert "GITHUB_TOKEN is not set" in missing.stderr

    never = run_cli(data_home, github, "extract", "github", "--repo", REPO)
    assert never.returncode == 2
    assert "--since" in never.stderr

    both = run_cli(
        data_home, github, "extract", "github", "--repo", "acme/missing", "--repo", REPO, "--since", "2026-03-01"
    )
    assert both.returncode != 0
    assert "acme/missing" in both.stderr and "404" in both.stderr
    assert sorted(landed_ids(data_home)) == sorted(history.march_delivery_ids())
