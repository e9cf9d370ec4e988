"""`dora-assets audit` as users run it: it balances on honest data and names the file whenever
bronze, its ledger and the landing files disagree (here after deliberate tampering)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance

from dora_assets.definitions import defs
from dora_assets.defs.bronze.checks import ACCOUNTING_BALANCED
from dora_assets.settings import DoraPaths
from dora_assets_tests.helpers import (
    assert_one_line_error,
    copy_data_home,
    query,
    refresh_runs,
    refreshed_data_home,
    run_cli,
)

pytestmark = pytest.mark.slow


def envelope_line(delivery_id: str, padding: str = "") -> str:
    return (
        json.dumps(
            {
                "source": "github",
                "event_type": "push",
                "delivery_id": delivery_id,
                "received_at": "2023-11-02T14:03:11Z",
                "payload": {"ref": "refs/heads/main", "note": padding},
            }
        )
        + "\n"
    )


def land(paths: DoraPaths) -> None:
    """Three files: clean, with a bad line and a redelivery, and a file that is all wrong."""
    day = paths.landing_dir / "github" / "2023" / "11" / "02"
    day.mkdir(parents=True)
    (day / "a.ndjson").write_text(envelope_line("d1") + envelope_line("d2") + envelope_line("d3"))
    (day / "b.ndjson").write_text(envelope_line("d4") + "{not json\n" + envelope_line("d1"))
    (day / "notes.txt").write_text("not a landing file")


def refresh(paths: DoraPaths):
    """`dora-assets refresh` with a quarantine threshold that tolerates the deliberately bad
    records of ``land`` (2 of 7): the audit, not the schema-drift check, is under test here."""
    config = paths.home / "dora.yaml"
    config.write_text("checks:\n  max_quarantine_share: 0.5\n")
    return run_cli(paths, "refresh", "--quiet", extra_env={"DORA_CONFIG": str(config)})


@pytest.fixture(scope="module")
def refreshed_template(tmp_path_factory: pytest.TempPathFactory) -> DoraPaths:
    """A data home after ``land`` and ``refresh``, made once for this file; tests take a copy
    (``refreshed``) and never change this one."""
    return refreshed_data_home(tmp_path_factory, "audited", land, refresh)


@pytest.fixture
def refreshed(refreshed_template: DoraPaths, data_home: DoraPaths) -> DoraPaths:
    """``data_home`` as it is after ``land`` and ``refresh`` (a copy of ``refreshed_template``)."""
    copy_data_home(refreshed_template, data_home)
    return data_home


def audit_json(paths: DoraPaths) -> tuple[int, dict]:
    result = run_cli(paths, "audit", "--json")
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def tamper(paths: DoraPaths, sql: str) -> None:
    with duckdb.connect(str(paths.duckdb_path)) as connection:
        connection.execute(sql)


def test_audit_balances_per_file_and_in_total(refreshed: DoraPaths) -> None:
    data_home = refreshed
    (data_home.landing_dir / "later.ndjson").write_text(envelope_line("d9"))  # not ingested yet

    code, report = audit_json(data_home)

    assert code == 0 and report["balanced"]
    assert report["totals"] == {"seen": 7, "landed": 4, "quarantined": 2, "duplicates": 1}
    by_file = {entry["landing_file"]: entry for entry in report["files"]}
    assert {name: (e["seen"], e["landed"], e["quarantined"], e["duplicates"]) for name, e in by_file.items()} == {
        "github/2023/11/02/a.ndjson": (3, 3, 0, 0),
        "github/2023/11/02/b.ndjson": (3, 1, 1, 1),
        "github/2023/11/02/notes.txt": (1, 0, 1, 0),
    }
    assert by_file["github/2023/11/02/b.ndjson"]["records_on_disk"] == 3
    assert report["pending"] == ["later.ndjson"]
    # The totals are the tables' own counts.
    assert query(data_home, "SELECT count(*) FROM bronze.raw_events") == [(4,)]

    text = run_cli(data_home, "audit")
    assert text.returncode == 0
    assert "7 records seen = 4 landed + 2 quarantined + 1 duplicates: balanced" in text.stdout
    assert "github/2023/11/02/b.ndjson" in text.stdout
    assert "1 landing files not ingested yet" in text.stdout


def test_audit_fails_when_a_bronze_row_goes_missing(refreshed: DoraPaths) -> None:
    data_home = refreshed
    tamper(data_home, "DELETE FROM bronze.raw_events WHERE delivery_id = 'd2'")

    code, report = audit_json(data_home)

    assert code == 1 and not report["balanced"]
    [broken] = [entry for entry in report["files"] if not entry["balanced"]]
    assert broken["landing_file"] == "github/2023/11/02/a.ndjson"
    assert "seen 3 != landed 2 + quarantined 0 + duplicates 0" in broken["problems"]
    assert "the ledger says 3 landed but bronze holds 2" in broken["problems"]
    text = run_cli(data_home, "audit", "--problems-only")
    assert text.returncode == 1
    assert "UNBALANCED in 1 file(s)" in text.stdout and "b.ndjson" not in text.stdout


def test_audit_fails_on_rows_without_a_ledger_entry(refreshed: DoraPaths) -> None:
    data_home = refreshed
    tamper(
        data_home,
        "INSERT INTO bronze.duplicates (delivery_id, landing_file, line_number, first_landing_file, ingest_id, "
        "skipped_at) VALUES ('d1', 'github/rogue.ndjson', 1, NULL, 99, now())",
    )

    code, report = audit_json(data_home)

    assert code == 1
    [broken] = [entry for entry in report["files"] if not entry["balanced"]]
    assert broken["landing_file"] == "github/rogue.ndjson"
    assert "bronze holds rows from this file but the ledger has no entry for it" in broken["problems"]


def test_audit_recounts_the_landing_file_itself(refreshed: DoraPaths) -> None:
    # A file edited in place, same size and same modification time: the recount of the file sees
    # the records it holds now, and (issue 18 item 11) its ctime moved, so even without the
    # recount the audit hashes it and names it changed.
    data_home = refreshed
    target = data_home.landing_dir / "github" / "2023" / "11" / "02" / "a.ndjson"
    before = target.stat()
    original = target.read_text()
    first, second, third = original.splitlines(keepends=True)
    half = len(second) // 2  # d2's line becomes two shorter lines of the same total size
    edited = first + second[:half] + "\n" + second[half + 1 :] + third
    assert len(edited) == len(original)
    target.write_text(edited)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))

    code, report = audit_json(data_home)

    assert code == 1
    [broken] = [entry for entry in report["files"] if not entry["balanced"]]
    assert "the file holds 4 records but the ledger saw 3" in broken["problems"]
    assert any(problem.startswith("the file changed after it was ingested") for problem in broken["problems"])
    assert run_cli(data_home, "audit", "--no-recount").returncode == 1


def test_audit_before_any_refresh_is_a_one_line_error(data_home: DoraPaths) -> None:
    assert_one_line_error(run_cli(data_home, "audit"), "run `dora-assets refresh` first")


def test_audit_reports_ingested_files_that_left_the_landing_folder(refreshed: DoraPaths, tmp_path: Path) -> None:
    data_home = refreshed
    (data_home.landing_dir / "github" / "2023" / "11" / "02" / "a.ndjson").rename(tmp_path / "moved.ndjson")

    code, report = audit_json(data_home)

    assert code == 0  # bronze still holds every record: nothing is lost, the operator is told
    assert report["missing_from_landing"] == ["github/2023/11/02/a.ndjson"]


def test_the_accounting_check_runs_on_every_refresh_and_fails_loudly(data_home: DoraPaths) -> None:
    land(data_home)
    results = refresh_runs(DagsterInstance.ephemeral(), defs.resources)
    [evaluation] = [e for r in results for e in r.get_asset_check_evaluations() if e.check_name == ACCOUNTING_BALANCED]
    assert evaluation.passed
    assert evaluation.metadata["records_seen"].value == 7

    tamper(data_home, "DELETE FROM bronze.quarantine WHERE reason_code = 'invalid_json'")
    result = refresh(data_home)

    assert result.returncode == 1
    assert "check ERROR bronze/landing_files accounting_balanced" in result.stderr
    assert "github/2023/11/02/b.ndjson" in result.stderr


def test_audit_names_a_file_changed_after_ingestion(refreshed: DoraPaths) -> None:
    # Ingestion sees such a file only when it lists its folder again; a settled folder is not
    # listed, so the audit (which walks everything) is what must find it.
    data_home = refreshed
    target = data_home.landing_dir / "github" / "2023" / "11" / "02" / "a.ndjson"
    size = target.stat().st_size
    os.utime(target, (time.time() + 60, time.time() + 60))  # touched, not changed: nothing to report
    assert audit_json(data_home)[0] == 0
    with target.open("a", encoding="utf-8") as handle:
        handle.write(envelope_line("appended"))

    code, report = audit_json(data_home)

    assert code == 1
    [broken] = [entry for entry in report["files"] if not entry["balanced"]]
    assert broken["landing_file"] == "github/2023/11/02/a.ndjson"
    assert broken["problems"][0].startswith(
        f"the file changed after it was ingested (now {target.stat().st_size} bytes"
    )
    assert f"the ledger has {size})" in broken["problems"][0]
