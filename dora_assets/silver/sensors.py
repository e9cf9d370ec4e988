"""Silver and gold follow bronze without anyone clicking: every ingest (from the landing
sensor, the daily schedule, the CLI or the UI) launches one `dora_transform` run over the days
its new deliveries can change, from the earliest ``affected_from`` among the ingests since the
last request to today. A run_key per ingest makes a re-firing sensor harmless."""

from __future__ import annotations

from datetime import UTC, date, datetime

from dagster import (
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from dora_assets.bronze.assets import RAW_EVENTS
from dora_assets.windows import PARTITIONS_START, partition_range_tags

TRANSFORM_JOB_NAME = "dora_transform"


def transform_range(affected: list[date | None], today: date) -> tuple[date, date]:
    """Days to recompute after ingests whose earliest affected days are ``affected``."""
    known = [day for day in affected if day is not None]
    start = min(known) if known else today
    return max(start, PARTITIONS_START), max(today, start)


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
    affected = []
    for record in records:
        value = record.asset_materialization.metadata.get("affected_from")
        affected.append(date.fromisoformat(value.value) if value and value.value else None)
    first, last = transform_range(affected, datetime.now(UTC).date())
    newest = records[-1].storage_id
    context.update_cursor(str(newest))
    return RunRequest(
        run_key=f"transform-after-{newest}",
        tags={**partition_range_tags(first, last), "dora/trigger": "transform_after_ingest"},
    )
