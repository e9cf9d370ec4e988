"""Incremental, exactly-once ingestion of the landing folder into bronze.

Python only lists and hashes files; DuckDB reads and validates every record. Files are taken
in batches of bounded size, and each batch commits its rows (raw events, quarantine,
duplicates) together with its ledger rows in one transaction: a process killed at any point
leaves either the whole batch or none of it, and the next run picks up where the ledger says.
The same transaction writes the batch's row of the transform ledger (bronze.pending_transforms:
the days its deliveries can change, pending until a transform covers them; see
dora_assets/transform_ledger.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from dora_assets.ingestion.envelope import (
    KNOWN_SOURCES,
    MAX_DELIVERY_ID_LENGTH,
    RECEIVED_AT_PATTERN,
    known_event_type_keys,
)
from dora_assets.ingestion.landing import (
    DEFAULT_SETTLE_SECONDS,
    MAX_RECORD_BYTES,
    FolderStamp,
    LandingFile,
    LandingScan,
    file_sha256,
    modified_timestamp,
    raw_preview,
    read_ndjson_records,
    scan_landing,
)
from dora_assets.sql import run_sql, sql_file
from dora_assets.transform_ledger import PendingWindow, pending_windows
from dora_assets.transform_ledger import ingested_through as ledger_high_water

LINE_DELIMITER = "\x1e\x1f\x1e\x1f"
RAW_LIMIT_CHARACTERS = 64 * 1024
# ISO-8601 date-time with a zone: the Envelope's rule (envelope.RECEIVED_AT_PATTERN).
TIMESTAMP_PATTERN = RECEIVED_AT_PATTERN
# The plausible range of received_at (LandingFolder.received_at_min_year and
# received_at_max_future_days): a delivery stamped outside it is quarantined as
# implausible_received_at, judged against this process's clock when the batch lands.
DEFAULT_RECEIVED_AT_MIN_YEAR = 2000
DEFAULT_RECEIVED_AT_MAX_FUTURE_DAYS = 2.0
DEFAULT_BATCH_BYTES = 256 * 1024 * 1024
# The ledger status of a version read again whole because the file grew (lines appended).
APPENDED_STATUS = "appended_after_ingestion"
# DuckDB errors that are never a landing file's fault: the warehouse's disk, memory or lock failed
# (messages as DuckDB words them, lower case), with the cause each is reported under.
RUN_FAULT_MARKERS = (
    ("no space left on device", "no space left on device"),
    ("disk is full", "no space left on device"),
    ("disk full", "no space left on device"),
    ("out of memory", "out of memory"),
    ("could not set lock", "the warehouse lock was lost"),
    ("conflicting lock", "the warehouse lock was lost"),
    ("database has been invalidated", "the warehouse was invalidated by an earlier fatal error"),
    ("input/output error", "I/O error"),
    ("disk i/o error", "I/O error"),
)
_QUOTED_PATH = re.compile(r'"([^"]+)"')


class _RunFault(Exception):
    """A batch met a fault of the run (``cause``, one line); ingest_landing reports it as IngestHalted."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class IngestHalted(RuntimeError):
    """Ingestion stopped for a reason that is no landing file's fault (out of space, out of memory,
    an I/O error, a lost lock): the batch that met it committed nothing, so none of its files is
    quarantined or in the ledger, and the next run reads them again."""


@dataclass
class IngestTotals:
    """Record accounting: ``seen == landed + quarantined + duplicates`` always."""

    files: int = 0
    seen: int = 0
    landed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    affected_from: date | None = None  # earliest UTC day whose silver rows the landed records can change

    def add(self, other: IngestTotals) -> None:
        self.files += other.files
        self.seen += other.seen
        self.landed += other.landed
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates
        if other.affected_from is not None:
            self.affected_from = min(self.affected_from or other.affected_from, other.affected_from)

    @property
    def balanced(self) -> bool:
        return self.seen == self.landed + self.quarantined + self.duplicates


