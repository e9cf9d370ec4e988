"""Gold assets: the DORA metrics, computed by SQL over silver."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from dora_assets.config import DoraConfig
from dora_assets.metadata import column_schema, markdown_table, table_row_count
from dora_assets.resources import DoraConfigResource, DuckDBWarehouse
from dora_assets.silver.assets import CHANGES, DEPLOYMENT_CHANGES, DEPLOYMENTS, INCIDENTS
from dora_assets.sql import run_sql, run_sql_in_transaction
from dora_assets.windows import SINGLE_RUN, TimeWindow

DORA_MONTHLY = AssetKey(["gold", "dora_monthly"])

_TIER = "elite, high, medium or low under the configured benchmark; NULL without a figure."


def dora_monthly_params(config: DoraConfig) -> dict[str, object]:
    """The config's teams and the chosen benchmark's cut-offs, as the SQL's parameters."""
    benchmark = config.tier_benchmark
    team_repos = [(repo.lower(), team) for team, repos in config.teams.items() for repo in repos]
    params: dict[str, object] = {
        "benchmark": benchmark.version,
        "team_repos": [repo for repo, _ in team_repos],
        "team_names": [team for _, team in team_repos],
    }
    for metric in ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore"):
        bounds = getattr(benchmark, metric)
        params |= {f"{metric}_elite": bounds.elite, f"{metric}_high": bounds.high, f"{metric}_medium": bounds.medium}
    return params


@asset(
    key=DORA_MONTHLY,
    deps=[DEPLOYMENTS, DEPLOYMENT_CHANGES, INCIDENTS, CHANGES],
    group_name="gold",
    # Unpartitioned (recomputed whole from the small silver tables), but with a single-run
    # policy so that `dagster asset materialize --partition-range` can take silver and gold in
    # one run.
    backfill_policy=SINGLE_RUN,
    kinds={"duckdb"},
    metadata=column_schema(
        [
            ("month", "DATE", "First day of the calendar month (UTC)."),
            ("repo", "VARCHAR", "Repository (OWNER/NAME), or '*' for the whole organisation."),
            ("team", "VARCHAR", "The repo's team from config (the repo itself when it has none); '*' org-wide."),
            ("deployments", "BIGINT", "Successful production deployments in the month."),
            ("deploy_days", "BIGINT", "Distinct UTC days with at least one deployment."),
            ("deployments_per_week", "DOUBLE", "deployments * 7 / days in the month."),
            ("changes_deployed", "BIGINT", "(deployment, change) pairs of the month's deployments."),
            ("lead_time_median_hours", "DOUBLE", "Continuous median lead time for changes, hours."),
            ("failed_deployments", "BIGINT", "Deployments that shipped an incident's root cause."),
            ("change_failure_rate", "DOUBLE", "failed_deployments / deployments; NULL without deployments."),
            ("incidents", "BIGINT", "Incidents created in the month."),
            ("incidents_resolved", "BIGINT", "Of those, the ones resolved."),
            ("time_to_restore_median_hours", "DOUBLE", "Continuous median time to restore of those, hours."),
            ("deployment_frequency_tier", "VARCHAR", _TIER),
            ("lead_time_tier", "VARCHAR", _TIER),
            ("change_failure_rate_tier", "VARCHAR", _TIER),
            ("time_to_restore_tier", "VARCHAR", _TIER),
            ("benchmark", "VARCHAR", "The DORA report year whose tier table was applied."),
        ]
    ),
)
def dora_monthly(
    context: AssetExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource
) -> MaterializeResult:
    """One row per (calendar month in UTC, repo) plus org-wide rows (repo '*'): deployment
    frequency, lead time for changes, change failure rate and time to restore, each with its
    DORA tier. Grain: month x repo. Source: silver.deployments, silver.deployment_changes,
    silver.incidents, silver.changes."""
    config = dora_config.load()
    params = {**TimeWindow.all_time().month_params(), **dora_monthly_params(config)}
    with warehouse.get_connection() as connection:
        run_sql_in_transaction(connection, "gold", "dora_monthly", params)
        rows = table_row_count(connection, "gold.dora_monthly")
        latest = run_sql(connection, "gold", "latest_org_months").fetchdf().to_dict("records")
    context.log.info(f"gold.dora_monthly: {rows} rows (benchmark {config.benchmark})")
    return MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "benchmark": config.benchmark,
            "latest_org_months": markdown_table(latest),
            "months": MetadataValue.int(len(latest)),
        }
    )


gold_assets = [dora_monthly]
