"""The landing sensor: new drops in the landing folder launch bronze ingestion.

The cursor is the newest inode-change time (ctime) seen, with the names seen at exactly that
time. A writer's rename sets ctime, so a file written slowly under a temporary name and
renamed late is still new, whatever its mtime. Each request's run_key is a hash of the batch
(names, sizes, mtimes): a sensor that re-fires on the same drops never launches twice, and
ingestion itself skips what its ledger already holds.

Like ingestion, the sensor does not list the folders that have settled (``bronze.landing_folders``):
a new file in one changes its stamp. It reads them only when the warehouse is free at that
moment; while a run holds it, the tick lists every folder instead of waiting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import duckdb
from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from dora_assets.ingestion.ingest import settled_folders
from dora_assets.ingestion.landing import FolderStamp, scan_landing
from dora_assets.resources import DuckDBWarehouse, LandingFolder, connect_warehouse

INGEST_JOB_NAME = "dora_ingest"
MAX_FILES_PER_RUN = 5000


def landing_cursor(cursor: str | None) -> tuple[int, set[str]]:
    if not cursor:
        return 0, set()
    state = json.loads(cursor)
    return int(state["changed_ns"]), set(state["names"])


def settled_folders_if_free(warehouse: DuckDBWarehouse) -> dict[str, FolderStamp] | None:
    """The settled folders, or None when the warehouse does not exist yet, holds no such table
    yet, or is held by a run right now (the sensor never waits for a lock)."""
    try:
        connection = connect_warehouse(warehouse.database_path(), lock_timeout_seconds=0, read_only=True)
    except (FileNotFoundError, duckdb.Error):
        return None
    try:
        return settled_folders(connection)
    except duckdb.Error:
        return None
    finally:
        connection.close()


def new_drops(
    landing: LandingFolder, cursor: str | None, settled: Mapping[str, FolderStamp] | None = None
) -> tuple[list[tuple[str, int, int]], str]:
    """Files that appeared since ``cursor`` outside ``settled`` folders: (landing_file, size,
    mtime_ns) in ctime order, and the cursor to store once they are requested."""
    last_changed, names_at_last = landing_cursor(cursor)
    found = []
    for landing_file in scan_landing(
        landing.directory(), temporary_grace_seconds=landing.temporary_grace_seconds, settled=settled
    ).files:
        changed = landing_file.changed_ns
        if changed > last_changed or (changed == last_changed and landing_file.landing_file not in names_at_last):
            found.append((changed, landing_file.landing_file, landing_file.size_bytes, landing_file.modified_ns))
    found.sort()
    found = found[:MAX_FILES_PER_RUN]
    if not found:
        return [], cursor or ""
    newest = found[-1][0]
    names = {name for changed, name, _, _ in found if changed == newest}
    if newest == last_changed:
        names |= names_at_last
    return [(name, size, mtime) for _, name, size, mtime in found], json.dumps(
        {"changed_ns": newest, "names": sorted(names)}
    )


@sensor(
    name="landing_drops",
    job_name=INGEST_JOB_NAME,
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description="New files in the landing folder launch bronze ingestion (one run per batch of drops).",
)
def landing_drops(context: SensorEvaluationContext, landing: LandingFolder, warehouse: DuckDBWarehouse):
    settled = settled_folders_if_free(warehouse) if landing.settle_seconds > 0 else None
    drops, cursor = new_drops(landing, context.cursor, settled)
    if not drops:
        return SkipReason(f"no new landing files in {landing.directory()}")
    batch = hashlib.sha256(json.dumps(drops).encode()).hexdigest()[:24]
    context.update_cursor(cursor)
    return RunRequest(
        run_key=f"landing-{batch}",
        tags={"dora/trigger": "landing_drops", "dora/landing_files": str(len(drops))},
    )
