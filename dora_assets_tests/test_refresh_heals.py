"""A refresh killed at any stage boundary is healed by the next plain refresh, and is loud until then.

`dora-assets refresh` runs in a child process (kill_refresh_child.py) that SIGKILLs itself right
after a chosen event of its runs is stored on the Dagster instance: every stage boundary of the
ingest run and of the transform run, enumerated from the uninterrupted baseline's own event list
(``test_the_boundaries_are_every_stage_boundary_of_an_uninterrupted_refresh``). After each kill,
the transform_lag check ("silver is behind bronze") must fail at ERROR one lag later whenever
deliveries were landed but not transformed (and pass otherwise); then ONE plain
`dora-assets refresh` (a real CLI subprocess) must leave gold.dora_monthly and gold.dora_weekly
row for row equal to the uninterrupted refresh's on the same landing files, with nothing pending.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dagster import (
    AssetCheckKey,
    AssetsDefinition,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    materialize,
)

from dora_assets.config import CheckThresholds
from dora_assets.definitions import INGEST_JOB_NAME, defs
from dora_assets.defs.silver.assets import PUSHES
from dora_assets.defs.silver.checks import SILVER_BEHIND_BRONZE
from dora_assets.defs.silver.sensors import TRANSFORM_JOB_NAME
from dora_assets.demo.generator import generate_demo
from dora_assets.extract.github_client import GitHubClient
from dora_assets.resources import Clock, DoraConfigResource, DuckDBWarehouse, LandingFolder
from dora_assets_tests.helpers import cli_env

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLD = ("gold.dora_monthly", "gold.dora_weekly")
LAG = timedelta(minutes=CheckThresholds().transform_lag_minutes)


def _transform_asset_steps() -> list[str]:
    """The steps of dora_transform that write a table or file: one per silver and gold asset."""
    return sorted(
        definition.op.name
        for definition in defs.assets
        if isinstance(definition, AssetsDefinition) and set(definition.group_names_by_key.values()) & {"silver", "gold"}
    )


CLEARING_STEP = "gold__transform_runs"
RUN_START = DagsterEventType.RUN_START.value  # recorded under its old name, PIPELINE_START
RUN_SUCCESS = DagsterEventType.RUN_SUCCESS.value
MATERIALIZATION = DagsterEventType.ASSET_MATERIALIZATION.value
STEP_SUCCESS = DagsterEventType.STEP_SUCCESS.value
# (job, event type, step) right after which the child dies. The ingest run: before its step, after
# its batches committed (the raw_events materialization, the step still running), after its step,
# after the run (between the two runs). The transform run: before any step, then after each
# step that writes (each silver table, each gold table, the dashboard, the ledger's clearing).
# Check steps between them write nothing, so the state after one equals the state after the
# writing step before it.
BOUNDARIES = [
    (INGEST_JOB_NAME, RUN_START, "-"),
    (INGEST_JOB_NAME, MATERIALIZATION, "bronze_ingestion"),
    (INGEST_JOB_NAME, STEP_SUCCESS, "bronze_ingestion"),
    (INGEST_JOB_NAME, RUN_SUCCESS, "-"),
    (TRANSFORM_JOB_NAME, RUN_START, "-"),
    *[(TRANSFORM_JOB_NAME, STEP_SUCCESS, step) for step in _transform_asset_steps()],
]


def pending_expected(boundary: tuple[str, str, str], events: list[tuple]) -> bool:
    """By hand: deliveries are landed but not yet transformed from the moment the ingest's batches
    commit (its first materialization is written after them) until the clearing step succeeds,
    in the order of the uninterrupted refresh's events."""
    position = events.index(boundary)
    landed = events.index((INGEST_JOB_NAME, MATERIALIZATION, "bronze_ingestion"))
    cleared = events.index((TRANSFORM_JOB_NAME, STEP_SUCCESS, CLEARING_STEP))
    return landed <= position < cleared


def environment(home: Path) -> dict[str, str]:
    return cli_env(home, {"PYTHONPATH": str(REPO_ROOT)})


