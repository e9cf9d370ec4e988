"""Each silver transformation on the real, unmodified GitHub webhook examples
(fixtures/github, from octokit/webhooks), run through Dagster on a real DuckDB file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import envelope, sample, write_landing_file
from dora_assets_tests.helpers import materialize_everything, query

pytestmark = pytest.mark.slow

REPO = "Codertocat/Hello-World"


def land(paths: DoraPaths, *events: tuple[str, str]) -> None:
    """Land each sample payload (event type, fixture path) as one delivery."""
    envelopes = [
        envelope(event_type, sample(relative), f"sample-{index}", "2023-01-01T00:00:00Z")
        for index, (event_type, relative) in enumerate(events)
    ]
    write_landing_file(paths.landing_dir / "samples.ndjson", envelopes)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_push_samples_become_pushes_and_changes(data_home: DoraPaths) -> None:
    land(data_home, ("push", "push/with-new-branch.payload.json"), ("push", "push/payload.json"))
    materialize_everything()

    pushes = query(
        data_home,
        "SELECT repo, ref, branch, after_sha, pushed_at, commit_count FROM silver.pushes ORDER BY ref",
    )
    assert pushes == [
        (
            REPO,
            "refs/heads/master",
            "master",
            "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            utc("2019-05-15T15:20:57"),
            1,
        ),
        (REPO, "refs/tags/simple-tag", None, "0000000000000000000000000000000000000000", utc("2019-05-15T15:20:57"), 0),
    ]
    assert query(data_home, "SELECT source, repo, change_id, time_created, branch FROM silver.changes") == [
        ("github", REPO, "6113728f27ae82c7b1a177c8d03f9e96e0adf246", utc("2019-05-15T15:19:25"), "master")
    ]


def test_deployment_status_samples_keep_only_successful_production(data_home: DoraPaths) -> None:
    land(
        data_home,
        ("deployment_status", "deployment_status/payload.json"),
        ("deployment_status", "deployment_status/gh-pages.payload.json"),
        ("deployment", "deployment/payload.json"),
    )
    materialize_everything()

    assert query(
        data_home, "SELECT source, repo, deploy_id, environment, commit_sha, ref, time_deployed FROM silver.deployments"
    ) == [
        (
            "github",
            REPO,
            "145988746",
            "production",
            "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
            "master",
            utc("2019-05-15T15:20:55"),
        )
    ]
    # No push brought f95f852 to master in these samples, so the deployment shipped no known change.
    assert query(data_home, "SELECT count(*) FROM silver.deployment_changes") == [(0,)]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ("[incident]", []),
        ("[Bug]", [("1", "Spelling error in the README file", utc("2019-05-15T15:20:18"), None, None)]),
    ],
)
def test_issue_samples_become_incidents_by_label(
    data_home: DoraPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, labels: str, expected: list
) -> None:
    config = tmp_path / "dora.yaml"
    config.write_text(f"incident_labels: {labels}\n", encoding="utf-8")
    monkeypatch.setenv("DORA_CONFIG", str(config))
    land(data_home, ("issues", "issues/opened.payload.json"))
    materialize_everything()

    assert (
        query(data_home, "SELECT incident_id, title, time_created, time_resolved, root_cause_sha FROM silver.incidents")
        == expected
    )


def test_reopened_and_deleted_issue_samples(data_home: DoraPaths, tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "dora.yaml"
    config.write_text("incident_labels: [bug]\n", encoding="utf-8")
    monkeypatch.setenv("DORA_CONFIG", str(config))
    # The reopened sample still carries closed_at from its earlier closing: it is open again.
    land(data_home, ("issues", "issues/opened.payload.json"), ("issues", "issues/reopened.payload.json"))
    materialize_everything()
    assert query(data_home, "SELECT incident_id, time_created, time_resolved FROM silver.incidents") == [
        ("1", utc("2021-07-05T18:05:24"), None)
    ]

    # A later delivery deletes the issue: it is no longer an incident.
    write_landing_file(
        data_home.landing_dir / "deleted.json",
        envelope("issues", sample("issues/deleted.payload.json"), "sample-deleted", "2023-01-02T00:00:00Z"),
    )
    materialize_everything()
    assert query(data_home, "SELECT count(*) FROM silver.incidents") == [(0,)]


def test_ping_sample_lands_in_bronze_and_feeds_no_metric(data_home: DoraPaths) -> None:
    land(data_home, ("ping", "ping/payload.json"))
    materialize_everything()
    assert query(data_home, "SELECT event_type, known_event_type FROM bronze.raw_events") == [("ping", True)]
    for table in ("pushes", "changes", "deployments", "incidents"):
        assert query(data_home, "SELECT count(*) FROM query_table($t)", {"t": f"silver.{table}"}) == [(0,)]
