"""Nothing lost, whatever breaks (issue 18): a full disk under the warehouse, delivery ids that
collide across sources, landing file names that are not UTF-8. Real files, real DuckDB, real
disk faults (a small tmpfs when the tests run as root) and the real command line."""

from __future__ import annotations

import json
import os
import random
import string
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from dora_assets import resources
from dora_assets.ingestion import ingest
from dora_assets.ingestion.audit import audit_bronze
from dora_assets.ingestion.ingest import ingest_landing
from dora_assets.ingestion.landing import read_ndjson_records
from dora_assets.resources import connect_warehouse
from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import sample
from dora_assets_tests.helpers import run_cli, small_tmpfs

MiB = 1024 * 1024


def envelope(
    delivery_id: str, *, source: str = "github", event_type: str = "push", payload: dict | None = None
) -> dict:
    return {
        "source": source,
        "event_type": event_type,
        "delivery_id": delivery_id,
        "received_at": "2025-10-02T14:03:11Z",
        "payload": payload if payload is not None else {"ref": "refs/heads/main", "commits": []},
    }


def write_ndjson(path: Path, envelopes: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in envelopes), encoding="utf-8")
    return path


def rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return connection.execute(sql).fetchall()


def as_text(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """Every row of ``table`` in its stored order, every column as text."""
    return connection.execute(
        "SELECT CAST(COLUMNS(*) AS VARCHAR) FROM query_table($table)", {"table": table}
    ).fetchall()


# -- 1. a full disk is the run's fault, never the files' ---------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 16 MiB file system (tmpfs), unmounted afterwards whatever happens."""
    with small_tmpfs(tmp_path / "small-disk", "16m") as disk:
        yield disk


def _fill(disk: Path, leave_bytes: int) -> Path:
    filler = disk / "filler"
    info = os.statvfs(disk)
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, info.f_bavail * info.f_frsize - leave_bytes))
    return filler


def test_a_full_disk_fails_the_run_and_blames_no_file(small_disk: Path, data_home: DoraPaths) -> None:
    warehouse = small_disk / "warehouse.duckdb"
    extra_env = {"DORA_DUCKDB_PATH": str(warehouse)}
    connect_warehouse(str(warehouse)).close()  # the warehouse exists before the disk fills up
    noise = random.Random(18)
    for number in range(3):  # 3 files of about 1 MiB each, payloads that do not compress
        blob = "".join(noise.choices(string.ascii_letters, k=10_000))
        write_ndjson(
            data_home.landing_dir / f"batch-{number}.ndjson",
            [envelope(f"d{number}-{line}", payload={"blob": blob, "line": line}) for line in range(100)],
        )
    filler = _fill(small_disk, leave_bytes=int(1.5 * MiB))

    failed = run_cli(data_home, "refresh", "--quiet", extra_env=extra_env)

    assert failed.returncode != 0, failed.stdout
    assert "Traceback" not in failed.stderr, failed.stderr
    # The command's own lines (not Dagster's log of the step) name the cause, on one line.
    said = [text for text in failed.stderr.splitlines() if text.startswith(("refresh:", "dora-assets"))]
    assert any(f"no space left on device writing {warehouse}" in text for text in said), failed.stderr
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert rows(connection, "SELECT count(*) FROM bronze.landing_files") == [(0,)]
        assert rows(connection, "SELECT count(*) FROM bronze.quarantine") == [(0,)]

    filler.unlink()  # space freed: the next run lands everything
    landed = run_cli(data_home, "refresh", "--quiet", extra_env=extra_env)
    assert landed.returncode == 0, landed.stderr
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert rows(connection, "SELECT count(*), count(DISTINCT delivery_id) FROM bronze.raw_events") == [(300, 300)]
        assert rows(connection, "SELECT count(*) FROM bronze.quarantine") == [(0,)]
    audit = run_cli(data_home, "audit", extra_env=extra_env)
    assert audit.returncode == 0 and "balanced" in audit.stdout, audit.stdout + audit.stderr


