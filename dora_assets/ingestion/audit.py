"""The bronze audit (`dora-assets audit`): proves, per landing file and in total, that every
record seen was landed, quarantined or skipped as a duplicate, and nothing else.

Three independent counts must agree for each file: the ledger (written in the same transaction
as the rows), the bronze tables recounted now, and, for files still on disk as they were
ingested, the records in the file itself, recounted by a streaming reader.
"""

from __future__ import annotations

import os
import stat
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import duckdb

from dora_assets.ingestion.ingest import APPENDED_STATUS
from dora_assets.ingestion.landing import (
    RECORD_EXTENSIONS,
    LandingFile,
    file_sha256,
    modified_timestamp,
    read_ndjson_records,
    scan_landing,
)
from dora_assets.sql import sql_file


@dataclass
class FileAudit:
    """One landing file's accounting. ``problems`` is empty when everything agrees."""

    landing_file: str
    status: str | None
    versions: int
    seen: int
    landed: int
    quarantined: int
    duplicates: int
    records_on_disk: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.problems


@dataclass
class AuditReport:
    files: list[FileAudit]
    pending: list[str]
    in_flight: list[str]
    missing_from_landing: list[str]
    unreadable: list[str] = field(default_factory=list)  # landing entries the walk could not read
    # Set when ``files`` holds only the files that do not balance (a ledger-only audit): the
    # number of files audited and the totals over all of them.
    audited_files: int | None = None
    audited_totals: dict[str, int] | None = None

    @property
    def file_count(self) -> int:
        return len(self.files) if self.audited_files is None else self.audited_files

    def total(self, name: str) -> int:
        if self.audited_totals is not None:
            return self.audited_totals[name]
        return sum(getattr(audit, name) for audit in self.files)

    @property
    def balanced(self) -> bool:
        return all(audit.balanced for audit in self.files)

    @property
    def unbalanced(self) -> list[FileAudit]:
        return [audit for audit in self.files if not audit.balanced]

    def as_dict(self) -> dict:
        return {
            "balanced": self.balanced,
            "totals": {name: self.total(name) for name in ("seen", "landed", "quarantined", "duplicates")},
            "files": [{**asdict(audit), "balanced": audit.balanced} for audit in self.files],
            "pending": self.pending,
            "in_flight": self.in_flight,
            "missing_from_landing": self.missing_from_landing,
            "unreadable": self.unreadable,
        }


def audit_bronze(
    connection: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    *,
    recount_files: bool = True,
    scan_landing_folder: bool = True,
) -> AuditReport:
    """Recount bronze against its ledger and, with ``recount_files``, against the landing files.
    Without ``scan_landing_folder`` (and without ``recount_files``) the landing folder is not
    walked and the report lists only the files that do not balance, with the file count and
    totals over all of them (``pending``, ``in_flight`` and ``missing_from_landing`` stay empty):
    what the accounting check needs, at any number of landing files."""
    if not (scan_landing_folder or recount_files):
        report = _ledger_audit(connection)
        _check_unreadable_files(connection, landing_dir, report)
        return report
    connection.execute(sql_file("ingestion", "audit_files"))
    cursor = connection.execute("SELECT * FROM bronze_audit_files ORDER BY landing_file")
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    scan = scan_landing(landing_dir)
    on_disk = {found.landing_file: found for found in scan.files}
    files = []
    for row in rows:
        audit = _table_audit(row)
        found = on_disk.get(audit.landing_file)
        if found is not None and row["versions"] and _changed_since_ledger(found, row):
            # Ingestion reads such a file again when it next lists its folder (whole, as a new
            # version, when lines were appended to an .ndjson/.jsonl file; otherwise it quarantines
            # it whole); a settled folder is not listed again (ingestion/landing.py), so the audit is
            # what finds it there.
            audit.problems.append(
                f"the file changed after it was ingested (now {found.size_bytes} bytes, the ledger has"
                f" {row['size_bytes']}): landing files must not be modified, and its new content is not in bronze"
            )
        if recount_files and found is not None and _unchanged_since_ingestion(found, row):
            audit.records_on_disk = count_records(found)
            if audit.records_on_disk != row["latest_version_seen"]:
                audit.problems.append(
                    f"the file holds {audit.records_on_disk} records but the ledger saw {row['latest_version_seen']}"
                )
        files.append(audit)
    known = {row["landing_file"] for row in rows}
    report = AuditReport(
        files=files,
        pending=sorted(name for name in on_disk if name not in known),
        in_flight=scan.in_flight,
        missing_from_landing=sorted(name for name in known if name not in on_disk),
        unreadable=scan.unreadable,
    )
    _check_unreadable_files(connection, landing_dir, report)
    return report


