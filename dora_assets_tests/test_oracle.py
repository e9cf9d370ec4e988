"""The oracle itself is checked against a history small enough to compute by hand, so that the
end-to-end comparison rests on something known to be right."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from dora_assets_tests import oracle

SHA = {name: (name * 20)[:40] for name in ("a1", "b2", "c3", "d4", "e5", "f6")}


def envelope(delivery_id: str, event_type: str, payload: dict, received_at: str = "2023-03-01T00:00:00Z") -> dict:
    return {
        "delivery_id": delivery_id,
        "source": "github",
        "event_type": event_type,
        "received_at": received_at,
        "payload": payload,
    }


def push(delivery_id: str, repo: str, branch: str, pushed_at: str, after: str, commits: list[tuple[str, str]]) -> dict:
    epoch = int(oracle.parse_time(pushed_at).timestamp())
    return envelope(
        delivery_id,
        "push",
        {
            "ref": f"refs/heads/{branch}",
            "after": after,
            "repository": {"full_name": repo, "pushed_at": epoch},
            "commits": [{"id": sha, "timestamp": created} for sha, created in commits],
        },
    )


def deployment_status(
    delivery_id: str, repo: str, deploy_id: int, sha: str, at: str, state="success", environment="production"
) -> dict:
    return envelope(
        delivery_id,
        "deployment_status",
        {
            "repository": {"full_name": repo},
            "deployment": {"id": deploy_id, "sha": sha, "ref": "main", "environment": environment},
            "deployment_status": {"state": state, "created_at": at},
        },
    )


def issue(delivery_id: str, repo: str, number: int, action: str, updated_at: str, **fields) -> dict:
    return envelope(
        delivery_id,
        "issues",
        {
            "action": action,
            "repository": {"full_name": repo},
            "issue": {"number": number, "updated_at": updated_at, "labels": [{"name": "Incident"}], **fields},
        },
    )


HISTORY = [
    push("p1", "acme/api", "main", "2023-03-01T10:00:00Z", SHA["a1"], [(SHA["a1"], "2023-03-01T08:00:00Z")]),
    push("p2", "acme/api", "main", "2023-03-02T10:00:00Z", SHA["b2"], [(SHA["b2"], "2023-03-02T09:00:00Z")]),
    # Ships a1 (28 h) and b2 (3 h); the later success and the staging deployment change nothing.
    deployment_status("s1", "acme/api", 1, SHA["b2"], "2023-03-02T12:00:00Z"),
    deployment_status("s2", "acme/api", 1, SHA["b2"], "2023-03-03T12:00:00Z"),
    deployment_status("s3", "acme/api", 2, SHA["b2"], "2023-03-02T13:00:00Z", environment="staging"),
    deployment_status("s4", "acme/api", 3, SHA["b2"], "2023-03-02T14:00:00Z", state="failure"),
    # A feature branch: a change (activity) that no deployment ships.
    push("p3", "acme/api", "feature", "2023-03-05T10:00:00Z", SHA["c3"], [(SHA["c3"], "2023-03-05T09:00:00Z")]),
    # April: d4 is new (2 h), a1 rides again but was already shipped in March.
    push(
        "p4",
        "acme/api",
        "main",
        "2023-04-01T10:00:00Z",
        SHA["d4"],
        [(SHA["a1"], "2023-03-01T08:00:00Z"), (SHA["d4"], "2023-04-01T09:00:00Z")],
    ),
    deployment_status("s5", "acme/api", 4, SHA["d4"], "2023-04-01T11:00:00Z"),
    # An incident blaming d4 by an abbreviated upper-case sha, resolved after 6 h.
    issue(
        "i1",
        "acme/api",
        7,
        "opened",
        "2023-04-02T00:00:00Z",
        created_at="2023-04-02T00:00:00Z",
        state="open",
        body=f"Root cause: {SHA['d4'][:8].upper()}",
    ),
    issue(
        "i2",
        "acme/api",
        7,
        "closed",
        "2023-04-02T06:00:00Z",
        created_at="2023-04-02T00:00:00Z",
        state="closed",
        closed_at="2023-04-02T06:00:00Z",
        body=f"Root cause: {SHA['d4'][:8].upper()}",
    ),
    # Another repo, active only in May, with an incident still open.
    issue("i3", "acme/web", 1, "opened", "2023-05-10T00:00:00Z", created_at="2023-05-10T00:00:00Z", state="open"),
    # A deleted incident never counts.
    issue("i4", "acme/web", 2, "opened", "2023-05-11T00:00:00Z", created_at="2023-05-11T00:00:00Z", state="open"),
    issue("i5", "acme/web", 2, "deleted", "2023-05-12T00:00:00Z", created_at="2023-05-11T00:00:00Z", state="open"),
]

QUIET = {
    "deployments": 0,
    "deploy_days": 0,
    "changes_deployed": 0,
    "lead_time_median_hours": None,
    "failed_deployments": 0,
    "change_failure_rate": None,
    "incidents": 0,
    "incidents_resolved": 0,
    "time_to_restore_median_hours": None,
    "lead_times_held_back": 0,
    "restore_times_held_back": 0,
}
MARCH = {
    **QUIET,
    "deployments": 1,
    "deploy_days": 1,
    "changes_deployed": 2,
    "lead_time_median_hours": 15.5,
    "change_failure_rate": 0.0,
}
APRIL = {
    **QUIET,
    "deployments": 1,
    "deploy_days": 1,
    "changes_deployed": 1,
    "lead_time_median_hours": 2.0,
    "failed_deployments": 1,
    "change_failure_rate": 1.0,
    "incidents": 1,
    "incidents_resolved": 1,
    "time_to_restore_median_hours": 6.0,
}
MAY_WEB = {**QUIET, "incidents": 1}


APRIL_CHANGE_TIME = "2023-04-01T09:00:00Z"  # d4's commit timestamp


def test_oracle_on_a_hand_computed_history() -> None:
    march, april, may = date(2023, 3, 1), date(2023, 4, 1), date(2023, 5, 1)

    assert oracle.expected_monthly(HISTORY) == {
        (march, "acme/api"): MARCH,
        (april, "acme/api"): APRIL,
        (may, "acme/api"): QUIET,
        (may, "acme/web"): MAY_WEB,
        (march, "*"): MARCH,
        (april, "*"): APRIL,
        (may, "*"): MAY_WEB,
    }


def test_oracle_holds_back_times_more_negative_than_the_tolerance() -> None:
    """April's change d4, deployed at 11:00, restamped 13:00 (2 h after its deployment): its -2 h
    is left out of the median (no lead time is left) and counted; stamped 11:05 (5 minutes late,
    within the 10-minute tolerance) it counts as -5 minutes."""
    restamped = json.loads(json.dumps(HISTORY).replace(APRIL_CHANGE_TIME, "2023-04-01T13:00:00Z"))
    april = oracle.expected_monthly(restamped)[(date(2023, 4, 1), "acme/api")]
    assert (april["changes_deployed"], april["lead_times_held_back"], april["lead_time_median_hours"]) == (1, 1, None)

    within = json.loads(json.dumps(HISTORY).replace(APRIL_CHANGE_TIME, "2023-04-01T11:05:00Z"))
    april = oracle.expected_monthly(within)[(date(2023, 4, 1), "acme/api")]
    assert april["lead_times_held_back"] == 0 and april["lead_time_median_hours"] == pytest.approx(-5 / 60)


def test_oracle_redefinition_of_production_moves_deployments() -> None:
    with_staging = oracle.expected_monthly(HISTORY, production_environments=("production", "staging"))

    assert with_staging[(date(2023, 3, 1), "acme/api")]["deployments"] == 2
    # Staging deployment 2 came after deployment 1 and ships nothing new.
    assert with_staging[(date(2023, 3, 1), "acme/api")]["changes_deployed"] == 2


def test_oracle_reads_each_delivery_once(tmp_path: Path) -> None:
    day = tmp_path / "github" / "2023" / "03" / "01"
    day.mkdir(parents=True)
    (day / "deliveries.ndjson").write_text("\n".join(json.dumps(e) for e in HISTORY[:3]) + "\n\n")
    (tmp_path / "redelivery.json").write_text(json.dumps(HISTORY[1]))
    (tmp_path / "notes.txt").write_text("not an envelope")

    envelopes = oracle.read_envelopes(tmp_path)

    assert [e["delivery_id"] for e in envelopes] == ["p1", "p2", "s1"]