def test_a_failed_commit_is_reported_as_itself_not_as_a_failed_rollback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    write_ndjson(landing / "a.ndjson", [envelope("a1")])
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    real_run_sql = ingest.run_sql

    def commit_fails(conn, layer, name, params=None):  # DuckDB ends the transaction itself, as on ENOSPC
        result = real_run_sql(conn, layer, name, params)
        if name == "land_pending_transform":
            conn.execute("ROLLBACK")
            raise duckdb.IOException('Could not write file "/nowhere/warehouse.duckdb.wal": No space left on device')
        return result

    monkeypatch.setattr(ingest, "run_sql", commit_fails)
    with pytest.raises(ingest.IngestHalted, match=r"no space left on device writing /nowhere/warehouse\.duckdb\.wal"):
        ingest_landing(connection, landing)
    monkeypatch.undo()
    assert rows(connection, "SELECT count(*) FROM bronze.landing_files") == [(0,)]
    ingest_landing(connection, landing)
    assert rows(connection, "SELECT delivery_id FROM bronze.raw_events") == [("a1",)]
    connection.close()


@pytest.mark.parametrize(
    "error",
    [
        duckdb.IOException("IO Error: Could not read from file: the device went away"),  # the file reads fine
        duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB"),
        duckdb.IOException('IO Error: Could not set lock on file "/data/warehouse.duckdb": Conflicting lock'),
    ],
    ids=["io-error-on-a-readable-file", "out-of-memory", "lost-lock"],
)
def test_other_faults_of_the_run_blame_no_file_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: duckdb.Error
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "a.json").write_text(json.dumps(envelope("a1")), encoding="utf-8")
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    real_run_sql = ingest.run_sql

    def failing(conn, layer, name, params=None):
        if name == "stage_json_records":
            raise error
        return real_run_sql(conn, layer, name, params)

    monkeypatch.setattr(ingest, "run_sql", failing)
    with pytest.raises(ingest.IngestHalted) as halted:
        ingest_landing(connection, landing)
    monkeypatch.undo()

    assert "\n" not in str(halted.value) and "ingestion stopped: " in str(halted.value)
    assert rows(connection, "SELECT count(*) FROM bronze.landing_files") == [(0,)]
    assert rows(connection, "SELECT count(*) FROM bronze.quarantine") == [(0,)]
    ingest_landing(connection, landing)
    assert rows(connection, "SELECT delivery_id FROM bronze.raw_events") == [("a1",)]
    connection.close()


def test_an_io_error_of_the_streaming_reader_fails_the_run_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    mixed = landing / "mixed.ndjson"  # mixed line endings: read by the streaming reader
    mixed.write_bytes(json.dumps(envelope("m1")).encode() + b"\r\n" + json.dumps(envelope("m2")).encode() + b"\n")
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))

    def device_error(path, *args, **kwargs):
        raise OSError(5, "Input/output error", str(path))

    monkeypatch.setattr(ingest, "read_ndjson_records", device_error)
    with pytest.raises(ingest.IngestHalted, match=r"ingestion stopped: input/output error reading .*mixed\.ndjson"):
        ingest_landing(connection, landing)
    monkeypatch.undo()
    assert rows(connection, "SELECT count(*) FROM bronze.landing_files") == [(0,)]
    ingest_landing(connection, landing)
    assert rows(connection, "SELECT delivery_id FROM bronze.raw_events ORDER BY 1") == [("m1",), ("m2",)]
    connection.close()


def test_a_failed_commit_of_a_silver_or_gold_transaction_is_reported_as_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dora_assets import sql

    def ends_the_transaction(conn, layer, name, params=None):  # as DuckDB does when the WAL cannot be written
        conn.execute("ROLLBACK")
        raise duckdb.IOException('Could not write file "/nowhere/warehouse.duckdb.wal": No space left on device')

    monkeypatch.setattr(sql, "run_sql", ends_the_transaction)
    with duckdb.connect() as connection, pytest.raises(duckdb.IOException, match="No space left on device"):
        sql.run_sql_in_transaction(connection, "silver", "pushes")


