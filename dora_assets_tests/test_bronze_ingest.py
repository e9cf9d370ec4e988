"""Bronze ingestion on real DuckDB files: every record lands, is quarantined with a reason, or
is counted as a duplicate; re-running never duplicates or drops anything."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError

from dora_assets.ingestion import ingest
from dora_assets.ingestion.envelope import Envelope
from dora_assets.ingestion.ingest import ingest_landing, pending_landing_files, settle_folders
from dora_assets.ingestion.landing import read_ndjson_records, scan_landing
from dora_assets.resources import connect_warehouse
from dora_assets_tests.builders import SETTLE, age, refuse_listing, sample


def env(name: str, **overrides: object) -> dict:
    """An envelope named ``name`` (its delivery_id unless overridden)."""
    body = {
        "source": "github",
        "event_type": "push",
        "delivery_id": name,
        "received_at": "2023-11-02T14:03:11Z",
        "payload": sample("push/with-new-branch.payload.json"),
    }
    body.update(overrides)
    return body


def line(envelope: dict) -> str:
    return json.dumps(envelope) + "\n"


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


def rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return connection.execute(sql).fetchall()


def test_every_record_lands_or_is_quarantined_with_its_line(warehouse, landing: Path) -> None:
    (landing / "batch.ndjson").write_text(
        line(env("d1"))
        + line(env("d2", event_type="workflow_dispatch_v9"))  # unknown event type: landed, flagged
        + '{"source": "github", "event_type": "push", "delivery_id": "d3", "recei\n'  # truncated JSON
        + "\n"  # blank lines are not records
        + line(env("d4", source="bitbucket"))
        + line(env("d5", received_at="2023-11-02 14:03:11"))  # no zone
        + line(env("d6", delivery_id=6))
        + line({k: v for k, v in env("d7").items() if k != "payload"})
        + line(env("d8", payload=[1, 2]))
        + line(env("d1")),  # redelivery inside the same file
        encoding="utf-8",
    )
    (landing / "sub" / "deeper").mkdir(parents=True)
    (landing / "sub" / "deeper" / "one.json").write_text(json.dumps(env("d9"), indent=2), encoding="utf-8")
    (landing / "latin1.ndjson").write_bytes(
        line(env("d10")).encode() + b'{"x": "caf\xe9"}\n' + line(env("d11")).encode()
    )
    (landing / "array.json").write_text("[1, 2]", encoding="utf-8")
    (landing / "notes.txt").write_text("not a delivery", encoding="utf-8")
    (landing / "empty.ndjson").write_text("", encoding="utf-8")
    (landing / "blank.jsonl").write_text("\n\n  \n", encoding="utf-8")

    report = ingest_landing(warehouse, landing)

    assert rows(
        warehouse, "SELECT delivery_id, landing_file, line_number, known_event_type FROM bronze.raw_events ORDER BY 1"
    ) == [
        ("d1", "batch.ndjson", 1, True),
        ("d10", "latin1.ndjson", 1, True),
        ("d11", "latin1.ndjson", 3, True),
        ("d2", "batch.ndjson", 2, False),
        ("d9", "sub/deeper/one.json", None, True),
    ]
    assert rows(warehouse, "SELECT landing_file, line_number, reason_code FROM bronze.quarantine ORDER BY 1, 2") == [
        ("array.json", None, "invalid_envelope"),
        ("batch.ndjson", 3, "invalid_json"),
        ("batch.ndjson", 5, "unknown_source"),
        ("batch.ndjson", 6, "invalid_envelope"),
        ("batch.ndjson", 7, "invalid_envelope"),
        ("batch.ndjson", 8, "invalid_envelope"),
        ("batch.ndjson", 9, "invalid_envelope"),
        ("blank.jsonl", None, "empty_file"),
        ("empty.ndjson", None, "empty_file"),
        ("latin1.ndjson", 2, "invalid_encoding"),
        ("notes.txt", None, "unsupported_extension"),
    ]
    reasons = dict(rows(warehouse, "SELECT landing_file || ':' || line_number, reason FROM bronze.quarantine"))
    assert reasons["batch.ndjson:6"].startswith("envelope field received_at is not an ISO-8601 timestamp with a zone")
    assert reasons["batch.ndjson:7"] == "envelope field delivery_id must be a string, got number"
    assert reasons["batch.ndjson:8"] == "envelope field payload is missing"
    assert reasons["batch.ndjson:9"] == "envelope field payload must be a JSON object, got array"
    assert rows(warehouse, "SELECT delivery_id, line_number, first_landing_file FROM bronze.duplicates") == [
        ("d1", 10, "batch.ndjson")
    ]
    totals = report.totals
    assert (totals.seen, totals.landed, totals.quarantined, totals.duplicates) == (17, 5, 11, 1)
    assert totals.balanced
    ledger = rows(
        warehouse,
        "SELECT landing_file, records_seen, records_landed, records_quarantined, records_duplicate "
        "FROM bronze.landing_files WHERE landing_file = 'batch.ndjson'",
    )
    assert ledger == [("batch.ndjson", 9, 2, 6, 1)]


def test_rerun_adds_nothing_and_later_redelivery_is_a_duplicate(warehouse, landing: Path) -> None:
    (landing / "first.ndjson").write_text(line(env("a")) + line(env("b")), encoding="utf-8")
    ingest_landing(warehouse, landing)
    before = rows(warehouse, "SELECT * FROM bronze.raw_events ORDER BY delivery_id")

    again = ingest_landing(warehouse, landing)
    assert again.totals.files == 0 and again.batches == 0
    (landing / "later.json").write_text(json.dumps(env("b")), encoding="utf-8")
    later = ingest_landing(warehouse, landing)

    assert (later.totals.seen, later.totals.duplicates, later.totals.landed) == (1, 1, 0)
    assert rows(warehouse, "SELECT delivery_id, landing_file, first_landing_file FROM bronze.duplicates") == [
        ("b", "later.json", "first.ndjson")
    ]
    assert rows(warehouse, "SELECT * FROM bronze.raw_events ORDER BY delivery_id") == before


@pytest.mark.real_clock
def test_file_appended_after_ingestion_is_read_again_whole_not_half_read(warehouse, landing: Path) -> None:
    # Lines appended to an .ndjson file (issue 18 item 10): the new version is read whole, its
    # new record lands and the one already landed is a duplicate.
    target = landing / "growing.ndjson"
    target.write_text(line(env("a")), encoding="utf-8")
    ingest_landing(warehouse, landing)
    with target.open("a", encoding="utf-8") as handle:
        handle.write(line(env("b")))
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 1_000_000))

    report = ingest_landing(warehouse, landing)

    assert (report.totals.seen, report.totals.landed, report.totals.duplicates) == (2, 1, 1)
    assert rows(warehouse, "SELECT delivery_id FROM bronze.raw_events ORDER BY delivery_id") == [("a",), ("b",)]
    assert rows(warehouse, "SELECT status FROM bronze.landing_files ORDER BY ingest_id") == [
        ("ingested",),
        ("appended_after_ingestion",),
    ]
    assert ingest_landing(warehouse, landing).totals.files == 0


@pytest.mark.real_clock
def test_file_rewritten_after_ingestion_is_quarantined_not_half_read(warehouse, landing: Path) -> None:
    target = landing / "rewritten.ndjson"
    target.write_text(line(env("a")), encoding="utf-8")
    ingest_landing(warehouse, landing)
    target.write_text(line(env("x")) + line(env("b")), encoding="utf-8")  # not an append: its first line changed
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 1_000_000))

    report = ingest_landing(warehouse, landing)

    assert (report.totals.seen, report.totals.quarantined) == (1, 1)
    assert rows(warehouse, "SELECT delivery_id FROM bronze.raw_events") == [("a",)]
    assert rows(warehouse, "SELECT reason_code FROM bronze.quarantine") == [("file_changed",)]
    assert rows(warehouse, "SELECT status FROM bronze.landing_files ORDER BY ingest_id") == [
        ("ingested",),
        ("changed_after_ingestion",),
    ]
    assert ingest_landing(warehouse, landing).totals.files == 0


@pytest.mark.real_clock
def test_temporary_names_wait_until_renamed_or_abandoned(warehouse, landing: Path) -> None:
    in_flight = landing / ".delivery.json.tmp"
    in_flight.write_text(json.dumps(env("t1")), encoding="utf-8")
    abandoned = landing / "old.ndjson.part"
    abandoned.write_text(line(env("t2")), encoding="utf-8")
    two_hours_ago = time.time() - 7200
    os.utime(abandoned, (two_hours_ago, two_hours_ago))

    report = ingest_landing(warehouse, landing)
    assert report.in_flight == [".delivery.json.tmp"]
    assert rows(warehouse, "SELECT landing_file, reason_code FROM bronze.quarantine") == [
        ("old.ndjson.part", "abandoned_temporary_file")
    ]

    os.replace(in_flight, landing / "delivery.json")
    ingest_landing(warehouse, landing)
    assert rows(warehouse, "SELECT delivery_id, landing_file FROM bronze.raw_events") == [("t1", "delivery.json")]


def test_unsafe_files_are_never_read_as_paths(warehouse, landing: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps(env("outside")), encoding="utf-8")
    (landing / "escape.json").symlink_to(outside)
    (landing / "star*.ndjson").write_text(line(env("g1")), encoding="utf-8")
    (landing / "sibling.ndjson").write_text(line(env("g2")), encoding="utf-8")
    os.mkfifo(landing / "pipe.json")
    (landing / "day").mkdir()
    (landing / "day" / "inside.ndjson").write_text(line(env("g3")), encoding="utf-8")
    (landing / "day-again").symlink_to(landing / "day")  # followed, it would list day's files twice
    (landing / "gone.json").symlink_to(landing / "deleted.json")

    ingest_landing(warehouse, landing)

    assert rows(warehouse, "SELECT delivery_id FROM bronze.raw_events ORDER BY 1") == [("g2",), ("g3",)]
    assert rows(warehouse, "SELECT landing_file, reason_code, raw IS NULL FROM bronze.quarantine ORDER BY 1") == [
        ("day-again", "not_a_file", True),
        ("escape.json", "unsafe_path", True),
        ("gone.json", "not_a_file", True),
        ("pipe.json", "not_a_file", True),
        ("star*.ndjson", "unsafe_name", False),
    ]


def test_a_folder_that_cannot_be_listed_is_reported_and_read_once_it_can_be(
    warehouse, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = landing / "locked"
    locked.mkdir()
    (locked / "late.ndjson").write_text(line(env("late")), encoding="utf-8")
    refuse_listing(monkeypatch, locked)
    report = ingest_landing(warehouse, landing)
    assert report.unreadable == ["locked/: Permission denied"]
    assert rows(warehouse, "SELECT count(*) FROM bronze.landing_files") == [(0,)]
    monkeypatch.undo()
    ingest_landing(warehouse, landing)
    assert rows(warehouse, "SELECT delivery_id FROM bronze.raw_events") == [("late",)]


@pytest.mark.real_clock
def test_settled_folders_are_not_listed_again_until_their_entries_change(warehouse, landing: Path) -> None:
    first, second = landing / "github" / "2023" / "11" / "01", landing / "github" / "2023" / "11" / "02"
    for day in (first, second):
        day.mkdir(parents=True)
        (day / "a.ndjson").write_text(line(env(f"{day.name}-a")) + line(env(f"{day.name}-b")), encoding="utf-8")
    # Just written: not settled yet. Judged against a minute, not SETTLE, so that a loaded machine
    # taking longer than SETTLE to reach the check cannot make the folders old enough.
    young = ingest_landing(warehouse, landing, settle_seconds=60)
    assert (young.totals.landed, young.folders_settled) == (4, 0)
    age(first, second, seconds=SETTLE)

    settling = ingest_landing(warehouse, landing, settle_seconds=SETTLE)
    assert (settling.totals.files, settling.folders_skipped, settling.folders_settled) == (0, 0, 2)
    assert rows(warehouse, "SELECT folder, files FROM bronze.landing_folders ORDER BY 1") == [
        ("github/2023/11/01", 1),
        ("github/2023/11/02", 1),
    ]
    settled = ingest_landing(warehouse, landing, settle_seconds=SETTLE)
    assert (settled.totals.files, settled.folders_skipped, settled.folders_settled) == (0, 2, 0)

    # A late file in a settled folder moves the folder's stamp: the folder is listed again.
    (first / "late.json").write_text(json.dumps(env("late")), encoding="utf-8")
    assert [name for name, _ in pending_landing_files(warehouse, landing)[0]] == ["github/2023/11/01/late.json"]
    late = ingest_landing(warehouse, landing, settle_seconds=60)  # just written, as above
    assert (late.totals.landed, late.folders_skipped, late.folders_settled) == (1, 1, 0)
    assert rows(warehouse, "SELECT count(*) FROM bronze.raw_events") == [(5,)]
    age(first, seconds=SETTLE)
    assert ingest_landing(warehouse, landing, settle_seconds=SETTLE).folders_settled == 1
    assert pending_landing_files(warehouse, landing)[0] == []
    # The latest row per folder counts; earlier rows stay (bronze is append-only).
    assert rows(warehouse, "SELECT folder, files FROM bronze.landing_folders ORDER BY settled_at DESC LIMIT 1") == [
        ("github/2023/11/01", 2)
    ]


@pytest.mark.real_clock
def test_a_folder_settles_only_once_everything_in_it_is_accounted_for(warehouse, landing: Path) -> None:
    day = landing / "day"
    day.mkdir()
    (day / "a.ndjson").write_text(line(env("a")), encoding="utf-8")
    (day / ".b.json.tmp").write_text(json.dumps(env("b")), encoding="utf-8")  # still being written
    (landing / "root.json").write_text(json.dumps(env("root")), encoding="utf-8")  # the root holds a folder
    age(day, landing, seconds=SETTLE)

    report = ingest_landing(warehouse, landing, settle_seconds=SETTLE)
    assert (report.totals.landed, report.in_flight, report.folders_settled) == (2, ["day/.b.json.tmp"], 0)

    os.replace(day / ".b.json.tmp", day / "b.json")
    assert ingest_landing(warehouse, landing, settle_seconds=60).folders_settled == 0  # renamed just now
    age(day, seconds=SETTLE)
    assert ingest_landing(warehouse, landing, settle_seconds=SETTLE).folders_settled == 1
    assert rows(warehouse, "SELECT delivery_id FROM bronze.raw_events ORDER BY 1") == [("a",), ("b",), ("root",)]
    # Settling off: every folder is listed, nothing is recorded.
    off = ingest_landing(warehouse, landing, settle_seconds=0)
    assert (off.folders_skipped, off.folders_settled) == (0, 0)


@pytest.mark.real_clock
def test_a_folder_written_to_between_the_scan_and_settling_does_not_settle(warehouse, landing: Path) -> None:
    day = landing / "day"
    day.mkdir()
    (day / "a.json").write_text(json.dumps(env("a")), encoding="utf-8")
    age(day, seconds=SETTLE)
    scan = scan_landing(landing)
    ingest_landing(warehouse, landing, settle_seconds=0)  # the ledger now accounts for a.json
    (day / "b.json").write_text(json.dumps(env("b")), encoding="utf-8")  # arrives after the listing
    age(day, seconds=SETTLE)

    assert settle_folders(warehouse, scan, SETTLE) == 0  # else b.json would never be listed
    report = ingest_landing(warehouse, landing, settle_seconds=SETTLE)
    assert (report.totals.landed, report.folders_settled) == (1, 1)
    assert rows(warehouse, "SELECT delivery_id FROM bronze.raw_events ORDER BY 1") == [("a",), ("b",)]


def test_small_batches_give_the_same_result(tmp_path: Path, landing: Path) -> None:
    for index in range(6):
        (landing / f"f{index}.ndjson").write_text(line(env(f"x{index}")) + line(env("shared")), encoding="utf-8")
    one = connect_warehouse(str(tmp_path / "one.duckdb"))
    many = connect_warehouse(str(tmp_path / "many.duckdb"))
    single = ingest_landing(one, landing)
    batched = ingest_landing(many, landing, batch_bytes=1)
    assert (single.batches, batched.batches) == (1, 6)
    query = "SELECT delivery_id, landing_file, line_number FROM bronze.raw_events ORDER BY 1"
    assert rows(one, query) == rows(many, query)
    assert len(rows(many, "SELECT * FROM bronze.duplicates")) == 5


ENVELOPE_CASES = [
    env("ok-1"),
    env("ok-2", received_at="2023-11-02T14:03:11.123456+02:00"),
    env("ok-3", received_at="2023-11-02T14:03:11-0700"),
    env("ok-4", extra_field="kept out of bronze"),
    env("bad-1", received_at="2023-11-02T14:03:11"),
    env("bad-2", received_at="yesterday"),
    env("bad-3", received_at=1762092191),
    env("bad-4", source=None),
    env("bad-5", source="svn"),
    env("bad-6", event_type=""),
    env("bad-7", delivery_id=""),
    env("bad-8", delivery_id="bad-" + "x" * 252),
    env("bad-9", payload="{}"),
    env("bad-10", event_type=["push"]),
    env("bad-11", received_at="2023-13-02T14:03:11Z"),
]


@pytest.mark.parametrize("envelope", ENVELOPE_CASES, ids=lambda e: str(e["delivery_id"])[:8] or "empty-id")
def test_sql_validation_agrees_with_the_pydantic_envelope(warehouse, landing: Path, envelope: dict) -> None:
    (landing / "case.json").write_text(json.dumps(envelope), encoding="utf-8")
    ingest_landing(warehouse, landing)
    landed_by_sql = rows(warehouse, "SELECT count(*) FROM bronze.raw_events")[0][0] == 1
    try:
        Envelope.model_validate(envelope)
        valid_by_pydantic = True
    except ValidationError:
        valid_by_pydantic = False
    assert landed_by_sql == valid_by_pydantic
    assert landed_by_sql == str(envelope["delivery_id"]).startswith("ok")


def test_mixed_line_endings_still_land_every_good_line(warehouse, landing: Path) -> None:
    # DuckDB's strict line reader refuses this file whole; ingestion falls back to a streaming
    # reader for it alone, and the other file of the batch is read by DuckDB as usual.
    (landing / "mixed.ndjson").write_bytes(
        line(env("m1")).encode() + b"\t\n  \n\r\n" + json.dumps(env("m2")).encode() + b"\r\n\n"
    )
    (landing / "plain.ndjson").write_text(line(env("p1")), encoding="utf-8")

    report = ingest_landing(warehouse, landing)

    assert (report.totals.seen, report.totals.landed, report.totals.quarantined) == (4, 3, 1)
    assert rows(warehouse, "SELECT landing_file, line_number, delivery_id FROM bronze.raw_events ORDER BY 1, 2") == [
        ("mixed.ndjson", 1, "m1"),
        ("mixed.ndjson", 5, "m2"),
        ("plain.ndjson", 1, "p1"),
    ]
    assert rows(warehouse, "SELECT landing_file, line_number, reason_code, raw FROM bronze.quarantine") == [
        ("mixed.ndjson", 2, "invalid_json", "\t")
    ]


def test_streaming_reader_numbers_physical_lines_and_bounds_long_ones(tmp_path: Path) -> None:
    path = tmp_path / "records.ndjson"
    path.write_bytes(b'{"a":1}\r\n\n' + b"x" * 50 + b"\n" + b"\xff\xfe\n" + b'{"b":2}')

    records = list(read_ndjson_records(path, max_record_bytes=40))

    assert [(r.line_number, r.reject_code) for r in records] == [
        (1, None),
        (3, "record_too_large"),
        (4, "invalid_encoding"),
        (5, None),
    ]
    assert records[0].text == '{"a":1}'
    assert records[3].text == '{"b":2}'


@pytest.mark.parametrize("vanishing", ["b.json", "b.ndjson"])
def test_a_file_that_vanishes_mid_run_is_quarantined_not_fatal(
    warehouse, landing: Path, monkeypatch: pytest.MonkeyPatch, vanishing: str
) -> None:
    # Fault injection at the file system: the file disappears after it was hashed, so DuckDB
    # fails to read it. The batch is retried file by file; only the vanished file is quarantined.
    (landing / "a.ndjson").write_text(line(env("a1")), encoding="utf-8")
    (landing / vanishing).write_text(json.dumps(env("b1")), encoding="utf-8")
    (landing / "c.ndjson").write_text(line(env("c1")), encoding="utf-8")
    hash_file = ingest.file_sha256

    def hash_then_vanish(path: Path, **options: int) -> str:
        digest = hash_file(path, **options)
        if path.name == vanishing:
            path.unlink()
        return digest

    monkeypatch.setattr(ingest, "file_sha256", hash_then_vanish)

    report = ingest_landing(warehouse, landing)

    assert report.totals.balanced and report.totals.seen == 3
    assert rows(warehouse, "SELECT delivery_id FROM bronze.raw_events ORDER BY 1") == [("a1",), ("c1",)]
    [(landing_file, code, reason)] = rows(warehouse, "SELECT landing_file, reason_code, reason FROM bronze.quarantine")
    assert (landing_file, code) == (vanishing, "unreadable_file")
    assert "vanished" in reason or "No files found" in reason
