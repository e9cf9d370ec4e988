"""Gold assets: the DORA metrics, computed by SQL over silver (recomputed whole: small tables)."""

from collections.abc import Callable
from datetime import datetime, timedelta

from dagster import AssetKey, MaterializeResult, MetadataValue, asset

from dora_assets.config import DoraConfig
from dora_assets.defs.silver.assets import CHANGES, DEPLOYMENT_CHANGES, DEPLOYMENTS, INCIDENTS
from dora_assets.metadata import column_schema, markdown_table, table_row_count
from dora_assets.resources import WAREHOUSE_POOL, Clock, DoraConfigResource, DuckDBWarehouse
from dora_assets.sql import fetch_dicts, run_sql_in_transaction
from dora_assets.windows import SINGLE_RUN, TimeWindow

DORA_MONTHLY = AssetKey(["gold", "dora_monthly"])
DORA_WEEKLY = AssetKey(["gold", "dora_weekly"])
DORA_SUMMARY = AssetKey(["gold", "dora_summary"])
LEAD_TIME_STAGES = AssetKey(["gold", "lead_time_stages"])
STAGES = ("coding", "pickup", "review", "deploy")
SILVER_INPUTS = [DEPLOYMENTS, DEPLOYMENT_CHANGES, INCIDENTS, CHANGES]
# The figures of gold.dora_monthly that CONTRACT section 4 defines (tiers aside): what every
# independent computation of the metrics (the tests' oracle, the benchmark's bare script) must match.
CONTRACT_FIGURES = (
    "deployments",
    "deploy_days",
    "changes_deployed",
    "lead_time_median_hours",
    "failed_deployments",
    "change_failure_rate",
    "incidents",
    "incidents_resolved",
    "time_to_restore_median_hours",
)
# What every gold table shares: the layer's group, DuckDB, and a single-run backfill policy so
# that `dagster asset materialize --partition-range` can take silver and gold in one run.
GOLD_TABLE = {"group_name": "gold", "kinds": {"duckdb"}, "backfill_policy": SINGLE_RUN}

_TIER = "elite, high, medium or low under the configured benchmark; NULL without a figure."


def dora_monthly_params(config: DoraConfig) -> dict[str, object]:
    """The config's teams and the chosen benchmark's cut-offs, as the gold SQL's parameters."""
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


def published_params(config: DoraConfig, as_of: datetime) -> dict[str, object]:
    """What gold publishes as of ``as_of`` (the gold.published_* macros): rows up to now plus
    the clock-skew tolerance, lead times and times to restore held back when negative beyond
    it, and outliers held back only where the config excludes them."""
    checks = config.checks
    return {
        "as_of": as_of,
        "latest_allowed": as_of + timedelta(minutes=checks.future_tolerance_minutes),
        "skew_hours": checks.future_tolerance_minutes / 60,
        "exclude_lead_time_outliers": checks.exclude_lead_time_outliers,
        "lead_time_outlier_hours": checks.max_lead_time_days * 24,
        "exclude_restore_time_outliers": checks.exclude_restore_time_outliers,
        "restore_outlier_hours": checks.max_restore_days * 24,
    }


def _period_columns(period: tuple[str, str, str]) -> list[tuple[str, str, str]]:
    """The columns of gold.dora_monthly and gold.dora_weekly (``period`` names the first)."""
    return [
        period,
        ("repo", "VARCHAR", "Repository (OWNER/NAME), or '*' for the whole organisation."),
        ("team", "VARCHAR", "The repo's team from config (the repo itself when it has none); '*' org-wide."),
        ("deployments", "BIGINT", "Successful production deployments in the period."),
        ("deploy_days", "BIGINT", "Distinct UTC days with at least one deployment."),
        ("deployments_per_week", "DOUBLE", "deployments * 7 / days in the period."),
        ("changes_deployed", "BIGINT", "(deployment, change) pairs of the period's deployments."),
        ("lead_time_median_hours", "DOUBLE", "Continuous median lead time for changes, hours."),
        ("failed_deployments", "BIGINT", "Deployments that shipped an incident's root cause."),
        ("change_failure_rate", "DOUBLE", "failed_deployments / deployments; NULL without deployments."),
        ("incidents", "BIGINT", "Incidents created in the period."),
        ("incidents_resolved", "BIGINT", "Of those, the ones resolved."),
        ("time_to_restore_median_hours", "DOUBLE", "Continuous median time to restore of those, hours."),
        ("deployment_frequency_tier", "VARCHAR", _TIER),
        ("lead_time_tier", "VARCHAR", _TIER),
        ("change_failure_rate_tier", "VARCHAR", _TIER),
        ("time_to_restore_tier", "VARCHAR", _TIER),
        ("benchmark", "VARCHAR", "The DORA report year whose tier table was applied."),
        ("lead_time_p90_hours", "DOUBLE", "90th percentile lead time for changes, hours."),
        ("time_to_restore_p90_hours", "DOUBLE", "90th percentile time to restore, hours."),
        ("rework_deployments", "BIGINT", "Deployments made while one of the repo's incidents was open."),
        ("rework_rate", "DOUBLE", "rework_deployments / deployments (DORA's fifth metric); NULL without deployments."),
        (
            "lead_times_held_back",
            "BIGINT",
            "Of changes_deployed, pairs left out of the lead time figures: negative beyond the clock-skew "
            "tolerance, or outliers when checks.exclude_lead_time_outliers (plausible_lead_times lists them).",
        ),
        (
            "restore_times_held_back",
            "BIGINT",
            "Of incidents_resolved, incidents left out of the time to restore figures: resolved before "
            "created, or outliers when checks.exclude_restore_time_outliers (plausible_restore_times).",
        ),
        ("changes_with_pull_request", "BIGINT", "Of changes_deployed, those that merged or belong to a pull request."),
        (
            "lead_time_starts_branch_pushes",
            "BIGINT",
            "Of changes_deployed, those whose lead time starts at their pull request's first commit pushed to its "
            "branch.",
        ),
        (
            "lead_time_starts_api",
            "BIGINT",
            "Of changes_deployed, those whose lead time starts at their pull request's first commit the API listed.",
        ),
        (
            "lead_time_starts_pr_opened",
            "BIGINT",
            "Of changes_deployed, those whose lead time starts when their pull request was opened (fallback).",
        ),
        ("bot_changes", "BIGINT", "Shipped changes by bots (config lead_time.bot_authors), counted apart."),
        (
            "changes_before_tracking",
            "BIGINT",
            "Changes a repo's first known deployment shipped that predate its onboarding: in no figure.",
        ),
    ]


