"""Helpers the tests share: refresh through Dagster as production does, run the dora-assets
command as a user does, query a data home's DuckDB file, copy a data home, mount a small file
system. Fixtures and pytest hooks stay in conftest.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from dora_assets.definitions import defs
from dora_assets.defs.bronze.assets import RAW_EVENTS
from dora_assets.defs.gold.assets import CONTRACT_FIGURES
from dora_assets.defs.silver.sensors import ingest_transform_range, transform_range
from dora_assets.ingestion.ingest import event_day_span
from dora_assets.settings import DoraPaths
from dora_assets.windows import partition_range_tags

FIGURES = CONTRACT_FIGURES
DORA_ENV_VARS = ("DORA_HOME", "DORA_DUCKDB_PATH", "DORA_LANDING_DIR", "DAGSTER_HOME", "DORA_CONFIG")


def refresh_runs(instance: DagsterInstance, resources: dict, *, replay: bool = False) -> list:
    """What production does after a drop, through Dagster: ingest the landing folder (bronze and
    its checks), then rebuild silver for the months the new deliveries can change, and gold, with
    their checks, in one partition-range run. With ``replay``, skip the ingest and rebuild every
    month bronze can fill (as `dora-assets replay`). Returns the runs' results; never raises."""
    everything = [*defs.assets, *(defs.asset_checks or [])]
    results = []
    today = datetime.now(UTC).date()
    if replay:
        with resources["warehouse"].get_connection() as connection:
            earliest, latest = event_day_span(connection)
        first, last = transform_range([earliest], today, [latest])
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
        first, last = ingest_transform_range([metadata], today)
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


def cli_env(home: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process of ours (`dora-assets`, `dagster`) on the data home ``home``:
    this process's, without its DORA_* and DAGSTER_* variables (the command must set what it needs
    itself), plus ``extra_env``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DORA_", "DAGSTER_"))}
    return env | {"DORA_HOME": str(home), **(extra_env or {})}


def run_cli(paths: DoraPaths, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``dora-assets ARGS`` as a user runs it: a real subprocess on the data home ``paths``
    (environment: ``cli_env``)."""
    return subprocess.run(
        [sys.executable, "-m", "dora_assets.cli", *args],
        env=cli_env(paths.home, extra_env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("dora-assets")]
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def refreshed_data_home(
    factory: pytest.TempPathFactory,
    name: str,
    land: Callable[[DoraPaths], object],
    refresh: Callable[[DoraPaths], subprocess.CompletedProcess],
) -> DoraPaths:
    """A new data home under ``factory`` after ``land`` and ``refresh`` (which must succeed): the
    template that a session- or module-scoped fixture makes once and tests copy (``copy_data_home``)."""
    paths = DoraPaths.from_env({"DORA_HOME": str(factory.mktemp(name) / "home")})
    paths.landing_dir.mkdir(parents=True)
    land(paths)
    result = refresh(paths)
    assert result.returncode == 0, result.stderr[-3000:]
    return paths


def copy_data_home(source: DoraPaths, target: DoraPaths) -> None:
    """Copy the data home ``source`` (landing files, warehouse, Dagster instance, reports) into
    ``target``'s, as if ``target`` had been through the same commands. No process may hold
    ``source``'s files open."""
    shutil.copytree(source.home, target.home, dirs_exist_ok=True)
