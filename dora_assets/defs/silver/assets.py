"""Silver assets: SQL over bronze (``sql/<table>.sql``, and for the tables the sources feed one
``sql/<table>/<mapping>.sql`` per source mapping, named by the registry dora_assets/sources.py),
each replacing its time window in one transaction, so that any of them can be recomputed from the
immutable bronze at any time.

Every source maps onto the same tables (README: "Sources"). A delivery of a mapped event type
that lacks a field its table needs is not dropped: the asset that maps it writes it to
``silver.rejected_events`` with the reason (replaced per table and window like the table
itself), and the ``no_rejected_events`` check beside the asset counts it."""

import pandas
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from dora_assets.defs.bronze.assets import RAW_EVENTS
from dora_assets.lineage import commit_parents, first_shipments
from dora_assets.metadata import column_schema, table_row_count
from dora_assets.resources import WAREHOUSE_POOL, DoraConfigResource, DuckDBWarehouse
from dora_assets.sources import MAPPED_TABLES, sql_files
from dora_assets.sql import run_sql, run_sql_in_transaction, transaction
from dora_assets.windows import MONTHLY, SINGLE_RUN, TimeWindow

PUSHES = AssetKey(["silver", "pushes"])
PULL_REQUESTS = AssetKey(["silver", "pull_requests"])
PULL_REQUEST_REVIEWS = AssetKey(["silver", "pull_request_reviews"])
CHANGES = AssetKey(["silver", "changes"])
DEPLOYMENTS = AssetKey(["silver", "deployments"])
DEPLOYMENT_CHANGES = AssetKey(["silver", "deployment_changes"])
INCIDENTS = AssetKey(["silver", "incidents"])

# What every silver asset shares: the layer's group, DuckDB, monthly partitions, and any range
# of months in one run.
SILVER_TABLE = {"group_name": "silver", "kinds": {"duckdb"}, "partitions_def": MONTHLY, "backfill_policy": SINGLE_RUN}

SOURCE = ("source", "VARCHAR", "The system the fact came from (github, gitlab, pagerduty, jira, jenkins).")
REPO = ("repo", "VARCHAR", "Repository as OWNER/NAME.")


def refresh_silver_table(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, table: str
) -> MaterializeResult:
    """Replace the window's rows of ``silver.<table>`` (and its rejects) under the config's
    definitions, in one transaction.

    A table built from other silver tables is one file, ``defs/silver/sql/<table>.sql``. A table the
    sources feed (``dora_assets.sources.MAPPED_TABLES``) runs the files the registry names for it:
    ``window_deliveries.sql`` first finds where in bronze the window's rows can come from
    (bronze.raw_events_index), so that a month's refresh does not parse all of history; then
    ``<table>/candidates.sql``, one ``<table>/<mapping>.sql`` per source mapping (its candidate
    rows) and ``<table>.sql`` (merge, rejects marked, window replaced); then
    ``replace_rejects.sql``."""
    window = TimeWindow.for_run(context)
    with warehouse.get_connection() as connection:
        files = ["window_deliveries", *sql_files(table), "replace_rejects"] if table in MAPPED_TABLES else [table]
        params = {**window.params(), **dora_config.load().silver_params(), "target_table": table}
        run_sql_in_transaction(connection, "silver", files, params)
        rows = table_row_count(connection, f"silver.{table}")
        [rejected] = connection.execute(
            "SELECT count(*) FROM silver.rejected_events WHERE target_table = $table "
            "AND received_at >= $window_start AND received_at < $window_end",
            {"table": table, **window.params()},
        ).fetchone()
    context.log.info(f"silver.{table}: replaced [{window.start:%Y-%m-%d}, {window.end:%Y-%m-%d}); {rows} rows in all")
    if rejected:
        context.log.warning(f"silver.{table}: {rejected} deliveries in the window rejected (silver.rejected_events)")
    return window_result(window, rows, rejected_in_window=rejected)


def window_result(window: TimeWindow, rows: int, **metadata: object) -> MaterializeResult:
    """A silver table's materialization: its rows in all and the window it replaced (the transform
    ledger reads ``window_start``/``window_end``: dora_assets.transform_ledger.run_coverage)."""
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            **metadata,
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
        }
    )


