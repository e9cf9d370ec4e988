"""The transform ledger (dora_assets/transform_ledger.py), piece by piece: a batch's ledger row
commits with the batch or not at all; a transform that rebuilt silver and gold clears what it
covered, a failed one clears nothing, and one that runs while another batch lands leaves that
batch pending; every ingest (so the sensor and the CLI) widens the transform to what is pending;
the transform_lag check is quiet within the lag and fails at ERROR after it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dagster import (
    AssetCheckKey,
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    RunRequest,
    build_sensor_context,
    materialize,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from dora_assets import resources as resources_module
from dora_assets.definitions import defs
from dora_assets.defs.bronze.assets import RAW_EVENTS
from dora_assets.defs.gold import assets as gold_assets_module
from dora_assets.defs.silver import assets as silver_assets_module
from dora_assets.defs.silver.assets import PUSHES
from dora_assets.defs.silver.checks import SILVER_BEHIND_BRONZE
from dora_assets.defs.silver.sensors import transform_after_ingest, transform_range
from dora_assets.demo.generator import generate_demo
from dora_assets.extract.github_client import GitHubClient
from dora_assets.ingestion.ingest import ingest_landing
from dora_assets.resources import Clock, DoraConfigResource, DuckDBWarehouse, LandingFolder, connect_warehouse
from dora_assets.settings import DoraPaths
from dora_assets.windows import partition_range_tags
from dora_assets_tests.helpers import query
from dora_assets_tests.test_bronze_kill import BATCH_BYTES, kill_at

pytestmark = pytest.mark.slow

EVERYTHING = [*defs.assets, *defs.asset_checks]
END = date(2023, 6, 20)  # the demo history's last day
DAYS = 40  # so it starts on 2023-05-12 (its commits a little earlier, still in May)
FIRST_MONTH = "2023-05-01"


def earliest_indexed(paths: DoraPaths) -> date:
    """The earliest event time of any landed delivery, straight from bronze.raw_events_index."""
    [(day,)] = query(paths, "SELECT min(earliest_at)::DATE FROM bronze.raw_events_index")
    return day


def ping(delivery_id: str, received_at: datetime) -> str:
    return json.dumps(
        {
            "source": "github",
            "event_type": "ping",
            "delivery_id": delivery_id,
            "received_at": received_at.isoformat().replace("+00:00", "Z"),
            "payload": {},
        }
    )


def ingest(instance: DagsterInstance, resources: dict | None = None) -> dict:
    result = materialize(
        EVERYTHING, selection=AssetSelection.groups("bronze"), resources=resources or defs.resources, instance=instance
    )
    assert result.success
    [metadata] = [
        event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key == RAW_EVENTS
    ]
    return {key: value.value for key, value in metadata.items()}


def transform(
    instance: DagsterInstance, affected_from: str, *, expect_success: bool = True, resources: dict | None = None
):
    first, last = transform_range([date.fromisoformat(affected_from)], datetime.now(UTC).date())
    result = materialize(
        EVERYTHING,
        selection=AssetSelection.groups("silver", "gold"),
        resources=resources or defs.resources,
        instance=instance,
        tags=partition_range_tags(first, last),
        raise_on_error=False,
    )
    assert result.success is expect_success
    return result


def pending(paths: DoraPaths) -> list[tuple]:
    """The ledger's rows no transform run covered, by an independent query (SQL written here)."""
    return query(
        paths,
        "SELECT ingest_id, first_day, last_day FROM bronze.pending_transforms AS p WHERE NOT EXISTS ("
        "SELECT 1 FROM gold.transform_runs AS r WHERE r.through_ingest_id >= p.ingest_id "
        "AND r.first_day <= p.first_day AND r.last_day >= p.last_day) ORDER BY ingest_id",
    )


