"""The last step of every dora_transform run: it clears the transform ledger's windows the run
covered (dora_assets/transform_ledger.py).

Why a step of its own, after gold, rather than in a silver or gold asset: clearing must prove that
the whole run succeeded. Silver is rebuilt one table per step, and gold's tables are separate
steps with no order among them, so no existing step knows that all of them are done. This asset
depends on every gold table (and so, through them, on silver): Dagster skips it when any silver
or gold step fails or a blocking check stops gold, and a run killed before it leaves every
window pending. It reads what the run rebuilt from the run's own materializations on the Dagster
instance, never from the run's tags, so a run launched from the UI clears what it covered too.
"""

from datetime import UTC, datetime

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from dora_assets.defs.bronze.assets import RAW_EVENTS
from dora_assets.defs.gold.assets import DORA_MONTHLY, DORA_SUMMARY, DORA_WEEKLY
from dora_assets.defs.silver.assets import silver_assets
from dora_assets.metadata import column_schema, table_row_count
from dora_assets.resources import WAREHOUSE_POOL, DuckDBWarehouse
from dora_assets.transform_ledger import months, record_transform_run, run_coverage
from dora_assets.windows import SINGLE_RUN

TRANSFORM_RUNS = AssetKey(["gold", "transform_runs"])
GOLD_TABLES = [DORA_MONTHLY, DORA_WEEKLY, DORA_SUMMARY]
SILVER_TABLES = [key for definition in silver_assets for key in definition.keys]


@asset(
    pool=WAREHOUSE_POOL,
    key=TRANSFORM_RUNS,
    deps=GOLD_TABLES,
    group_name="gold",
    # As the gold tables: `dagster asset materialize --select group:gold --partition-range ...`
    # takes it in the same single run.
    backfill_policy=SINGLE_RUN,
    kinds={"duckdb"},
    metadata=column_schema(
        [
            ("run_id", "VARCHAR", "The dora_transform run."),
            (
                "through_ingest_id",
                "BIGINT",
                "The newest ingest batch reported before the run began (its high-water mark).",
            ),
            ("first_day", "DATE", "First day of the window whose silver the run rebuilt."),
            ("last_day", "DATE", "Last day of that window (inclusive)."),
            ("windows_cleared", "BIGINT", "Pending rows of bronze.pending_transforms this run cleared."),
            ("finished_at", "TIMESTAMPTZ", "When the run recorded itself, after gold."),
        ]
    ),
)
def transform_runs(context: AssetExecutionContext, warehouse: DuckDBWarehouse) -> MaterializeResult:
    """The transform ledger's clearing entries: one row per dora_transform run that rebuilt every
    silver table over a window and then all of gold, with the newest ingest batch it read through.
    It clears the windows of bronze.pending_transforms it covered, so that a killed or failed
    transform's windows stay pending until a later one covers them. Grain: transform run.
    Source: the run's own materializations (Dagster instance)."""
    coverage = run_coverage(context.instance, context.run.run_id, [*SILVER_TABLES, *GOLD_TABLES], ingest=RAW_EVENTS)
    if coverage is None:
        context.log.info("this run did not rebuild every silver table and gold: the transform ledger is left as it is")
        with warehouse.get_connection() as connection:
            rows = table_row_count(connection, "gold.transform_runs")
        return MaterializeResult(metadata={"dagster/row_count": rows, "windows_cleared": 0})
    with warehouse.get_connection() as connection:
        cleared, remaining = record_transform_run(connection, context.run.run_id, coverage, datetime.now(UTC))
        rows = table_row_count(connection, "gold.transform_runs")
    context.log.info(
        f"silver rebuilt {coverage.first_day}..{coverage.last_day} through ingest batch "
        f"{coverage.through_ingest_id}: {cleared} pending window(s) cleared, {len(remaining)} still pending"
    )
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "windows_cleared": cleared,
            "windows_still_pending": len(remaining),
            "months_still_pending": MetadataValue.json(months(remaining)),
            "through_ingest_id": coverage.through_ingest_id or 0,
            "first_day": coverage.first_day.isoformat(),
            "last_day": coverage.last_day.isoformat(),
        }
    )
