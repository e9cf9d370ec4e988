"""Shared fixtures: every test gets its own data home (DuckDB file, landing folder, instance)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from dora_assets.bronze.assets import RAW_EVENTS
from dora_assets.bronze.ingest import earliest_event_day
from dora_assets.definitions import defs
from dora_assets.gold.assets import CONTRACT_FIGURES
from dora_assets.settings import DoraPaths
from dora_assets.silver.sensors import transform_range
from dora_assets.windows import partition_range_tags

FIGURES = CONTRACT_FIGURES
DORA_ENV_VARS = ("DORA_HOME", "DORA_DUCKDB_PATH", "DORA_LANDING_DIR", "DAGSTER_HOME", "DORA_CONFIG")
# The PostgreSQL server that .ci/run starts (DAGSTER_PG_URL) is for test_production.py, which makes a
# database of its own for each test. Every other test keeps its own SQLite instance in its data home,
# so the variable is taken out of this process's environment (and every subprocess's) at startup.
PG_SERVER_URL = os.environ.pop("DAGSTER_PG_URL", None) or None


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DoraPaths:
    """A fresh, empty data home in tmp_path, selected through DORA_HOME as users do."""
    for name in DORA_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DORA_HOME", str(tmp_path / "home"))
    paths = DoraPaths.from_env()
    paths.landing_dir.mkdir(parents=True)
    return paths


def refresh_runs(instance: DagsterInstance, resources: dict, *, replay: bool = False) -> list:
    """What production does after a drop, through Dagster: ingest the landing folder (bronze and
    its checks), then rebuild silver for the months the new deliveries can change, and gold, with
    their checks, in one partition-range run. With ``replay``, skip the ingest and rebuild every
    month bronze can fill (as `dora-assets replay`). Returns the runs' results; never raises."""
    everything = [*defs.assets, *(defs.asset_checks or [])]
    results = []
    if replay:
        with resources["warehouse"].get_connection() as connection:
            affected = [earliest_event_day(connection)]
    else:
        ingest = materialize(
            everything,
            selection=AssetSelection.groups("bronze"),
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        results.append(ingest)
        if not ingest.success:
            return results
        [metadata] = [
            event.materialization.metadata
            for event in ingest.get_asset_materialization_events()
            if event.asset_key == RAW_EVENTS
        ]
        day = metadata["affected_from"].value
        affected = [date.fromisoformat(day) if day else None]
    first, last = transform_range(affected, datetime.now(UTC).date())
    transform = materialize(
        everything,
        selection=AssetSelection.groups("silver", "gold"),
        resources=resources,
        instance=instance,
        tags=partition_range_tags(first, last),
        raise_on_error=False,
    )
    return [*results, transform]


def materialize_everything(
    instance: DagsterInstance | None = None, resources: dict | None = None, *, replay: bool = False
):
    """``refresh_runs`` on the default resources, asserting every run succeeded; returns the
    transform run's result."""
    results = refresh_runs(instance or DagsterInstance.ephemeral(), resources or defs.resources, replay=replay)
    for result in results:
        assert result.success
    return results[-1]


def query(paths: DoraPaths, sql: str, params: dict | None = None) -> list[tuple]:
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        return connection.execute(sql, params).fetchall()


def query_dicts(paths: DoraPaths, sql: str, params: dict | None = None) -> list[dict]:
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        cursor = connection.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def gold_monthly(paths: DoraPaths, columns: tuple[str, ...]) -> dict[tuple, dict]:
    """gold.dora_monthly keyed by (month, repo), restricted to ``columns``."""
    return {
        (row["month"], row["repo"]): {name: row[name] for name in columns}
        for row in query_dicts(paths, "SELECT * FROM gold.dora_monthly")
    }


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    """Every record logged in this process at any level (ours, httpx's, uvicorn's), collected by
    a root handler of our own rather than caplog, so the assertions also hold under
    ``-p no:logging``."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(logging.DEBUG)
    root, ours = logging.getLogger(), logging.getLogger("dora_assets")
    previous = (root.level, ours.level, ours.propagate)
    root.setLevel(logging.DEBUG)
    ours.setLevel(logging.DEBUG)
    ours.propagate = True  # `dora-assets serve`'s log config stops propagation; make sure we see it
    root.addHandler(handler)
    yield records
    root.removeHandler(handler)
    root.setLevel(previous[0])
    ours.setLevel(previous[1])
    ours.propagate = previous[2]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shard",
        default=None,
        metavar="K/N",
        help="run only shard K of N of the tests (by a hash of their id; CI's time-travel slice: see the Makefile)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = config.getoption("--shard")
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    if not 0 <= index < count:
        raise pytest.UsageError(f"--shard {shard}: K must be in 0..N-1")
    kept, dropped = [], []
    for item in items:
        digest = hashlib.sha256(item.nodeid.encode()).digest()
        (kept if int.from_bytes(digest[:4], "big") % count == index else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A real file system of ``size`` (tmpfs, e.g. "16m") mounted at ``folder``, unmounted
    afterwards whatever happens: the disk-full tests fill it. Mounting needs root (CI runs as
    root); elsewhere the test is skipped with a reason that says it did NOT run."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("NOT RUN: a disk-full test mounts a small tmpfs, which needs root (CI runs it as root)")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("NOT RUN: a disk-full test needs mount(8) and umount(8) to make a small tmpfs")
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"NOT RUN: mount -t tmpfs failed although running as root: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
