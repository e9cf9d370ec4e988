"""The transform ledger: what was ingested but not yet transformed, and who clears it.

Why: `dora-assets refresh` is two runs, an ingest (bronze) and a transform (silver, gold). When the
process dies between the ingest's commit and the transform's end, the landed days must not be
forgotten: the next refresh finds no new landing file, so only a ledger can say which days still
wait for silver and gold.

- **Written by the ingest, in each batch's own transaction** (ingestion/ingest.py,
  ingestion/sql/land_pending_transform.sql): one row of ``bronze.pending_transforms`` per batch that
  landed deliveries, with the days they can change (the batch's ``affected_from`` to the day it
  landed). A batch is in bronze with its ledger row or not at all.
- **Reported by every ingest** (defs/bronze/assets.py): its ``affected_from`` is the earliest of the new
  batches' days *and* of every pending row's, so the sensor ``transform_after_ingest``, the daily
  schedule (an ingest, then that sensor), the UI and `dora-assets refresh` all widen the transform
  to what is pending, whoever launched the ingest that left it.
- **Cleared by the transform that covers it, in its last step** (defs/gold/transform_runs.py): once a
  run has rebuilt every silver table over a window and then all of gold (the step depends on the
  gold tables, so it is skipped when any silver or gold step fails or a blocking check stops gold),
  it appends its row to ``gold.transform_runs``. That row clears the pending rows whose batch is at
  most the run's high-water mark and whose days lie inside the run's window. Bronze stays
  append-only: clearing appends a row there, it deletes nothing.
- **The high-water mark** is the newest batch that an ingest had reported on the Dagster instance
  before the transform run was created (or earlier in the same run, whose silver steps wait for
  the ingest step): its deliveries were committed before any silver step of the run read bronze.
  A batch landed while the transform runs (a concurrent ingest between its steps) has a higher id,
  so that transform never clears it, and the next one covers it.
- **Loud until healed**: the check ``silver/pushes: transform_lag`` (defs/silver/checks.py) fails at
  ERROR when a row has been pending longer than ``checks.transform_lag_minutes``.

A warehouse created before the ledger existed gets an empty one (``CREATE TABLE IF NOT EXISTS``),
with no backfill: its earlier transforms are taken as complete, as the previous release did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, AssetRecordsFilter, DagsterEventType

from dora_assets.check_results import check_result
from dora_assets.sql import fetch_dicts, run_sql
from dora_assets.windows import PARTITIONS_START

# The ingest's materialization metadata (bronze/raw_events) that this module reads back.
INGESTED_THROUGH = "ingested_through"
AFFECTED_UNTIL = "affected_until"
# Windows listed one by one in the check's metadata (the oldest first; the counts cover all).
MAX_ROWS = 20


@dataclass(frozen=True)
class PendingWindow:
    """One row of the ledger still waiting for a transform."""

    ingest_id: int
    first_day: date
    last_day: date
    recorded_at: datetime
    covered: bool = False  # healed by the run in flight that asked (see ``pending_windows``)


@dataclass(frozen=True)
class Coverage:
    """What one dora_transform run rebuilt: every silver table over the days ``first_day`` to
    ``last_day`` (inclusive), having read bronze through batch ``through_ingest_id``."""

    through_ingest_id: int | None
    first_day: date
    last_day: date

    def params(self) -> dict[str, object]:
        return {"through_ingest_id": self.through_ingest_id, "first_day": self.first_day, "last_day": self.last_day}


NO_COVERAGE = {"through_ingest_id": None, "first_day": None, "last_day": None}


def pending_windows(connection: duckdb.DuckDBPyConnection, coverage: Coverage | None = None) -> list[PendingWindow]:
    """The ledger's pending rows, oldest batch first; ``covered`` marks those ``coverage`` heals."""
    params = {"partitions_start": PARTITIONS_START, **(coverage.params() if coverage else NO_COVERAGE)}
    return [PendingWindow(**row) for row in fetch_dicts(connection, "ingestion", "pending_transforms", params)]


def ingested_through(connection: duckdb.DuckDBPyConnection) -> int:
    """The newest batch of the ledger (0 before any batch landed a delivery)."""
    [(newest,)] = run_sql(connection, "ingestion", "ingested_through").fetchall()
    return int(newest or 0)


def record_transform_run(
    connection: duckdb.DuckDBPyConnection, run_id: str, coverage: Coverage, finished_at: datetime
) -> tuple[int, list[PendingWindow]]:
    """Record in gold.transform_runs that run ``run_id`` rebuilt silver and gold over
    ``coverage``, which clears the pending rows it covers; returns how many it cleared and the
    rows still pending after it. One transaction."""
    connection.execute("BEGIN TRANSACTION")
    try:
        cleared = sum(window.covered for window in pending_windows(connection, coverage))
        run_sql(
            connection,
            "gold",
            "record_transform_run",
            {"run_id": run_id, **coverage.params(), "windows_cleared": cleared, "finished_at": finished_at},
        )
        remaining = pending_windows(connection)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return cleared, remaining


