"""Bronze is append-only: re-materializing everything after new drops leaves every earlier
bronze row byte-identical and only adds rows; no code path writes UPDATE, DELETE or TRUNCATE
against a bronze table; and upgrading an older warehouse (its storage and derived indexes) leaves
every row as it was."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from dora_assets import resources
from dora_assets.demo.generator import generate_demo
from dora_assets.settings import DoraPaths
from dora_assets_tests.helpers import materialize_everything, query

pytestmark = pytest.mark.slow

BRONZE = ("bronze.raw_events", "bronze.quarantine", "bronze.duplicates", "bronze.landing_files")
PACKAGE = Path(__file__).resolve().parents[1] / "dora_assets"


def snapshot(paths: DoraPaths) -> dict[str, list[tuple]]:
    """Every bronze row, every column as text (JSON payloads byte for byte)."""
    return {
        table: query(
            paths, "SELECT CAST(COLUMNS(*) AS VARCHAR) FROM query_table($table) ORDER BY ALL", {"table": table}
        )
        for table in BRONZE
    }


def test_rematerializing_after_new_drops_only_appends(data_home: DoraPaths) -> None:
    generate_demo(data_home.landing_dir, days=20, repos=2, seed=6, end=date(2023, 5, 31))
    materialize_everything()
    before = snapshot(data_home)
    first_line = next(data_home.landing_dir.rglob("deliveries.ndjson")).read_text().splitlines()[0]
    later = data_home.landing_dir / "later"
    later.mkdir()
    (later / "redelivery.json").write_text(first_line)
    fresh = json.loads(first_line) | {"delivery_id": "brand-new-delivery"}
    (later / "new.ndjson").write_text(json.dumps(fresh) + "\n{broken\n")

    materialize_everything()
    materialize_everything()
    after = snapshot(data_home)

    for table in BRONZE:
        assert set(before[table]) <= set(after[table]), f"{table}: an earlier row changed or vanished"
    added = {table: len(after[table]) - len(before[table]) for table in BRONZE}
    assert added == {
        "bronze.raw_events": 1,
        "bronze.quarantine": 1,
        "bronze.duplicates": 1,
        "bronze.landing_files": 2,
    }


def test_no_code_path_updates_or_deletes_bronze() -> None:
    forbidden = re.compile(r"\b(UPDATE|DELETE\s+FROM|TRUNCATE)\s+(TABLE\s+)?bronze\.", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in [*PACKAGE.rglob("*.sql"), *PACKAGE.rglob("*.py")]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if forbidden.search(line)
    ]
    assert offenders == []


DERIVED = (
    "silver.pushes",
    "silver.changes",
    "silver.deployments",
    "silver.deployment_changes",
    "silver.incidents",
    "silver.pull_requests",
    "gold.dora_monthly",
)


def derived_rows(paths: DoraPaths) -> dict[str, list[tuple]]:
    return {
        table: query(
            paths, "SELECT CAST(COLUMNS(*) AS VARCHAR) FROM query_table($table) ORDER BY ALL", {"table": table}
        )
        for table in DERIVED
    }


def test_an_older_warehouse_is_upgraded_without_changing_a_row(
    data_home: DoraPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_demo(data_home.landing_dir, days=20, repos=2, seed=6, end=date(2023, 5, 31))
    materialize_everything()
    bronze, derived = snapshot(data_home), derived_rows(data_home)

    # The previous release's warehouse: payloads stored with DuckDB's default compression, and
    # neither bronze.raw_events_index nor silver.pushed_commits.
    [(create,)] = query(
        data_home, "SELECT sql FROM duckdb_tables() WHERE schema_name = 'bronze' AND table_name = 'raw_events'"
    )
    older = create.replace(" USING COMPRESSION ZSTD", "").replace("bronze.raw_events(", "bronze.raw_events_older(")
    assert older != create
    with duckdb.connect(str(data_home.duckdb_path)) as connection:
        connection.execute(
            f"BEGIN; {older} INSERT INTO bronze.raw_events_older SELECT * FROM bronze.raw_events; "
            "DROP TABLE bronze.raw_events; ALTER TABLE bronze.raw_events_older RENAME TO raw_events; "
            "DROP TABLE bronze.raw_events_index; DROP TABLE silver.pushed_commits; COMMIT;"
        )
    monkeypatch.setattr(resources, "_SCHEMA_READY", set())  # as a new process would find it

    materialize_everything(replay=True)  # the first connection migrates, then silver and gold are recomputed

    assert snapshot(data_home) == bronze
    assert derived_rows(data_home) == derived
    assert query(
        data_home,
        "SELECT DISTINCT compression FROM pragma_storage_info('bronze.raw_events') "
        "WHERE column_name = 'payload' AND compression <> 'Constant'",
    ) == [("ZSTD",)]
    assert query(data_home, "SELECT count(*) FROM bronze.raw_events_index") == query(
        data_home, "SELECT count(*) FROM bronze.raw_events"
    )
    assert query(data_home, "SELECT count(*) FROM silver.pushed_commits") == query(
        data_home, "SELECT sum(len(commits)) FROM silver.pushes"
    )