@dataclass
class IngestReport:
    totals: IngestTotals = field(default_factory=IngestTotals)
    batches: int = 0
    ingest_ids: list[int] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    folders_skipped: int = 0  # settled folders the walk did not list
    folders_settled: int = 0  # folders that settled in this ingest
    pending: list[PendingWindow] = field(default_factory=list)  # the transform ledger after this ingest
    ingested_through: int = 0  # its newest batch (the high-water mark a later transform reads through)

    @property
    def pending_from(self) -> date | None:
        """The earliest day a pending window (this ingest's or an earlier one's) can change."""
        return min((window.first_day for window in self.pending), default=None)

    @property
    def pending_until(self) -> date | None:
        """The latest day a pending window (this ingest's or an earlier one's) can change."""
        return max((window.last_day for window in self.pending), default=None)

    @property
    def pending_earlier(self) -> list[PendingWindow]:
        """Windows that earlier ingests left pending (a transform killed or failed since)."""
        return [window for window in self.pending if window.ingest_id not in self.ingest_ids]


@dataclass(frozen=True)
class ReceivedAtRange:
    """The plausible received_at: from January 1st of ``min_year`` (UTC) to ``max_future_days``
    after the landing's own clock when a batch lands."""

    min_year: int = DEFAULT_RECEIVED_AT_MIN_YEAR
    max_future_days: float = DEFAULT_RECEIVED_AT_MAX_FUTURE_DAYS

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        return datetime(self.min_year, 1, 1, tzinfo=UTC), now + timedelta(days=self.max_future_days)


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
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    received_at_range: ReceivedAtRange | None = None,
) -> IngestReport:
    """Ingest every landing file the ledger has not accounted for, then record the folders that
    have settled. ``settle_seconds`` <= 0 turns settling off: every run lists every folder.
    Deliveries whose received_at lies outside ``received_at_range`` (default: ReceivedAtRange())
    are quarantined as implausible_received_at."""
    received_at_range = received_at_range or ReceivedAtRange()
    settled = settled_folders(connection) if settle_seconds > 0 else None
    scan = scan_landing(landing_dir, temporary_grace_seconds=temporary_grace_seconds, settled=settled)
    report = IngestReport(
        in_flight=scan.in_flight, unreadable=list(scan.unreadable), folders_skipped=scan.settled_skipped
    )
    confirmed: list[dict] = []
    pending = _pending_files(connection, scan.files, report.unreadable, confirmed)
    database = _database_path(connection)
    try:
        for batch in _batches(pending, batch_bytes):
            for ingest_id, totals, reasons in _ingest_batch_isolating_failures(
                connection, batch, database, received_at_range
            ):
                report.batches += 1
                report.ingest_ids.append(ingest_id)
                report.totals.add(totals)
                for code, count in reasons.items():
                    report.quarantine_reasons[code] = report.quarantine_reasons.get(code, 0) + count
        record_confirmed_stamps(connection, confirmed)
        if settle_seconds > 0:
            report.folders_settled = settle_folders(connection, scan, settle_seconds)
    except _RunFault as fault:
        raise IngestHalted(_halted_message(fault.cause, report)) from None
    except duckdb.Error as error:  # a write outside the batches (stamps, settled folders) or a quarantine's
        if (cause := run_fault(error, database)) is not None:
            raise IngestHalted(_halted_message(cause, report)) from None
        raise
    except OSError as error:  # Python's own reads (the streaming reader): the disk's fault, not the file's
        where = f" {'writing' if error.errno == errno.ENOSPC else 'reading'} {error.filename}" if error.filename else ""
        raise IngestHalted(_halted_message(f"{(error.strerror or str(error)).lower()}{where}", report)) from None
    report.pending = pending_windows(connection)
    report.ingested_through = ledger_high_water(connection)
    return report