def test_the_accounting_check_sees_a_file_quarantined_whole_that_reads_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the old code left behind: a run's fault taken as the file's, the file quarantined whole
    # as unreadable and recorded in the ledger, while it holds 3 good records.
    landing = tmp_path / "landing"
    landing.mkdir()
    write_ndjson(landing / "good.ndjson", [envelope(f"g{n}") for n in range(3)])
    write_ndjson(landing / "other.ndjson", [envelope("o1")])
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    real_stage = ingest._stage_ndjson

    def broken_once(conn, paths):
        if any(path.endswith("good.ndjson") for path in paths):
            raise duckdb.ConversionException("Conversion Error: something DuckDB did not like today")
        return real_stage(conn, paths)

    monkeypatch.setattr(ingest, "_stage_ndjson", broken_once)
    ingest_landing(connection, landing)
    monkeypatch.undo()
    assert rows(connection, "SELECT landing_file, reason_code FROM bronze.quarantine") == [
        ("good.ndjson", "unreadable_file")
    ]

    checked = audit_bronze(connection, landing, recount_files=False, scan_landing_folder=False)
    audited = audit_bronze(connection, landing)

    assert [audit.landing_file for audit in checked.unbalanced] == ["good.ndjson"]
    assert "quarantined whole" in checked.unbalanced[0].problems[0]
    assert "3 readable records" in checked.unbalanced[0].problems[0]
    assert [audit.landing_file for audit in audited.unbalanced] == ["good.ndjson"]
    connection.close()


# -- 2. delivery ids are unique within their source only ---------------------------------------

COLLIDING_ID = "payments#42#COMPLETED"  # what the receiver names Jenkins build 42's completion


def jenkins_completion() -> dict:
    return envelope(
        COLLIDING_ID,
        source="jenkins",
        event_type="build.completed",
        payload=sample("build.completed/plugins-wiki-docs-asgard-completed-success.json", "jenkins"),
    )


def gitlab_forgery() -> dict:  # X-Gitlab-Event-UUID is not signed: anyone may send any id
    return envelope(
        COLLIDING_ID,
        source="gitlab",
        event_type="deployment",
        payload=sample("deployment/deployment.json", "gitlab"),
    )


def test_the_same_delivery_id_from_two_sources_is_two_deliveries(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "1-gitlab.json").write_text(json.dumps(gitlab_forgery()), encoding="utf-8")
    (landing / "2-jenkins.json").write_text(json.dumps(jenkins_completion()), encoding="utf-8")
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    first = ingest_landing(connection, landing)
    (landing / "3-jenkins-again.json").write_text(json.dumps(jenkins_completion()), encoding="utf-8")
    write_ndjson(landing / "4-both-again.ndjson", [gitlab_forgery(), jenkins_completion(), gitlab_forgery()])
    again = ingest_landing(connection, landing)

    assert (first.totals.landed, first.totals.duplicates) == (2, 0)
    assert (again.totals.landed, again.totals.duplicates) == (0, 4)  # real redeliveries stay duplicates
    assert rows(connection, "SELECT source, delivery_id, landing_file FROM bronze.raw_events ORDER BY 1") == [
        ("gitlab", COLLIDING_ID, "1-gitlab.json"),
        ("jenkins", COLLIDING_ID, "2-jenkins.json"),
    ]
    assert rows(
        connection, "SELECT source, landing_file, line_number, first_landing_file FROM bronze.duplicates ORDER BY 2, 3"
    ) == [
        ("jenkins", "3-jenkins-again.json", None, "2-jenkins.json"),
        ("gitlab", "4-both-again.ndjson", 1, "1-gitlab.json"),
        ("jenkins", "4-both-again.ndjson", 2, "2-jenkins.json"),
        ("gitlab", "4-both-again.ndjson", 3, "1-gitlab.json"),
    ]
    assert rows(connection, "SELECT count(*) FROM bronze.raw_events_index") == [(2,)]
    assert audit_bronze(connection, landing).balanced
    connection.close()


