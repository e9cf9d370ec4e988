"""The landing folder as ingestion sees it: which files exist, what kind each is, and which
ones must be quarantined whole before any byte of them is parsed.

File names come from outside, so they are never trusted as paths: the walk stays inside the
landing folder, symlinks that lead out of it are refused, non-regular files are never opened,
and names DuckDB would expand as glob patterns are never handed to it.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

RECORD_EXTENSIONS = {".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial")
GLOB_PATTERN = re.compile(r"[*?\[\]{}]")
MAX_JSON_FILE_BYTES = 64 * 1024 * 1024
MAX_RECORD_BYTES = 64 * 1024 * 1024
RAW_PREVIEW_BYTES = 64 * 1024
# How long a leaf folder's stamp must not have moved before the folder settles. Far above any
# file system's timestamp granularity (2 s at worst), so a change that lands in the same tick as
# the stamp that was read cannot go unnoticed.
DEFAULT_SETTLE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class LandingFile:
    """One file found in the landing folder.

    ``landing_file`` is the POSIX path relative to the landing folder (what tables store);
    ``location`` the file's full path (``path`` as a ``Path``: built when asked for, since a scan
    lists every file ever dropped and opens only the new ones); ``kind`` is ``json`` (one
    envelope), ``ndjson`` (one envelope per line) or ``rejected`` (quarantined whole with
    ``problem_code``/``problem``, never parsed). ``modified_ns`` and ``changed_ns`` are the
    entry's mtime and ctime as the scan saw them, ``inode`` its inode number.
    """

    landing_file: str
    location: str
    kind: str
    size_bytes: int
    modified_ns: int
    problem_code: str | None = None
    problem: str | None = None
    changed_ns: int = 0
    inode: int = 0

    @property
    def path(self) -> Path:
        return Path(self.location)


class FolderStamp(NamedTuple):
    """What changes whenever an entry is added to, removed from or renamed in a folder: its
    modification and status-change times and its inode (a folder deleted and made again is a
    new folder). A file changed in place leaves its folder's stamp as it was."""

    modified_ns: int
    changed_ns: int
    inode: int

    @classmethod
    def of(cls, info: os.stat_result) -> FolderStamp:
        return cls(info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


@dataclass(frozen=True)
class LeafFolder:
    """A folder the scan listed that holds no sub-folder: ``relative`` is its POSIX path in the
    landing folder ('' for the landing folder itself), ``stamp`` was taken before the listing,
    ``names`` are the entries listed, ``files`` the ones classified, and ``complete`` is false
    when an entry was in flight or could not be read."""

    relative: str
    location: str
    stamp: FolderStamp
    names: frozenset[str]
    files: list[LandingFile]
    complete: bool

    @property
    def storable(self) -> bool:
        """Whether the folder's name is valid UTF-8, so that a table can hold it exactly."""
        return _display_name(self.relative) == self.relative


@dataclass
class LandingScan:
    """Every entry of the landing folder outside settled folders: ``files`` to account for,
    ``in_flight`` temporary names still being written, ``unreadable`` entries the walk could not
    read (left for a later scan, reported, never taken as empty), the ``leaf_folders`` listed and
    how many settled folders were not listed (``settled_skipped``)."""

    files: list[LandingFile]
    in_flight: list[str]
    unreadable: list[str] = field(default_factory=list)
    leaf_folders: list[LeafFolder] = field(default_factory=list)
    settled_skipped: int = 0


def is_temporary_name(name: str) -> bool:
    """Writers write to a temporary name (dot-prefixed or ``*.tmp``) and then rename."""
    return name.startswith(".") or name.lower().endswith(TEMPORARY_SUFFIXES)


def scan_landing(
    landing_dir: Path,
    *,
    temporary_grace_seconds: float = 3600.0,
    now: float | None = None,
    settled: Mapping[str, FolderStamp] | None = None,
) -> LandingScan:
    """Walk the landing folder (any depth) in a stable order and classify every entry.

    The order is by name, a folder's files before its subfolders', depth first. Temporary names
    younger than ``temporary_grace_seconds`` are in flight and left for a later run; older ones
    were abandoned by their writer and are quarantined, never ignored. Symlinks are never
    followed as folders: a symlink to a folder is quarantined like any other non-file.

    ``settled`` maps folders whose files the ledger has all accounted for (``bronze.landing_folders``)
    to their stamps then: such a folder whose stamp is unchanged has no entry the ledger does not
    know, so it is not listed at all. A landing folder keeps every file ever dropped; this keeps
    a walk proportional to the folders written since, with one ``scandir`` per folder listed and
    one ``lstat`` per entry, names joined as strings.
    """
    now = time.time() if now is None else now
    root = landing_dir.resolve()
    scan = LandingScan([], [])
    if not root.is_dir():
        return scan
    settled = settled or {}
    pending_folders = [(str(root), "", FolderStamp.of(root.stat()))]
    while pending_folders:
        folder, prefix, stamp = pending_folders.pop()
        relative_folder = prefix[:-1]
        if settled.get(relative_folder) == stamp:
            scan.settled_skipped += 1
            continue
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=_entry_name)
        except OSError as error:
            scan.unreadable.append(f"{_display_name(prefix) or '.'}: {error.strerror or error}")
            continue
        subfolders = []
        files_before, in_flight_before, unreadable_before = len(scan.files), len(scan.in_flight), len(scan.unreadable)
        for entry in entries:
            relative = prefix + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append((entry.path, relative + "/", FolderStamp.of(entry.stat(follow_symlinks=False))))
                    continue
                info = entry.stat(follow_symlinks=False)
            except OSError as error:  # vanished since the listing: a later scan decides
                scan.unreadable.append(f"{_display_name(relative)}: {error.strerror or error}")
                continue
            found = _classify(root, entry.path, entry.name, relative, info, now, temporary_grace_seconds)
            if found is None:
                scan.in_flight.append(_display_name(relative))
            else:
                scan.files.append(found)
        if not subfolders:
            scan.leaf_folders.append(
                LeafFolder(
                    relative=relative_folder,
                    location=folder,
                    stamp=stamp,
                    names=frozenset(entry.name for entry in entries),
                    files=scan.files[files_before:],
                    complete=(len(scan.in_flight), len(scan.unreadable)) == (in_flight_before, unreadable_before),
                )
            )
        pending_folders.extend(reversed(subfolders))
    return scan


