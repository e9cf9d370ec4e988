"""The landing sensor: new drops in the landing folder launch bronze ingestion.

The cursor is the newest inode-change time (ctime) seen, with the names seen at exactly that
time. A writer's rename sets ctime, so a file written slowly under a temporary name and
renamed late is still new, whatever its mtime. Each request's run_key is a hash of the batch
(names, sizes, mtimes): a sensor that re-fires on the same drops never launches twice, and
ingestion itself skips what its ledger already holds.
"""

from __future__ import annotations

import hashlib
import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SkipReason, sensor

from dora_assets.bronze.landing import scan_landing
from dora_assets.resources import LandingFolder

INGEST_JOB_NAME = "dora_ingest"
MAX_FILES_PER_RUN = 5000


def landing_cursor(cursor: str | None) -> tuple[int, set[str]]:
    if not cursor:
        return 0, set()
    state = json.loads(cursor)
    return int(state["changed_ns"]), set(state["names"])


def new_drops(landing: LandingFolder, cursor: str | None) -> tuple[list[tuple[str, int, int]], str]:
    """Files that appeared since ``cursor``: (landing_file, size, mtime_ns) in ctime order, and the
    cursor to store once they are requested."""
    last_changed, names_at_last = landing_cursor(cursor)
    found = []
    for landing_file in scan_landing(
        landing.directory(), temporary_grace_seconds=landing.temporary_grace_seconds
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
def landing_drops(context: SensorEvaluationContext, landing: LandingFolder):
    drops, cursor = new_drops(landing, context.cursor)
    if not drops:
        return SkipReason(f"no new landing files in {landing.directory()}")
    batch = hashlib.sha256(json.dumps(drops).encode()).hexdigest()[:24]
    context.update_cursor(cursor)
    return RunRequest(
        run_key=f"landing-{batch}",
        tags={"dora/trigger": "landing_drops", "dora/landing_files": str(len(drops))},
    )
