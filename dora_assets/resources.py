"""Dagster resources: the DuckDB warehouse and the metric config.

Both resolve their settings from the environment when a run uses them, not at import time, so
the same ``Definitions`` serve ``make run``, ``dagster dev`` and every test's temporary data home.
"""

from __future__ import annotations

import os
import random
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from dora_assets.config import ConfigError, DoraConfig, load_config
from dora_assets.ingestion.landing import DEFAULT_SETTLE_SECONDS
from dora_assets.settings import DoraPaths
from dora_assets.sql import migrate_schema, schema_ddl

LOCK_ERROR_MARKERS = ("could not set lock", "conflicting lock")
# DuckDB's own defaults suit a dedicated machine (a memory limit of 80% of RAM, every core). The
# pipeline streams (ingest batches, window scans) and DuckDB spills to `<warehouse>.tmp` beyond
# its limit, so a modest limit keeps a refresh's process small at any history size (bench/README.md).
# DORA_DUCKDB_MEMORY_LIMIT (e.g. 4GB) and DORA_DUCKDB_THREADS override them; an explicit
# connection_config wins over both.
DEFAULT_MEMORY_LIMIT = "1GB"


# The concurrency pool of every asset and check that opens the warehouse. DuckDB lets one process
# open the file to write; the instance's dagster.yaml (instance.py) gives every pool a limit of 1 at run
# granularity, so the run queue starts one run holding such a step at a time, however it was
# launched (a job, a sensor, a "Materialize" click, an asset backfill). definitions.py refuses an
# asset or check that needs the warehouse resource outside this pool.
WAREHOUSE_POOL = "dora_warehouse"


class DuckDBWarehouse(DuckDBResource):
    """The DuckDB file that holds the ``bronze``, ``silver`` and ``gold`` schemas.

    ``database`` defaults to ``$DORA_DUCKDB_PATH`` (else ``$DORA_HOME/warehouse.duckdb``). Every
    connection runs in UTC and finds the schemas in place. DuckDB lets one process write a file
    at a time; a connection attempt that meets another process's lock waits (with jitter) up to
    ``lock_timeout_seconds`` instead of failing the run.
    """

    database: str = Field(default="", description="Path of the DuckDB file; empty = from DORA_* env vars.")
    lock_timeout_seconds: float = Field(default=600.0, description="How long to wait for another writer.")
    # Held open for the duration of a run: every step opens and closes its own connection, and
    # closing the last one would shut the database down (a checkpoint) for the next step to open
    # it again (its catalog and indexes), ~20 ms a step, more as the warehouse grows.
    _run_connection: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if context.run is None:  # a sensor tick, not a run: it must never hold the file
            return
        try:
            self._run_connection = connect_warehouse(
                self.database_path(), self.connection_config, self.lock_timeout_seconds
            )
        except duckdb.Error:
            # Not this run's failure yet: the first step that needs the warehouse meets the same
            # error in get_connection, and fails with its own name on it.
            self._run_connection = None

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._run_connection is not None:
            self._run_connection.close()
            self._run_connection = None

    def database_path(self) -> str:
        if self.database:
            return self.database
        return str(DoraPaths.from_env().duckdb_path)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        connection = connect_warehouse(self.database_path(), self.connection_config, self.lock_timeout_seconds)
        try:
            yield connection
        finally:
            connection.close()