def run_coverage(instance, run_id: str, required: Sequence[AssetKey], *, ingest: AssetKey) -> Coverage | None:
    """What run ``run_id`` has rebuilt so far, read from the Dagster instance: ``None`` unless
    every key of ``required`` was materialized in it. The window is the one its silver tables
    report (``window_start``/``window_end``; all of them when they differ), the high-water mark
    the newest batch an ingest (a materialization of ``ingest``, bronze/raw_events, whose
    metadata holds INGESTED_THROUGH) reported before the run began or earlier in the run."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    metadata: dict[AssetKey, list[dict]] = {}
    for record in records:
        materialization = record.asset_materialization
        if materialization is not None:
            values = {key: value.value for key, value in materialization.metadata.items()}
            metadata.setdefault(materialization.asset_key, []).append(values)
    if any(key not in metadata for key in required):
        return None
    starts, ends = [], []
    for key in required:
        for values in metadata[key]:
            if "window_start" in values and "window_end" in values:
                starts.append(datetime.fromisoformat(str(values["window_start"])))
                ends.append(datetime.fromisoformat(str(values["window_end"])))
    if not starts:
        return None
    first_day = max(starts).astimezone(UTC).date()
    last_day = (min(ends).astimezone(UTC) - timedelta(microseconds=1)).date()
    marks = [_mark(values) for values in metadata.get(ingest, [])]
    # Storage ids are per run on SQLite (one file per run), so "before the run" is judged by time:
    # an ingest's materialization is written after its last commit, and the run is created before
    # any of its steps reads bronze.
    run = instance.get_run_record_by_id(run_id)
    if run is not None:
        before = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=ingest, before_timestamp=run.create_timestamp.timestamp()),
            limit=10,
            ascending=False,
        ).records
        marks += [_mark({k: v.value for k, v in r.asset_materialization.metadata.items()}) for r in before]
    known = [mark for mark in marks if mark is not None]
    return Coverage(max(known) if known else None, first_day, last_day)


def _mark(values: dict) -> int | None:
    value = values.get(INGESTED_THROUGH)
    return int(value) if isinstance(value, int | float) else None


def months(windows: Iterable[PendingWindow]) -> list[str]:
    """The calendar months (YYYY-MM) the windows' days touch, from the first partition on."""
    found: set[str] = set()
    for window in windows:
        day = max(window.first_day, PARTITIONS_START).replace(day=1)
        while day <= window.last_day:
            found.add(f"{day:%Y-%m}")
            day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return sorted(found)


def transform_lag_result(
    connection: duckdb.DuckDBPyConnection, now: datetime, lag_minutes: float, coverage: Coverage | None
) -> AssetCheckResult:
    """The ``transform_lag`` check ("silver is behind bronze"): fails at ERROR when a ledger row
    has waited for a transform longer than ``lag_minutes`` at ``now``. Rows that ``coverage`` (the
    run evaluating the check, when it rebuilt every silver table) heals are not behind."""
    behind = [window for window in pending_windows(connection, coverage) if not window.covered]
    ages = {window.ingest_id: max((now - window.recorded_at).total_seconds() / 60, 0.0) for window in behind}
    overdue = [window for window in behind if ages[window.ingest_id] > lag_minutes]
    oldest = max(ages.values(), default=0.0)
    concerned = overdue or behind
    span = (
        f"days {min(w.first_day for w in concerned)} to {max(w.last_day for w in concerned)} "
        f"(months {', '.join(months(concerned))})"
        if concerned
        else ""
    )
    if overdue:
        description = (
            f"silver is behind bronze: {len(overdue)} ingested window(s) not transformed for up to "
            f"{oldest:.0f} min (allowed: {lag_minutes:g}), {span}; run `dora-assets refresh`"
        )
    elif behind:
        description = (
            f"{len(behind)} ingested window(s) waiting for a transform, the oldest for {oldest:.0f} min, "
            f"within checks.transform_lag_minutes ({lag_minutes:g}): {span}"
        )
    else:
        description = "silver has caught up with bronze: no ingested window is waiting for a transform"
    return check_result(
        passed=not overdue,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        counts={
            "pending_windows": len(behind),
            "overdue_windows": len(overdue),
            "oldest_pending_minutes": round(oldest, 1),
        },
        lists={"months": months(concerned), "ingest_ids": [window.ingest_id for window in concerned[:MAX_ROWS]]},
        rows=[
            {
                "ingest_id": window.ingest_id,
                "first_day": window.first_day,
                "last_day": window.last_day,
                "recorded_at": window.recorded_at,
                "pending_minutes": round(ages[window.ingest_id], 1),
            }
            for window in concerned[:MAX_ROWS]
        ],
        thresholds={"transform_lag_minutes": lag_minutes},
    )