def _check_unreadable_files(connection: duckdb.DuckDBPyConnection, landing_dir: Path, report: AuditReport) -> None:
    """Flag each file whose latest ledger version was quarantined whole as ``unreadable_file``
    while the file, still in the landing folder at the size and modification time the ledger
    has, reads fine now: its records are in neither raw_events nor quarantine, only one
    whole-file quarantine row stands for them. Such files are few, so even the ledger-only audit
    of the accounting check looks at each of them on disk."""
    by_name = {audit.landing_file: audit for audit in report.files}
    for landing_file, size_bytes, modified_us, records_seen, reason in connection.execute(
        sql_file("ingestion", "audit_unreadable_files")
    ).fetchall():
        found = _ledger_file_on_disk(landing_dir, landing_file, size_bytes, modified_us)
        if found is None:
            continue
        try:
            records = _readable_records(found)
        except OSError:  # still unreadable: the quarantine stands
            continue
        problem = (
            f"the ledger says the file was quarantined whole as unreadable ({reason[:200]}) but it reads fine now"
            f" and holds {records} readable records (the ledger saw {records_seen}): they are not in bronze;"
            " copy the file to a new name in the landing folder to land them, then move the original away"
        )
        audit = by_name.get(landing_file)
        if audit is None:
            audit = _table_audit(_audit_row(connection, landing_file))
            report.files.append(audit)
            report.files.sort(key=lambda item: item.landing_file)
            by_name[landing_file] = audit
        audit.records_on_disk = records
        audit.problems.append(problem)


def _ledger_file_on_disk(landing_dir: Path, landing_file: str, size_bytes: int, modified_us: int) -> LandingFile | None:
    """The landing file named by a ledger row, when it is a regular file inside the landing
    folder with the ledger's size and modification time (names from tables are never trusted as
    paths: no absolute names, no '..', no symlinks)."""
    relative = PurePosixPath(landing_file)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return None
    kind = RECORD_EXTENSIONS.get(relative.suffix.lower())
    if kind is None:
        return None
    location = landing_dir.joinpath(*relative.parts)
    try:
        info = os.lstat(location)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size != size_bytes or info.st_mtime_ns // 1000 != modified_us:
        return None
    if not location.resolve().is_relative_to(landing_dir.resolve()):
        return None
    return LandingFile(landing_file, str(location), kind, info.st_size, info.st_mtime_ns)


def _audit_row(connection: duckdb.DuckDBPyConnection, landing_file: str) -> dict:
    cursor = connection.execute(
        "SELECT * FROM bronze_audit_files WHERE landing_file = $landing_file", {"landing_file": landing_file}
    )
    names = [column[0] for column in cursor.description]
    [row] = cursor.fetchall()
    return dict(zip(names, row, strict=True))


def _readable_records(found: LandingFile) -> int:
    """The records in a file read to its end now (``OSError`` when it cannot be)."""
    if found.kind == "ndjson":
        return count_records(found)
    with found.path.open("rb") as handle:
        while handle.read(1024 * 1024):
            pass
    return 1


