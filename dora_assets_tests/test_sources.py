"""Every source onto the same silver tables, on the real webhook bodies in ``fixtures/``
(GitLab, PagerDuty, Jira, Jenkins, and GitHub's workflow_run, release and pull_request),
through Dagster runs on a real DuckDB file. Where a scenario needs a field the sample lacks
(a merge, a shared incident id), a copy of the real body is changed in that field only."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize

from dora_assets.definitions import defs
from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import deployment_status, envelope, iso, write_landing_file
from dora_assets_tests.builders import issue as github_issue
from dora_assets_tests.builders import push as github_push
from dora_assets_tests.builders import sample as real_sample
from dora_assets_tests.helpers import gold_monthly, materialize_everything, query

pytestmark = pytest.mark.slow

Delivery = tuple[str, str, dict[str, Any], str]  # source, event type, payload, received_at


def sample(relative: str, source: str = "github") -> dict[str, Any]:
    """A real payload with its 2026 moments moved to the same days of 2023, as this module's whole
    story is: long past on any date the suite runs, so no figure depends on the day the tests run
    (see `make test-time-travel`), and recent enough that a refresh to today spans few months."""
    return _moved_to_2023(real_sample(relative, source))


def _moved_to_2023(value: Any) -> Any:
    if isinstance(value, str):
        return "2023-" + value[5:] if re.match(r"2026-[01][0-9]-[0-3][0-9]", value) else value
    if isinstance(value, dict):
        return {key: _moved_to_2023(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved_to_2023(item) for item in value]
    return value


def land(paths: DoraPaths, *deliveries: Delivery, name: str = "deliveries") -> None:
    envelopes = [
        envelope(event_type, payload, f"{name}-{index}", received_at, source=source)
        for index, (source, event_type, payload, received_at) in enumerate(deliveries)
    ]
    write_landing_file(paths.landing_dir / f"{name}.ndjson", envelopes)


def configure(paths: DoraPaths, monkeypatch: pytest.MonkeyPatch, config: dict) -> None:
    path = paths.home / "dora.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.setenv("DORA_CONFIG", str(path))


def utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def refresh_month(asset: AssetKey, month: str) -> None:
    """One month's partition of one asset, alone, as a monthly refresh or a backfill runs it."""
    result = materialize(
        [*defs.assets, *(defs.asset_checks or [])],
        selection=AssetSelection.assets(asset),
        partition_key=month,
        resources=defs.resources,
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success


def check_metadata(result, asset: str, check: str) -> tuple[bool, dict]:
    [evaluation] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == AssetKey(asset.split("/")) and e.check_name == check
    ]
    return evaluation.passed, {key: value.value for key, value in evaluation.metadata.items()}


# -- GitLab -----------------------------------------------------------------------------------


def test_gitlab_pushes_deployments_and_timestamp_formats(data_home: DoraPaths, monkeypatch) -> None:
    configure(data_home, monkeypatch, {"production_environments": ["production", "staging"]})
    push = sample("push/push.json", "gitlab")
    # The sample's commits are from 2011, before the first monthly partition: move them, keeping
    # GitLab's own offset format.
    push["commits"][0]["timestamp"] = "2023-03-02T09:00:00+02:00"
    push["commits"][1]["timestamp"] = "2023-03-02T10:30:00+02:00"
    staging = sample("deployment/deployment.json", "gitlab")  # "2021-04-28 21:50:00 +0200"
    land(
        data_home,
        ("gitlab", "push", push, "2023-03-02T09:00:05Z"),
        ("gitlab", "tag_push", sample("tag_push/tag_push.json", "gitlab"), "2023-03-02T09:10:00Z"),
        (
            "gitlab",
            "deployment",
            sample("deployment/deployment_hook__succeeded.json", "gitlab"),
            "2025-05-02T11:55:17Z",
        ),
        ("gitlab", "deployment", sample("deployment/deployment_hook__failed.json", "gitlab"), "2025-05-02T12:00:00Z"),
        ("gitlab", "deployment", staging, "2021-04-28T19:50:01Z"),
    )
    materialize_everything()

    assert query(
        data_home,
        "SELECT source, repo, ref, branch, after_sha, pushed_at, commit_count FROM silver.pushes ORDER BY ref",
    ) == [
        (
            "gitlab",
            "mike/diaspora",
            "refs/heads/master",
            "master",
            "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            utc("2023-03-02T09:00:05Z"),
            2,
        ),
        (
            "gitlab",
            "jsmith/example",
            "refs/tags/v1.0.0",
            None,
            "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
            utc("2023-03-02T09:10:00Z"),
            1,
        ),
    ]
    assert query(
        data_home, "SELECT change_id, time_created FROM silver.changes WHERE repo = 'mike/diaspora' ORDER BY 1"
    ) == [
        ("b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327", utc("2023-03-02T07:00:00Z")),
        ("da1560886d4f094c3e6c9ef40349f7d38b5d27d7", utc("2023-03-02T08:30:00Z")),
    ]
    # The failed deployment is not one; production and (configured) staging are, with the full
    # sha from commit_url and both of GitLab's time formats.
    assert query(
        data_home,
        "SELECT source, repo, deploy_id, environment, commit_sha, ref, time_deployed FROM silver.deployments "
        "ORDER BY time_deployed",
    ) == [
        (
            "gitlab",
            "root/test-deployment-webhooks",
            "gitlab:15",
            "staging",
            "279484c09fbe69ededfced8c1bb6e6d24616b468",
            "1.0.0",
            utc("2021-04-28T19:50:00Z"),
        ),
        (
            "gitlab",
            "vedant8600317/test",
            "gitlab:988572802",
            "production",
            "58793660b22d6ceacbdc23b28a0562bca339702c",
            "master",
            utc("2025-05-02T11:55:16Z"),
        ),
    ]


