"""Silver and gold follow bronze without anyone clicking: every ingest (from the landing
sensor, the daily schedule, the CLI or the UI) launches one `dora_transform` run over the days
its new deliveries can change, from the earliest ``affected_from`` among the ingests since the
last request to the latest ``affected_until`` (the last day with an event in bronze, at most
today). A run_key per ingest makes a re-firing sensor harmless.

What a killed or failed transform leaves behind is not lost with its run: it stays pending in the
transform ledger (dora_assets/transform_ledger.py), and every ingest reports the pending days in
its ``affected_from`` (and ``pending_from``), so the transform after the next ingest (a drop, the
daily schedule, the CLI) covers them. The sensor reads only the Dagster instance, never DuckDB:
the warehouse has one writer, the runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from dagster import (
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from dora_assets.defs.bronze.assets import RAW_EVENTS
from dora_assets.transform_ledger import AFFECTED_UNTIL
from dora_assets.windows import PARTITIONS_START, partition_range_tags

TRANSFORM_JOB_NAME = "dora_transform"


def transform_range(
    affected: Sequence[date | None], today: date, until: Sequence[date | None] | None = None
) -> tuple[date, date]:
    """Days to recompute after ingests whose earliest affected days are ``affected`` and whose
    latest are ``until`` (None: today). From the earliest affected day to the latest day an event
    in bronze can change, never past today: months after the last event hold no silver row, so a
    history that ends in 2023 is not rebuilt through every empty month since."""
    known = [day for day in affected if day is not None]
    start = max(min(known) if known else today, PARTITIONS_START)
    ends = [day for day in until if day is not None] if until is not None else []
    end = min(max(ends), today) if ends else today
    return start, max(end, start)


def _metadata_day(metadata: Mapping[str, Any], name: str) -> date | None:
    value = metadata.get(name)
    value = getattr(value, "value", value)
    return date.fromisoformat(str(value)) if value else None


def ingest_affected_from(metadata: Mapping[str, Any]) -> date | None:
    """The earliest day an ingest's materialization (bronze/raw_events metadata, as values or
    MetadataValues) asks a transform to cover: its ``affected_from`` and its ``pending_from`` (the
    windows it found still pending), whichever is earlier."""
    days = [day for name in ("affected_from", "pending_from") if (day := _metadata_day(metadata, name))]
    return min(days, default=None)


def ingest_transform_range(ingests: Sequence[Mapping[str, Any]], today: date) -> tuple[date, date]:
    """The days one transform recomputes after the ingests whose bronze/raw_events metadata are
    ``ingests``: ``transform_range`` of their ``affected_from`` and ``affected_until``. An ingest
    recorded before ``affected_until`` existed asks for every day through today."""
    affected = [ingest_affected_from(metadata) for metadata in ingests]
    until = [_metadata_day(metadata, AFFECTED_UNTIL) if AFFECTED_UNTIL in metadata else today for metadata in ingests]
    return transform_range(affected, today, until)


@sensor(
    name="transform_after_ingest",
    job_name=TRANSFORM_JOB_NAME,
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description="After every bronze ingest, rebuild silver (the affected days) and gold.",
)
def transform_after_ingest(context: SensorEvaluationContext):
    after = int(context.cursor) if context.cursor else None
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=RAW_EVENTS, after_storage_id=after), limit=1000, ascending=True
    ).records
    if not records:
        return SkipReason("no bronze ingest since the last transform request")
    first, last = ingest_transform_range(
        [record.asset_materialization.metadata for record in records], datetime.now(UTC).date()
    )
    newest = records[-1].storage_id
    context.update_cursor(str(newest))
    return RunRequest(
        run_key=f"transform-after-{newest}",
        tags={**partition_range_tags(first, last), "dora/trigger": "transform_after_ingest"},
    )