def _refresh_periods(
    warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock, grain: str, table: str
) -> tuple[int, list[dict]]:
    """Recompute gold.<table> at ``grain`` (period_figures.sql, then <table>.sql, in one
    transaction); returns its row count and the organisation's latest periods."""
    config = dora_config.load()
    params = {
        **TimeWindow.all_time().month_params(),
        **dora_monthly_params(config),
        **published_params(config, clock.now()),
        "grain": grain,
    }
    with warehouse.get_connection() as connection:
        run_sql_in_transaction(connection, "gold", ["period_figures", table], params)
        rows = table_row_count(connection, f"gold.{table}")
        latest = fetch_dicts(connection, "gold", "latest_org_periods", params)
    return rows, latest


def _latest_metadata(rows: int, latest: list[dict], benchmark: str) -> dict:
    """Row count, the latest periods as a table, and the latest complete figures as numbers
    (which the Dagster UI plots across materializations)."""
    metadata: dict = {"dagster/row_count": rows, "benchmark": benchmark, "latest": markdown_table(latest)}
    if len(latest) > 1:  # the latest period is still running: plot the one before
        complete = latest[1]
        metadata |= {
            f"org_{name}": MetadataValue.float(float(value))
            for name, value in complete.items()
            if name != "period" and value is not None
        }
    return metadata


@asset(
    pool=WAREHOUSE_POOL,
    key=DORA_MONTHLY,
    deps=SILVER_INPUTS,
    **GOLD_TABLE,
    metadata=column_schema(_period_columns(("month", "DATE", "First day of the calendar month (UTC)."))),
)
def dora_monthly(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock) -> MaterializeResult:
    """One row per (calendar month in UTC, repo) plus org-wide rows (repo '*'): deployment
    frequency, lead time for changes (p50, p90), change failure rate, rework rate and time to
    restore (p50, p90), with DORA tiers. Grain: month x repo. Source: silver.deployments,
    silver.deployment_changes, silver.incidents, silver.changes."""
    rows, latest = _refresh_periods(warehouse, dora_config, clock, "month", "dora_monthly")
    return MaterializeResult(metadata=_latest_metadata(rows, latest, dora_config.load().benchmark))


@asset(
    pool=WAREHOUSE_POOL,
    key=DORA_WEEKLY,
    deps=SILVER_INPUTS,
    **GOLD_TABLE,
    metadata=column_schema(_period_columns(("week", "DATE", "Monday of the ISO week (UTC)."))),
)
def dora_weekly(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock) -> MaterializeResult:
    """One row per (ISO week starting Monday in UTC, repo) plus org-wide rows (repo '*'): the
    same figures as gold.dora_monthly, for trends. Grain: week x repo. Source: as dora_monthly."""
    rows, latest = _refresh_periods(warehouse, dora_config, clock, "week", "dora_weekly")
    return MaterializeResult(metadata=_latest_metadata(rows, latest, dora_config.load().benchmark))


def _refresh_whole(
    warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock, table: str, headline: str
) -> tuple[int, list[dict]]:
    """Recompute gold.<table> whole (``<table>.sql``, one transaction) as of the clock; returns its
    row count and the organisation's rows of ``<headline>.sql``."""
    config = dora_config.load()
    params = {**dora_monthly_params(config), **published_params(config, clock.now())}
    with warehouse.get_connection() as connection:
        run_sql_in_transaction(connection, "gold", table, params)
        return table_row_count(connection, f"gold.{table}"), fetch_dicts(connection, "gold", headline)


