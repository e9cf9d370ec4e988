"""Four Keys' minimal payloads (no repository, no ref, no environment, no deployment id, no
delivery id, timestamps without a zone) map to metrics as the README documents, instead of
being lost. The history is shaped as FOURKEYS-GENERATOR.md describes the generator's output."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import duckdb
import pytest

from dora_assets.ingestion.envelope import Envelope
from dora_assets.resources import connect_warehouse
from dora_assets.settings import DoraPaths
from dora_assets_tests.helpers import gold_monthly, materialize_everything, query

pytestmark = pytest.mark.slow

ZERO_SHA = "0" * 40


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def commit(name: str, at: str) -> dict:
    return {"id": sha(name), "timestamp": at}


def changeset(previous_head: str, commits: list[dict]) -> list[tuple[str, dict]]:
    """The generator's pushes for one changeset: one per non-head commit, then the whole set."""
    pushes = [("push", {"head_commit": c, "before": ZERO_SHA, "commits": [c]}) for c in commits[:-1]]
    pushes.append(("push", {"head_commit": commits[-1], "before": previous_head, "commits": commits}))
    return pushes


def deployment(head: dict, at: str) -> tuple[str, dict]:
    return (
        "deployment_status",
        {
            "deployment_status": {"updated_at": at, "id": sha(f"status {at}"), "state": "success"},
            "deployment": {"sha": head["id"]},
        },
    )


C1 = [commit("c1a", "2023-03-02 10:00:00.000000"), commit("c1b", "2023-03-02 10:30:00.000000")]
C2 = [commit("c2a", "2023-03-03 09:00:00.000000"), commit("c2b", "2023-03-03 09:30:00.000000")]
C3 = [commit("c3a", "2023-03-04 08:00:00.000000"), commit("c3b", "2023-03-04 08:30:00.000000")]
INCIDENT = (
    "issues",
    {
        "issue": {
            "created_at": "2023-03-05 09:00:00.000000",
            "updated_at": "2023-03-05 12:00:00.000000",
            "closed_at": "2023-03-05 12:00:00.000000",
            "number": 42,
            "labels": [{"name": "Incident"}],
            "body": f"root cause: {sha('c3b')}",
        },
        "repository": {"name": "foobar"},
    },
)
HISTORY = [
    *changeset(ZERO_SHA, C1),
    deployment(C1[-1], "2023-03-02 12:30:00.000000"),  # ships c1a (2.5 h) and c1b (2 h)
    *changeset(C1[-1]["id"], C2),  # not deployed on its own
    *changeset(C2[-1]["id"], C3),
    deployment(C3[-1], "2023-03-04 10:30:00.000000"),  # ships c2a 25.5 h, c2b 25 h, c3a 2.5 h, c3b 2 h
    INCIDENT,  # blames c3b: the second deployment failed; restored after 3 h
]


def land_as_the_receiver_does(paths: DoraPaths, history: list[tuple[str, dict]]) -> None:
    """One .json envelope per post; no sender delivery id, so one derived from the body."""
    folder = paths.landing_dir / "github" / "2023" / "03" / "05"
    folder.mkdir(parents=True, exist_ok=True)
    for index, (event_type, payload) in enumerate(history):
        body = json.dumps(payload)
        envelope = Envelope(
            source="github",
            event_type=event_type,
            delivery_id="sha256:" + hashlib.sha256(f"github\n{event_type}\n{body}".encode()).hexdigest(),
            received_at="2023-03-05T13:00:00Z",
            payload=payload,
            delivery_id_derived=True,
        )
        (folder / f"{len(list(folder.iterdir())):03d}-{index}.json").write_text(envelope.to_json())


def test_fourkeys_history_maps_to_the_documented_metrics(data_home: DoraPaths) -> None:
    land_as_the_receiver_does(data_home, HISTORY)
    land_as_the_receiver_does(data_home, [INCIDENT])  # the same post twice: one delivery

    materialize_everything()

    assert query(data_home, "SELECT count(*) FROM bronze.raw_events") == [(len(HISTORY),)]
    assert query(data_home, "SELECT count(*) FROM bronze.duplicates") == [(1,)]
    assert query(data_home, "SELECT DISTINCT repo, environment FROM silver.deployments") == [("unknown", "unspecified")]
    figures = ("deployments", "changes_deployed", "lead_time_median_hours", "failed_deployments")
    figures += ("change_failure_rate", "incidents", "incidents_resolved", "time_to_restore_median_hours")
    march = date(2023, 3, 1)
    assert gold_monthly(data_home, figures) == {
        (march, "unknown"): {
            "deployments": 2,
            "changes_deployed": 6,
            "lead_time_median_hours": pytest.approx(2.5),
            "failed_deployments": 1,
            "change_failure_rate": pytest.approx(0.5),
            "incidents": 0,
            "incidents_resolved": 0,
            "time_to_restore_median_hours": None,
        },
        (march, "foobar"): {
            "deployments": 0,
            "changes_deployed": 0,
            "lead_time_median_hours": None,
            "failed_deployments": 0,
            "change_failure_rate": None,
            "incidents": 1,
            "incidents_resolved": 1,
            "time_to_restore_median_hours": pytest.approx(3.0),
        },
        (march, "*"): {
            "deployments": 2,
            "changes_deployed": 6,
            "lead_time_median_hours": pytest.approx(2.5),
            "failed_deployments": 1,
            "change_failure_rate": pytest.approx(0.5),
            "incidents": 1,
            "incidents_resolved": 1,
            "time_to_restore_median_hours": pytest.approx(3.0),
        },
    }


def test_a_status_naming_a_non_production_environment_is_still_filtered(data_home: DoraPaths) -> None:
    event_type, payload = deployment(C1[-1], "2023-03-02 12:30:00.000000")
    payload["deployment"]["environment"] = "staging"
    land_as_the_receiver_does(data_home, [*changeset(ZERO_SHA, C1), (event_type, payload)])

    materialize_everything()

    assert query(data_home, "SELECT count(*) FROM silver.deployments") == [(0,)]


def test_an_older_warehouse_is_migrated_to_accept_pushes_without_a_ref(data_home: DoraPaths) -> None:
    data_home.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(data_home.duckdb_path)) as old:
        old.execute("CREATE SCHEMA silver")
        old.execute(
            "CREATE TABLE silver.pushes (source VARCHAR NOT NULL, repo VARCHAR NOT NULL, ref VARCHAR NOT NULL, "
            "branch VARCHAR, before_sha VARCHAR, after_sha VARCHAR NOT NULL, pushed_at TIMESTAMPTZ NOT NULL, "
            "commit_count INTEGER NOT NULL, commits STRUCT(change_id VARCHAR, time_created TIMESTAMPTZ)[] NOT NULL, "
            "delivery_id VARCHAR NOT NULL)"
        )
    connect_warehouse(str(data_home.duckdb_path)).close()
    land_as_the_receiver_does(data_home, changeset(ZERO_SHA, C1))

    materialize_everything()

    assert query(data_home, "SELECT count(*), count(ref) FROM silver.pushes") == [(2, 0)]