def connect_warehouse(
    path: str, config: dict[str, Any] | None = None, lock_timeout_seconds: float = 600.0, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse in UTC. Read-write connections find every layer's tables in place;
    read-only ones require an existing file (``FileNotFoundError`` otherwise)."""
    if read_only and not Path(path).is_file():
        raise FileNotFoundError(f"no warehouse at {path}: run `dora-assets refresh` first")
    if path != ":memory:":
        require_whole_warehouse(path)
    if path != ":memory:" and not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_seconds
    delay = 0.05
    while True:
        try:
            connection = duckdb.connect(path, read_only=read_only, config={**duckdb_settings(), **(config or {})})
            break
        except duckdb.IOException as error:
            if not any(marker in str(error).lower() for marker in LOCK_ERROR_MARKERS):
                _raise_if_damaged(path, error)
                raise
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)
        except duckdb.Error as error:
            _raise_if_damaged(path, error)
            raise
    connection.execute("SET TimeZone = 'UTC'")
    if not read_only:
        _ensure_schema(connection, path)
    return connection


class WarehouseDamagedError(Exception):
    """The warehouse file is not a whole DuckDB database; the message says what is wrong and how
    to recover (README "A damaged warehouse")."""


# A DuckDB file starts with three 4 KiB headers (the main header, then two database headers, the
# newer one current); its blocks follow. The current header records how many blocks the file holds.
_HEADER_BYTES = 4096
_MAGIC = b"DUCK"
_DEFAULT_BLOCK_ALLOC_SIZE = 262144
DAMAGE_MARKERS = ("corrupt", "checksum", "could not read enough bytes", "not a valid duckdb database")


def warehouse_damage(path: str | Path) -> str | None:
    """What is wrong with the DuckDB file at ``path``: not a DuckDB file, unreadable to DuckDB, or
    shorter than the blocks its tables use (truncated); None when it is whole, empty, missing, or
    open to write in this or another process (in use: not ours to judge).

    The file's headers are read only while a read-only DuckDB connection of our own holds it.
    DuckDB locks the file with POSIX record locks, which a process loses when it closes *any*
    descriptor of the file: reading it with a plain open() beside a writing connection of this
    process would silently let another process open the warehouse to write as well."""
    try:
        size = Path(path).stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        return None
    if size == 0 or Path(path).is_dir():
        return None  # DuckDB makes an empty file a new database
    try:
        probe = duckdb.connect(str(path), read_only=True)
    except duckdb.ConnectionException:
        return None  # this process has it open to write
    except duckdb.IOException as error:
        if any(marker in str(error).lower() for marker in LOCK_ERROR_MARKERS):
            return None  # another process has it open to write
        return _damage_in(error)
    except duckdb.Error as error:
        return _damage_in(error)
    try:
        with open(path, "rb") as handle:
            head = handle.read(3 * _HEADER_BYTES)
        if len(head) < 3 * _HEADER_BYTES:
            return f"it is {size} bytes long, shorter than a DuckDB file's headers (truncated)"
        if head[8:12] != _MAGIC:
            return "it is not a DuckDB database file (its header lacks the DUCK magic bytes)"
        headers = [
            struct.unpack_from("<QQQQQQ", head, offset)  # checksum, iteration, meta, free list, blocks, block size
            for offset in (_HEADER_BYTES, 2 * _HEADER_BYTES)
        ]
        _, _, _, _, block_count, block_size = max(headers, key=lambda header: header[1])
        if not (16384 <= block_size <= 4 * _DEFAULT_BLOCK_ALLOC_SIZE and block_size & (block_size - 1) == 0):
            block_size = _DEFAULT_BLOCK_ALLOC_SIZE  # an older file format without the field
        if size >= 3 * _HEADER_BYTES + block_count * block_size:
            return None
        # The header's count includes free blocks, and DuckDB trims free blocks off the end of
        # the file: a shorter file is whole as long as every block its tables use is there.
        present = (size - 3 * _HEADER_BYTES) // block_size
        highest = _highest_block_in_use(probe)
        if highest < present:
            return None
        return f"truncated: it is {size} bytes long ({present} blocks), but its tables use block {highest}"
    except duckdb.Error as error:
        return _damage_in(error)
    finally:
        probe.close()


def _damage_in(error: duckdb.Error) -> str:
    """DuckDB's own word on a file it cannot read, when it names damage; else the error goes on."""
    if "not a valid duckdb database" in str(error).lower():
        return "it is not a DuckDB database file (DuckDB cannot open it)"
    if any(marker in str(error).lower() for marker in DAMAGE_MARKERS):
        return "DuckDB: " + " ".join(str(error).split())[:160]
    raise error


def _highest_block_in_use(connection: duckdb.DuckDBPyConnection) -> int:
    """The highest block id the tables of ``connection``'s database use, from DuckDB's storage
    metadata (no data is read; a missing metadata block is a DuckDB error naming the damage)."""
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT schema_name || '.' || table_name "
            "FROM duckdb_tables() WHERE NOT temporary AND database_name = current_database()"
        ).fetchall()
    ]
    highest = -1
    for table in tables:
        [(used,)] = connection.execute(
            "SELECT max(greatest(block_id, coalesce(list_max(additional_block_ids), -1))) "
            "FROM pragma_storage_info($table) WHERE persistent",
            {"table": table},
        ).fetchall()
        highest = max(highest, -1 if used is None else used)
    return highest


def damaged_warehouse_message(path: str | Path, problem: str) -> str:
    name = Path(path).name
    return (
        f"the warehouse {path} is damaged ({problem}). To recover, move it aside (e.g. to {name}.damaged, with "
        f"{name}.wal if present) and run `dora-assets refresh`: it rebuilds bronze, silver and gold from the "
        "landing folder"
    )


def require_whole_warehouse(path: str | Path) -> None:
    """Raise ``WarehouseDamagedError`` when the file at ``path`` is damaged (``warehouse_damage``).

    A writer in another process that trims free blocks at the end of the file does so just before
    it writes the header that counts them no more, so a file seen short is looked at twice more,
    0.2 s apart, before it is called damaged."""
    for attempt in range(3):
        problem = warehouse_damage(path)
        if problem is None:
            return
        if attempt < 2:
            time.sleep(0.2)
    raise WarehouseDamagedError(damaged_warehouse_message(path, problem))