def settled_folders(connection: duckdb.DuckDBPyConnection) -> dict[str, FolderStamp]:
    """The stamp each settled folder had when it last settled (bronze.landing_folders)."""
    return {
        folder: FolderStamp(*stamp)
        for folder, *stamp in connection.execute(sql_file("ingestion", "settled_folders")).fetchall()
    }


def settle_folders(connection: duckdb.DuckDBPyConnection, scan: LandingScan, settle_seconds: float) -> int:
    """Record in bronze.landing_folders the leaf folders of ``scan`` that have settled; returns
    how many. A folder settles when nothing in it was in flight or unreadable, every file in it
    is in the ledger at the size and modification time the scan saw, and, read again now, its
    stamp is the one read before the scan listed it, older than ``settle_seconds``, and its
    entries are the ones listed. A later change of its entries moves its stamp, so the folder is
    listed again; a file changed in place (which CONTRACT section 2 forbids writers) is then
    found by ``dora-assets audit``, which always walks everything."""
    candidates = [leaf for leaf in scan.leaf_folders if leaf.complete and leaf.storable]
    if not candidates:
        return 0
    ledger = _ledger_latest(connection, [found.landing_file for leaf in candidates for found in leaf.files])
    settled = []
    for leaf in candidates:
        if not all(_unchanged(found, ledger.get(found.landing_file)) for found in leaf.files):
            continue
        checked_at = time.time()
        try:
            stamp = FolderStamp.of(os.stat(leaf.location, follow_symlinks=False))
            names = frozenset(os.listdir(leaf.location))
        except OSError:
            continue
        quiet_since_ns = int((checked_at - settle_seconds) * 1_000_000_000)
        if stamp == leaf.stamp and names == leaf.names and max(stamp.modified_ns, stamp.changed_ns) < quiet_since_ns:
            settled.append({"folder": leaf.relative, **stamp._asdict(), "files": len(leaf.names)})
    if settled:
        connection.register("settled_folders_frame", pd.DataFrame(settled))
        try:
            run_sql(connection, "ingestion", "land_settled_folders", {"settled_at": datetime.now(UTC)})
        finally:
            connection.unregister("settled_folders_frame")
    return len(settled)


def event_day_span(
    connection: duckdb.DuckDBPyConnection, index: str = "bronze.raw_events_index"
) -> tuple[date | None, date | None]:
    """The first and last UTC days whose silver rows the deliveries indexed in ``index`` (all of
    bronze by default, or one batch's ``batch_index``) can change; (None, None) when it is empty."""
    [(first, last)] = run_sql(connection, "ingestion", "event_day_span", {"table": index}).fetchall()
    return first, last


def pending_landing_files(
    connection: duckdb.DuckDBPyConnection, landing_dir: Path, *, use_settled: bool = True
) -> tuple[list[tuple[str, datetime]], list[str]]:
    """Landing files the ledger has not accounted for (new, or grown or shrunk since), with their
    modification times, and the entries the walk could not read (whose files cannot be known).
    Cheap: settled folders are not listed (unless ``use_settled`` is off, as when settling is),
    and sizes are compared, never hashes (a file merely touched is not new)."""
    scan = scan_landing(landing_dir, settled=settled_folders(connection) if use_settled else None)
    ledger = _ledger_latest(connection, [found.landing_file for found in scan.files])
    pending = [
        (found.landing_file, modified_timestamp(found.modified_ns))
        for found in scan.files
        if found.landing_file not in ledger or ledger[found.landing_file][0] != found.size_bytes
    ]
    return pending, scan.unreadable


def _ledger_latest(connection: duckdb.DuckDBPyConnection, landing_files: list[str]) -> dict[str, tuple]:
    """Per landing file the ledger knows: (size, modification time in µs, content hashes, the
    latest row's (inode, ctime) or None before they were recorded, the confirmed stamps as a set
    of (size, modification time in µs, inode, ctime), the latest row's content hash)."""
    rows = run_sql(connection, "ingestion", "ledger_latest", {"landing_files": landing_files}).fetchall()
    return {
        name: (
            size,
            modified,
            hashes,
            None if inode is None else (inode, changed),
            {tuple(item) for item in stamps},
            latest_sha256,
        )
        for name, size, modified, hashes, inode, changed, stamps, latest_sha256 in rows
    }