def test_a_warehouse_keyed_by_delivery_id_alone_is_migrated_without_changing_a_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    path = str(tmp_path / "warehouse.duckdb")
    write_ndjson(landing / "1-history.ndjson", [jenkins_completion(), envelope("g1"), envelope("g1"), {"broken": 1}])
    with connect_warehouse(path) as connection:
        ingest_landing(connection, landing)
        # The previous release's bronze: raw_events keyed by delivery_id alone, duplicates without a source.
        [(create,)] = rows(
            connection, "SELECT sql FROM duckdb_tables() WHERE schema_name = 'bronze' AND table_name = 'raw_events'"
        )
        older = create.replace("bronze.raw_events(", "bronze.raw_events_older(").replace(
            "delivery_id VARCHAR NOT NULL,", "delivery_id VARCHAR NOT NULL PRIMARY KEY,"
        )
        older = older.replace(", PRIMARY KEY(source, delivery_id)", "")
        assert "PRIMARY KEY(source" not in older and older.count("PRIMARY KEY") == 1
        connection.execute(
            f"BEGIN; {older} INSERT INTO bronze.raw_events_older SELECT * FROM bronze.raw_events; "
            "DROP TABLE bronze.raw_events; ALTER TABLE bronze.raw_events_older RENAME TO raw_events; "
            "ALTER TABLE bronze.duplicates DROP COLUMN source; COMMIT;"
        )
        before = {
            table: as_text(connection, table)
            for table in ("bronze.raw_events", "bronze.quarantine", "bronze.landing_files")
        }
        before_duplicates = as_text(connection, "bronze.duplicates")
    monkeypatch.setattr(resources, "_SCHEMA_READY", set())  # as a new process would find it

    with connect_warehouse(path) as connection:
        after = {table: as_text(connection, table) for table in before}
        assert after == before  # the same rows, in the same order
        duplicates = as_text(connection, "bronze.duplicates")
        assert [row[:-1] for row in duplicates] == before_duplicates and [row[-1] for row in duplicates] == [None]
        assert rows(
            connection,
            "SELECT constraint_column_names FROM duckdb_constraints() WHERE schema_name = 'bronze' "
            "AND table_name = 'raw_events' AND constraint_type = 'PRIMARY KEY'",
        ) == [(["source", "delivery_id"],)]
        (landing / "2-gitlab.json").write_text(json.dumps(gitlab_forgery()), encoding="utf-8")
        report = ingest_landing(connection, landing)
        assert (report.totals.landed, report.totals.duplicates) == (1, 0)
        assert connection.execute(
            "SELECT source FROM bronze.raw_events WHERE delivery_id = $id ORDER BY 1", {"id": COLLIDING_ID}
        ).fetchall() == [("gitlab",), ("jenkins",)]
        assert audit_bronze(connection, landing).balanced


# -- 3. a landing file name that is not UTF-8 --------------------------------------------------


def test_a_file_name_that_is_not_utf8_is_quarantined_once_and_the_others_land(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    write_ndjson(landing / "a.ndjson", [envelope("a1")])
    bad_name = os.fsencode(landing) + b"/latin1-\xff.json"
    handle = os.open(bad_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(handle, json.dumps(envelope("hidden")).encode())
    finally:
        os.close(handle)
    (landing / "z.json").write_text(json.dumps(envelope("z1")), encoding="utf-8")
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))

    first = ingest_landing(connection, landing)
    again = ingest_landing(connection, landing)

    assert first.totals.balanced and (first.totals.landed, first.totals.quarantined) == (2, 1)
    assert again.totals.seen == 0  # accounted once, never quarantined again
    assert rows(connection, "SELECT delivery_id FROM bronze.raw_events ORDER BY 1") == [("a1",), ("z1",)]
    assert rows(connection, "SELECT landing_file, reason_code, reason FROM bronze.quarantine") == [
        ("latin1-\\xff.json", "unsafe_name", "file name is not valid UTF-8")
    ]
    assert rows(connection, "SELECT landing_file, status FROM bronze.landing_files ORDER BY 1") == [
        ("a.ndjson", "ingested"),
        ("latin1-\\xff.json", "quarantined"),
        ("z.json", "ingested"),
    ]
    audit = audit_bronze(connection, landing)
    assert audit.balanced and audit.pending == [] and audit.total("seen") == 3
    connection.close()


# -- 9. one line-splitting rule for ingestion and the audit -------------------------------------


@pytest.mark.parametrize(
    ("name", "separator"),
    [("cr-only.ndjson", b"\r"), ("crlf.ndjson", b"\r\n"), ("lf.ndjson", b"\n"), ("mixed.ndjson", None)],
)
def test_ingestion_and_the_audit_split_lines_alike(tmp_path: Path, name: str, separator: bytes | None) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    records = [json.dumps(envelope(f"{name}-{n}")).encode() for n in range(4)]
    if separator is None:  # lone CR, LF and CRLF in one file (DuckDB's strict reader refuses it)
        content = records[0] + b"\r" + records[1] + b"\n" + records[2] + b"\r\n" + records[3]
    else:
        content = separator.join(records) + separator
    (landing / name).write_bytes(content)
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))

    report = ingest_landing(connection, landing)
    audit = audit_bronze(connection, landing)

    assert (report.totals.seen, report.totals.landed) == (4, 4)
    assert rows(connection, "SELECT line_number FROM bronze.raw_events ORDER BY 1") == [(1,), (2,), (3,), (4,)]
    assert audit.balanced, [item.problems for item in audit.unbalanced]
    assert audit.files[0].records_on_disk == 4
    connection.close()


