"""Exactly-once under SIGKILL: a real ingestion subprocess is killed at several points (mid
staging, mid transaction, just before and just after a commit); the next run ends with every
delivery once, nothing missing, and no half-ingested file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from dora_assets.demo.generator import generate_demo
from dora_assets.ingestion.ingest import ingest_landing
from dora_assets.resources import connect_warehouse

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
BATCH_BYTES = 150_000  # several batches for the history below


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Counter]:
    landing = tmp_path_factory.mktemp("kill") / "landing"
    generate_demo(landing, days=25, repos=3, seed=2, end=date(2023, 5, 4))  # long past on any date
    records = Counter()
    for path in landing.rglob("*"):
        if path.suffix in {".json", ".ndjson"}:
            for line in path.read_text().splitlines():
                records[json.loads(line)["delivery_id"]] += 1
    return landing, records


def kill_at(warehouse: Path, landing: Path, point: str) -> int:
    child = subprocess.run(
        [sys.executable, "-m", "dora_assets_tests.kill_child", str(warehouse), str(landing), str(BATCH_BYTES), point],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "finished without being killed" not in child.stdout, f"{point} was never reached"
    return child.returncode


def rows(warehouse: Path, sql: str) -> list[tuple]:
    connection = connect_warehouse(str(warehouse))
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("point", "ledger_files_after_kill"),
    [
        ("read_ndjson_lines:1", 0),  # staging the first batch
        ("land_ledger:1", 0),  # rows inserted, ledger not yet, transaction open
        ("COMMIT:1:before", 0),
        ("COMMIT:1:after", None),  # the first batch is in, entirely
        ("land_raw_events:3", None),  # mid third batch
    ],
)
def test_a_killed_ingest_resumes_to_exactly_once(
    tmp_path: Path, history: tuple[Path, Counter], point: str, ledger_files_after_kill: int | None
) -> None:
    landing, records = history
    warehouse = tmp_path / "warehouse.duckdb"

    assert kill_at(warehouse, landing, point) == -9

    [(ledger_files,)] = rows(warehouse, "SELECT count(DISTINCT landing_file) FROM bronze.landing_files")
    if ledger_files_after_kill is not None:
        assert ledger_files == ledger_files_after_kill
        assert rows(warehouse, "SELECT count(*) FROM bronze.raw_events") == [(0,)]
    else:
        assert 0 < ledger_files < sum(1 for p in landing.rglob("*") if p.is_file())
    # Whatever committed is whole: each ledgered file's records are all in bronze.
    assert rows(
        warehouse,
        """
        SELECT count(*) FROM bronze.landing_files AS l
        WHERE records_seen <> (SELECT count(*) FROM bronze.raw_events r WHERE r.landing_file = l.landing_file)
                            + (SELECT count(*) FROM bronze.duplicates d WHERE d.landing_file = l.landing_file)
                            + (SELECT count(*) FROM bronze.quarantine q WHERE q.landing_file = l.landing_file)
        """,
    ) == [(0,)]

    connection = connect_warehouse(str(warehouse))
    try:
        report = ingest_landing(connection, landing, batch_bytes=BATCH_BYTES)
        assert report.totals.balanced
        landed = Counter(
            dict(connection.execute("SELECT delivery_id, count(*) FROM bronze.raw_events GROUP BY 1").fetchall())
        )
        [(duplicates,)] = connection.execute("SELECT count(*) FROM bronze.duplicates").fetchall()
        [(quarantined,)] = connection.execute("SELECT count(*) FROM bronze.quarantine").fetchall()
        [(files,)] = connection.execute("SELECT count(DISTINCT landing_file) FROM bronze.landing_files").fetchall()
    finally:
        connection.close()
    assert set(landed) == set(records) and set(landed.values()) == {1}
    assert duplicates == sum(records.values()) - len(records)
    assert quarantined == 0
    assert files == sum(1 for p in landing.rglob("*") if p.is_file())