def _unchanged(landing_file: LandingFile, known: tuple | None) -> bool:
    """Whether the file is as the ledger last saw it (then its content is taken as accounted for,
    without re-hashing history): its latest ledger row's size and modification time, and that
    row's inode and ctime (a file renamed over with the same size and modification time has
    another), or a stamp at which its content was hashed again and confirmed. Rows written
    before inodes were recorded compare size and modification time only."""
    if known is None:
        return False
    modified_us = landing_file.modified_ns // 1000
    stamp = (landing_file.inode, landing_file.changed_ns)
    if (landing_file.size_bytes, modified_us, *stamp) in known[4]:
        return True
    if known[0] != landing_file.size_bytes or known[1] != modified_us:
        return False
    return known[3] is None or known[3] == stamp


def _pending_files(
    connection: duckdb.DuckDBPyConnection,
    files: list[LandingFile],
    unreadable: list[str],
    confirmed: list[dict] | None = None,
) -> Iterator[_PendingFile]:
    """Files whose current content the ledger has not seen.

    A file is unchanged when its size, modification time, inode and ctime match its latest ledger
    row or a confirmed stamp (no re-hashing of history, see ``_unchanged``). A known file hashed
    again and found to hold content the ledger accounted for adds its stamp to ``confirmed``
    (recorded by the caller, so it is not hashed again). An .ndjson/.jsonl file that grew after
    ingestion, its first bytes still those of the ledger's latest version (lines appended), is
    read again whole as a new version (``appended_after_ingestion``): its new records land, the
    ones already landed are duplicates. A known file whose content changed otherwise (rewritten or
    replaced) is quarantined whole as a new version, never half-read.

    The files are hashed, in order, by a background thread while the caller ingests the batches
    already yielded (hashlib and file reads release the GIL, and DuckDB works in its own threads).
    """
    confirmed = [] if confirmed is None else confirmed
    ledger = _ledger_latest(connection, [landing_file.landing_file for landing_file in files])
    candidates = []
    for landing_file in files:
        known = ledger.get(landing_file.landing_file)
        if _unchanged(landing_file, known):
            continue
        candidates.append((landing_file, known))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dora-landing-hash") as hashing:
        try:
            hashes = hashing.map(_hash, [landing_file for landing_file, _ in candidates])
            for (landing_file, known), (sha256, error) in zip(candidates, hashes, strict=True):
                if error is not None:  # vanished or unreadable since the scan: left for the next run, reported
                    unreadable.append(f"{landing_file.landing_file}: {error.strerror or error}")
                    continue
                if known and sha256 in known[2]:  # touched, chmod-ed, linked or renamed over with the same bytes
                    if sha256:
                        confirmed.append(_stamp_row(landing_file, sha256))
                    continue
                try:
                    appended = _appended(landing_file, known)
                except OSError as error:  # vanished or unreadable since it was hashed: left for the next run
                    unreadable.append(f"{landing_file.landing_file}: {error.strerror or error}")
                    continue
                if appended:
                    yield _PendingFile(landing_file, sha256, APPENDED_STATUS, None, None)
                    continue
                yield from _pending_file(landing_file, known, sha256)
        finally:  # the caller stopped early (an error): do not hash the rest
            hashing.shutdown(wait=True, cancel_futures=True)


def _appended(landing_file: LandingFile, known: tuple | None) -> bool:
    """Whether a known .ndjson/.jsonl file only grew since the ledger's latest version: it is
    longer, and its first bytes (as many as that version had) hash to that version's hash."""
    if known is None or landing_file.kind != "ndjson" or not known[5] or landing_file.size_bytes <= known[0]:
        return False
    return file_sha256(landing_file.path, limit=known[0]) == known[5]