def test_gitlab_incidents_by_type_or_label_and_merged_requests(data_home: DoraPaths, monkeypatch) -> None:
    configure(data_home, monkeypatch, {"incident_labels": ["incident", "api"]})
    merged = sample("merge_request/merge_request.json", "gitlab")
    merged["object_attributes"].update(
        {"state": "merged", "action": "merge", "updated_at": "2023-02-03 10:00:00 UTC", "merge_commit_sha": "A" * 40}
    )
    labelled = sample("issue/issue.json", "gitlab")
    # Created in 2013, before the first monthly partition (2015): moved, in the sample's format.
    labelled["object_attributes"].update({"created_at": "2023-01-01T17:15:43Z", "updated_at": "2023-01-01T17:15:43Z"})
    land(
        data_home,
        ("gitlab", "issue", sample("issue/issue_hook__incident_closed.json", "gitlab"), "2023-05-28T06:11:47Z"),
        ("gitlab", "issue", labelled, "2023-01-01T17:15:44Z"),
        ("gitlab", "merge_request", sample("merge_request/merge_request.json", "gitlab"), "2023-02-01T00:00:00Z"),
        ("gitlab", "merge_request", merged, "2023-02-03T10:00:01Z"),
    )
    materialize_everything()

    assert query(
        data_home,
        "SELECT source, repo, incident_id, time_created, time_resolved FROM silver.incidents ORDER BY time_created",
    ) == [
        # Labelled "API" (configured as an incident label), still open.
        ("gitlab", "gitlabhq/gitlab-test", "23", utc("2023-01-01T17:15:43Z"), None),
        # A GitLab incident (type Incident), closed.
        (
            "gitlab",
            "sathwikshetty33-group/mVc",
            "6",
            utc("2023-05-28T06:09:06.964Z"),
            utc("2023-05-28T06:11:46.057Z"),
        ),
    ]
    # The opened MR is not merged; the merge (GitLab's "... UTC" time format) is.
    assert query(
        data_home,
        "SELECT source, repo, pull_request_id, target_branch, time_merged, merge_commit_sha FROM silver.pull_requests",
    ) == [("gitlab", "gitlabhq/gitlab-test", "1", "master", utc("2023-02-03T10:00:00Z"), "a" * 40)]


# -- PagerDuty --------------------------------------------------------------------------------


def pagerduty_event(relative: str, incident_id: str, occurred_at: str) -> dict:
    body = sample(relative, "pagerduty")
    body["event"]["data"]["id"] = incident_id
    body["event"]["occurred_at"] = occurred_at
    return body


def test_pagerduty_timeline_out_of_order_reopen_and_service_map(data_home: DoraPaths, monkeypatch) -> None:
    configure(data_home, monkeypatch, {"pagerduty": {"services": {"PA2P440": "acme/payments"}}})
    triggered = pagerduty_event("incident.triggered/triggered_v3.json", "P1", "2023-03-10T10:00:00Z")
    acknowledged = pagerduty_event("incident.acknowledged/acknowledged_v3.json", "P1", "2023-03-10T10:05:00Z")
    resolved = pagerduty_event("incident.resolved/resolved_v3.json", "P1", "2023-03-10T11:30:00Z")
    # A note on the incident: its data is the note (PagerDuty's incident.annotated), not an incident.
    annotated = pagerduty_event("incident.acknowledged/acknowledged_v3.json", "P1", "2023-03-10T10:20:00Z")
    annotated["event"].update({"event_type": "incident.annotated"})
    annotated["event"]["data"] = {
        "id": "PNOTE1",
        "type": "incident_note",
        "content": "Rolled back",
        "incident": {"id": "P1"},
    }
    # PagerDuty delivered the resolution before the trigger: order is by occurred_at.
    land(
        data_home,
        ("pagerduty", "incident.resolved", resolved, "2023-03-10T11:30:01Z"),
        ("pagerduty", "incident.triggered", triggered, "2023-03-10T11:30:02Z"),
        ("pagerduty", "incident.acknowledged", acknowledged, "2023-03-10T11:30:03Z"),
        ("pagerduty", "incident.annotated", annotated, "2023-03-10T11:30:04Z"),
        (
            "pagerduty",
            "incident.reopened",
            sample("incident.reopened/reopened_v3.json", "pagerduty"),
            "2023-04-01T02:15:03Z",
        ),
    )
    materialize_everything()

    assert query(
        data_home,
        "SELECT source, repo, incident_id, title, time_created, time_resolved FROM silver.incidents "
        "ORDER BY incident_id",
    ) == [
        ("pagerduty", "acme/payments", "P1", "Test Incident", utc("2023-03-10T10:00:00Z"), utc("2023-03-10T11:30:00Z")),
        # Another service (unmapped: its own name), reopened: open, created at data.created_at.
        ("pagerduty", "Default Service", "Q05XJA8GDXGOB3", "Test Incident 2", utc("2023-03-30T13:37:07Z"), None),
    ]

    # It is reopened later: open again.
    reopened = pagerduty_event("incident.reopened/reopened_v3.json", "P1", "2023-03-10T12:00:00Z")
    reopened["event"]["data"]["service"] = triggered["event"]["data"]["service"]
    land(data_home, ("pagerduty", "incident.reopened", reopened, "2023-03-10T12:00:01Z"), name="reopen")
    materialize_everything()
    assert query(data_home, "SELECT time_resolved FROM silver.incidents WHERE incident_id = 'P1'") == [(None,)]


