"""Bronze is append-only: re-materializing everything after new drops leaves every earlier
bronze row byte-identical and only adds rows; and no code path writes UPDATE, DELETE or
TRUNCATE against a bronze table."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from dora_assets.demo.generator import generate_demo
from dora_assets.settings import DoraPaths
from dora_assets_tests.conftest import materialize_everything, query

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
    generate_demo(data_home.landing_dir, days=20, repos=2, seed=6, end=date(2026, 5, 31))
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