def lag_check(paths: DoraPaths, now: datetime, config: str = ""):
    result = materialize(
        EVERYTHING,
        selection=AssetSelection.checks(AssetCheckKey(PUSHES, SILVER_BEHIND_BRONZE)),
        resources={
            "warehouse": DuckDBWarehouse(database=str(paths.duckdb_path)),
            "landing": LandingFolder(path=str(paths.landing_dir)),
            "dora_config": DoraConfigResource(path=config),
            "clock": Clock(frozen_at=now.isoformat()),
            "github": GitHubClient(token="unused: no extraction here"),
        },
        instance=DagsterInstance.ephemeral(),
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


# --- Written in the ingest batch's own transaction -------------------------------------------------


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("ledger-kill") / "landing"
    generate_demo(landing, days=25, repos=3, seed=2, end=date(2023, 5, 4))
    return landing


def batches(warehouse: Path) -> tuple[dict[int, date], dict[int, date]]:
    """Per ingest batch: the ledger's first day, and the earliest day of its landed deliveries as
    bronze.raw_events_index says (a table the ledger's statement does not write)."""
    connection = connect_warehouse(str(warehouse))
    try:
        ledger = dict(connection.execute("SELECT ingest_id, first_day FROM bronze.pending_transforms").fetchall())
        landed = dict(
            connection.execute(
                "SELECT events.ingest_id, min(indexed.earliest_at)::DATE FROM bronze.raw_events AS events "
                "JOIN bronze.raw_events_index AS indexed USING (delivery_id) GROUP BY ALL"
            ).fetchall()
        )
    finally:
        connection.close()
    return ledger, landed


@pytest.mark.parametrize(
    "point",
    [
        "land_pending_transform:1",  # the first batch's rows are inserted, its ledger row not yet: open transaction
        "COMMIT:1:before",
        "COMMIT:1:after",  # the first batch is in, with its ledger row
        "land_pending_transform:3",  # mid third batch
        "COMMIT:3:before",
    ],
)
def test_a_batch_commits_with_its_ledger_row_or_not_at_all(tmp_path: Path, history: Path, point: str) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    assert kill_at(warehouse, history, point) == -9

    ledger, landed = batches(warehouse)
    assert ledger == landed  # every batch in bronze has its row, with its earliest day; no row without rows
    committed = int(point.split(":")[1]) - (0 if point.endswith(":after") else 1)
    connection = connect_warehouse(str(warehouse))
    try:
        [(batches_in_bronze,)] = connection.execute(
            "SELECT count(DISTINCT ingest_id) FROM bronze.landing_files"
        ).fetchall()
    finally:
        connection.close()
    assert batches_in_bronze == committed  # the kill came where it was meant to
    assert (len(landed) > 0) is (committed > 0)

    # The next ingest completes the rest, each batch with its row.
    connection = connect_warehouse(str(warehouse))
    try:
        ingest_landing(connection, history, batch_bytes=BATCH_BYTES)
    finally:
        connection.close()
    ledger, landed = batches(warehouse)
    assert ledger == landed and len(ledger) > 3


def test_a_batch_that_lands_nothing_leaves_no_ledger_row(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "broken.ndjson").write_text("{not json\n")
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    try:
        report = ingest_landing(connection, landing)
        assert report.totals.quarantined == 1 and report.pending == []
        assert connection.execute("SELECT count(*) FROM bronze.pending_transforms").fetchall() == [(0,)]
    finally:
        connection.close()


# --- Cleared by the transform that covers it, and only then ----------------------------------------


def test_a_successful_transform_clears_what_it_covered_and_a_failed_one_clears_nothing(
    data_home: DoraPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = DagsterInstance.ephemeral()
    generate_demo(data_home.landing_dir, days=DAYS, repos=2, seed=5, end=END)
    landed = ingest(instance)
    first_day = earliest_indexed(data_home)
    assert f"{first_day:%Y-%m}-01" == FIRST_MONTH
    assert landed["affected_from"] == landed["new_affected_from"] == first_day.isoformat()
    assert landed["pending_windows"] == 1 and landed["pending_earlier"] == 0
    [(batch, pending_first_day, pending_last_day)] = pending(data_home)
    # To the history's last day, not to today: no silver row lies after the last event.
    assert (pending_first_day, pending_last_day) == (first_day, END)
    assert landed["affected_until"] == END.isoformat()

    # Gold fails: silver was rebuilt, but the run did not finish, so the window stays pending.
    real_refresh_periods = gold_assets_module._refresh_periods

    def failing(warehouse, dora_config, clock, grain, table):
        if grain == "week":
            raise RuntimeError("gold failed")
        return real_refresh_periods(warehouse, dora_config, clock, grain, table)

    monkeypatch.setattr(gold_assets_module, "_refresh_periods", failing)
    transform(instance, landed["affected_from"], expect_success=False)
    assert [row[0] for row in pending(data_home)] == [batch]
    assert query(data_home, "SELECT count(*) FROM gold.transform_runs") == [(0,)]

    # The next refresh finds no new file, but its ingest reports the pending window...
    monkeypatch.setattr(gold_assets_module, "_refresh_periods", real_refresh_periods)
    again = ingest(instance)
    assert again["files_ingested"] == 0 and again["new_affected_from"] == ""
    assert again["affected_from"] == again["pending_from"] == first_day.isoformat()
    assert again["pending_earlier"] == 1
    # ...and the transform over it clears it.
    transform(instance, again["affected_from"])
    assert pending(data_home) == []
    [(through, cleared, run_first, run_last)] = query(
        data_home, "SELECT through_ingest_id, windows_cleared, first_day, last_day FROM gold.transform_runs"
    )
    assert (through, cleared) == (batch, 1)
    assert run_first.isoformat() == FIRST_MONTH
    assert run_last >= datetime.now(UTC).date()


def test_a_transform_narrower_than_the_window_does_not_clear_it(data_home: DoraPaths) -> None:
    instance = DagsterInstance.ephemeral()
    generate_demo(data_home.landing_dir, days=DAYS, repos=2, seed=5, end=END)
    ingest(instance)
    transform(instance, datetime.now(UTC).date().isoformat())  # only the current month, as the old refresh did
    first_day = earliest_indexed(data_home)
    assert [row[1] for row in pending(data_home)] == [first_day]
    # What the product reads: the next ingest still reports the window, and the check is loud later.
    again = ingest(instance)
    assert (again["pending_windows"], again["affected_from"]) == (1, first_day.isoformat())
    assert not lag_check(data_home, datetime.now(UTC) + timedelta(hours=2)).passed


def test_a_batch_landed_while_a_transform_runs_is_not_cleared_by_it(
    data_home: DoraPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = DagsterInstance.ephemeral()
    generate_demo(data_home.landing_dir, days=DAYS, repos=2, seed=5, end=END)
    landed = ingest(instance)
    late_day = END - timedelta(days=3)  # inside the transform's window

    real_refresh_silver_table = silver_assets_module.refresh_silver_table
    landed_during = []

    def with_an_ingest_in_between(context, warehouse, dora_config, table):
        if table == "pushes" and not landed_during:  # another writer lands a batch between two silver steps
            (data_home.landing_dir / "late.ndjson").write_text(
                ping("late-ping", datetime(late_day.year, late_day.month, late_day.day, 9, tzinfo=UTC)) + "\n"
            )
            connection = connect_warehouse(str(data_home.duckdb_path))
            try:
                landed_during.append(ingest_landing(connection, data_home.landing_dir).ingest_ids)
            finally:
                connection.close()
        return real_refresh_silver_table(context, warehouse, dora_config, table)

    monkeypatch.setattr(silver_assets_module, "refresh_silver_table", with_an_ingest_in_between)
    transform(instance, landed["affected_from"])
    [[late_batch]] = landed_during
    # The run's window covers the late batch's days, but the run read bronze before it landed.
    assert [(row[0], row[1]) for row in pending(data_home)] == [(late_batch, late_day)]

    monkeypatch.setattr(silver_assets_module, "refresh_silver_table", real_refresh_silver_table)
    again = ingest(instance)
    assert again["files_ingested"] == 0 and again["pending_from"] == late_day.isoformat()
    transform(instance, again["affected_from"])
    assert pending(data_home) == []


def test_a_warehouse_from_before_the_ledger_gets_an_empty_one(
    data_home: DoraPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = DagsterInstance.ephemeral()
    generate_demo(data_home.landing_dir, days=DAYS, repos=2, seed=5, end=END)
    transform(instance, ingest(instance)["affected_from"])
    connection = connect_warehouse(str(data_home.duckdb_path))
    connection.execute("DROP TABLE bronze.pending_transforms; DROP TABLE gold.transform_runs")
    connection.close()
    monkeypatch.setattr(resources_module, "_SCHEMA_READY", set())  # as a new process finds it

    upgraded = ingest(instance)
    assert upgraded["pending_windows"] == 0 and upgraded["affected_from"] == ""
    assert query(data_home, "SELECT count(*) FROM bronze.pending_transforms") == [(0,)]
    assert lag_check(data_home, datetime.now(UTC) + timedelta(days=1)).passed


# --- Every sensor tick covers what is pending --------------------------------------------------------


def sensor_range(instance: DagsterInstance, cursor: str | None) -> tuple[RunRequest, str | None]:
    context = build_sensor_context(instance=instance, cursor=cursor)
    request = transform_after_ingest(context)
    assert isinstance(request, RunRequest)
    return request, context.cursor


def test_the_transform_sensor_covers_windows_a_lost_transform_left_pending(data_home: DoraPaths) -> None:
    instance = DagsterInstance.ephemeral()
    generate_demo(data_home.landing_dir, days=DAYS, repos=2, seed=5, end=END)
    ingest(instance)
    first, cursor = sensor_range(instance, None)
    assert first.tags[ASSET_PARTITION_RANGE_START_TAG] == FIRST_MONTH
    # The transform it requested is lost (killed before it started). The next ingest (the daily
    # schedule's: no new file) reports the pending window, so the sensor asks for it again.
    ingest(instance)
    second, _ = sensor_range(instance, cursor)
    assert (second.tags[ASSET_PARTITION_RANGE_START_TAG], second.tags[ASSET_PARTITION_RANGE_END_TAG]) == (
        FIRST_MONTH,
        "2023-06-01",  # END's month: the history's last
    )
    assert second.run_key != first.run_key


def test_a_late_delivery_recomputes_from_its_day_to_the_last_event_in_bronze(data_home: DoraPaths) -> None:
    """A delivery about May 20th landed after a history that runs to June 20th can change every
    deployment after it (a late push changes later lead times): the transform covers May and June,
    not only May (the delivery's own days) and not every month from May 2023 to today."""
    instance = DagsterInstance.ephemeral()
    generate_demo(data_home.landing_dir, days=DAYS, repos=2, seed=5, end=END)
    transform(instance, ingest(instance)["affected_from"])
    _, cursor = sensor_range(instance, None)
    assert pending(data_home) == []
    late = data_home.landing_dir / "late" / "ping.ndjson"
    late.parent.mkdir()
    late.write_text(ping("late-may-ping", datetime(2023, 5, 20, 9, tzinfo=UTC)) + "\n")
    landed = ingest(instance)
    assert (landed["new_affected_from"], landed["affected_until"]) == ("2023-05-20", END.isoformat())
    assert [(first, last) for _, first, last in pending(data_home)] == [(date(2023, 5, 20), END)]
    request, _ = sensor_range(instance, cursor)
    assert (request.tags[ASSET_PARTITION_RANGE_START_TAG], request.tags[ASSET_PARTITION_RANGE_END_TAG]) == (
        "2023-05-01",
        "2023-06-01",
    )


def test_the_transform_sensor_reads_pending_from_of_any_ingest(tmp_path: Path) -> None:
    instance = DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        AssetMaterialization(
            RAW_EVENTS, metadata={"affected_from": "", "pending_from": "2023-02-10", "files_ingested": 0}
        )
    )
    request, _ = sensor_range(instance, None)
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2023-02-01"
    # An ingest recorded before affected_until existed asks for every month through today.
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] == datetime.now(UTC).date().replace(day=1).isoformat()


# --- The transform_lag check ---------------------------------------------------------------------


def test_transform_lag_is_quiet_within_the_lag_and_fails_at_error_after_it(
    data_home: DoraPaths, tmp_path: Path
) -> None:
    instance = DagsterInstance.ephemeral()
    generate_demo(data_home.landing_dir, days=DAYS, repos=2, seed=5, end=END)
    now = datetime.now(UTC)
    assert lag_check(data_home, now).passed  # nothing ingested: nothing pending

    ingest(instance)  # and no transform: a killed refresh
    within = lag_check(data_home, now + timedelta(minutes=50))  # default lag: 60 minutes
    assert within.passed
    assert within.metadata["pending_windows"].value == 1
    assert within.metadata["overdue_windows"].value == 0

    later = lag_check(data_home, now + timedelta(minutes=90))
    assert not later.passed
    assert later.severity.value == "ERROR"
    assert later.metadata["overdue_windows"].value == 1
    assert 85 <= later.metadata["oldest_pending_minutes"].value <= 90
    assert later.metadata["months"].value == ["2023-05", "2023-06"]
    assert "silver is behind bronze" in later.description

    # The lag is configurable.
    config = tmp_path / "dora.yaml"
    config.write_text("checks:\n  transform_lag_minutes: 5\n")
    assert not lag_check(data_home, now + timedelta(minutes=10), str(config)).passed
    assert lag_check(data_home, now + timedelta(minutes=10)).passed

    # A transform over the window, and the check passes at any later moment.
    transform(instance, ingest(instance)["affected_from"])
    healed = lag_check(data_home, now + timedelta(days=3))
    assert healed.passed and healed.metadata["pending_windows"].value == 0


def test_transform_lag_in_a_transform_run_counts_the_windows_it_rebuilt_as_caught_up(data_home: DoraPaths) -> None:
    """In the transform run itself the check runs after every silver table, before the ledger is
    cleared: the windows that run covers are not behind (a healing refresh must not fail on them)."""
    instance = DagsterInstance.ephemeral()
    generate_demo(data_home.landing_dir, days=DAYS, repos=2, seed=5, end=END)
    landed = ingest(instance)
    # Judged two hours on: the window would be overdue, were it not the one this run rebuilds.
    later = Clock(frozen_at=(datetime.now(UTC) + timedelta(hours=2)).isoformat())
    result = transform(instance, landed["affected_from"], resources={**defs.resources, "clock": later})
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == SILVER_BEHIND_BRONZE]
    assert evaluation.passed and evaluation.metadata["pending_windows"].value == 0
    counts = Counter(e.check_name for e in result.get_asset_check_evaluations())
    assert counts[SILVER_BEHIND_BRONZE] == 1