# -- Jira ---------------------------------------------------------------------------------------


def test_jira_incidents_resolution_reopen_and_root_cause_field(data_home: DoraPaths, monkeypatch) -> None:
    configure(
        data_home,
        monkeypatch,
        {
            "incident_labels": ["incident", "test-label"],
            "jira": {
                "incident_issue_types": ["Bug"],
                "projects": {"TES": "acme/payments"},
                "root_cause_field": "customfield_10099",
            },
        },
    )
    bug_resolved = sample("jira_issue_updated/mattermost-server-bug-inprogress-to-resolved.json", "jira")
    bug_resolved["issue"]["fields"]["customfield_10099"] = "3484a3fb816e0859fd6e1cea078d76385ff50625"
    # Resolved by moving to Done without resolutiondate: resolved when it moved (the event time).
    story_done = sample("jira_issue_updated/mattermost-cloud-status-inprogress-to-done-resolutiondate.json", "jira")
    story_done["issue"]["fields"]["resolutiondate"] = None
    # A root cause on the line after its label, as people type it.
    story_done["issue"]["fields"]["description"] = (
        "Checkout failed.\nRoot cause:\n0f886c74949c3ee7e489188911c7dc0c1d547418"
    )
    land(
        data_home,
        ("jira", "jira:issue_updated", bug_resolved, "2019-08-12T23:23:03Z"),
        ("jira", "jira:issue_updated", story_done, "2019-02-16T03:15:41Z"),
        # A Task without incident label or type: not an incident.
        (
            "jira",
            "jira:issue_created",
            sample("jira_issue_created/jiratrigger-server-task-created.json", "jira"),
            "2023-12-20T18:25:10Z",
        ),
    )
    materialize_everything()

    assert query(
        data_home,
        "SELECT source, repo, incident_id, time_created, time_resolved, root_cause_sha, url FROM silver.incidents "
        "ORDER BY incident_id",
    ) == [
        (
            "jira",
            "acme/payments",
            "TES-4",
            utc("2019-08-12T22:14:23.580Z"),
            utc("2019-08-12T23:23:01.890Z"),
            "3484a3fb816e0859fd6e1cea078d76385ff50625",
            "http://some-instance-test.centralus.cloudapp.azure.com:8080/browse/TES-4",
        ),
        (
            "jira",
            "acme/payments",
            "TES-41",
            utc("2019-02-15T19:01:52.971-08:00"),
            utc("2019-02-16T03:15:40.507Z"),
            "0f886c74949c3ee7e489188911c7dc0c1d547418",
            "https://some-instance-test.atlassian.net/browse/TES-41",
        ),
    ]

    # Both are reopened (resolution cleared): open again.
    land(
        data_home,
        (
            "jira",
            "jira:issue_updated",
            sample("jira_issue_updated/mattermost-server-bug-resolved-to-reopened.json", "jira"),
            "2019-08-14T03:01:44Z",
        ),
        (
            "jira",
            "jira:issue_updated",
            sample("jira_issue_updated/mattermost-cloud-reopened-done-to-todo.json", "jira"),
            "2019-02-16T03:17:07Z",
        ),
        name="reopen",
    )
    materialize_everything()
    assert query(data_home, "SELECT incident_id, time_resolved FROM silver.incidents ORDER BY incident_id") == [
        ("TES-4", None),
        ("TES-41", None),
    ]


# -- Jenkins ------------------------------------------------------------------------------------


def jenkins_build(phase: str, parameters: dict | None = None) -> dict:
    body = sample("build.completed/plugins-wiki-docs-asgard-completed-success.json", "jenkins")
    body["build"]["phase"] = phase
    if parameters is not None:
        body["build"]["parameters"] = parameters
    return body


