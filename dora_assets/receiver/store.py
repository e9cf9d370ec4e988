"""Writing envelopes into the landing folder, atomically and durably (CONTRACT section 2).

A file appears under its final name only once it is complete and on disk: it is written to a
dot-prefixed temporary name in the destination directory (which ingestion treats as "still
being written"), flushed and fsynced, renamed with ``os.replace`` and the directory is fsynced,
so a crash or power loss leaves either no file or the whole file. Blocking: call it from a
worker thread, not from the event loop.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from datetime import datetime
from pathlib import Path


def landing_file_name(received_at: datetime, suffix: str = ".json") -> str:
    """``<received_at compact>-<uuid4 hex><suffix>``: nothing in it comes from the request, so a
    sender can neither choose nor collide with a path."""
    return f"{received_at:%Y%m%dT%H%M%S%f}Z-{uuid.uuid4().hex}{suffix}"


def write_landing_file(
    landing_dir: Path, source: str, received_at: datetime, content: bytes, *, suffix: str = ".json"
) -> str:
    """Write ``content`` as ``<landing>/<source>/<YYYY>/<MM>/<DD>/<name><suffix>`` (``.json``: one
    envelope; ``.ndjson``: one per line) and return that path relative to the landing folder
    (POSIX form). ``received_at`` must be in UTC."""
    directory = _ensure_directories(
        landing_dir, (source, f"{received_at:%Y}", f"{received_at:%m}", f"{received_at:%d}")
    )
    name = landing_file_name(received_at, suffix)
    final_path = directory / name
    temporary_path = directory / f".{name}.tmp"
    descriptor = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with open(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary_path, final_path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary_path.unlink()
        raise
    _fsync_directory(directory)
    return final_path.relative_to(landing_dir).as_posix()


def landing_folder_problem(landing_dir: Path) -> str | None:
    """Why deliveries cannot be written now, or None when the landing folder is writable.

    Probes with an anonymous temporary file (O_TMPFILE where available), so no name that
    ingestion could see is ever left behind.
    """
    if not landing_dir.is_dir():
        return "the landing folder does not exist or is not a directory"
    try:
        with tempfile.TemporaryFile(dir=landing_dir, prefix=".healthz-", suffix=".tmp") as probe:
            probe.write(b"ok")
    except OSError as error:
        return f"the landing folder is not writable ({error.strerror or type(error).__name__})"
    return None


def _ensure_directories(root: Path, parts: tuple[str, ...]) -> Path:
    """Create ``root`` and the sub-folders ``parts`` as needed; each new folder's parent is
    fsynced so that the new entry survives a crash along with the file inside it."""
    root.mkdir(parents=True, exist_ok=True)
    directory = root
    for part in parts:
        child = directory / part
        try:
            child.mkdir()
        except FileExistsError:
            pass
        else:
            _fsync_directory(directory)
        directory = child
    return directory


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