def refresh_child(home: Path, boundary: tuple[str, str, str] | None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dora_assets_tests.kill_refresh_child",
            str(home / "events.jsonl"),
            *([":".join(boundary)] if boundary else []),
        ],
        cwd=REPO_ROOT,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def plain_refresh(home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dora_assets.cli", "refresh", "--quiet"],
        cwd=REPO_ROOT,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_refreshed(refresh: subprocess.CompletedProcess) -> None:
    """Both runs succeeded and transform_lag did not fail. Other ERROR checks may fail (exit 1) on
    a history judged near its end, as under `make test-time-travel`; they are not this test's."""
    assert "dora-assets refresh: error:" not in refresh.stderr, refresh.stderr[-3000:]
    assert "refresh: step failed:" not in refresh.stderr, refresh.stderr[-3000:]
    failed = [line for line in refresh.stderr.splitlines() if line.startswith("refresh: check ")]
    assert not [line for line in failed if SILVER_BEHIND_BRONZE in line], failed
    assert refresh.returncode == (1 if any(" ERROR " in line for line in failed) else 0), refresh.stderr[-3000:]


def rows(home: Path, table: str) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        return connection.execute("SELECT * FROM query_table($table) ORDER BY ALL", {"table": table}).fetchall()


def pending(home: Path) -> list[tuple]:
    """Ledger rows no transform run covered (SQL written here, not the product's)."""
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(
            "SELECT ingest_id FROM bronze.pending_transforms AS p WHERE NOT EXISTS (SELECT 1 FROM "
            "gold.transform_runs AS r WHERE r.through_ingest_id >= p.ingest_id AND r.first_day <= p.first_day "
            "AND r.last_day >= p.last_day)"
        ).fetchall()


def lag_check(home: Path, now: datetime):
    """The transform_lag check judged at ``now``, as the hourly dora_checks job would (in a run of
    its own, on a warehouse nobody else holds)."""
    key = AssetCheckKey(PUSHES, SILVER_BEHIND_BRONZE)
    result = materialize(
        [*defs.assets, *defs.asset_checks],
        selection=AssetSelection.checks(key),
        resources={
            "warehouse": DuckDBWarehouse(database=str(home / "warehouse.duckdb")),
            "landing": LandingFolder(path=str(home / "landing")),
            "dora_config": DoraConfigResource(),
            "clock": Clock(frozen_at=now.isoformat()),
            "github": GitHubClient(token="unused: no extraction here"),
        },
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("heal-landing") / "landing"
    generate_demo(folder, days=30, repos=2, seed=11, end=date(2025, 11, 20))
    return folder


def new_home(root: Path, landing: Path) -> Path:
    home = root / "home"
    shutil.copytree(landing, home / "landing")
    return home


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, landing: Path) -> dict:
    """One uninterrupted refresh of the landing files: its gold and its runs' events."""
    home = new_home(tmp_path_factory.mktemp("heal-baseline"), landing)
    child = refresh_child(home, None)
    assert_refreshed(child)
    assert "finished without being killed" in child.stdout
    events = [tuple(json.loads(line)) for line in (home / "events.jsonl").read_text().splitlines()]
    gold = {table: rows(home, table) for table in GOLD}
    assert all(gold.values())
    return {"gold": gold, "events": events}


def test_the_boundaries_are_every_stage_boundary_of_an_uninterrupted_refresh(baseline: dict) -> None:
    events = baseline["events"]
    for boundary in BOUNDARIES:
        assert boundary in events, f"{boundary} never happens in a refresh"
    # Every step that wrote something (it reported a materialization), in either run, is a boundary.
    writing = {(job, step) for job, kind, step in events if kind == MATERIALIZATION}
    succeeded = {(job, STEP_SUCCESS, step) for job, kind, step in events if kind == STEP_SUCCESS}
    assert {(job, STEP_SUCCESS, step) for job, step in writing} <= succeeded
    assert {(job, STEP_SUCCESS, step) for job, step in writing} <= set(BOUNDARIES)
    # Both runs start and end where the boundaries say.
    runs = [(job, kind) for job, kind, _ in events if kind in {RUN_START, RUN_SUCCESS}]
    assert runs == [
        (INGEST_JOB_NAME, RUN_START),
        (INGEST_JOB_NAME, RUN_SUCCESS),
        (TRANSFORM_JOB_NAME, RUN_START),
        (TRANSFORM_JOB_NAME, RUN_SUCCESS),
    ]
    assert CLEARING_STEP in {step for _, _, step in BOUNDARIES}


# The boundaries `make test` kills at: inside the ingest step after its batches committed, between
# the two runs, before the transform's first step, after the first silver table, after a gold
# table, and after the ledger's clearing. The others (every other silver and gold step) carry the
# `every_boundary` mark: `make test-faults` runs them all (about 4 minutes on 2 cores), which CI's
# 15 minutes cannot hold beside the rest of the suite.
IN_EVERY_RUN = {
    (INGEST_JOB_NAME, MATERIALIZATION, "bronze_ingestion"),
    (INGEST_JOB_NAME, RUN_SUCCESS, "-"),
    (TRANSFORM_JOB_NAME, RUN_START, "-"),
    (TRANSFORM_JOB_NAME, STEP_SUCCESS, "silver__pushes"),
    (TRANSFORM_JOB_NAME, STEP_SUCCESS, "gold__dora_monthly"),
    (TRANSFORM_JOB_NAME, STEP_SUCCESS, CLEARING_STEP),
}


def test_the_boundaries_of_every_run_are_real_boundaries() -> None:
    assert set(BOUNDARIES) >= IN_EVERY_RUN


@pytest.mark.parametrize(
    "boundary",
    [
        pytest.param(boundary, marks=() if boundary in IN_EVERY_RUN else pytest.mark.every_boundary)
        for boundary in BOUNDARIES
    ],
    ids=["/".join(boundary) for boundary in BOUNDARIES],
)
def test_a_refresh_killed_at_a_stage_boundary_is_healed_by_the_next_refresh(
    tmp_path: Path, landing: Path, baseline: dict, boundary: tuple[str, str, str]
) -> None:
    home = new_home(tmp_path, landing)

    killed = refresh_child(home, boundary)
    assert killed.returncode == -9, f"not killed at {boundary}: {killed.stdout[-2000:]} {killed.stderr[-2000:]}"
    recorded = [tuple(json.loads(line)) for line in (home / "events.jsonl").read_text().splitlines()]
    assert recorded[-1] == boundary  # it died right after that event, not at some other moment

    # Between the kill and the healing refresh: loud once the lag has passed (quiet within it:
    # test_transform_ledger.py), as the hourly dora_checks run judges it, with nobody refreshing.
    later = lag_check(home, datetime.now(UTC) + LAG + timedelta(minutes=5))
    if pending_expected(boundary, baseline["events"]):
        assert not later.passed, later.description
        assert later.severity.value == "ERROR"
        assert later.metadata["pending_windows"].value >= 1
        assert "2025-11" in later.metadata["months"].value
    else:
        assert later.passed, later.description

    healed = plain_refresh(home)
    assert_refreshed(healed)
    if pending_expected(boundary, baseline["events"]):  # no new file: the ledger alone widens the transform
        assert "pending window(s) from an earlier run" in healed.stdout, healed.stdout
    for table in GOLD:
        assert rows(home, table) == baseline["gold"][table], f"{table} differs after healing the kill at {boundary}"
    assert pending(home) == []
