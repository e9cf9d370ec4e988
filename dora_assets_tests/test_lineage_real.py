"""Lead time on histories built from real ones (issue 20): the same facts told by webhooks and by
the GitHub API (through `dora-assets extract github` against a fake API, then a refresh through
Dagster in this process) give the same gold, and
both agree with an independent oracle: git itself, asked what each deployment shipped
(real_lineage.git_shipments), with lead times computed here by the rules written out in each test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance

from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import write_landing_file
from dora_assets_tests.fake_github import FakeGitHub
from dora_assets_tests.helpers import DORA_ENV_VARS, gold_monthly, materialize_everything, query, run_cli
from dora_assets_tests.real_lineage import (
    Commit,
    History,
    git_shipments,
    hours,
    merge_commit_history,
    monthly_figures,
    serve,
    squash_history,
    webhook_envelopes,
)
from dora_assets_tests.test_github_extract import DEFAULT_TOKEN

pytestmark = pytest.mark.slow

FIGURES = ("deployments", "changes_deployed", "lead_time_median_hours")


def new_home(tmp_path: Path, name: str) -> DoraPaths:
    paths = DoraPaths.from_env({"DORA_HOME": str(tmp_path / name)})
    paths.landing_dir.mkdir(parents=True)
    return paths


def refreshed(paths: DoraPaths) -> None:
    """A refresh (ingest, then silver and gold) of ``paths``, in this process (the extraction
    before it is the command's)."""
    with pytest.MonkeyPatch.context() as env:
        for name in DORA_ENV_VARS:
            env.delenv(name, raising=False)
        env.setenv("DORA_HOME", str(paths.home))
        materialize_everything(DagsterInstance.ephemeral())


def from_webhooks(tmp_path: Path, history: History) -> DoraPaths:
    paths = new_home(tmp_path, "webhooks")
    write_landing_file(paths.landing_dir / "github" / "history.ndjson", webhook_envelopes(history))
    refreshed(paths)
    return paths


def extract(paths: DoraPaths, github: FakeGitHub, repo: str, since: date, until: date) -> None:
    """`dora-assets extract github` of the days [since, until] (a bounded window: the extractor's
    asset is partitioned by day, and Dagster records a materialization per day)."""
    env = {"GITHUB_API_URL": github.api_url, "GITHUB_TOKEN": DEFAULT_TOKEN}
    window = ("--since", since.isoformat(), "--until", until.isoformat())
    result = run_cli(paths, "extract", "github", "--repo", repo, *window, extra_env=env)
    assert result.returncode == 0, result.stderr


def from_api(tmp_path: Path, history: History, since: date, *, created_at: datetime) -> DoraPaths:
    paths = new_home(tmp_path, "api")
    with FakeGitHub() as github:
        serve(history, github, created_at=created_at)
        extract(paths, github, history.repo, since, max(deployment.at for deployment in history.deployments).date())
        refreshed(paths)
    return paths


def repo_rows(paths: DoraPaths, repo: str, columns: tuple[str, ...] = FIGURES) -> dict[date, dict]:
    return {
        month: row for (month, name), row in gold_monthly(paths, columns).items() if name == repo and row["deployments"]
    }


def rounded(rows: dict[date, dict]) -> dict[date, dict]:
    return {
        month: {key: round(value, 6) if isinstance(value, float) else value for key, value in row.items()}
        for month, row in rows.items()
    }


def test_a_merge_commit_history_gives_the_same_lead_times_from_webhooks_from_the_api_and_from_git(
    tmp_path: Path,
) -> None:
    start, end = date(2025, 4, 1), date(2025, 8, 1)
    history = merge_commit_history("acme/click", start, end)
    # The shape the issue is about: along the default branch's ancestry (what the API lists),
    # committer dates go backwards where a topic branch was merged.
    assert len(history.merged_branch) >= 40 and len(history.deployments) >= 10
    # The oracle: each commit's lead time from its author time, for the deployment git says
    # shipped it first.
    shipped = git_shipments(history, tmp_path)
    expected = monthly_figures(
        history,
        {
            deployment.deploy_id: [hours(deployment.at, commit.authored) for commit in shipped[deployment.deploy_id]]
            for deployment in history.deployments
        },
    )
    webhooks = rounded(repo_rows(from_webhooks(tmp_path, history), history.repo))
    api = rounded(
        repo_rows(
            from_api(tmp_path, history, start - timedelta(days=10), created_at=datetime(2014, 4, 24, tzinfo=UTC)),
            history.repo,
        )
    )
    assert webhooks == rounded(expected)
    assert api == webhooks


def squash_lead_times(history: History, shipped: dict[int, list[Commit]]) -> dict[int, list[float]]:
    """A squash-merged request's change starts at its branch's first commit; any other commit at
    its own author time; dependabot's requests count in no lead time (the default)."""
    pulls = {pull.merge_sha: pull for pull in history.pulls}
    figures: dict[int, list[float]] = {}
    for deployment in history.deployments:
        figures[deployment.deploy_id] = [
            hours(deployment.at, pulls[commit.sha].commits[0].authored if commit.sha in pulls else commit.authored)
            for commit in shipped[deployment.deploy_id]
            if commit.sha not in pulls or pulls[commit.sha].author != "dependabot[bot]"
        ]
    return figures


def test_squash_merges_start_at_the_requests_first_commit_from_webhooks_and_from_the_api(tmp_path: Path) -> None:
    start, end = date(2024, 9, 1), date(2025, 2, 1)
    history = squash_history("acme/starlette", start, end)
    bots = {pull.merge_sha for pull in history.pulls if pull.author == "dependabot[bot]"}
    assert len(history.pulls) >= 80 and len(bots) >= 5 and len(history.deployments) >= 15
    shipped = git_shipments(history, tmp_path)
    # Git agrees that a squash merge ships none of its branch's commits.
    branch_commits = {commit.sha for pull in history.pulls for commit in pull.commits}
    assert not branch_commits & {commit.sha for commits in shipped.values() for commit in commits}
    expected = rounded(monthly_figures(history, squash_lead_times(history, shipped)))
    columns = (*FIGURES, "bot_changes", "lead_time_starts_branch_pushes", "lead_time_starts_api")
    webhooks = from_webhooks(tmp_path, history)
    api = from_api(tmp_path, history, start - timedelta(days=10), created_at=datetime(2018, 6, 25, tzinfo=UTC))
    for paths, starts_from in ((webhooks, "lead_time_starts_branch_pushes"), (api, "lead_time_starts_api")):
        rows = rounded(repo_rows(paths, history.repo, columns))
        assert {month: {key: row[key] for key in FIGURES} for month, row in rows.items()} == expected
        for month, row in rows.items():
            month_shipped = [
                commit
                for deployment in history.deployments
                if deployment.at.date().replace(day=1) == month
                for commit in shipped[deployment.deploy_id]
            ]
            assert row["bot_changes"] == sum(commit.sha in bots for commit in month_shipped)
            requests = sum(commit.sha in {pull.merge_sha for pull in history.pulls} for commit in month_shipped)
            assert row[starts_from] == requests - row["bot_changes"], month
    # The old rule (merge time -> deployment) would have measured far less: every request's
    # branch began at least 30 hours before it merged.
    assert all(row["lead_time_median_hours"] >= 30 for row in expected.values() if row["lead_time_median_hours"])


def test_a_first_deployment_does_not_absorb_the_history_before_the_repo_was_onboarded(tmp_path: Path) -> None:
    repo = "acme/release"
    with FakeGitHub() as github:
        github.add_repo(repo, created_at=datetime(2024, 1, 2, tzinfo=UTC))
        old = github.add_commit(repo, sha="a" * 40, at=datetime(2024, 3, 1, 9, tzinfo=UTC))
        github.add_deployment(
            repo,
            sha=old["sha"],
            at=datetime(2024, 3, 20, 9, tzinfo=UTC),
            statuses=[("success", datetime(2024, 3, 20, 9, tzinfo=UTC))],
        )
        # A release branch cut in May and deployed in June (its commits are not the default
        # branch's: the extractor asks GitHub's compare for what the June deployment shipped).
        github.add_commit(
            repo, branch="release-1", sha="b" * 40, parents=[old["sha"]], at=datetime(2024, 5, 10, 9, tzinfo=UTC)
        )
        june = github.add_commit(repo, branch="release-1", sha="c" * 40, at=datetime(2024, 6, 5, 9, tzinfo=UTC))
        github.add_deployment(
            repo,
            sha=june["sha"],
            at=datetime(2024, 6, 10, 9, tzinfo=UTC),
            statuses=[("success", datetime(2024, 6, 10, 9, tzinfo=UTC))],
        )

        def extracted(name: str, since: date) -> DoraPaths:
            paths = new_home(tmp_path, name)
            extract(paths, github, repo, since, date(2024, 6, 30))
            refreshed(paths)
            return paths

        onboarded_in_june = extracted("june", date(2024, 6, 1))
        from_creation = extracted("creation", date(2024, 1, 1))
    rows = query(
        onboarded_in_june,
        "SELECT change_id, deploy_id, lead_time_hours, excluded_reason FROM silver.deployment_changes ORDER BY 1",
    )
    # Onboarded in June, the June deployment is the first known: May's commit may have shipped
    # with an earlier, unseen deployment: history before tracking, in no figure. June's counts.
    assert [(change[:1], reason) for change, _, _, reason in rows] == [("b", "history before tracking"), ("c", None)]
    june_figures = ("changes_deployed", "lead_time_median_hours", "changes_before_tracking")
    assert repo_rows(onboarded_in_june, repo, ("deployments", *june_figures))[date(2024, 6, 1)] == {
        "deployments": 1,
        "changes_deployed": 1,
        "lead_time_median_hours": 120.0,  # June 5 09:00 -> June 10 09:00
        "changes_before_tracking": 1,
    }
    # Onboarded from the repository's creation, the March deployment is known and shipped the
    # March commit; the June one ships May's and June's commits.
    assert repo_rows(from_creation, repo, ("deployments", *june_figures)) == {
        date(2024, 3, 1): {
            "deployments": 1,
            "changes_deployed": 1,
            "lead_time_median_hours": 19 * 24.0,
            "changes_before_tracking": 0,
        },
        date(2024, 6, 1): {
            "deployments": 1,
            "changes_deployed": 2,
            "lead_time_median_hours": (31 * 24 + 120) / 2,
            "changes_before_tracking": 0,
        },
    }
