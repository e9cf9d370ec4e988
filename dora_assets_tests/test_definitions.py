"""The Dagster definitions load, and the graph is the one the contract and the UI promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey, Definitions

from dora_assets.definitions import CHECKS_JOB_NAME, INGEST_JOB_NAME, defs
from dora_assets.defs.landing.assets import DAILY
from dora_assets.defs.silver.sensors import TRANSFORM_JOB_NAME
from dora_assets.settings import DoraPaths
from dora_assets.windows import MONTHLY
from dora_assets_tests.helpers import materialize_everything, query

CONTRACT_ASSETS = {
    "bronze/raw_events": "bronze",
    "bronze/quarantine": "bronze",
    "silver/changes": "silver",
    "silver/deployments": "silver",
    "silver/deployment_changes": "silver",
    "silver/incidents": "silver",
    "gold/dora_monthly": "gold",
}


def asset_nodes() -> dict[str, object]:
    graph = defs.resolve_asset_graph()
    return {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}


def test_definitions_load() -> None:
    Definitions.validate_loadable(defs)
    for job in (INGEST_JOB_NAME, TRANSFORM_JOB_NAME, CHECKS_JOB_NAME):
        assert defs.resolve_job_def(job) is not None


def test_no_check_blocks_gold() -> None:
    # Gold is one set of tables for every repo: a blocking check would stop every team's figures
    # over one repo's odd record. Wrong rows are held back per repo and period instead (README:
    # "Block only what is wrong, only where it is wrong").
    graph = defs.resolve_asset_graph()
    checks = [graph.get_check_spec(key) for key in graph.asset_check_keys]
    assert len(checks) >= 25
    assert [spec.key.to_user_string() for spec in checks if spec.blocking] == []


def test_silver_is_monthly_partitioned_extraction_daily_bronze_and_gold_are_not() -> None:
    nodes = asset_nodes()
    for key, node in nodes.items():
        expected = MONTHLY if key.startswith("silver/") else DAILY if key.startswith("landing/") else None
        assert node.partitions_def == expected, key
    assert defs.resolve_job_def(TRANSFORM_JOB_NAME).partitions_def == MONTHLY


def test_automation_runs_headless_by_default() -> None:
    from dagster import DefaultScheduleStatus, DefaultSensorStatus

    sensors = {sensor.name: sensor for sensor in defs.sensors}
    assert {"landing_drops", "transform_after_ingest", "run_failure_alerts"} <= set(sensors)
    assert all(sensor.default_status == DefaultSensorStatus.RUNNING for sensor in sensors.values())
    assert all(schedule.default_status == DefaultScheduleStatus.RUNNING for schedule in defs.schedules)


def test_graph_has_the_contract_assets_grouped_by_layer_with_docs() -> None:
    nodes = asset_nodes()
    for key, group in CONTRACT_ASSETS.items():
        assert key in nodes, key
        node = nodes[key]
        assert node.group_name == group
        assert node.description and len(node.description) > 40
        assert "duckdb" in node.kinds
    for key, node in nodes.items():
        schema_name = key.split("/")[0]
        assert node.group_name == schema_name, f"{key}: key prefix, schema and group must agree"


def test_lineage_runs_bronze_to_silver_to_gold() -> None:
    graph = defs.resolve_asset_graph()
    upstream = graph.get(AssetKey(["gold", "dora_monthly"])).parent_keys
    assert {key.to_user_string() for key in upstream} >= {
        "silver/deployments",
        "silver/deployment_changes",
        "silver/incidents",
    }
    assert AssetKey(["bronze", "raw_events"]) in graph.get(AssetKey(["silver", "deployments"])).parent_keys


def test_declared_column_schemas_match_the_duckdb_tables(data_home: DoraPaths) -> None:
    materialize_everything()
    actual: dict[str, list[tuple[str, str]]] = {}
    for schema, table, column, data_type in query(
        data_home,
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name IN ('bronze', 'silver', 'gold') ORDER BY schema_name, table_name, column_index",
    ):
        actual.setdefault(f"{schema}/{table}", []).append(
            (column, data_type.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"))
        )
    # Every DuckDB table asset; the landing files and the dashboard page are files.
    tables = {key: node for key, node in asset_nodes().items() if "duckdb" in node.kinds}
    assert {"bronze/raw_events", "silver/incidents", "gold/dora_monthly", "gold/dora_summary"} <= set(tables)
    for key, node in tables.items():
        declared = node.metadata["dagster/column_schema"].columns
        assert [column.name for column in declared] == [name for name, _ in actual[key]], key
        for column, (_, data_type) in zip(declared, actual[key], strict=True):
            if not column.type.startswith("STRUCT"):
                assert column.type == data_type, f"{key}.{column.name}"
            assert column.description


def test_the_three_share_checks_count_the_recent_records_once() -> None:
    # quarantine_share, unknown_event_types and duplicate_share read the same counts: one check
    # definition (one step, one query) evaluates the three.
    owners = {
        check.node_def.name
        for check in defs.asset_checks
        for key in check.check_keys
        if key.name in {"quarantine_share", "unknown_event_types", "duplicate_share"}
    }
    assert owners == {"record_shares"}


@pytest.mark.slow
def test_dg_loads_the_project_as_dagsters_own_tools_do() -> None:
    """`dg check defs` (in `make lint`) finds the project from pyproject.toml's [tool.dg] and loads
    its definitions; a broken layout or import fails here as it would in `dg dev`."""
    root = Path(__file__).resolve().parents[1]
    venv = Path(sys.executable).parent
    environ = {**os.environ, "VIRTUAL_ENV": str(venv.parent), "PATH": f"{venv}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [str(venv / "dg"), "check", "defs"], cwd=root, env=environ, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr
