"""Orchestration through Dagster's public builders and CLI: the landing sensor (cursor, run_key,
late renames), the transform sensor (the months new deliveries can change), and backfills of a
range, by `dora-assets backfill` and by the `dagster` CLI, that equal a full refresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from dagster import AssetSelection, DagsterInstance, RunRequest, SkipReason, build_sensor_context, materialize

from dora_assets.definitions import defs
from dora_assets.defs.bronze.sensors import landing_drops
from dora_assets.defs.silver.sensors import transform_after_ingest
from dora_assets.demo.generator import generate_demo
from dora_assets.ingestion.ingest import ingest_landing
from dora_assets.resources import DuckDBWarehouse, LandingFolder, connect_warehouse
from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import SETTLE, age
from dora_assets_tests.helpers import cli_env, query, run_cli

pytestmark = pytest.mark.slow

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
REPO_ROOT = Path(__file__).resolve().parents[1]


def envelope_line(delivery_id: str, received_at: str = "2023-06-02T10:00:00Z") -> str:
    return json.dumps(
        {
            "source": "github",
            "event_type": "ping",
            "delivery_id": delivery_id,
            "received_at": received_at,
            "payload": {},
        }
    )


def evaluate_landing(landing: Path, cursor: str | None, database: Path | None = None, settle_seconds: float = 60.0):
    """One tick of the landing sensor (on a warehouse that does not exist unless ``database``)."""
    warehouse = DuckDBWarehouse(database=str(database or landing.parent / "no-warehouse.duckdb"))
    folder = LandingFolder(path=str(landing), settle_seconds=settle_seconds)
    with build_sensor_context(cursor=cursor, resources={"landing": folder, "warehouse": warehouse}) as context:
        return landing_drops(context), context.cursor


def test_landing_sensor_requests_each_drop_once(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "github").mkdir(parents=True)
    (landing / "github" / "a.ndjson").write_text(envelope_line("a") + "\n")
    (landing / "github" / "b.json").write_text(envelope_line("b"))

    first, cursor = evaluate_landing(landing, None)
    assert isinstance(first, RunRequest) and first.tags["dora/landing_files"] == "2"
    refired, _ = evaluate_landing(landing, None)  # a re-fired tick on the same drops
    assert refired.run_key == first.run_key
    nothing, same_cursor = evaluate_landing(landing, cursor)
    assert isinstance(nothing, SkipReason) and same_cursor == cursor

    # A file written long ago under a temporary name and renamed now is new: the rename sets ctime.
    slow = landing / "github" / ".c.json.tmp"
    slow.write_text(envelope_line("c"))
    two_days_ago = time.time() - 2 * 86400
    os.utime(slow, (two_days_ago, two_days_ago))
    os.replace(slow, landing / "github" / "c.json")
    later, _ = evaluate_landing(landing, cursor)
    assert isinstance(later, RunRequest) and later.tags["dora/landing_files"] == "1"
    assert later.run_key != first.run_key
    # A tick only ever reads the warehouse, and only when it exists: it never creates nor locks it.
    assert not (tmp_path / "no-warehouse.duckdb").exists()


@pytest.mark.real_clock
def test_landing_sensor_does_not_list_settled_folders_but_sees_new_files_in_them(tmp_path: Path) -> None:
    landing, database = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    day = landing / "github" / "2023" / "06" / "02"
    day.mkdir(parents=True)
    (day / "a.json").write_text(envelope_line("a"))
    age(day)
    with connect_warehouse(str(database)) as connection:
        assert ingest_landing(connection, landing, settle_seconds=SETTLE).folders_settled == 1

    # Without a cursor every file outside a settled folder would be new: a.json is not even seen.
    settled_only, _ = evaluate_landing(landing, None, database)
    assert isinstance(settled_only, SkipReason)
    # While a run holds the warehouse the tick does not wait for it: it lists every folder.
    with connect_warehouse(str(database)):
        held, _ = evaluate_landing(landing, None, database)
    assert isinstance(held, RunRequest) and held.tags["dora/landing_files"] == "1"
    # Settling turned off: the tick lists every folder too, whatever the warehouse remembers.
    off, _ = evaluate_landing(landing, None, database, settle_seconds=0)
    assert isinstance(off, RunRequest) and off.tags["dora/landing_files"] == "1"
    (day / "b.json").write_text(envelope_line("b"))
    late, _ = evaluate_landing(landing, None, database)
    assert isinstance(late, RunRequest) and late.tags["dora/landing_files"] == "2"  # the folder is listed again


def test_transform_sensor_requests_the_months_new_deliveries_can_change(data_home: DoraPaths) -> None:
    instance = DagsterInstance.ephemeral()
    generate_demo(data_home.landing_dir, days=40, repos=2, seed=5, end=date(2023, 6, 20))

    def ingest():
        result = materialize(
            [*defs.assets, *defs.asset_checks],
            selection=AssetSelection.groups("bronze"),
            resources=defs.resources,
            instance=instance,
        )
        assert result.success

    def evaluate(cursor: str | None):
        context = build_sensor_context(instance=instance, cursor=cursor)
        return transform_after_ingest(context), context.cursor

    ingest()
    request, cursor = evaluate(None)
    assert isinstance(request, RunRequest)
    # From the history's first month to its last (June 2023): no silver row lies after the last event.
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2023-05-01", "2023-06-01")
    assert isinstance(evaluate(cursor)[0], SkipReason)

    # A late delivery about March reaches back to March; nothing earlier is recomputed.
    (data_home.landing_dir / "late.ndjson").write_text(envelope_line("late", "2023-03-15T09:00:00Z") + "\n")
    ingest()
    late, cursor = evaluate(cursor)
    assert (late.tags[RANGE_START], late.tags[RANGE_END]) == ("2023-03-01", "2023-06-01")
    assert late.run_key != request.run_key

    # A delivery received now reaches the current month.
    now = datetime.now(UTC)
    (data_home.landing_dir / "now.ndjson").write_text(envelope_line("now", now.isoformat()) + "\n")
    ingest()
    current, _ = evaluate(cursor)
    assert current.tags[RANGE_END] == now.date().replace(day=1).isoformat()


SILVER_AND_GOLD = (
    "silver.pushes",
    "silver.changes",
    "silver.deployments",
    "silver.deployment_changes",
    "silver.incidents",
    "gold.dora_monthly",
)


def derived_tables(paths: DoraPaths) -> dict[str, list[tuple]]:
    return {
        table: query(paths, "SELECT * FROM query_table($table) ORDER BY ALL", {"table": table})
        for table in SILVER_AND_GOLD
    }


def test_backfilling_a_range_gives_the_rows_of_a_full_refresh(data_home: DoraPaths) -> None:
    generate_demo(data_home.landing_dir, days=75, repos=3, seed=8, end=date(2023, 6, 30))
    assert run_cli(data_home, "refresh", "--quiet").returncode == 0
    full = derived_tables(data_home)
    assert all(full[table] for table in SILVER_AND_GOLD)

    # Wipe April's and May's incidents (rows that depend on nothing else in silver) behind the
    # pipeline's back, then backfill days of May with the friendly CLI: May's partition is
    # replaced, April's is not touched.
    with duckdb.connect(str(data_home.duckdb_path)) as connection:
        connection.execute(
            "DELETE FROM silver.incidents WHERE time_created >= $start AND time_created < $end",
            {"start": "2023-04-01 00:00:00+00", "end": "2023-06-01 00:00:00+00"},
        )
    backfill = run_cli(data_home, "backfill", "--start", "2023-05-10", "--end", "2023-05-20", "--quiet")
    assert backfill.returncode == 0, backfill.stderr
    assert "days 2023-05-01 to 2023-06-01" in backfill.stdout
    restored = derived_tables(data_home)["silver.incidents"]
    assert restored == [row for row in full["silver.incidents"] if not row[4].isoformat().startswith("2023-04")]
    assert any(row[4].isoformat().startswith("2023-05") for row in restored)
    assert any(row[4].isoformat().startswith("2023-04") for row in full["silver.incidents"])

    # The same with the dagster CLI, as the README shows it, over April to June.
    env = cli_env(data_home.home, {"DAGSTER_HOME": str(data_home.dagster_home)})
    dagster = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "dora_assets.definitions",
            "--select",
            "group:silver,group:gold",
            "--partition-range",
            "2023-04-01...2023-06-01",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert dagster.returncode == 0, dagster.stderr[-2000:]
    assert derived_tables(data_home) == full


def test_backfill_refuses_a_reversed_range(data_home: DoraPaths) -> None:
    result = run_cli(data_home, "backfill", "--start", "2023-05-20", "--end", "2023-05-10")
    assert result.returncode == 2
    assert "before --start" in result.stderr and "Traceback" not in result.stderr