@pytest.mark.parametrize(
    ("jenkins", "deployed"),
    [
        ({}, False),  # no deploy job configured: a build is not a deployment
        ({"deploy_jobs": ["asg*"]}, True),
        ({"deploy_jobs": ["other-*"]}, False),
        ({"environment_parameter": "DEPLOY_ENV"}, True),  # the build names production
    ],
)
def test_jenkins_deploy_builds(data_home: DoraPaths, monkeypatch, jenkins: dict, deployed: bool) -> None:
    configure(data_home, monkeypatch, {"jenkins": jenkins})
    land(
        data_home,
        # COMPLETED and FINALIZED of one build: one deployment.
        (
            "jenkins",
            "build.completed",
            jenkins_build("COMPLETED", {"DEPLOY_ENV": "Production"}),
            "2023-03-03T12:00:00Z",
        ),
        (
            "jenkins",
            "build.finalized",
            jenkins_build("FINALIZED", {"DEPLOY_ENV": "Production"}),
            "2023-03-03T12:00:02Z",
        ),
    )
    materialize_everything()

    expected = [
        (
            "jenkins",
            "evgeny-goldin/asgard",
            "jenkins:asgard#18",
            "Production" if "environment_parameter" in jenkins else "production",
            "c6d86dc654b12425e706bcf951adfe5a8627a517",
            "master",
            utc("2023-03-03T12:00:00Z"),
        )
    ]
    assert query(
        data_home, "SELECT source, repo, deploy_id, environment, commit_sha, ref, time_deployed FROM silver.deployments"
    ) == (expected if deployed else [])


def test_jenkins_staging_build_and_job_repo_map(data_home: DoraPaths, monkeypatch) -> None:
    configure(
        data_home,
        monkeypatch,
        {"jenkins": {"environment_parameter": "DEPLOY_ENV", "jobs": {"asgard": "acme/asgard"}}},
    )
    staging = jenkins_build("COMPLETED", {"DEPLOY_ENV": "staging"})
    production = jenkins_build("COMPLETED", {"DEPLOY_ENV": "prod"})
    production["build"].update({"number": 19, "timestamp": 1677844800000, "duration": 90000})  # 2023-03-03T12:00Z
    land(
        data_home,
        ("jenkins", "build.completed", staging, "2023-03-03T11:00:00Z"),
        ("jenkins", "build.completed", production, "2023-03-03T12:01:40Z"),
    )
    materialize_everything()

    # Finished at timestamp + duration, not when the notification arrived.
    assert query(data_home, "SELECT repo, deploy_id, environment, time_deployed FROM silver.deployments") == [
        ("acme/asgard", "jenkins:asgard#19", "prod", utc("2023-03-03T12:01:30Z"))
    ]


def test_jenkins_multibranch_jobs_are_named_by_their_full_path(data_home: DoraPaths, monkeypatch) -> None:
    configure(data_home, monkeypatch, {"jenkins": {"deploy_jobs": ["payments/*"]}})
    payments, search = jenkins_build("COMPLETED"), jenkins_build("COMPLETED")
    payments.update({"name": "main", "url": "job/payments/job/main/"})
    search.update({"name": "main", "url": "job/search/job/main/"})  # same name, same build number
    land(
        data_home,
        ("jenkins", "build.completed", payments, "2023-03-03T12:00:00Z"),
        ("jenkins", "build.completed", search, "2023-03-03T12:05:00Z"),
    )
    materialize_everything()

    assert query(data_home, "SELECT deploy_id FROM silver.deployments") == [("jenkins:payments/main#18",)]


# -- GitHub beyond the Deployments API -----------------------------------------------------------


def test_github_workflow_runs_and_releases_as_deployment_signals(data_home: DoraPaths, monkeypatch) -> None:
    workflow_run = sample("workflow_run/completed.payload.json")  # test.yml on master, success
    on_a_branch = sample("workflow_run/completed.payload.json")
    on_a_branch["workflow_run"].update({"id": 2, "head_branch": "feature"})
    release = sample("release/published.payload.json")  # 0.0.1, target master, 2019-05-15T15:20:53Z
    tag_push = sample("push/payload.json")
    tag_push.update({"ref": "refs/tags/0.0.1", "after": "B" * 40})
    deliveries = (
        ("github", "workflow_run", workflow_run, "2020-10-05T16:33:50Z"),
        ("github", "workflow_run", on_a_branch, "2020-10-05T16:33:51Z"),
        ("github", "release", release, "2019-05-15T15:20:54Z"),
        ("github", "release", sample("release/prereleased.payload.json"), "2019-05-15T15:20:55Z"),
        ("github", "push", tag_push, "2019-05-15T15:20:50Z"),
    )
    land(data_home, *deliveries)
    configure(data_home, monkeypatch, {})
    materialize_everything()
    assert query(data_home, "SELECT count(*) FROM silver.deployments") == [(0,)]  # default: Deployments API only

    configure(
        data_home,
        monkeypatch,
        {"github": {"deployments_from": ["workflow_run", "release"], "deploy_workflows": ["test.yml"]}},
    )
    materialize_everything(replay=True)
    assert query(
        data_home,
        "SELECT repo, deploy_id, environment, commit_sha, ref, time_deployed FROM silver.deployments "
        "ORDER BY deploy_id",
    ) == [
        # The release's commit is the pushed tag's.
        ("Codertocat/Hello-World", "release:17372790", "production", "b" * 40, "master", utc("2019-05-15T15:20:53Z")),
        (
            "octo-org/octo-repo",
            "workflow_run:289782451",
            "production",
            "3484a3fb816e0859fd6e1cea078d76385ff50625",
            "master",
            utc("2020-10-05T16:33:49Z"),
        ),
    ]


