"""A small GitHub history whose DORA figures are computed by hand (see the comments) and
checked exactly in gold.dora_monthly after a real Dagster materialization."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import deployment_status, envelope, issue, push, write_landing_file
from dora_assets_tests.helpers import FIGURES, gold_monthly, materialize_everything, query

pytestmark = pytest.mark.slow

API, WEB = "acme/api", "acme/web"


def sha(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


C0, C1, C2, C3, C4, C5, C6, W1 = (sha(label) for label in ("c0", "c1", "c2", "c3", "c4", "c5", "c6", "w1"))


def history() -> list[dict]:
    events = [
        # acme/api main: P1 carries c1, c2; P2 carries c3; a feature push carries c4, and P3 carries c4 again + c5.
        (
            "push",
            push(API, "main", C0, [(C1, "2023-03-01T10:00:00Z"), (C2, "2023-03-02T08:00:00Z")], "2023-03-02T10:00:00Z"),
        ),
        ("push", push(API, "feature/x", C0, [(C4, "2023-03-01T11:00:00Z")], "2023-03-01T12:00:00Z")),
        ("push", push(API, "main", C2, [(C3, "2023-03-03T09:00:00Z")], "2023-03-03T10:00:00Z")),
        (
            "push",
            push(API, "main", C3, [(C4, "2023-03-01T11:00:00Z"), (C5, "2023-03-05T09:00:00Z")], "2023-03-05T10:00:00Z"),
        ),
        ("push", push(API, "main", C5, [(C6, "2023-05-10T06:00:00Z")], "2023-05-10T10:00:00Z")),
        # Staging deployment of c3 (not production), then D1: production, c3 -> ships c1, c2, c3.
        ("deployment_status", deployment_status(API, 100, C3, "2023-03-03T11:00:00Z", environment="staging")),
        ("deployment_status", deployment_status(API, 101, C3, "2023-03-03T11:30:00Z", state="in_progress")),
        ("deployment_status", deployment_status(API, 101, C3, "2023-03-03T12:00:00Z")),
        # D2: c5, a failure then two successes: the earliest success counts. Ships c4, c5.
        ("deployment_status", deployment_status(API, 102, C5, "2023-03-05T12:00:00Z", state="failure")),
        ("deployment_status", deployment_status(API, 102, C5, "2023-03-05T14:00:00Z")),
        ("deployment_status", deployment_status(API, 102, C5, "2023-03-05T13:00:00Z")),
        # D3: rollback to c3; everything up to c3 already shipped, so it ships nothing.
        ("deployment_status", deployment_status(API, 103, C3, "2023-03-06T09:00:00Z")),
        # D4 in May: ships c6.
        ("deployment_status", deployment_status(API, 104, C6, "2023-05-10T16:00:00Z")),
        # Incidents of acme/api.
        (
            "issues",
            issue(
                API,
                7,
                "opened",
                labels=["Incident"],
                created_at="2023-03-05T15:00:00Z",
                updated_at="2023-03-05T15:00:00Z",
                body=f"Checkout broke.\r\nRoot cause: {C5[:10].upper()}",
            ),
        ),
        (
            "issues",
            issue(
                API,
                7,
                "closed",
                labels=["Incident"],
                created_at="2023-03-05T15:00:00Z",
                updated_at="2023-03-05T18:30:00Z",
                closed_at="2023-03-05T18:30:00Z",
                body=f"Checkout broke.\r\nRoot cause: {C5[:10].upper()}",
            ),
        ),
        (
            "issues",
            issue(
                API,
                8,
                "closed",
                labels=["incident", "sev2"],
                created_at="2023-03-20T00:00:00Z",
                updated_at="2023-03-21T00:00:00Z",
                closed_at="2023-03-21T00:00:00Z",
            ),
        ),
        (
            "issues",
            issue(
                API,
                9,
                "opened",
                labels=["incident"],
                created_at="2023-03-25T00:00:00Z",
                updated_at="2023-03-25T00:00:00Z",
            ),
        ),
        # #10 was labelled an incident, then the label was removed: not an incident.
        (
            "issues",
            issue(
                API,
                10,
                "labeled",
                labels=["incident"],
                created_at="2023-03-26T00:00:00Z",
                updated_at="2023-03-26T01:00:00Z",
            ),
        ),
        (
            "issues",
            issue(
                API, 10, "unlabeled", labels=[], created_at="2023-03-26T00:00:00Z", updated_at="2023-03-26T02:00:00Z"
            ),
        ),
        (
            "issues",
            issue(
                API, 11, "opened", labels=["bug"], created_at="2023-03-27T00:00:00Z", updated_at="2023-03-27T00:00:00Z"
            ),
        ),
        # acme/web: one change, deployed to "Prod" (case-insensitive), plus a prod-eu deployment.
        ("push", push(WEB, "main", C0, [(W1, "2023-03-10T08:00:00Z")], "2023-03-10T10:00:00Z")),
        ("deployment_status", deployment_status(WEB, 201, W1, "2023-03-10T20:00:00Z", environment="Prod")),
        ("deployment_status", deployment_status(WEB, 202, W1, "2023-03-12T10:00:00Z", environment="prod-eu")),
    ]
    return [
        envelope(event_type, payload, f"delivery-{number:03d}", "2023-06-01T00:00:00Z")
        for number, (event_type, payload) in enumerate(events)
    ]


def land_history(paths: DoraPaths) -> list[dict]:
    envelopes = history()
    write_landing_file(paths.landing_dir / "github" / "history.ndjson", envelopes)
    # A redelivery of D5's status in a file of its own: it must count once.
    write_landing_file(paths.landing_dir / "github" / "redelivery.json", envelopes[-2])
    return envelopes


MONTHLY_COLUMNS = (
    *FIGURES,
    "deployment_frequency_tier",
    "lead_time_tier",
    "change_failure_rate_tier",
    "time_to_restore_tier",
)


def monthly(paths: DoraPaths) -> dict[tuple[date, str], dict]:
    return gold_monthly(paths, MONTHLY_COLUMNS)


def test_dora_monthly_matches_hand_computed_figures(data_home: DoraPaths) -> None:
    land_history(data_home)
    materialize_everything()
    figures = monthly(data_home)

    # Rows: api, web and '*' for March, April (quiet) and May.
    assert sorted(figures) == [(date(2023, month, 1), repo) for month in (3, 4, 5) for repo in ("*", API, WEB)]
    # acme/api, March: D1 (c1 50 h, c2 28 h, c3 3 h), D2 (c4 98 h, c5 4 h), D3 (nothing).
    # median(3, 4, 28, 50, 98) = 28; D2 shipped c5 = incident #7's root cause -> 1 failed of 3.
    # Incidents created in March: #7 (3.5 h), #8 (24 h), #9 (open) -> median(3.5, 24) = 13.75.
    # Tiers (2024): 3 * 7 / 31 = 0.68 per week -> medium; 28 h -> high; 33 % -> low; 13.75 h -> high.
    assert figures[(date(2023, 3, 1), API)] == {
        "deployments": 3,
        "deploy_days": 3,
        "changes_deployed": 5,
        "lead_time_median_hours": 28.0,
        "failed_deployments": 1,
        "change_failure_rate": pytest.approx(1 / 3),
        "incidents": 3,
        "incidents_resolved": 2,
        "time_to_restore_median_hours": 13.75,
        "deployment_frequency_tier": "medium",
        "lead_time_tier": "high",
        "change_failure_rate_tier": "low",
        "time_to_restore_tier": "high",
    }
    # acme/web, March: D5 ("Prod") ships w1 after 12 h; prod-eu is not production by default.
    # 1 * 7 / 31 = 0.226 per week -> medium (at least about once a month).
    assert figures[(date(2023, 3, 1), WEB)] == {
        "deployments": 1,
        "deploy_days": 1,
        "changes_deployed": 1,
        "lead_time_median_hours": 12.0,
        "failed_deployments": 0,
        "change_failure_rate": 0.0,
        "incidents": 0,
        "incidents_resolved": 0,
        "time_to_restore_median_hours": None,
        "deployment_frequency_tier": "medium",
        "lead_time_tier": "elite",
        "change_failure_rate_tier": "elite",
        "time_to_restore_tier": None,
    }
    # Org, March: 4 deployments on 4 days; median(3, 4, 12, 28, 50, 98) = (12 + 28) / 2 = 20;
    # 1 failed of 4; 4 * 7 / 31 = 0.90 per week -> medium; 20 h -> elite; 25 % -> low.
    org_march = figures[(date(2023, 3, 1), "*")]
    assert (org_march["deployments"], org_march["deploy_days"], org_march["changes_deployed"]) == (4, 4, 6)
    assert org_march["lead_time_median_hours"] == 20.0
    assert (org_march["failed_deployments"], org_march["change_failure_rate"]) == (1, 0.25)
    assert (org_march["incidents"], org_march["incidents_resolved"], org_march["time_to_restore_median_hours"]) == (
        3,
        2,
        13.75,
    )
    assert (org_march["deployment_frequency_tier"], org_march["lead_time_tier"]) == ("medium", "elite")
    # April is quiet: zeros, no medians, no rates.
    for repo in ("*", API, WEB):
        april = figures[(date(2023, 4, 1), repo)]
        assert (april["deployments"], april["lead_time_median_hours"], april["change_failure_rate"]) == (0, None, None)
        assert april["deployment_frequency_tier"] == "low"
    # May: D4 ships c6 after 10 h; 1 * 7 / 31 = 0.226 per week -> medium.
    may = figures[(date(2023, 5, 1), API)]
    assert (may["deployments"], may["lead_time_median_hours"], may["deployment_frequency_tier"]) == (1, 10.0, "medium")


def test_deployment_changes_follow_first_shipment(data_home: DoraPaths) -> None:
    land_history(data_home)
    materialize_everything()
    shipped = query(data_home, "SELECT deploy_id, change_id FROM silver.deployment_changes ORDER BY ALL")
    assert shipped == sorted(
        [("101", C1), ("101", C2), ("101", C3), ("102", C4), ("102", C5), ("104", C6), ("201", W1)]
    )
    incidents = query(
        data_home, "SELECT incident_id, root_cause_sha, time_resolved IS NULL FROM silver.incidents ORDER BY 1"
    )
    assert incidents == [("7", C5[:10], False), ("8", None, False), ("9", None, True)]


def test_redefining_production_recomputes_history(
    data_home: DoraPaths, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    land_history(data_home)
    materialize_everything()
    before = monthly(data_home)
    config = tmp_path / "dora.yaml"
    config.write_text("production_environments: [production, prod, prod-eu]\n", encoding="utf-8")
    monkeypatch.setenv("DORA_CONFIG", str(config))
    materialize_everything(replay=True)
    after = monthly(data_home)
    # prod-eu's deployment 202 of w1 now counts, ships nothing new (w1 went out with 201).
    web_march = (date(2023, 3, 1), WEB)
    assert (before[web_march]["deployments"], after[web_march]["deployments"]) == (1, 2)
    assert after[web_march]["deploy_days"] == 2
    assert after[web_march]["lead_time_median_hours"] == before[web_march]["lead_time_median_hours"] == 12.0
    assert {key: value for key, value in after.items() if key[1] == API} == {
        key: value for key, value in before.items() if key[1] == API
    }
