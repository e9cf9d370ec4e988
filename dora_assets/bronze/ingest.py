"""Incremental, exactly-once ingestion of the landing folder into bronze.

Python only lists and hashes files; DuckDB reads and validates every record. Files are taken
in batches of bounded size, and each batch commits its rows (raw events, quarantine,
duplicates) together with its ledger rows in one transaction: a process killed at any point
leaves either the whole batch or none of it, and the next run picks up where the ledger says.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from dora_assets.bronze.envelope import KNOWN_SOURCES, MAX_DELIVERY_ID_LENGTH, known_event_type_keys
from dora_assets.bronze.landing import LandingFile, file_sha256, raw_preview, scan_landing
from dora_assets.sql import run_sql, sql_file

LINE_DELIMITER = "\x1e\x1f\x1e\x1f"
MAX_RECORD_BYTES = 64 * 1024 * 1024
RAW_LIMIT_CHARACTERS = 64 * 1024
# ISO-8601 date-time with a zone, as pydantic's AwareDatetime accepts it.
TIMESTAMP_PATTERN = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)"
DEFAULT_BATCH_BYTES = 256 * 1024 * 1024


@dataclass
class IngestTotals:
    """Record accounting: ``seen == landed + quarantined + duplicates`` always."""

    files: int = 0
    seen: int = 0
    landed: int = 0
    quarantined: int = 0
    duplicates: int = 0

    def add(self, other: IngestTotals) -> None:
        self.files += other.files
        self.seen += other.seen
        self.landed += other.landed
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates

    @property
    def balanced(self) -> bool:
        return self.seen == self.landed + self.quarantined + self.duplicates


@dataclass
class IngestReport:
    totals: IngestTotals = field(default_factory=IngestTotals)
    batches: int = 0
    ingest_ids: list[int] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _PendingFile:
    file: LandingFile
    sha256: str
    status: str
    problem_code: str | None
    problem: str | None


def ingest_landing(
    connection: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    *,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    temporary_grace_seconds: float = 3600.0,
) -> IngestReport:
    """Ingest every landing file the ledger has not accounted for yet."""
    scan = scan_landing(landing_dir, temporary_grace_seconds=temporary_grace_seconds)
    report = IngestReport(in_flight=scan.in_flight)
    pending = list(_pending_files(connection, scan.files))
    for batch in _batches(pending, batch_bytes):
        ingest_id, totals, reasons = _ingest_batch(connection, batch)
        report.batches += 1
        report.ingest_ids.append(ingest_id)
        report.totals.add(totals)
        for code, count in reasons.items():
            report.quarantine_reasons[code] = report.quarantine_reasons.get(code, 0) + count
    return report


def _pending_files(connection: duckdb.DuckDBPyConnection, files: list[LandingFile]) -> Iterator[_PendingFile]:
    """Files whose current content the ledger has not seen.

    A file is unchanged when its size and modification time match its latest ledger row (no
    re-hashing of history). A known file whose content changed after ingestion (appended or
    rewritten) is quarantined whole as a new version, never half-read.
    """
    ledger = {
        name: (size, modified, hashes)
        for name, size, modified, hashes in connection.execute(sql_file("bronze", "ledger_latest")).fetchall()
    }
    for landing_file in files:
        known = ledger.get(landing_file.landing_file)
        modified_at = _timestamp(landing_file.modified_ns)
        if known and known[0] == landing_file.size_bytes and known[1] == modified_at:
            continue
        sha256 = file_sha256(landing_file.path) if landing_file.kind != "rejected" or _readable(landing_file) else ""
        if known and sha256 in known[2]:
            continue
        if known:
            yield _PendingFile(
                landing_file,
                sha256,
                "changed_after_ingestion",
                "file_changed",
                f"file changed after it was ingested (now {landing_file.size_bytes} bytes, sha256 {sha256[:12]}); "
                "landing files must not be modified: write a new file instead",
            )
        elif landing_file.kind == "rejected":
            yield _PendingFile(landing_file, sha256, "quarantined", landing_file.problem_code, landing_file.problem)
        else:
            yield _PendingFile(landing_file, sha256, "ingested", None, None)


def _readable(landing_file: LandingFile) -> bool:
    return landing_file.problem_code not in {"unsafe_path", "not_a_file"}


def _batches(pending: list[_PendingFile], batch_bytes: int) -> Iterator[list[_PendingFile]]:
    batch: list[_PendingFile] = []
    size = 0
    for item in pending:
        if batch and size + item.file.size_bytes > batch_bytes:
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.file.size_bytes
    if batch:
        yield batch


def _ingest_batch(
    connection: duckdb.DuckDBPyConnection, batch: list[_PendingFile]
) -> tuple[int, IngestTotals, dict[str, int]]:
    ingested_at = datetime.now(UTC)
    connection.execute("BEGIN TRANSACTION")
    try:
        ingest_id = connection.execute("SELECT nextval('bronze.ingest_id_seq')").fetchone()[0]
        run_sql(connection, "bronze", "stage_tables")
        batch_files = pd.DataFrame(
            [
                {
                    "file_order": order,
                    "landing_file": item.file.landing_file,
                    "path": str(item.file.path),
                    "kind": item.file.kind if item.problem_code is None else "rejected",
                    "size_bytes": item.file.size_bytes,
                    "modified_at": _timestamp(item.file.modified_ns),
                    "content_sha256": item.sha256,
                    "status": item.status,
                    "problem_code": item.problem_code,
                    "problem": item.problem,
                    "raw_preview": raw_preview(item.file.path) if item.problem_code else None,
                }
                for order, item in enumerate(batch)
            ]
        )
        connection.register("batch_files_frame", batch_files)
        connection.execute("INSERT INTO batch_files SELECT * FROM batch_files_frame")
        connection.unregister("batch_files_frame")
        _stage(connection, batch)
        run_sql(
            connection,
            "bronze",
            "classify_records",
            {
                "known_sources": list(KNOWN_SOURCES),
                "known_event_types": known_event_type_keys(),
                "max_delivery_id_length": MAX_DELIVERY_ID_LENGTH,
                "timestamp_pattern": TIMESTAMP_PATTERN,
                "raw_limit": RAW_LIMIT_CHARACTERS,
            },
        )
        landing = {"ingest_id": ingest_id, "ingested_at": ingested_at}
        for statement in ("land_raw_events", "land_quarantine", "land_duplicates", "land_ledger"):
            run_sql(connection, "bronze", statement, landing)
        totals_row = connection.execute(sql_file("bronze", "batch_totals")).fetchone()
        reasons = dict(connection.execute(sql_file("bronze", "batch_quarantine_reasons")).fetchall())
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return ingest_id, IngestTotals(*totals_row), reasons


def _stage(connection: duckdb.DuckDBPyConnection, batch: list[_PendingFile]) -> None:
    by_kind: dict[str, list[str]] = {"ndjson": [], "json": []}
    for item in batch:
        if item.problem_code is None:
            by_kind[item.file.kind].append(str(item.file.path))
    if by_kind["ndjson"]:
        run_sql(
            connection,
            "bronze",
            "read_ndjson_lines",
            {"paths": by_kind["ndjson"], "delimiter": LINE_DELIMITER, "max_line_bytes": MAX_RECORD_BYTES},
        )
        run_sql(connection, "bronze", "stage_ndjson_records")
    if by_kind["json"]:
        run_sql(connection, "bronze", "stage_json_records", {"paths": by_kind["json"]})
    run_sql(connection, "bronze", "stage_file_problems")


def _timestamp(modified_ns: int) -> datetime:
    """A file's modification time at microsecond precision (what TIMESTAMPTZ stores), exactly."""
    seconds, nanoseconds = divmod(modified_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanoseconds // 1000)