def _entry_name(entry: os.DirEntry) -> str:
    return entry.name


def _classify(
    root: Path,
    location: str,
    name: str,
    posix_relative: str,
    info: os.stat_result,
    now: float,
    grace: float,
) -> LandingFile | None:
    relative = posix_relative if posix_relative.isascii() else _display_name(posix_relative)

    def rejected(code: str, problem: str) -> LandingFile:
        return LandingFile(
            relative, location, "rejected", info.st_size, info.st_mtime_ns, code, problem, info.st_ctime_ns, info.st_ino
        )

    if stat.S_ISLNK(info.st_mode):
        target = Path(location).resolve()
        if not target.is_relative_to(root):
            return rejected("unsafe_path", "symlink points outside the landing folder; not followed")
        try:
            info = target.stat()
        except OSError:
            return rejected("not_a_file", "symlink whose target does not exist; not followed")
        if stat.S_ISDIR(info.st_mode):
            return rejected("not_a_file", "symlink to a folder; not followed (drop files, not links to folders)")
    if not stat.S_ISREG(info.st_mode):
        return rejected("not_a_file", "not a regular file (device, pipe or socket); never opened")
    if relative != posix_relative:
        return rejected("unsafe_name", "file name is not valid UTF-8")
    if is_temporary_name(name):
        if now - info.st_mtime < grace:
            return None
        return rejected(
            "abandoned_temporary_file",
            f"temporary file untouched for more than {grace:.0f} s: its writer never renamed it",
        )
    _, dot, extension = name.rpartition(".")
    kind = RECORD_EXTENSIONS.get("." + extension.lower()) if dot else None
    if kind is None:
        return rejected("unsupported_extension", "not a .json, .ndjson or .jsonl file")
    if GLOB_PATTERN.search(relative):
        return rejected("unsafe_name", "file name contains glob characters (* ? [ ] { }); not read")
    if info.st_size == 0:
        return rejected("empty_file", "file is empty")
    if kind == "json" and info.st_size > MAX_JSON_FILE_BYTES:
        return rejected(
            "file_too_large",
            f"a .json file holds one envelope; {info.st_size} bytes exceeds {MAX_JSON_FILE_BYTES}"
            " (use .ndjson for batches)",
        )
    return LandingFile(
        relative, location, kind, info.st_size, info.st_mtime_ns, changed_ns=info.st_ctime_ns, inode=info.st_ino
    )


