"""Where the time goes (issue 20): the stages of a pull request's lead time (coding, pickup, review,
deploy) in silver.deployment_changes and gold.lead_time_stages, on a GitHub history and a GitLab
one written with the real webhook bodies (fixtures/github/pull_request_review, ..._comment,
issue_comment; fixtures/gitlab/merge_request, note, push), with every figure computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from dagster import AssetKey

from dora_assets.definitions import defs
from dora_assets.resources import Clock
from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import (
    envelope,
    issue_comment,
    pull_request_review,
    pull_request_review_comment,
    sample,
    write_landing_file,
)
from dora_assets_tests.helpers import materialize_everything, query, query_dicts
from dora_assets_tests.real_lineage import ZERO
from dora_assets_tests.test_lineage import deployed, merged_pull, pushed
from dora_assets_tests.test_metrics_known_answers import sha

pytestmark = pytest.mark.slow

REPO, AUTHOR = "acme/shop", "octocat"
AS_OF = datetime(2024, 6, 20, tzinfo=UTC)
A1, A2, S1, S2, BASE = (sha(f"stages-{label}") for label in ("a1", "a2", "s1", "s2", "base"))
STAGE_COLUMNS = (
    "changes",
    "changes_reviewed",
    "coding_p50_hours",
    "coding_p90_hours",
    "pickup_p50_hours",
    "pickup_p90_hours",
    "review_p50_hours",
    "review_p90_hours",
    "deploy_p50_hours",
    "deploy_p90_hours",
)


def github_history() -> list[dict]:
    return [
        pushed("p0", "main", ZERO, [(BASE, "2024-06-01T09:00:00Z")], "2024-06-01T09:00:00Z"),
        # PR 11: its branch's commits Mon 09:00 and 15:00; opened Mon 16:00.
        pushed("p1", "feat-a", BASE, [(A1, "2024-06-03T09:00:00Z")], "2024-06-03T09:05:00Z"),
        pushed("p2", "feat-a", A1, [(A2, "2024-06-03T15:00:00Z")], "2024-06-03T15:05:00Z"),
        # Not pickup: the author's own comment (Mon 17:00), a bot's review (Mon 18:00), and a
        # comment after the merge (Wed 10:00); a comment on an issue, not a request, is nothing.
        envelope(
            "issue_comment",
            issue_comment(REPO, 11, AUTHOR, "2024-06-03T17:00:00Z", author=AUTHOR),
            "c1",
            "2024-06-03T17:00:00Z",
        ),
        envelope(
            "pull_request_review",
            pull_request_review(
                REPO, 11, "review-helper[bot]", "2024-06-03T18:00:00Z", author=AUTHOR, state="commented"
            ),
            "r0",
            "2024-06-03T18:00:00Z",
        ),
        envelope(
            "issue_comment",
            issue_comment(REPO, 11, "carol", "2024-06-05T10:00:00Z", author=AUTHOR),
            "c2",
            "2024-06-05T10:00:00Z",
        ),
        envelope(
            "issue_comment",
            issue_comment(REPO, 11, "dave", "2024-06-03T16:30:00Z", author=AUTHOR, on_pull_request=False),
            "c3",
            "2024-06-03T16:30:00Z",
        ),
        # Pickup ends Tue 10:00 with alice's review comment; bob approves at noon.
        envelope(
            "pull_request_review_comment",
            pull_request_review_comment(REPO, 11, "alice", "2024-06-04T10:00:00Z", author=AUTHOR),
            "rc1",
            "2024-06-04T10:00:00Z",
        ),
        envelope(
            "pull_request_review",
            pull_request_review(REPO, 11, "bob", "2024-06-04T12:00:00Z", author=AUTHOR),
            "r1",
            "2024-06-04T12:00:00Z",
        ),
        merged_pull(11, S1, "2024-06-03T16:00:00Z", "2024-06-04T14:00:00Z", branch="feat-a", author=AUTHOR),
        pushed("p3", "main", BASE, [(S1, "2024-06-04T14:00:00Z")], "2024-06-04T14:00:00Z"),
        # PR 12: no branch push received, no review; opened Tue 08:00, squash-merged Tue 20:00.
        merged_pull(12, S2, "2024-06-04T08:00:00Z", "2024-06-04T20:00:00Z", branch="feat-b", author=AUTHOR),
        pushed("p4", "main", S1, [(S2, "2024-06-04T20:00:00Z")], "2024-06-04T20:00:00Z"),
        # D1 on Wed 09:00 ships base, s1 and s2 (base is no request's).
        deployed("d1", 1, S2, "2024-06-05T09:00:00Z"),
    ]


def test_the_stages_of_a_requests_lead_time_and_their_percentiles(data_home: DoraPaths) -> None:
    write_landing_file(data_home.landing_dir / "github" / "history.ndjson", github_history())
    # Gold as of 2024-06-20: the deployment of June 5th is in the rolling 30 and 90 days too.
    transform = materialize_everything(resources={**defs.resources, "clock": Clock(frozen_at=AS_OF.isoformat())})
    rows = query(
        data_home,
        "SELECT change_id, lead_time_hours, epoch(time_opened - lead_time_start) / 3600, "
        "epoch(time_first_review - time_opened) / 3600, epoch(time_merged - coalesce(time_first_review, "
        "time_opened)) / 3600, epoch(time_deployed - time_merged) / 3600 FROM silver.deployment_changes "
        "WHERE time_opened IS NOT NULL",
    )
    # PR 11: Mon 09:00 first commit -> 16:00 opened (7 h) -> Tue 10:00 alice (18 h) -> 14:00
    # merged (4 h) -> Wed 09:00 deployed (19 h): 48 h in all. PR 12 starts when opened (0 h of
    # coding): no review, so 12 h from its opening to its merge, then 13 h to the deployment.
    assert sorted(rows) == sorted([(S1, 48.0, 7.0, 18.0, 4.0, 19.0), (S2, 25.0, 0.0, None, 12.0, 13.0)])
    stages = {
        (row["grain"], row["period_start"], row["scope"], row["name"]): {key: row[key] for key in STAGE_COLUMNS}
        for row in query_dicts(data_home, "SELECT * FROM gold.lead_time_stages")
    }
    june = {
        "changes": 2,
        "changes_reviewed": 1,
        "coding_p50_hours": 3.5,
        "coding_p90_hours": 6.3,  # 0 + 0.9 * (7 - 0)
        "pickup_p50_hours": 18.0,
        "pickup_p90_hours": 18.0,
        "review_p50_hours": 8.0,
        "review_p90_hours": 11.2,  # 4 + 0.9 * (12 - 4)
        "deploy_p50_hours": 16.0,
        "deploy_p90_hours": 18.4,  # 13 + 0.9 * (19 - 13)
    }
    periods = (
        ("month", date(2024, 6, 1)),
        ("week", date(2024, 6, 3)),
        ("30d", date(2024, 5, 21)),
        ("90d", date(2024, 3, 22)),
    )
    for scope, name in (("org", "*"), ("team", REPO), ("repo", REPO)):
        for period in periods:
            got = stages[(*period, scope, name)]
            assert {key: round(value, 6) if isinstance(value, float) else value for key, value in got.items()} == june
    assert len(stages) == len(periods) * 3
    # The organisation's rolling stages are the asset's metadata, as numbers the UI plots.
    [materialized] = [
        event.materialization.metadata
        for event in transform.get_asset_materialization_events()
        if event.asset_key == AssetKey(["gold", "lead_time_stages"])
    ]
    plotted = {key: value.value for key, value in materialized.items() if key.startswith("org_30d_")}
    assert {key: round(value, 6) for key, value in plotted.items()} == {
        "org_30d_changes": 2,
        "org_30d_changes_reviewed": 1,
        "org_30d_coding_p50_hours": 3.5,
        "org_30d_pickup_p50_hours": 18.0,
        "org_30d_review_p50_hours": 8.0,
        "org_30d_deploy_p50_hours": 16.0,
    }


GITLAB_REPO = "gitlab-org/app"
G0, GA, GB, GS = (sha(f"stages-gitlab-{label}") for label in ("g0", "ga", "gb", "gs"))


def gitlab_push(branch: str, before: str, commits: list[tuple[str, str]]) -> dict:
    payload = sample("push/push.json", "gitlab")
    payload["project"]["path_with_namespace"] = GITLAB_REPO
    payload.update(ref=f"refs/heads/{branch}", before=before, after=commits[-1][0], checkout_sha=commits[-1][0])
    template = payload["commits"][0]
    payload["commits"] = [{**template, "id": commit, "timestamp": at} for commit, at in commits]
    payload["total_commits_count"] = len(commits)
    return payload


def test_a_gitlab_squash_merge_starts_at_its_branchs_first_commit_and_a_note_ends_pickup(data_home: DoraPaths) -> None:
    request = sample("merge_request/merge_request.json", "gitlab")
    request["project"]["path_with_namespace"] = GITLAB_REPO
    author_id = request["object_attributes"]["author_id"]
    request["object_attributes"].update(
        iid=5,
        action="merge",
        state="merged",
        source_branch="feature-g",
        target_branch="main",
        created_at="2024-06-10 12:00:00 UTC",
        updated_at="2024-06-11 15:00:00 UTC",
        merged_at=None,
        merge_commit_sha=None,
        squash_commit_sha=GS,
    )
    note = sample("note/note_merge_request.json", "gitlab")
    note["project"]["path_with_namespace"] = GITLAB_REPO
    note["merge_request"].update(iid=5, author_id=author_id)
    note["object_attributes"].update(created_at="2024-06-11 09:00:00 UTC", author_id=author_id + 1)
    own_note = sample("note/note_merge_request.json", "gitlab")
    own_note["project"]["path_with_namespace"] = GITLAB_REPO
    own_note["merge_request"].update(iid=5, author_id=author_id)
    own_note["object_attributes"].update(created_at="2024-06-10 13:00:00 UTC", author_id=author_id)
    deploy = sample("deployment/deployment.json", "gitlab")
    write_landing_file(
        data_home.landing_dir / "gitlab" / "history.ndjson",
        [
            envelope(
                "push",
                gitlab_push("main", ZERO, [(G0, "2024-06-09T09:00:00Z")]),
                "g0",
                "2024-06-09T09:00:00Z",
                "gitlab",
            ),
            envelope(
                "push",
                gitlab_push("feature-g", G0, [(GA, "2024-06-10T08:00:00Z"), (GB, "2024-06-10T11:00:00Z")]),
                "g1",
                "2024-06-10T11:05:00Z",
                "gitlab",
            ),
            envelope("note", own_note, "n0", "2024-06-10T13:00:00Z", "gitlab"),
            envelope("note", note, "n1", "2024-06-11T09:00:00Z", "gitlab"),
            envelope("merge_request", request, "m1", "2024-06-11T15:00:00Z", "gitlab"),
            envelope(
                "push", gitlab_push("main", G0, [(GS, "2024-06-11T15:00:00Z")]), "g2", "2024-06-11T15:00:00Z", "gitlab"
            ),
            envelope(
                "deployment",
                gitlab_deployment(deploy, GS, "2024-06-12 09:00:00 UTC"),
                "gd",
                "2024-06-12T09:00:00Z",
                "gitlab",
            ),
        ],
    )
    materialize_everything()
    rows = query(
        data_home,
        "SELECT change_id, lead_time_hours, start_source, pull_request_id, "
        "epoch(time_first_review - time_opened) / 3600 FROM silver.deployment_changes ORDER BY time_created",
    )
    # g0: Sun 09:00 -> Wed 09:00 (72 h). The squash commit: from feature-g's first commit (Mon
    # 08:00, 49 h); opened Mon 12:00, first note by someone else Tue 09:00 (21 h of pickup).
    assert rows == [(G0, 72.0, "commit", None, None), (GS, 49.0, "pull_request_branch_pushes", "5", 21.0)]


def gitlab_deployment(payload: dict, commit: str, at: str) -> dict:
    payload["project"]["path_with_namespace"] = GITLAB_REPO
    payload.update(status="success", status_changed_at=at, environment="production", sha=commit)
    payload["commit_url"] = f"https://gitlab.example.com/{GITLAB_REPO}/-/commit/{commit}"
    return payload