def test_github_release_commit_falls_back_to_the_branch_head_else_is_rejected(
    data_home: DoraPaths, monkeypatch
) -> None:
    configure(data_home, monkeypatch, {"github": {"deployments_from": ["release"]}})
    release = sample("release/published.payload.json")
    head = sample("push/with-new-branch.payload.json")  # master at 6113728f..., pushed 2019-05-15T15:20:57Z
    head["repository"]["pushed_at"] = 1557933600  # 2019-05-15T15:20:00Z, before publication
    orphan = sample("release/published.payload.json")
    orphan["release"].update({"id": 2, "tag_name": "0.0.2", "target_commitish": "no-such-branch"})
    land(
        data_home,
        ("github", "push", head, "2019-05-15T15:20:01Z"),
        ("github", "release", release, "2019-05-15T15:20:54Z"),
        ("github", "release", orphan, "2019-05-15T15:21:00Z"),
    )
    materialize_everything()

    assert query(data_home, "SELECT deploy_id, commit_sha FROM silver.deployments") == [
        ("release:17372790", "6113728f27ae82c7b1a177c8d03f9e96e0adf246")
    ]
    assert query(
        data_home, "SELECT target_table, source, event_type, delivery_id, reason FROM silver.rejected_events"
    ) == [("deployments", "github", "release", "deliveries-2", "successful deployment names no commit sha")]


def test_github_merged_pull_requests(data_home: DoraPaths) -> None:
    closed = sample("pull_request/closed.payload.json")  # closed without merging
    merged = sample("pull_request/closed.payload.json")
    merged["pull_request"].update({"number": 3, "merged": True, "merged_at": "2019-05-15T15:21:00Z"})
    land(
        data_home,
        ("github", "pull_request", closed, "2019-05-15T15:20:34Z"),
        ("github", "pull_request", merged, "2019-05-15T15:21:01Z"),
    )
    materialize_everything()

    assert query(
        data_home,
        "SELECT source, repo, pull_request_id, target_branch, time_opened, time_merged FROM silver.pull_requests",
    ) == [("github", "Codertocat/Hello-World", "3", "master", utc("2019-05-15T15:20:33Z"), utc("2019-05-15T15:21:00Z"))]