def _plotted(rows: list[dict], label: Callable[[dict], str], key: str) -> dict:
    """Each row's numbers as ``org_<label>_<figure>`` floats (``key``, the row's own label column,
    aside), so that the Dagster UI plots them across materializations."""
    return {
        f"org_{label(row)}_{name}": MetadataValue.float(float(value))
        for row in rows
        for name, value in row.items()
        if name != key and isinstance(value, int | float) and not isinstance(value, bool)
    }


def _figure(name: str) -> tuple[str, str, str]:
    """One column of gold.dora_monthly's figures, by name (for tables that share them)."""
    [column] = [column for column in _period_columns(("month", "DATE", "")) if column[0] == name]
    return column


@asset(
    pool=WAREHOUSE_POOL,
    key=DORA_SUMMARY,
    deps=SILVER_INPUTS,
    **GOLD_TABLE,
    metadata=column_schema(
        [
            ("window_days", "INTEGER", "30 or 90: the rolling window's length in days."),
            ("window_start", "TIMESTAMPTZ", "Start of the window (exclusive)."),
            ("window_end", "TIMESTAMPTZ", "End of the window (inclusive): the refresh time."),
            ("scope", "VARCHAR", "org, team or repo."),
            ("name", "VARCHAR", "'*' for the organisation; else the team's or the repo's name."),
            *map(
                _figure,
                (
                    "deployments",
                    "deploy_days",
                    "deployments_per_week",
                    "changes_deployed",
                    "lead_time_median_hours",
                    "lead_time_p90_hours",
                    "failed_deployments",
                    "change_failure_rate",
                    "rework_deployments",
                    "rework_rate",
                    "incidents",
                    "incidents_resolved",
                    "time_to_restore_median_hours",
                    "time_to_restore_p90_hours",
                    "deployment_frequency_tier",
                    "lead_time_tier",
                    "change_failure_rate_tier",
                    "time_to_restore_tier",
                    "benchmark",
                ),
            ),
        ]
    ),
)
def dora_summary(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock) -> MaterializeResult:
    """Rolling 30- and 90-day figures ending at the refresh, org-wide, per team and per repo:
    the dashboard's tiles and tables. Grain: window x scope x name. Source: as gold.dora_monthly."""
    rows, org = _refresh_whole(warehouse, dora_config, clock, "dora_summary", "summary_headlines")
    metadata = {
        "dagster/row_count": rows,
        "benchmark": dora_config.load().benchmark,
        "org_headlines": markdown_table(org),
    }
    return MaterializeResult(metadata=metadata | _plotted(org, lambda row: f"{row['window_days']}d", "window_days"))


@asset(
    pool=WAREHOUSE_POOL,
    key=LEAD_TIME_STAGES,
    deps=[DEPLOYMENT_CHANGES],
    **GOLD_TABLE,
    metadata=column_schema(
        [
            ("grain", "VARCHAR", "month, week (periods of deployment) or 30d, 90d (rolling windows to the refresh)."),
            ("period_start", "DATE", "First day of the month, week or window."),
            ("scope", "VARCHAR", "org, team or repo."),
            ("name", "VARCHAR", "'*' for the organisation; else the team's or the repo's name."),
            ("changes", "BIGINT", "Counted changes that merged a pull request."),
            ("changes_reviewed", "BIGINT", "Of those, the ones reviewed by someone other than the author."),
            *(
                (
                    f"{stage}_{quantile}_hours",
                    "DOUBLE",
                    f"{label}: {'median' if quantile == 'p50' else '90th percentile'}.",
                )
                for stage, label in zip(
                    STAGES,
                    (
                        "Coding, first commit -> opened",
                        "Pickup, opened -> first review by another",
                        "Review, first review (else opened) -> merged",
                        "Deploy, merged -> deployed",
                    ),
                    strict=True,
                )
                for quantile in ("p50", "p90")
            ),
        ]
    ),
)
def lead_time_stages(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock) -> MaterializeResult:
    """Where the lead time of changes that merged a pull request went: coding, pickup, review and
    deploy (median and p90), monthly, weekly and over rolling 30 and 90 days, for the
    organisation, each team and each repo. Grain: grain x period x scope x name. Source:
    silver.deployment_changes (with silver.pull_requests and silver.pull_request_reviews)."""
    rows, org = _refresh_whole(warehouse, dora_config, clock, "lead_time_stages", "stages_headline")
    metadata = {"dagster/row_count": rows, "org_stages": markdown_table(org)}
    return MaterializeResult(metadata=metadata | _plotted(org, lambda row: row["grain"], "grain"))


gold_assets = [dora_monthly, dora_weekly, dora_summary, lead_time_stages]