def _ledger_audit(connection: duckdb.DuckDBPyConnection) -> AuditReport:
    """The ledger-and-tables audit with the per-file comparison in SQL: only the files where
    _check_tables would find a problem come back as rows."""
    connection.execute(sql_file("ingestion", "audit_files"))
    [(files, *totals)] = connection.execute(
        "SELECT count(*), coalesce(sum(seen), 0), coalesce(sum(landed), 0), coalesce(sum(quarantined), 0), "
        "coalesce(sum(duplicates), 0) FROM bronze_audit_files"
    ).fetchall()
    cursor = connection.execute(
        "SELECT * FROM bronze_audit_files WHERE versions = 0 OR seen <> landed + quarantined + duplicates "
        "OR ledger_landed <> landed_all OR ledger_quarantined <> quarantined_all "
        "OR ledger_duplicates <> duplicates_all "
        "ORDER BY landing_file"
    )
    names = [column[0] for column in cursor.description]
    problems = [_table_audit(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]
    return AuditReport(
        files=problems,
        pending=[],
        in_flight=[],
        missing_from_landing=[],
        audited_files=files,
        audited_totals=dict(zip(("seen", "landed", "quarantined", "duplicates"), totals, strict=True)),
    )


def _table_audit(row: dict) -> FileAudit:
    """One file's accounting from the ledger and the bronze tables (no file recount)."""
    audit = FileAudit(
        landing_file=row["landing_file"],
        status=row["status"],
        versions=row["versions"],
        seen=row["seen"],
        landed=row["landed"],
        quarantined=row["quarantined"],
        duplicates=row["duplicates"],
    )
    _check_tables(audit, row)
    return audit


def count_records(found: LandingFile) -> int:
    """How many records ingestion must account for in a file: one per non-blank line of an
    NDJSON file (at least one: a file without any is one quarantined record), one otherwise."""
    if found.kind != "ndjson":
        return 1
    return max(1, sum(1 for _ in read_ndjson_records(found.path)))


def _check_tables(audit: FileAudit, row: dict) -> None:
    if row["versions"] == 0:
        audit.problems.append("bronze holds rows from this file but the ledger has no entry for it")
    if audit.seen != audit.landed + audit.quarantined + audit.duplicates:
        audit.problems.append(
            f"seen {audit.seen} != landed {audit.landed} + quarantined {audit.quarantined}"
            f" + duplicates {audit.duplicates}"
        )
    for name in ("landed", "quarantined", "duplicates"):  # over every version of the file
        if row[f"ledger_{name}"] != row[f"{name}_all"]:
            audit.problems.append(
                f"the ledger says {row[f'ledger_{name}']} {name} but bronze holds {row[f'{name}_all']}"
            )


def _changed_since_ledger(found: LandingFile, row: dict) -> bool:
    """Whether the file now holds content no ledger version accounted for, judged as ingestion
    does: the latest version's size, modification time, inode and ctime (the last two unknown on
    rows written before they were recorded), else its SHA-256 (a file merely touched, or renamed
    over with the same bytes, is unchanged). Files quarantined whole are never opened."""
    if found.kind == "rejected":
        return False
    same_stamp = row["inode"] is None or (row["inode"], row["changed_ns"]) == (found.inode, found.changed_ns)
    if (
        same_stamp
        and row["size_bytes"] == found.size_bytes
        and row["modified_at"] == modified_timestamp(found.modified_ns)
    ):
        return False
    try:
        return file_sha256(found.path) not in row["content_hashes"]
    except OSError:  # vanished or unreadable since the walk: the next audit or ingest sees it
        return False


def _unchanged_since_ingestion(found: LandingFile, row: dict) -> bool:
    if row["status"] not in {"ingested", APPENDED_STATUS} or found.kind == "rejected":
        return False
    modified_at: datetime = row["modified_at"]
    return row["size_bytes"] == found.size_bytes and modified_at == modified_timestamp(found.modified_ns)