def _stamp_row(landing_file: LandingFile, sha256: str) -> dict:
    return {
        "landing_file": landing_file.landing_file,
        "content_sha256": sha256,
        "size_bytes": landing_file.size_bytes,
        "modified_at": modified_timestamp(landing_file.modified_ns),
        "inode": landing_file.inode,
        "changed_ns": landing_file.changed_ns,
    }


def record_confirmed_stamps(connection: duckdb.DuckDBPyConnection, confirmed: list[dict]) -> None:
    """Append the stamps at which files were hashed again and found unchanged."""
    if not confirmed:
        return
    connection.register("confirmed_stamps_frame", pd.DataFrame(confirmed))
    try:
        run_sql(connection, "ingestion", "land_landing_file_stamps", {"checked_at": datetime.now(UTC)})
    finally:
        connection.unregister("confirmed_stamps_frame")


def _hash(landing_file: LandingFile) -> tuple[str, OSError | None]:
    """The file's SHA-256 ("" for files never opened), or why it could not be read."""
    if landing_file.kind == "rejected" and not _readable(landing_file):
        return "", None
    try:  # the bytes the scan saw: a version is what the ledger's size says, whatever is appended later
        return file_sha256(landing_file.path, limit=landing_file.size_bytes), None
    except OSError as error:
        return "", error


def _pending_file(landing_file: LandingFile, known: tuple | None, sha256: str) -> Iterator[_PendingFile]:
    """The file to ingest, unless the ledger already holds this content."""
    if known and sha256 in known[2]:
        return
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


def _batches(pending: Iterable[_PendingFile], batch_bytes: int) -> Iterator[list[_PendingFile]]:
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


def _ingest_batch_isolating_failures(
    connection: duckdb.DuckDBPyConnection,
    batch: list[_PendingFile],
    database: str,
    received_at_range: ReceivedAtRange | None = None,
) -> Iterator[tuple[int, IngestTotals, dict[str, int]]]:
    """Ingest a batch; if DuckDB cannot process it, isolate the file that breaks it.

    An error that is the run's (out of space, out of memory, an I/O error on a file that reads
    fine, a lost lock: see ``run_fault``) propagates: the batch committed nothing, and no file is
    blamed for it. Any other failure of a batch is retried file by file; a single file that still
    fails is quarantined whole as ``unreadable_file`` with DuckDB's message, so one bad file never
    stops the run and never loses the other files' records.
    """
    try:
        yield _ingest_batch(connection, batch, received_at_range)
        return
    except duckdb.Error as error:
        cause = run_fault(error, database)
        if cause is None and len(batch) == 1 and isinstance(error, duckdb.IOException) and _reads_whole(batch[0].file):
            # DuckDB's I/O failed on a file that reads fine: not the file's fault
            cause = f"I/O error while ingesting {batch[0].file.landing_file}, which reads fine: {_one_line(error)}"
        if cause is not None:
            raise _RunFault(cause) from None
        if len(batch) == 1:
            item = batch[0]
            reason = f"DuckDB could not read the file: {_one_line(error)}"
            yield _ingest_batch(
                connection, [replace(item, problem_code="unreadable_file", problem=reason)], received_at_range
            )
            return
    for item in batch:
        yield from _ingest_batch_isolating_failures(connection, [item], database, received_at_range)


def run_fault(error: duckdb.Error, database: str = "") -> str | None:
    """The run's fault behind a DuckDB error, in one line (``no space left on device writing
    <path>``), or None when the error may be a landing file's. Out of space, out of memory, a lost
    lock, an invalidated database and I/O errors are the run's; so is any failure to commit (the
    transaction's writes to the warehouse failed, whatever the files held)."""
    text = " ".join(str(error).split())
    lower = text.lower()
    quoted = _QUOTED_PATH.search(text)
    where = quoted.group(1) if quoted else database
    if isinstance(error, duckdb.OutOfMemoryException):
        return f"out of memory: {text}"
    for marker, cause in RUN_FAULT_MARKERS:
        if marker in lower:
            if cause == "no space left on device":
                return f"no space left on device writing {where}" if where else cause
            return f"{cause}: {text}"
    if isinstance(error, duckdb.FatalException | duckdb.InterruptException):
        return f"the warehouse cannot be written: {text}"
    if isinstance(error, duckdb.TransactionException) and "commit" in lower:
        return f"could not commit to the warehouse {database}: {text}"
    return None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:500]