def _display_name(relative: str) -> str:
    """A storable name: undecodable bytes (surrogate escapes) shown as backslash escapes."""
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def modified_timestamp(modified_ns: int) -> datetime:
    """A file's modification time at microsecond precision (what TIMESTAMPTZ stores), exactly."""
    seconds, nanoseconds = divmod(modified_ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanoseconds // 1000)


def file_sha256(path: Path, chunk_bytes: int = 1024 * 1024, *, limit: int | None = None) -> str:
    """Content hash, streamed in chunks so a huge file never sits in memory; of the first
    ``limit`` bytes only when given (the size a scan saw: bytes appended since are not hashed)."""
    digest = hashlib.sha256()
    remaining = limit
    with path.open("rb") as handle:
        while remaining is None or remaining > 0:
            chunk = handle.read(chunk_bytes if remaining is None else min(chunk_bytes, remaining))
            if not chunk:
                break
            digest.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return digest.hexdigest()


def raw_preview(path: Path, limit: int = RAW_PREVIEW_BYTES) -> str | None:
    """As much of a rejected file as is safe to keep as text: its first bytes, undecodable
    bytes replaced. Non-regular files and symlinks are never opened."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode):
            return None
        with path.open("rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


@dataclass(frozen=True)
class NdjsonRecord:
    """One non-blank physical line of an NDJSON file, or the reason it cannot be a record."""

    line_number: int
    text: str | None
    reject_code: str | None = None
    reject_reason: str | None = None

    def as_row(self, raw_limit: int) -> dict:
        return {
            "line_number": self.line_number,
            "record_text": self.text if self.reject_code is None else (self.text or "")[:raw_limit],
            "reject_code": self.reject_code,
            "reject_reason": self.reject_reason,
        }


# Where a line of an NDJSON file ends: LF, CRLF or a lone CR, as DuckDB's line reader
# (read_ndjson_lines.sql) splits them. The one rule for ingestion and the audit.
LINE_END = re.compile(rb"\r\n|\r|\n")
# A UTF-8 byte order mark opening a file is dropped (.json and .ndjson alike, as DuckDB's reader does).
UTF8_BOM = b"\xef\xbb\xbf"


def read_ndjson_records(
    path: Path, max_record_bytes: int = MAX_RECORD_BYTES, chunk_bytes: int = 1024 * 1024
) -> Iterator[NdjsonRecord]:
    """Stream an NDJSON file's records with their physical line numbers (1-based).

    A line ends with ``\\n``, ``\\r\\n`` or a lone ``\\r`` (``LINE_END``: the rule DuckDB's line
    reader applies, so ingestion, its fallback reader and the audit count the same lines, whatever
    mix of endings a file has). Blank lines (only spaces) are not records. A line longer than
    ``max_record_bytes`` is reported, never held in memory whole; a line that is not UTF-8 is
    reported with its text (undecodable bytes replaced).
    """
    line_number = 0
    for line, too_long in _physical_lines(path, max_record_bytes, chunk_bytes):
        line_number += 1
        if line_number == 1:  # a byte order mark opening the file is no part of its first record
            line = line.removeprefix(UTF8_BOM)
        if too_long:
            head = line[:RAW_PREVIEW_BYTES].decode("utf-8", "replace")
            yield NdjsonRecord(line_number, head, "record_too_large", "line is longer than the maximum record size")
            continue
        if not line.strip(b" "):
            continue
        try:
            yield NdjsonRecord(line_number, line.decode("utf-8"))
        except UnicodeDecodeError:
            yield NdjsonRecord(
                line_number, line.decode("utf-8", "replace"), "invalid_encoding", "line is not valid UTF-8"
            )


def _physical_lines(path: Path, max_line_bytes: int, chunk_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """Each physical line's bytes (without its ending) and whether it is longer than
    ``max_line_bytes`` (then only its first ``max_line_bytes`` are kept, never the whole line).
    The file is read in chunks; a CRLF split between two chunks is one line ending."""
    parts: list[bytes] = []  # the current line's first bytes, from one chunk or more
    size = 0  # the current line's length so far
    after_cr = False  # the previous chunk ended with a CR: an LF opening this one belongs to it
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            start = 1 if after_cr and chunk.startswith(b"\n") else 0
            after_cr = False
            for end in LINE_END.finditer(chunk, start):
                size = _keep(parts, size, chunk[start : end.start()], max_line_bytes)
                line = b"".join(parts)
                yield (line[:max_line_bytes], True) if size > max_line_bytes else (line, False)
                parts, size = [], 0
                start = end.end()
                after_cr = end.group() == b"\r" and start == len(chunk)
            size = _keep(parts, size, chunk[start:], max_line_bytes)
    if size:
        line = b"".join(parts)
        yield (line[:max_line_bytes], True) if size > max_line_bytes else (line, False)


def _keep(parts: list[bytes], size: int, piece: bytes, max_line_bytes: int) -> int:
    """Add ``piece`` to the line's kept bytes, up to one byte past the limit; its new length."""
    if piece and size <= max_line_bytes:
        parts.append(piece[: max_line_bytes + 1 - size])
    return size + len(piece)