def test_the_streaming_reader_bounds_a_long_line_of_a_cr_only_file(tmp_path: Path) -> None:
    path = tmp_path / "records.ndjson"
    path.write_bytes(b'{"a":1}\r' + b"x" * 50 + b"\r\r" + b'{"b":2}\r\n{"c":3}')

    records = list(read_ndjson_records(path, max_record_bytes=40, chunk_bytes=16))

    assert [(r.line_number, r.reject_code, r.text[:8]) for r in records] == [
        (1, None, '{"a":1}'),
        (2, "record_too_large", "x" * 8),
        (4, None, '{"b":2}'),
        (5, None, '{"c":3}'),
    ]
    for chunk_bytes in range(1, 12):  # line endings split between chunks anywhere: the same lines
        assert list(read_ndjson_records(path, max_record_bytes=40, chunk_bytes=chunk_bytes)) == records


# -- 13. a byte order mark: one rule for .json and .ndjson --------------------------------------


def test_a_utf8_byte_order_mark_is_read_alike_in_json_and_ndjson(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    bom = b"\xef\xbb\xbf"
    (landing / "a.json").write_bytes(bom + json.dumps(envelope("bom-json")).encode())
    (landing / "b.ndjson").write_bytes(bom + json.dumps(envelope("bom-ndjson")).encode() + b"\n")
    mixed = json.dumps(envelope("bom-mixed-1")).encode() + b"\r\n" + json.dumps(envelope("bom-mixed-2")).encode()
    (landing / "c.ndjson").write_bytes(bom + mixed + b"\n")  # mixed endings: the streaming reader's
    (landing / "d.ndjson").write_bytes(json.dumps(envelope("bom-later")).encode() + b"\n" + bom + b"{}\n")
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))

    report = ingest_landing(connection, landing)

    assert rows(connection, "SELECT delivery_id FROM bronze.raw_events ORDER BY 1") == [
        ("bom-json",),
        ("bom-later",),
        ("bom-mixed-1",),
        ("bom-mixed-2",),
        ("bom-ndjson",),
    ]
    # A BOM opens a file, never a later line: there it is a stray character, and the line is not JSON.
    assert rows(connection, "SELECT landing_file, line_number, reason_code FROM bronze.quarantine") == [
        ("d.ndjson", 2, "invalid_json")
    ]
    assert report.totals.balanced and audit_bronze(connection, landing).balanced
    connection.close()


# -- 11. a file replaced atomically with the same size and modification time --------------------


def test_a_file_replaced_with_the_same_size_and_mtime_is_not_skipped_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    target = write_ndjson(landing / "a.ndjson", [envelope("r-1"), envelope("r-2")])
    untouched = write_ndjson(landing / "b.ndjson", [envelope("u-1")])
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    ingest_landing(connection, landing, settle_seconds=0)
    before = target.stat()
    replacement = landing / ".a.ndjson.tmp"  # written aside, then renamed over the original
    write_ndjson(replacement, [envelope("x-1"), envelope("x-2")])
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, target)
    after = target.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert after.st_ino != before.st_ino
    os.chmod(untouched, 0o600)  # its status-change time moves, its content does not

    audited = audit_bronze(connection, landing)
    report = ingest_landing(connection, landing, settle_seconds=0)

    assert [item.landing_file for item in audited.unbalanced] == ["a.ndjson"]
    assert "changed after it was ingested" in audited.unbalanced[0].problems[0]
    assert (report.totals.files, report.totals.quarantined) == (1, 1)
    assert rows(connection, "SELECT landing_file, reason_code FROM bronze.quarantine") == [("a.ndjson", "file_changed")]
    hashed: list[str] = []
    real_hash = ingest.file_sha256
    monkeypatch.setattr(
        ingest, "file_sha256", lambda path, **options: hashed.append(path.name) or real_hash(path, **options)
    )
    again = ingest_landing(connection, landing, settle_seconds=0)
    assert again.totals.seen == 0 and hashed == []  # b.ndjson's content was confirmed once, not re-hashed
    connection.close()