def _raise_if_damaged(path: str, error: duckdb.Error) -> None:
    text = str(error).lower()
    if any(marker in text for marker in DAMAGE_MARKERS):
        problem = " ".join(str(error).split())
        raise WarehouseDamagedError(damaged_warehouse_message(path, f"DuckDB: {problem[:160]}")) from None


def duckdb_settings() -> dict[str, Any]:
    """The warehouse connection's DuckDB settings, from the environment when a run starts."""
    settings: dict[str, Any] = {
        "custom_user_agent": "dora-assets",
        "memory_limit": os.environ.get("DORA_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT,
    }
    if threads := os.environ.get("DORA_DUCKDB_THREADS"):
        if not threads.strip().isdigit() or int(threads) < 1:
            raise ValueError(f"DORA_DUCKDB_THREADS must be a whole number of threads (1 or more), not {threads!r}")
        settings["threads"] = int(threads)
    return settings


# (path, device, inode) of warehouse files this process has already brought up to date. The DDL
# is idempotent but not free, and a run opens a connection per step (one per check).
_SCHEMA_READY: set[tuple[str, int, int]] = set()


def _ensure_schema(connection: duckdb.DuckDBPyConnection, path: str) -> None:
    """Create every layer's tables and apply pending migrations, once per process and file (a
    file deleted and recreated at the same path is a new inode, so it is set up again)."""
    identity = None
    if path != ":memory:":
        info = Path(path).stat()
        identity = (str(Path(path).resolve()), info.st_dev, info.st_ino)
        if identity in _SCHEMA_READY:
            return
    for ddl in schema_ddl():
        connection.execute(ddl)
    migrate_schema(connection)
    if identity is not None:
        _SCHEMA_READY.add(identity)


class DoraConfigResource(ConfigurableResource):
    """The metric definitions, from ``path``, ``$DORA_CONFIG`` or ``$DORA_HOME/dora.yaml`` (see
    ``dora_assets.config``)."""

    path: str = Field(
        default="",
        description="YAML or JSON config file; empty = $DORA_CONFIG, else $DORA_HOME/dora.yaml if present.",
    )

    # Read and validated once per run, when the run starts: every step of the run (silver and gold
    # alike) judges with the same definitions, even if the file is edited while the run goes on.
    # Sensor ticks and direct calls read the file each time.
    _run_config: DoraConfig | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if context.run is None:
            return
        try:
            self._run_config = load_config(self.path or None)
        except ConfigError:  # the first step that loads it fails, with the file's own message
            self._run_config = None

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self._run_config = None

    def load(self) -> DoraConfig:
        if self._run_config is not None:
            return self._run_config
        return load_config(self.path or None)


class LandingFolder(ConfigurableResource):
    """Where webhook deliveries are dropped: ``path``, else ``$DORA_LANDING_DIR``, else
    ``$DORA_HOME/landing``. Files younger than ``temporary_grace_seconds`` with a temporary
    name (dot-prefixed or ``*.tmp``) are still being written and are left for a later run. A
    folder whose files are all ingested and whose entries have not changed for
    ``settle_seconds`` settles, and is not listed again until its entries change."""

    path: str = Field(default="", description="Landing folder; empty = from DORA_* env vars.")
    temporary_grace_seconds: float = Field(default=3600.0)
    settle_seconds: float = Field(
        default=DEFAULT_SETTLE_SECONDS,
        description="Age after which an ingested folder's listing is remembered; 0 = list every folder every run.",
    )
    received_at_min_year: int = Field(
        default=2000,
        ge=1,
        le=9999,
        description="Deliveries whose received_at lies before January 1st of this year (UTC) are quarantined "
        "as implausible_received_at (a broken clock or a bad writer; silver's days start in 2015).",
    )
    received_at_max_future_days: float = Field(
        default=2.0,
        ge=0,
        description="Deliveries whose received_at lies more than this many days after the ingesting process's "
        "clock are quarantined as implausible_received_at; a smaller lead (clock skew) lands, and the "
        "no_future_deliveries check reports it until its time comes.",
    )

    def directory(self) -> Path:
        return Path(self.path).resolve() if self.path else DoraPaths.from_env().landing_dir


class Clock(ConfigurableResource):
    """What "now" is for the checks: the real time, or ``frozen_at`` (ISO-8601 with a zone) to
    judge the data as of a fixed moment (tests, or re-checking a past day)."""

    frozen_at: str = Field(default="", description="ISO-8601 moment to use as now; empty = the real time.")

    def now(self) -> datetime:
        if not self.frozen_at:
            return datetime.now(UTC)
        moment = datetime.fromisoformat(self.frozen_at)
        if moment.tzinfo is None:
            raise ValueError(f"Clock.frozen_at must have a zone: {self.frozen_at!r}")
        return moment.astimezone(UTC)