def _halted_message(cause: str, report: IngestReport) -> str:
    return (
        f"ingestion stopped: {cause}; nothing was quarantined or recorded for the files not yet landed "
        f"({report.totals.files} files landed before it, in {report.batches} batches): "
        "fix the cause (free space, memory) and run again to land the rest"
    )


def _reads_whole(landing_file: LandingFile) -> bool:
    """Whether the file reads to its end without an error now (then a DuckDB I/O error on it was
    not the file's)."""
    try:
        with landing_file.path.open("rb") as handle:
            while handle.read(1024 * 1024):
                pass
    except OSError:
        return False
    return True


def _database_path(connection: duckdb.DuckDBPyConnection) -> str:
    try:
        rows = connection.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()
    except duckdb.Error:
        return ""
    return rows[0][0] or "" if rows else ""


def _ingest_batch(
    connection: duckdb.DuckDBPyConnection, batch: list[_PendingFile], received_at_range: ReceivedAtRange | None = None
) -> tuple[int, IngestTotals, dict[str, int]]:
    """Stage the batch's records in connection-local temp tables, then land them in one
    transaction: rows, quarantine, duplicates and ledger commit together or not at all."""
    _stage_batch(connection, batch)
    ingested_at = datetime.now(UTC)
    earliest, latest = (received_at_range or ReceivedAtRange()).bounds(ingested_at)
    connection.execute("BEGIN TRANSACTION")
    try:
        [(ingest_id,)] = connection.execute("SELECT nextval('bronze.ingest_id_seq')").fetchall()
        run_sql(
            connection,
            "ingestion",
            "classify_records",
            {
                "known_sources": list(KNOWN_SOURCES),
                "known_event_types": known_event_type_keys(),
                "max_delivery_id_length": MAX_DELIVERY_ID_LENGTH,
                "timestamp_pattern": TIMESTAMP_PATTERN,
                "raw_limit": RAW_LIMIT_CHARACTERS,
                "received_at_earliest": earliest,
                "received_at_latest": latest,
            },
        )
        landing = {"ingest_id": ingest_id, "ingested_at": ingested_at}
        connection.execute(
            "CREATE OR REPLACE TEMP VIEW batch_landed AS SELECT * FROM classified WHERE outcome = 'landed'"
        )
        for statement in (
            "land_raw_events",
            "land_raw_events_index",
            "land_quarantine",
            "land_duplicates",
            "land_ledger",
            "land_pending_transform",
        ):
            run_sql(connection, "ingestion", statement, landing)
        [totals_row] = connection.execute(sql_file("ingestion", "batch_totals")).fetchall()
        affected_from, _ = event_day_span(connection, "batch_index")
        reasons = dict(connection.execute(sql_file("ingestion", "batch_quarantine_reasons")).fetchall())
        connection.execute("COMMIT")
    except BaseException:
        _rollback(connection)
        raise
    return ingest_id, IngestTotals(*totals_row, affected_from=affected_from), reasons