# -- 10. a file appended after (or while) it was ingested ----------------------------------------


def lines_of(*envelopes: dict) -> str:
    return "".join(json.dumps(item) + "\n" for item in envelopes)


def assert_landed_once_and_audited(connection: duckdb.DuckDBPyConnection, landing: Path, ids: list[str]) -> None:
    """Every id landed exactly once, and the audit balances the file on what it holds now."""
    assert rows(connection, "SELECT delivery_id FROM bronze.raw_events ORDER BY delivery_id") == [(i,) for i in ids]
    audited = audit_bronze(connection, landing)
    assert audited.balanced, [item.problems for item in audited.unbalanced]
    [file_audit] = audited.files
    assert file_audit.seen == file_audit.records_on_disk == len(ids)
    assert file_audit.landed + file_audit.quarantined + file_audit.duplicates == len(ids)
    assert ingest_landing(connection, landing, settle_seconds=0).totals.files == 0  # nothing left to read


def test_lines_appended_after_ingestion_land_as_a_new_version_of_the_file(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    target = landing / "a.ndjson"
    fourth = json.dumps(envelope("a-4"))
    # Three whole lines and half of a fourth: a writer that appends (which the contract forbids)
    # was caught mid-line.
    target.write_text(lines_of(*(envelope(f"a-{n}") for n in (1, 2, 3))) + fourth[:40], encoding="utf-8")
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    first = ingest_landing(connection, landing, settle_seconds=0)
    assert (first.totals.landed, first.totals.quarantined) == (3, 1)  # the half line is not JSON
    with target.open("a", encoding="utf-8") as handle:
        handle.write(fourth[40:] + "\n" + lines_of(envelope("a-5")))

    second = ingest_landing(connection, landing, settle_seconds=0)

    assert (second.totals.seen, second.totals.landed, second.totals.duplicates) == (5, 2, 3)
    assert rows(connection, "SELECT status, records_seen FROM bronze.landing_files ORDER BY ingest_id") == [
        ("ingested", 4),
        ("appended_after_ingestion", 5),
    ]
    assert rows(connection, "SELECT delivery_id, line_number FROM bronze.duplicates ORDER BY line_number") == [
        ("a-1", 1),
        ("a-2", 2),
        ("a-3", 3),
    ]
    assert rows(connection, "SELECT reason_code FROM bronze.quarantine") == [("invalid_json",)]  # the first version's
    assert_landed_once_and_audited(connection, landing, ["a-1", "a-2", "a-3", "a-4", "a-5"])
    connection.close()


def test_lines_appended_between_the_scan_and_the_read_are_all_accounted_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    target = write_ndjson(landing / "a.ndjson", [envelope(f"a-{n}") for n in range(1, 149)])
    real_stage = ingest._stage_batch
    appended: list[int] = []

    def stage_after_an_append(connection: duckdb.DuckDBPyConnection, batch: list) -> None:
        if not appended:  # the scan listed and hashed the file; a writer appends before DuckDB reads it
            with target.open("a", encoding="utf-8") as handle:
                handle.write(lines_of(*(envelope(f"a-{n}") for n in range(149, 348))))
            appended.append(len(batch))
        real_stage(connection, batch)

    monkeypatch.setattr(ingest, "_stage_batch", stage_after_an_append)
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    ingest_landing(connection, landing, settle_seconds=0)
    assert appended
    # The ledger's version is the 148 lines' bytes the scan saw; the file now holds more, so the
    # audit names it changed until ingestion reads it again.
    assert not audit_bronze(connection, landing).balanced

    ingest_landing(connection, landing, settle_seconds=0)

    assert rows(connection, "SELECT DISTINCT status FROM bronze.landing_files ORDER BY ALL") == [
        ("appended_after_ingestion",),
        ("ingested",),
    ]
    assert rows(connection, "SELECT count(*) FROM bronze.quarantine") == [(0,)]
    assert_landed_once_and_audited(connection, landing, sorted(f"a-{n}" for n in range(1, 348)))
    connection.close()