# -- across sources ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("window_minutes", "merged"), [(30, True), (0, False)])
def test_one_outage_reported_by_pagerduty_and_a_github_issue_is_one_incident(
    data_home: DoraPaths, monkeypatch, window_minutes: float, merged: bool
) -> None:
    configure(
        data_home,
        monkeypatch,
        {
            "pagerduty": {"services": {"pig208": "acme/payments"}},
            "incident_correlation": {"window_minutes": window_minutes},
        },
    )
    page = pagerduty_event("incident.triggered/triggered_v3.json", "P7", "2023-03-10T10:00:00Z")
    resolved = pagerduty_event("incident.resolved/resolved_v3.json", "P7", "2023-03-10T10:40:00Z")
    # The issue is filed 12 minutes later, names the root cause, and is closed after the postmortem.
    issue = github_issue(
        "acme/payments",
        41,
        "closed",
        labels=["incident"],
        created_at="2023-03-10T10:12:00Z",
        updated_at="2023-03-12T09:00:00Z",
        closed_at="2023-03-12T09:00:00Z",
        body="root cause: 6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    )
    # Another repo's issue at the same time is another incident.
    elsewhere = github_issue(
        "acme/search",
        7,
        "opened",
        labels=["incident"],
        created_at="2023-03-10T10:05:00Z",
        updated_at="2023-03-10T10:05:00Z",
    )
    land(
        data_home,
        ("pagerduty", "incident.triggered", page, "2023-03-10T10:00:01Z"),
        ("pagerduty", "incident.resolved", resolved, "2023-03-10T10:40:01Z"),
        ("github", "issues", issue, "2023-03-12T09:00:01Z"),
        ("github", "issues", elsewhere, "2023-03-10T10:05:01Z"),
    )
    materialize_everything()

    rows = query(
        data_home,
        "SELECT source, repo, incident_id, time_created, time_resolved, root_cause_sha, reports FROM silver.incidents "
        "ORDER BY repo, source",
    )
    github_report = (
        "github",
        "acme/payments",
        "41",
        utc("2023-03-10T10:12:00Z"),
        utc("2023-03-12T09:00:00Z"),
        "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        ["github:41"],
    )
    other_repo = ("github", "acme/search", "7", utc("2023-03-10T10:05:00Z"), None, None, ["github:7"])
    if merged:
        # PagerDuty is preferred: its id and its resolution (service restored), the issue's root cause.
        assert rows == [
            (
                "pagerduty",
                "acme/payments",
                "P7",
                utc("2023-03-10T10:00:00Z"),
                utc("2023-03-10T10:40:00Z"),
                "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
                ["pagerduty:P7", "github:41"],
            ),
            other_repo,
        ]
    else:
        assert rows == [
            github_report,
            (
                "pagerduty",
                "acme/payments",
                "P7",
                utc("2023-03-10T10:00:00Z"),
                utc("2023-03-10T10:40:00Z"),
                None,
                ["pagerduty:P7"],
            ),
            other_repo,
        ]


def test_an_outage_reported_on_both_sides_of_a_month_boundary_is_one_incident_in_either_months_refresh(
    data_home: DoraPaths, monkeypatch
) -> None:
    """A month's refresh reads the deliveries bronze.raw_events_index places near the month,
    widened by the correlation window for incidents (window_deliveries.sql): refreshing March
    alone, or April alone, must find the report filed after midnight and merge it, as one run
    over both months does, never leaving the outage in March and its second report in April."""
    configure(data_home, monkeypatch, {"pagerduty": {"services": {"pig208": "acme/payments"}}})
    page = pagerduty_event("incident.triggered/triggered_v3.json", "P7", "2023-03-31T23:50:00Z")
    resolved = pagerduty_event("incident.resolved/resolved_v3.json", "P7", "2023-03-31T23:55:00Z")
    for event in (page, resolved):
        event["event"]["data"]["created_at"] = "2023-03-31T23:50:00Z"
    issue = github_issue(
        "acme/payments",
        41,
        "closed",
        labels=["incident"],
        created_at="2023-04-01T00:10:00Z",
        updated_at="2023-04-03T09:00:00Z",
        closed_at="2023-04-03T09:00:00Z",
    )
    land(
        data_home,
        ("pagerduty", "incident.triggered", page, "2023-03-31T23:50:01Z"),
        ("pagerduty", "incident.resolved", resolved, "2023-03-31T23:55:01Z"),
        ("github", "issues", issue, "2023-04-03T09:00:01Z"),
    )
    materialize_everything()
    one_outage = [
        ("pagerduty", "P7", utc("2023-03-31T23:50:00Z"), utc("2023-03-31T23:55:00Z"), ["pagerduty:P7", "github:41"])
    ]
    incidents = "SELECT source, incident_id, time_created, time_resolved, reports FROM silver.incidents"
    assert query(data_home, incidents) == one_outage

    for month in ("2023-04-01", "2023-03-01"):
        refresh_month(AssetKey(["silver", "incidents"]), month)
        assert query(data_home, incidents) == one_outage, month


def test_a_deployment_at_the_first_instant_of_a_month_ships_its_changes_in_either_months_refresh(
    data_home: DoraPaths,
) -> None:
    """deployment_changes.sql reads only the pushes after the furthest one a deployment before
    the window shipped. A deployment at exactly 00:00 of April belongs to April: refreshing April
    alone, or March alone, must keep each change with its first shipper, as one run does, and a
    rollback to an older commit ships nothing again."""
    repo = "acme/payments"

    def pushed(before: str, sha: str, at: str) -> Delivery:
        return ("github", "push", github_push(repo, "main", before, [(sha, at)], at), at)

    def deployed(deploy_id: int, sha: str, at: str) -> Delivery:
        return ("github", "deployment_status", deployment_status(repo, deploy_id, sha, at), at)

    land(
        data_home,
        pushed("0" * 40, "a" * 40, "2023-03-30T09:00:00Z"),
        deployed(1, "a" * 40, "2023-03-31T12:00:00Z"),
        pushed("a" * 40, "b" * 40, "2023-03-31T20:00:00Z"),
        deployed(2, "b" * 40, "2023-04-01T00:00:00Z"),
        deployed(3, "a" * 40, "2023-04-02T08:00:00Z"),  # a rollback to the first commit
    )
    materialize_everything()
    shipped = "SELECT deploy_id, change_id, time_deployed FROM silver.deployment_changes ORDER BY deploy_id"
    expected = [("1", "a" * 40, utc("2023-03-31T12:00:00Z")), ("2", "b" * 40, utc("2023-04-01T00:00:00Z"))]
    assert query(data_home, shipped) == expected

    for month in ("2023-04-01", "2023-03-01"):
        refresh_month(AssetKey(["silver", "deployment_changes"]), month)
        assert query(data_home, shipped) == expected, month


def test_repo_aliases_join_a_gitlab_mirror_and_jenkins_onto_one_repo(data_home: DoraPaths, monkeypatch) -> None:
    configure(
        data_home,
        monkeypatch,
        {
            "repo_aliases": {"Mike/Diaspora": "acme/diaspora", "evgeny-goldin/asgard": "acme/diaspora"},
            "jenkins": {"deploy_jobs": ["asgard"]},
        },
    )
    push = sample("push/push.json", "gitlab")
    push["commits"] = push["commits"][:1]
    push["commits"][0]["timestamp"] = "2023-03-02T09:00:00+02:00"
    push["after"] = "c6d86dc654b12425e706bcf951adfe5a8627a517"
    build = jenkins_build("COMPLETED")
    land(
        data_home,
        ("gitlab", "push", push, "2023-03-02T08:00:00Z"),
        ("jenkins", "build.completed", build, "2023-03-02T10:00:00Z"),
    )
    materialize_everything()

    # The GitLab push and the Jenkins build name the same repo differently; the aliases make the
    # build ship the push's commit: a lead time of 3 hours.
    assert query(data_home, "SELECT deploy_id, change_id, repo, lead_time_hours FROM silver.deployment_changes") == [
        ("jenkins:asgard#18", "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327", "acme/diaspora", 3.0)
    ]


def test_a_known_event_lacking_what_its_table_needs_is_rejected_not_dropped(data_home: DoraPaths) -> None:
    # Received in the last hour: the check judges recent deliveries (checks.recent_days).
    recently = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    no_sha = sample("deployment/deployment_hook__succeeded.json", "gitlab")
    del no_sha["commit_url"]
    no_creation = sample("issue/issue_hook__incident_closed.json", "gitlab")
    del no_creation["object_attributes"]["created_at"]
    pagerduty_without_id = sample("incident.triggered/triggered_v3.json", "pagerduty")
    del pagerduty_without_id["event"]["data"]["id"]
    land(
        data_home,
        ("gitlab", "deployment", no_sha, iso(recently)),
        ("gitlab", "issue", no_creation, iso(recently + timedelta(seconds=1))),
        ("pagerduty", "incident.triggered", pagerduty_without_id, iso(recently + timedelta(seconds=2))),
    )
    result = materialize_everything()

    assert query(
        data_home, "SELECT target_table, source, delivery_id, reason FROM silver.rejected_events ORDER BY delivery_id"
    ) == [
        ("deployments", "gitlab", "deliveries-0", "successful deployment names no commit sha"),
        ("incidents", "gitlab", "deliveries-1", "incident has no creation time"),
        ("incidents", "pagerduty", "deliveries-2", "incident event names no incident id"),
    ]
    assert query(
        data_home, "SELECT count(*) FROM silver.deployments UNION ALL SELECT count(*) FROM silver.incidents"
    ) == [
        (0,),
        (0,),
    ]
    for asset, rejected in (("silver/deployments", 1), ("silver/incidents", 2)):
        passed, metadata = check_metadata(result, asset, "no_rejected_events")
        assert not passed
        assert metadata["rejected"] == rejected
    passed, _ = check_metadata(result, "silver/pushes", "no_rejected_events")
    assert passed


def sha(label: str) -> str:
    return (label * 40)[:40]


def test_a_mixed_toolchain_gives_the_hand_computed_dora_metrics(data_home: DoraPaths, monkeypatch) -> None:
    """acme/payments: code on GitHub, deployed by Jenkins, paged by PagerDuty and tracked in a
    GitHub issue (one outage, two reports). acme/search: code and deployments on GitLab under
    another name, incidents in Jira and GitLab. Expected figures worked out by hand below."""
    configure(
        data_home,
        monkeypatch,
        {
            "repo_aliases": {"search-team/search": "acme/search"},
            "jenkins": {"deploy_jobs": ["*-deploy"]},
            "pagerduty": {"services": {"payments-api": "acme/payments"}},
            "jira": {"projects": {"SRCH": "acme/search"}},
        },
    )
    c1, c2, c3, g1 = sha("1"), sha("2"), sha("3"), sha("a")

    def jenkins(number: int, commit: str, finished_ms: int) -> dict:
        body = jenkins_build("COMPLETED")
        body.update({"name": "payments-deploy", "url": "job/payments-deploy/"})
        body["build"].update({"number": number, "timestamp": finished_ms - 60_000, "duration": 60_000})
        body["build"]["scm"].update(
            {"url": "https://github.com/acme/payments.git", "branch": "origin/main", "commit": commit}
        )
        return body

    page = pagerduty_event("incident.triggered/triggered_v3.json", "P1", "2023-03-03T13:00:00Z")
    page_resolved = pagerduty_event("incident.resolved/resolved_v3.json", "P1", "2023-03-03T15:00:00Z")
    for event in (page, page_resolved):
        event["event"]["data"]["service"]["summary"] = "payments-api"
    gitlab_push = sample("push/push.json", "gitlab")
    gitlab_push["project"]["path_with_namespace"] = "search-team/search"
    gitlab_push.update({"ref": "refs/heads/main", "after": g1})
    gitlab_push["commits"] = [{**gitlab_push["commits"][0], "id": g1, "timestamp": "2023-03-04T08:00:00+01:00"}]
    gitlab_deploy = sample("deployment/deployment_hook__succeeded.json", "gitlab")
    gitlab_deploy["project"]["path_with_namespace"] = "search-team/search"
    gitlab_deploy.update(
        {
            "deployment_id": 77,
            "ref": "main",
            "status_changed_at": "2023-03-04 11:00:00 +0000",
            "commit_url": f"https://gitlab.com/search-team/search/-/commit/{g1}",
        }
    )
    jira_incident = sample("jira_issue_updated/mattermost-cloud-status-inprogress-to-done-resolutiondate.json", "jira")
    jira_incident["timestamp"] = 1677940200000  # 2023-03-04T14:30Z
    jira_incident["issue"]["key"] = "SRCH-1"
    jira_incident["issue"]["fields"].update(
        {
            "issuetype": {**jira_incident["issue"]["fields"]["issuetype"], "name": "Incident"},
            "project": {**jira_incident["issue"]["fields"]["project"], "key": "SRCH"},
            "created": "2023-03-04T12:00:00.000+0000",
            "resolutiondate": "2023-03-04T13:30:00.000+0000",
            "description": f"Search down. Root cause: {g1}",
        }
    )
    open_gitlab_incident = sample("issue/issue_hook__incident_closed.json", "gitlab")
    open_gitlab_incident["project"]["path_with_namespace"] = "search-team/search"
    open_gitlab_incident["object_attributes"].update(
        {
            "iid": 9,
            "state": "opened",
            "closed_at": None,
            "created_at": "2023-03-20T10:00:00Z",
            "updated_at": "2023-03-20T10:00:00Z",
        }
    )
    land(
        data_home,
        (
            "github",
            "push",
            github_push(
                "acme/payments",
                "main",
                sha("0"),
                [(c1, "2023-03-02T06:00:00Z"), (c2, "2023-03-02T07:00:00Z")],
                "2023-03-02T08:00:00Z",
            ),
            "2023-03-02T08:00:01Z",
        ),
        ("jenkins", "build.completed", jenkins(1, c2, 1677751200000), "2023-03-02T10:00:05Z"),  # 2023-03-02T10:00Z
        (
            "github",
            "push",
            github_push("acme/payments", "main", c2, [(c3, "2023-03-03T07:00:00Z")], "2023-03-03T08:00:00Z"),
            "2023-03-03T08:00:01Z",
        ),
        ("jenkins", "build.completed", jenkins(2, c3, 1677844800000), "2023-03-03T12:00:05Z"),  # 2023-03-03T12:00Z
        ("pagerduty", "incident.triggered", page, "2023-03-03T13:00:01Z"),
        ("pagerduty", "incident.resolved", page_resolved, "2023-03-03T15:00:01Z"),
        (
            "github",
            "issues",
            github_issue(
                "acme/payments",
                5,
                "closed",
                labels=["incident"],
                created_at="2023-03-03T13:10:00Z",
                updated_at="2023-03-05T00:00:00Z",
                closed_at="2023-03-05T00:00:00Z",
                body=f"root cause: {c3}",
            ),
            "2023-03-05T00:00:01Z",
        ),
        ("gitlab", "push", gitlab_push, "2023-03-04T09:00:00Z"),
        ("gitlab", "deployment", gitlab_deploy, "2023-03-04T11:00:01Z"),
        ("jira", "jira:issue_updated", jira_incident, "2023-03-04T14:30:01Z"),
        ("gitlab", "issue", open_gitlab_incident, "2023-03-20T10:00:01Z"),
    )
    materialize_everything()

    # Lead times: payments c1 10:00-06:00 = 4h, c2 3h (deploy 1), c3 12:00-07:00 = 5h (deploy 2);
    # search g1 11:00-07:00 = 4h. Failures: deploy 2 shipped c3 (root cause of the merged
    # PagerDuty+GitHub incident), the GitLab deploy shipped g1 (Jira's root cause). Restore:
    # PagerDuty's 13:00-15:00 = 2h (the preferred report), Jira 12:00-13:30 = 1.5h; the open
    # GitLab incident is not resolved.
    columns = (
        "deployments",
        "deploy_days",
        "lead_time_median_hours",
        "failed_deployments",
        "change_failure_rate",
        "incidents_resolved",
        "time_to_restore_median_hours",
    )
    march = datetime(2023, 3, 1).date()
    assert gold_monthly(data_home, columns) == {
        (march, "acme/payments"): dict(zip(columns, (2, 2, 4.0, 1, 0.5, 1, 2.0), strict=True)),
        (march, "acme/search"): dict(zip(columns, (1, 1, 4.0, 1, 1.0, 1, 1.5), strict=True)),
        (march, "*"): dict(zip(columns, (3, 3, 4.0, 2, 2 / 3, 2, 1.75), strict=True)),
    }
    assert query(data_home, "SELECT source, count(*) FROM silver.deployments GROUP BY ALL ORDER BY 1") == [
        ("gitlab", 1),
        ("jenkins", 2),
    ]
    assert query(data_home, "SELECT source, incident_id, reports FROM silver.incidents ORDER BY incident_id") == [
        ("gitlab", "9", ["gitlab:9"]),
        ("pagerduty", "P1", ["pagerduty:P1", "github:5"]),
        ("jira", "SRCH-1", ["jira:SRCH-1"]),
    ]
