"""Bronze assets: one ingestion step lands every new landing file into four append-only tables."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from dora_assets.ingestion.ingest import ReceivedAtRange, ingest_landing
from dora_assets.metadata import column_schema, table_row_count
from dora_assets.resources import WAREHOUSE_POOL, DuckDBWarehouse, LandingFolder
from dora_assets.transform_ledger import AFFECTED_UNTIL, INGESTED_THROUGH

RAW_EVENTS = AssetKey(["bronze", "raw_events"])
QUARANTINE = AssetKey(["bronze", "quarantine"])
DUPLICATES = AssetKey(["bronze", "duplicates"])
LANDING_FILES = AssetKey(["bronze", "landing_files"])
LANDING_FOLDERS = AssetKey(["bronze", "landing_folders"])

_PROVENANCE = [
    ("landing_file", "VARCHAR", "Path of the landing file, relative to the landing folder."),
    ("line_number", "BIGINT", "Physical line in an .ndjson/.jsonl file; NULL for a whole file."),
]

bronze_specs = [
    AssetSpec(
        RAW_EVENTS,
        description=(
            "One row per webhook delivery (unique delivery_id), exactly as received: the envelope's "
            "fields and the sender's payload. Source: every landing file (.json, .ndjson, .jsonl). "
            "Append-only: a row, once written, is never updated or deleted."
        ),
        group_name="bronze",
        kinds={"duckdb"},
        metadata=column_schema(
            [
                ("delivery_id", "VARCHAR", "The sender's unique delivery id (primary key)."),
                ("source", "VARCHAR", "github, gitlab, pagerduty, jira or jenkins."),
                ("event_type", "VARCHAR", "The sender's event name (X-GitHub-Event, object_kind, ...)."),
                ("received_at", "TIMESTAMPTZ", "When the delivery was received."),
                ("payload", "JSON", "The webhook body exactly as the sender posted it."),
                *_PROVENANCE,
                ("known_event_type", "BOOLEAN", "False for an event type this project does not know yet."),
                ("ingest_id", "BIGINT", "The ingest batch that landed the row."),
                ("ingested_at", "TIMESTAMPTZ", "When the batch committed."),
            ]
        ),
    ),
    AssetSpec(
        QUARANTINE,
        description=(
            "One row per record of the landing folder that could not be landed (a whole file, or one "
            "line of an .ndjson/.jsonl file), with a machine-readable reason_code and a precise reason. "
            "Nothing that reached the landing folder is dropped without a row here or in raw_events."
        ),
        group_name="bronze",
        kinds={"duckdb"},
        metadata=column_schema(
            [
                *_PROVENANCE,
                (
                    "reason_code",
                    "VARCHAR",
                    "invalid_json, invalid_envelope, unknown_source, implausible_received_at, invalid_encoding, ...",
                ),
                ("reason", "VARCHAR", "What exactly is wrong, for a person."),
                ("raw", "VARCHAR", "The record as text (first 64 KiB; undecodable bytes replaced)."),
                ("delivery_id", "VARCHAR", "The envelope's delivery_id when one could be read."),
                ("ingest_id", "BIGINT", "The ingest batch."),
                ("quarantined_at", "TIMESTAMPTZ", "When the batch committed."),
            ]
        ),
    ),
    AssetSpec(
        DUPLICATES,
        description=(
            "One row per record skipped because its delivery_id had already landed (a redelivery or "
            "a duplicated file). Source: the landing files; first_landing_file names the original."
        ),
        group_name="bronze",
        kinds={"duckdb"},
        metadata=column_schema(
            [
                ("delivery_id", "VARCHAR", "The repeated delivery id."),
                *_PROVENANCE,
                ("first_landing_file", "VARCHAR", "The landing file whose copy was landed."),
                ("ingest_id", "BIGINT", "The ingest batch."),
                ("skipped_at", "TIMESTAMPTZ", "When the batch committed."),
                ("source", "VARCHAR", "The sender; NULL on rows skipped before it was recorded."),
            ]
        ),
    ),
    AssetSpec(
        LANDING_FILES,
        description=(
            "The ingestion ledger: one row per (landing file, content version) accounted for, with "
            "records seen = landed + quarantined + duplicate. A file whose content changes after "
            "ingestion gets a second row and is quarantined whole."
        ),
        group_name="bronze",
        kinds={"duckdb"},
        metadata=column_schema(
            [
                ("landing_file", "VARCHAR", "Path relative to the landing folder."),
                ("content_sha256", "VARCHAR", "SHA-256 of the file's bytes when ingested."),
                ("size_bytes", "BIGINT", "File size when ingested."),
                ("modified_at", "TIMESTAMPTZ", "File modification time when ingested."),
                ("status", "VARCHAR", "ingested, quarantined, appended_after_ingestion or changed_after_ingestion."),
                ("records_seen", "BIGINT", "Records found in the file."),
                ("records_landed", "BIGINT", "Records landed in raw_events."),
                ("records_quarantined", "BIGINT", "Records quarantined."),
                ("records_duplicate", "BIGINT", "Records skipped as duplicates."),
                ("ingest_id", "BIGINT", "The ingest batch."),
                ("ingested_at", "TIMESTAMPTZ", "When the batch committed."),
                ("inode", "BIGINT", "The file's inode when read (NULL on rows written before it was recorded)."),
                ("changed_ns", "BIGINT", "The file's ctime when read, ns since the epoch (NULL likewise)."),
            ]
        ),
    ),
    AssetSpec(
        LANDING_FOLDERS,
        description=(
            "The landing walk's memory: one row each time a leaf folder settles (every file in it in "
            "the ledger, its entries unchanged for LandingFolder.settle_seconds). While its stamp stays "
            "as recorded the folder is not listed again, so a walk costs the folders written since, not "
            "every file ever dropped. Append-only; the latest row per folder counts."
        ),
        group_name="bronze",
        kinds={"duckdb"},
        metadata=column_schema(
            [
                ("folder", "VARCHAR", "Path of the folder, relative to the landing folder ('' for the folder itself)."),
                ("modified_ns", "BIGINT", "The folder's modification time when it settled, ns since the epoch."),
                ("changed_ns", "BIGINT", "The folder's status-change time (ctime) when it settled, ns."),
                ("inode", "BIGINT", "The folder's inode when it settled."),
                ("files", "BIGINT", "Entries in the folder when it settled."),
                ("settled_at", "TIMESTAMPTZ", "When the ingest recorded it."),
            ]
        ),
    ),
]


@multi_asset(pool=WAREHOUSE_POOL, specs=bronze_specs, name="bronze_ingestion", can_subset=False)
def bronze_ingestion(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, landing: LandingFolder
) -> Iterator[MaterializeResult]:
    """Land every landing file the ledger has not accounted for, in batches of bounded size,
    each committed with its ledger rows in one transaction."""
    landing_dir = landing.directory()
    with warehouse.get_connection() as connection:
        report = ingest_landing(
            connection,
            landing_dir,
            temporary_grace_seconds=landing.temporary_grace_seconds,
            settle_seconds=landing.settle_seconds,
            received_at_range=ReceivedAtRange(landing.received_at_min_year, landing.received_at_max_future_days),
        )
        counts = {
            key: table_row_count(connection, ".".join(key.path))
            for key in (RAW_EVENTS, QUARANTINE, DUPLICATES, LANDING_FILES, LANDING_FOLDERS)
        }
    totals = report.totals
    context.log.info(
        f"ingested {totals.files} files from {landing_dir}: {totals.seen} records seen, {totals.landed} landed, "
        f"{totals.quarantined} quarantined, {totals.duplicates} duplicates; {len(report.in_flight)} in flight; "
        f"{report.folders_skipped} settled folders not listed, {report.folders_settled} newly settled"
    )
    known = [day for day in (totals.affected_from, report.pending_from) if day is not None]
    affected_from = min(known) if known else None
    if report.pending_earlier:
        context.log.warning(
            f"{len(report.pending_earlier)} ingested window(s) from earlier runs still wait for a transform "
            f"(from {report.pending_from}): the transform after this ingest covers them"
        )
    for problem in report.unreadable:
        context.log.warning(f"landing file not readable now, left for the next run: {problem}")
    batch = {
        "files_ingested": totals.files,
        "records_seen": totals.seen,
        "records_landed": totals.landed,
        "records_quarantined": totals.quarantined,
        "records_duplicate": totals.duplicates,
        "accounting_balanced": totals.balanced,
        # The earliest day the new batches *or any window still pending in the transform ledger*
        # can change: whoever reads it (the transform sensor, `dora-assets refresh`) also covers
        # what a killed or failed transform left behind (dora_assets/transform_ledger.py).
        "affected_from": affected_from.isoformat() if affected_from else "",
        # The latest day they can change: the last day any delivery in bronze has an event on
        # (at most the day of the ingest). Nothing after it has a silver row to rebuild.
        AFFECTED_UNTIL: report.pending_until.isoformat() if report.pending_until else "",
        "new_affected_from": totals.affected_from.isoformat() if totals.affected_from else "",
        "pending_windows": len(report.pending),
        "pending_earlier": len(report.pending_earlier),
        "pending_from": report.pending_from.isoformat() if report.pending_from else "",
        INGESTED_THROUGH: report.ingested_through,
        "files_in_flight": len(report.in_flight),
        "files_unreadable": MetadataValue.json(report.unreadable),
        "ingest_batches": report.batches,
        "landing_dir": MetadataValue.path(str(landing_dir)),
    }
    yield MaterializeResult(asset_key=RAW_EVENTS, metadata={**batch, "dagster/row_count": counts[RAW_EVENTS]})
    yield MaterializeResult(
        asset_key=QUARANTINE,
        metadata={
            "records_quarantined": totals.quarantined,
            "quarantine_reasons": MetadataValue.json(report.quarantine_reasons),
            "dagster/row_count": counts[QUARANTINE],
        },
    )
    yield MaterializeResult(
        asset_key=DUPLICATES,
        metadata={"records_duplicate": totals.duplicates, "dagster/row_count": counts[DUPLICATES]},
    )
    yield MaterializeResult(
        asset_key=LANDING_FILES,
        metadata={"files_ingested": totals.files, "dagster/row_count": counts[LANDING_FILES]},
    )
    yield MaterializeResult(
        asset_key=LANDING_FOLDERS,
        metadata={
            "folders_not_listed": report.folders_skipped,
            "folders_settled": report.folders_settled,
            "dagster/row_count": counts[LANDING_FOLDERS],
        },
    )