def _storable(text: str) -> str:
    """``text`` with undecodable bytes of a file name (surrogate escapes) shown as backslash escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _rollback(connection: duckdb.DuckDBPyConnection) -> None:
    """Roll back the batch's transaction, never hiding the error that ended it: a COMMIT that
    failed (no space for the WAL, say) has already ended the transaction, and DuckDB then refuses
    the ROLLBACK ("no transaction is active"); the caller re-raises the real error."""
    with contextlib.suppress(duckdb.Error):
        connection.execute("ROLLBACK")


def _stage_batch(connection: duckdb.DuckDBPyConnection, batch: list[_PendingFile]) -> None:
    run_sql(connection, "ingestion", "stage_tables")
    batch_files = pd.DataFrame(
        [
            {
                "file_order": order,
                "landing_file": item.file.landing_file,
                # A path DuckDB reads is valid UTF-8 (the scan rejects other names as unsafe_name); a
                # rejected file's path is never read, only kept, escaped like its landing_file.
                "path": item.file.location if item.problem_code is None else _storable(item.file.location),
                "kind": item.file.kind if item.problem_code is None else "rejected",
                "size_bytes": item.file.size_bytes,
                "modified_at": modified_timestamp(item.file.modified_ns),
                "content_sha256": item.sha256,
                "status": item.status,
                "problem_code": item.problem_code,
                "problem": item.problem,
                "raw_preview": raw_preview(item.file.path) if item.problem_code else None,
                "inode": item.file.inode,
                "changed_ns": item.file.changed_ns,
            }
            for order, item in enumerate(batch)
        ]
    )
    connection.register("batch_files_frame", batch_files)
    connection.execute("INSERT INTO batch_files SELECT * FROM batch_files_frame")
    connection.unregister("batch_files_frame")
    by_kind: dict[str, list[str]] = {"ndjson": [], "json": []}
    for item in batch:
        if item.problem_code is None:
            by_kind[item.file.kind].append(str(item.file.path))
    if by_kind["ndjson"]:
        _stage_ndjson(connection, by_kind["ndjson"])
    if by_kind["json"]:
        run_sql(connection, "ingestion", "stage_json_records", {"paths": by_kind["json"]})
    run_sql(connection, "ingestion", "stage_file_problems")


def _stage_ndjson(connection: duckdb.DuckDBPyConnection, paths: list[str]) -> None:
    """Stage NDJSON lines with DuckDB's line reader, all files in one scan.

    DuckDB's strict reader refuses a whole file in a few cases (for instance mixed ``\\n`` and
    ``\\r\\n`` line endings). Such a file is then read line by line in Python instead, so that
    its good lines still land with their physical line numbers.
    """
    try:
        _stage_ndjson_with_duckdb(connection, paths)
        return
    except duckdb.InvalidInputException:
        if len(paths) == 1:
            _stage_ndjson_in_python(connection, paths[0])
            return
    for path in paths:
        _stage_ndjson(connection, [path])


def _stage_ndjson_with_duckdb(connection: duckdb.DuckDBPyConnection, paths: list[str]) -> None:
    connection.execute("DROP TABLE IF EXISTS ingest_reject_errors")
    connection.execute("DROP TABLE IF EXISTS ingest_reject_scans")
    run_sql(
        connection,
        "ingestion",
        "read_ndjson_lines",
        {"paths": paths, "delimiter": LINE_DELIMITER, "max_line_bytes": MAX_RECORD_BYTES},
    )
    run_sql(connection, "ingestion", "stage_ndjson_records", {"paths": paths})


def _stage_ndjson_in_python(connection: duckdb.DuckDBPyConnection, path: str, chunk_records: int = 10_000) -> None:
    [(landing_file,)] = connection.execute(
        "SELECT landing_file FROM batch_files WHERE path = $path", {"path": path}
    ).fetchall()
    chunk: list[dict] = []
    for record in read_ndjson_records(Path(path)):
        chunk.append({"landing_file": landing_file, **record.as_row(RAW_LIMIT_CHARACTERS)})
        if len(chunk) >= chunk_records:
            _insert_staged(connection, chunk)
            chunk = []
    if chunk:
        _insert_staged(connection, chunk)


def _insert_staged(connection: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows, columns=["landing_file", "line_number", "record_text", "reject_code", "reject_reason"])
    connection.register("staged_frame", frame)
    connection.execute("INSERT INTO staged_records SELECT * FROM staged_frame")
    connection.unregister("staged_frame")