@asset(
    pool=WAREHOUSE_POOL,
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
def pushes(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource
) -> MaterializeResult:
    """One row per push delivery: the branch it moved and the commits it carried.
    Grain: push delivery. Source: bronze.raw_events (GitHub `push`, GitLab `push`/`tag_push`)."""
    return refresh_silver_table(context, warehouse, dora_config, "pushes")


@asset(
    pool=WAREHOUSE_POOL,
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
def changes(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource
) -> MaterializeResult:
    """One row per (repo, commit) seen in any push; a commit in several pushes is one change
    with its earliest time. Grain: repo x commit. Source: silver.pushes."""
    return refresh_silver_table(context, warehouse, dora_config, "changes")


@asset(
    pool=WAREHOUSE_POOL,
    key=DEPLOYMENTS,
    deps=[RAW_EVENTS],
    **SILVER_TABLE,
    metadata=column_schema(
        [
            SOURCE,
            REPO,
            (
                "deploy_id",
                "VARCHAR",
                "GitHub deployment.id; other signals prefixed: workflow_run:<id>, release:<id>, gitlab:<id>, "
                "jenkins:<job>#<number>.",
            ),
            ("environment", "VARCHAR", "The production environment deployed to."),
            ("commit_sha", "VARCHAR", "The deployed commit."),
            ("ref", "VARCHAR", "The deployed branch."),
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
    Source: bronze.raw_events (GitHub `deployment_status`, and `workflow_run`/`release` when
    configured; GitLab `deployment`; Jenkins `build.completed`/`build.finalized` of deploy jobs)."""
    return refresh_silver_table(context, warehouse, dora_config, "deployments")


@asset(
    pool=WAREHOUSE_POOL,
    key=DEPLOYMENT_CHANGES,
    deps=[DEPLOYMENTS, CHANGES, PUSHES, PULL_REQUESTS, PULL_REQUEST_REVIEWS],
    **SILVER_TABLE,
    metadata=column_schema(
        [
            ("deploy_id", "VARCHAR", "The deployment that first shipped the change."),
            ("change_id", "VARCHAR", "The shipped commit."),
            SOURCE,
            REPO,
            ("time_created", "TIMESTAMPTZ", "The change's time (silver.changes)."),
            ("time_deployed", "TIMESTAMPTZ", "The deployment's time."),
            ("lead_time_hours", "DOUBLE", "time_deployed - lead_time_start, in hours."),
            ("lead_time_start", "TIMESTAMPTZ", "time_created, or the first commit of the pull request it merged."),
            (
                "start_source",
                "VARCHAR",
                "commit, pull_request_branch_pushes, pull_request_commits_api or pull_request_opened (fallback).",
            ),
            ("pull_request_id", "VARCHAR", "The pull request it merged or belongs to."),
            ("excluded_reason", "VARCHAR", "NULL when it counts in lead time; else why not."),
            ("author", "VARCHAR", "Its pull request's author, else the commit's."),
            ("is_bot", "BOOLEAN", "That author is a bot (config lead_time.bot_authors)."),
            ("time_opened", "TIMESTAMPTZ", "For a pull request's merge or squash commit: when it was opened."),
            ("time_first_review", "TIMESTAMPTZ", "Its first review or comment by someone else; NULL without one."),
            ("time_merged", "TIMESTAMPTZ", "When it was merged."),
        ]
    ),
)
def deployment_changes(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource
) -> MaterializeResult:
    """One row per (deployment, change) that the deployment shipped to production first: the
    commits its commit has as ancestors that no earlier deployment of the repo had (lineage by
    ancestry, dora_assets/lineage.py), with the start of each change's lead time (a pull
    request's first commit for its merge or squash commit). Grain: deployment x change.
    Source: silver.deployments, silver.pushes, silver.pushed_commits, silver.changes,
    silver.pull_requests."""
    window = TimeWindow.for_run(context)
    with warehouse.get_connection() as connection, transaction(connection):
        params = {**window.params(), **dora_config.load().silver_params()}
        deployments = run_sql(connection, "silver", "shipping_order", params).fetchall()
        parents = commit_parents(run_sql(connection, "silver", "commit_graph", params).fetchall())
        in_window = {(repo, deploy_id) for repo, deploy_id, _, inside in deployments if inside}
        shipped = first_shipments([row[:3] for row in deployments], parents)
        shipments = pandas.DataFrame(
            [row for row in shipped if row[:2] in in_window], columns=["repo", "deploy_id", "change_id"], dtype="string"
        )
        connection.register("shipments", shipments)
        try:
            run_sql(connection, "silver", "deployment_changes", params)
        finally:
            connection.unregister("shipments")
        rows = table_row_count(connection, "silver.deployment_changes")
    context.log.info(
        f"silver.deployment_changes: replaced [{window.start:%Y-%m-%d}, {window.end:%Y-%m-%d}) from "
        f"{len(in_window)} deployments (walked with the {len(deployments) - len(in_window)} before them) over "
        f"{len(parents)} commits of their repos' graph; {rows} rows in all"
    )
    return window_result(window, rows)


@asset(
    pool=WAREHOUSE_POOL,
    key=INCIDENTS,
    deps=[RAW_EVENTS],
    **SILVER_TABLE,
    metadata=column_schema(
        [
            SOURCE,
            REPO,
            ("incident_id", "VARCHAR", "Issue number (GitHub), iid (GitLab), incident id (PagerDuty), key (Jira)."),
            ("title", "VARCHAR", "Issue or incident title."),
            ("time_created", "TIMESTAMPTZ", "When the incident was opened."),
            ("time_resolved", "TIMESTAMPTZ", "When it was resolved; NULL while open."),
            ("root_cause_sha", "VARCHAR", "Sha after 'root cause:' in the body; NULL when unknown."),
            ("url", "VARCHAR", "Link to the issue or incident."),
            ("reports", "VARCHAR[]", "The source reports merged into this incident (source:id), preferred first."),
        ]
    ),
)
def incidents(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource
) -> MaterializeResult:
    """One row per incident as of its latest state, with the reports of several sources about
    the same outage merged (config incident_correlation). Grain: incident. Source:
    bronze.raw_events (GitHub `issues` and GitLab `issue` with an incident label or type,
    PagerDuty `incident.*`, Jira `jira:issue_*` of incident type or label)."""
    return refresh_silver_table(context, warehouse, dora_config, "incidents")


@asset(
    pool=WAREHOUSE_POOL,
    key=PULL_REQUESTS,
    deps=[RAW_EVENTS],
    **SILVER_TABLE,
    metadata=column_schema(
        [
            SOURCE,
            REPO,
            ("pull_request_id", "VARCHAR", "PR number (GitHub) or MR iid (GitLab)."),
            ("title", "VARCHAR", "Title."),
            ("target_branch", "VARCHAR", "The branch it merged into."),
            ("time_opened", "TIMESTAMPTZ", "When it was opened."),
            ("time_merged", "TIMESTAMPTZ", "When it was merged."),
            ("merge_commit_sha", "VARCHAR", "The merge commit."),
            ("url", "VARCHAR", "Link to it."),
            ("delivery_id", "VARCHAR", "The bronze delivery of its latest state."),
            ("squash_commit_sha", "VARCHAR", "GitLab's squash commit, when squashed."),
            ("source_branch", "VARCHAR", "The branch it merged from."),
            ("commit_ids", "VARCHAR[]", "Its commits, when the API listed them."),
            ("first_commit_at", "TIMESTAMPTZ", "Earliest author time of those commits."),
            ("author", "VARCHAR", "Who opened it (login or username)."),
        ]
    ),
)
def pull_requests(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource
) -> MaterializeResult:
    """One row per merged pull request (GitHub) or merge request (GitLab), at its latest
    state. Grain: merged request. Source: bronze.raw_events (GitHub `pull_request` closed and
    merged, GitLab `merge_request` merged)."""
    return refresh_silver_table(context, warehouse, dora_config, "pull_requests")


@asset(
    pool=WAREHOUSE_POOL,
    key=PULL_REQUEST_REVIEWS,
    deps=[RAW_EVENTS],
    **SILVER_TABLE,
    metadata=column_schema(
        [
            SOURCE,
            REPO,
            ("pull_request_id", "VARCHAR", "PR number (GitHub) or MR iid (GitLab)."),
            ("reviewer", "VARCHAR", "Who reviewed or commented (login or username)."),
            ("kind", "VARCHAR", "review, review_comment, comment (GitHub) or note (GitLab)."),
            ("state", "VARCHAR", "A review's state: approved, changes_requested, commented."),
            ("time_reviewed", "TIMESTAMPTZ", "When it was submitted or written."),
            ("by_author", "BOOLEAN", "The reviewer is the request's author."),
            ("delivery_id", "VARCHAR", "The bronze delivery."),
        ]
    ),
)
def pull_request_reviews(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource
) -> MaterializeResult:
    """One row per review or comment on a pull or merge request: the first by someone other than
    its author ends the request's pickup time. Grain: review or comment delivery. Source:
    bronze.raw_events (GitHub `pull_request_review` submitted, `pull_request_review_comment` and
    `issue_comment` created on a pull request; GitLab `note` on a merge request)."""
    return refresh_silver_table(context, warehouse, dora_config, "pull_request_reviews")


silver_assets = [pushes, changes, deployments, deployment_changes, incidents, pull_requests, pull_request_reviews]
