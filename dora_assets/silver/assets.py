"""Silver assets: SQL over bronze (``sql/<table>.sql``), each replacing its time window in one
transaction, so that any of them can be recomputed from the immutable bronze at any time."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from dora_assets.bronze.assets import RAW_EVENTS
from dora_assets.metadata import column_schema, table_row_count
from dora_assets.resources import DoraConfigResource, DuckDBWarehouse
from dora_assets.sql import run_sql_in_transaction
from dora_assets.windows import MONTHLY, SINGLE_RUN, TimeWindow

PUSHES = AssetKey(["silver", "pushes"])
CHANGES = AssetKey(["silver", "changes"])
DEPLOYMENTS = AssetKey(["silver", "deployments"])
DEPLOYMENT_CHANGES = AssetKey(["silver", "deployment_changes"])
INCIDENTS = AssetKey(["silver", "incidents"])

# What every silver asset shares: the layer's group, DuckDB, monthly partitions, and any range
# of months in one run.
SILVER_TABLE = {"group_name": "silver", "kinds": {"duckdb"}, "partitions_def": MONTHLY, "backfill_policy": SINGLE_RUN}

SOURCE = ("source", "VARCHAR", "The system the fact came from (github, ...).")
REPO = ("repo", "VARCHAR", "Repository as OWNER/NAME.")


def refresh_silver_table(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, table: str, params: dict[str, object]
) -> MaterializeResult:
    """Replace the window's rows of ``silver.<table>`` with ``silver/sql/<table>.sql``."""
    window = TimeWindow.for_run(context)
    with warehouse.get_connection() as connection:
        run_sql_in_transaction(connection, "silver", table, {**window.params(), **params})
        rows = table_row_count(connection, f"silver.{table}")
    context.log.info(f"silver.{table}: replaced [{window.start:%Y-%m-%d}, {window.end:%Y-%m-%d}); {rows} rows in all")
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
        }
    )


@asset(
    key=PUSHES,
    deps=[RAW_EVENTS],
    **SILVER_TABLE,
    metadata=column_schema(
        [
            SOURCE,
            REPO,
            ("ref", "VARCHAR", "The pushed ref (refs/heads/... or refs/tags/...)."),
            ("branch", "VARCHAR", "Branch name for branch pushes; NULL for tags."),
            ("before_sha", "VARCHAR", "Head of the ref before the push."),
            ("after_sha", "VARCHAR", "Head of the ref after the push."),
            ("pushed_at", "TIMESTAMPTZ", "Time of the push (repository.pushed_at)."),
            ("commit_count", "INTEGER", "Commits listed in the push."),
            ("commits", "STRUCT(change_id, time_created)[]", "The pushed commits and their timestamps."),
            ("delivery_id", "VARCHAR", "The bronze delivery."),
        ]
    ),
)
def pushes(context: AssetExecutionContext, warehouse: DuckDBWarehouse) -> MaterializeResult:
    """One row per push delivery: the branch it moved and the commits it carried.
    Grain: push delivery. Source: bronze.raw_events (GitHub `push`)."""
    return refresh_silver_table(context, warehouse, "pushes", {})


@asset(
    key=CHANGES,
    deps=[PUSHES],
    **SILVER_TABLE,
    metadata=column_schema(
        [
            SOURCE,
            REPO,
            ("change_id", "VARCHAR", "Commit sha (lower-case)."),
            ("time_created", "TIMESTAMPTZ", "The commit's earliest timestamp over all pushes."),
            ("branch", "VARCHAR", "Branch of the push that first carried it."),
        ]
    ),
)
def changes(context: AssetExecutionContext, warehouse: DuckDBWarehouse) -> MaterializeResult:
    """One row per (repo, commit) seen in any push; a commit in several pushes is one change
    with its earliest time. Grain: repo x commit. Source: silver.pushes."""
    return refresh_silver_table(context, warehouse, "changes", {})


@asset(
    key=DEPLOYMENTS,
    deps=[RAW_EVENTS],
    **SILVER_TABLE,
    metadata=column_schema(
        [
            SOURCE,
            REPO,
            ("deploy_id", "VARCHAR", "The deployment's id (GitHub deployment.id)."),
            ("environment", "VARCHAR", "The production environment deployed to."),
            ("commit_sha", "VARCHAR", "The deployed commit (deployment.sha)."),
            ("ref", "VARCHAR", "The deployed branch (deployment.ref)."),
            ("time_deployed", "TIMESTAMPTZ", "created_at of the earliest successful status."),
            ("delivery_id", "VARCHAR", "The bronze delivery of that status."),
        ]
    ),
)
def deployments(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource
) -> MaterializeResult:
    """One row per successful deployment to a production environment (config
    production_environments), at its earliest success. Grain: deployment.
    Source: bronze.raw_events (GitHub `deployment_status` with state success)."""
    config = dora_config.load()
    return refresh_silver_table(
        context, warehouse, "deployments", {"production_environments": config.production_environments}
    )


@asset(
    key=DEPLOYMENT_CHANGES,
    deps=[DEPLOYMENTS, CHANGES, PUSHES],
    **SILVER_TABLE,
    metadata=column_schema(
        [
            ("deploy_id", "VARCHAR", "The deployment that first shipped the change."),
            ("change_id", "VARCHAR", "The shipped commit."),
            SOURCE,
            REPO,
            ("time_created", "TIMESTAMPTZ", "The change's time (silver.changes)."),
            ("time_deployed", "TIMESTAMPTZ", "The deployment's time."),
            ("lead_time_hours", "DOUBLE", "time_deployed - time_created, in hours."),
        ]
    ),
)
def deployment_changes(context: AssetExecutionContext, warehouse: DuckDBWarehouse) -> MaterializeResult:
    """One row per (deployment, change) that the deployment shipped to production first: the
    commits of the pushes to the deployment's branch up to and including the push of its
    commit, not shipped by an earlier deployment. Grain: deployment x change.
    Source: silver.deployments, silver.pushes, silver.changes."""
    return refresh_silver_table(context, warehouse, "deployment_changes", {})


@asset(
    key=INCIDENTS,
    deps=[RAW_EVENTS],
    **SILVER_TABLE,
    metadata=column_schema(
        [
            SOURCE,
            REPO,
            ("incident_id", "VARCHAR", "Issue number (GitHub)."),
            ("title", "VARCHAR", "Issue title."),
            ("time_created", "TIMESTAMPTZ", "When the incident was opened."),
            ("time_resolved", "TIMESTAMPTZ", "When it was resolved; NULL while open."),
            ("root_cause_sha", "VARCHAR", "Sha after 'root cause:' in the body; NULL when unknown."),
            ("url", "VARCHAR", "Link to the issue."),
        ]
    ),
)
def incidents(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource
) -> MaterializeResult:
    """One row per issue carrying an incident label (config incident_labels), as of its latest
    state. Grain: incident. Source: bronze.raw_events (GitHub `issues`)."""
    config = dora_config.load()
    return refresh_silver_table(context, warehouse, "incidents", {"incident_labels": config.incident_labels})


silver_assets = [pushes, changes, deployments, deployment_changes, incidents]
