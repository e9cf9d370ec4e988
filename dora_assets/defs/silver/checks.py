"""Checks on the silver tables, beside the assets they guard.

None of them blocks gold. A wrong row (a duplicated key, a time in the future, a negative lead
time or time to restore) is held back from the figures in its own repo and period by the gold
SQL (gold.published_* in defs/gold/sql/schema.sql) and reported here at ERROR with its repos and
days; an unusual row (a 400-day lead time, a year-long incident) stays in the figures and is
reported at WARN. One repo's odd record thus never stops every other repo's gold (README:
"Checks")."""

from datetime import timedelta

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetKey, asset_check

from dora_assets.check_results import check_result
from dora_assets.defs.bronze.assets import RAW_EVENTS
from dora_assets.defs.bronze.checks import future_times_result
from dora_assets.defs.silver.assets import (
    CHANGES,
    DEPLOYMENT_CHANGES,
    DEPLOYMENTS,
    INCIDENTS,
    PULL_REQUEST_REVIEWS,
    PULL_REQUESTS,
    PUSHES,
)
from dora_assets.resources import WAREHOUSE_POOL, Clock, DoraConfigResource, DuckDBWarehouse
from dora_assets.sources import MAPPED_TABLES, feeding_event_types
from dora_assets.sql import fetch_dicts
from dora_assets.transform_ledger import run_coverage, transform_lag_result

UNIQUE_KEY_AND_REQUIRED_COLUMNS = "unique_key_and_required_columns"
NO_FUTURE_TIMESTAMPS = "no_future_timestamps"
PLAUSIBLE_LEAD_TIMES = "plausible_lead_times"
PLAUSIBLE_RESTORE_TIMES = "plausible_restore_times"
DEPLOYMENTS_HAVE_PUSHES = "deployments_have_pushes"
ROOT_CAUSES_WERE_DEPLOYED = "root_causes_were_deployed"
NO_REJECTED_EVENTS = "no_rejected_events"

# The bronze event types (source:event_type) read into each table mapped from bronze, from the
# registry of sources (dora_assets/sources.py).
FEEDING_EVENT_TYPES: dict[AssetKey, list[str]] = {
    AssetKey(["silver", table]): feeding_event_types(table) for table in MAPPED_TABLES
}


def _find(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, sql_name: str, **params: object) -> dict:
    """The one summary row of ``defs/silver/sql/<sql_name>.sql`` (counts, examples, repos, days)."""
    params["max_examples"] = dora_config.load().checks.max_examples
    with warehouse.get_connection() as connection:
        [found] = fetch_dicts(connection, "silver", sql_name, params)
    return found


def _table(key: AssetKey) -> str:
    return ".".join(key.path)


def _keys_check(key: AssetKey):
    table = _table(key)

    @asset_check(
        pool=WAREHOUSE_POOL,
        asset=key,
        name=UNIQUE_KEY_AND_REQUIRED_COLUMNS,
        description=(
            f"{table}: its key is unique and the columns the contract requires are never NULL. True by "
            "construction of the silver SQL; gold counts a duplicated key once."
        ),
    )
    def unique_key_and_required_columns(
        warehouse: DuckDBWarehouse, dora_config: DoraConfigResource
    ) -> AssetCheckResult:
        max_examples = dora_config.load().checks.max_examples
        with warehouse.get_connection() as connection:
            problems = fetch_dicts(connection, "silver", "check_keys", {"table": table, "max_examples": max_examples})
        return check_result(
            passed=not problems,
            severity=AssetCheckSeverity.ERROR,
            description=(
                f"{table}: key unique, required columns filled"
                if not problems
                else "; ".join(f"{row['affected']} rows: {row['problem']}" for row in problems)
            ),
            counts={"problems": len(problems), "rows_affected": sum(row["affected"] for row in problems)},
            rows=problems,
        )

    return unique_key_and_required_columns


def _future_check(key: AssetKey):
    table = _table(key)

    @asset_check(
        pool=WAREHOUSE_POOL,
        asset=key,
        name=NO_FUTURE_TIMESTAMPS,
        description=(
            f"{table}: no event time lies in the future (beyond checks.future_tolerance_minutes). Gold "
            "publishes no row dated after now, so such rows wait outside the figures."
        ),
    )
    def no_future_timestamps(
        warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock
    ) -> AssetCheckResult:
        return future_times_result(table, warehouse, dora_config, clock)

    return no_future_timestamps


def _plausibility_result(
    found: dict, *, what: str, plural: str, rows: str, thresholds: dict, excluded: bool, outlier_days: float
) -> AssetCheckResult:
    """ERROR when some of ``found`` are negative beyond the tolerance (wrong: held back from
    gold's figures), WARN when some are only outliers (unusual: kept, or held back where the
    config says so), else a pass."""
    kept = "held back from the figures" if excluded else "kept in the figures"
    if found["negative"]:
        severity, description = (
            AssetCheckSeverity.ERROR,
            f"{found['negative']} negative {plural} held back from the figures (clock skew or a wrong time)"
            + (f"; {found['outliers']} over {outlier_days:g} days, {kept}" if found["outliers"] else ""),
        )
    else:
        severity, description = (
            AssetCheckSeverity.WARN,
            f"{found['outliers']} {plural} over {outlier_days:g} days, {kept} (unusual, not wrong)"
            if found["outliers"]
            else f"every {what} of the {found['judged']} {rows} is plausible",
        )
    return check_result(
        passed=found["negative"] == 0 and found["outliers"] == 0,
        severity=severity,
        description=description,
        counts={"judged": found["judged"], "negative": found["negative"], "outliers": found["outliers"]},
        lists={
            "negative_examples": found["negative_examples"],
            "outlier_examples": found["outlier_examples"],
            "repos": found["repos"],
            "months": found["months"],
        },
        thresholds=thresholds,
    )


def _plausibility_check(
    key: AssetKey, name: str, sql_name: str, description: str, *, what: str, plural: str, rows: str, limit: str
):
    """A check of one kind of duration in ``key``'s table: negative beyond the clock-skew
    tolerance is wrong (ERROR); over ``checks.max_<limit>_days`` is unusual (WARN), held back
    only when ``checks.exclude_<what>_outliers`` says so."""
    max_field, exclude_field = f"max_{limit}_days", f"exclude_{what.replace(' ', '_')}_outliers"

    @asset_check(pool=WAREHOUSE_POOL, asset=key, name=name, description=description)
    def plausibility(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource) -> AssetCheckResult:
        thresholds = dora_config.load().checks
        outlier_days = getattr(thresholds, max_field)
        found = _find(
            warehouse,
            dora_config,
            sql_name,
            tolerance_hours=thresholds.future_tolerance_minutes / 60,
            outlier_hours=outlier_days * 24,
        )
        return _plausibility_result(
            found,
            what=what,
            plural=plural,
            rows=rows,
            excluded=getattr(thresholds, exclude_field),
            outlier_days=outlier_days,
            thresholds=thresholds.model_dump(include={"future_tolerance_minutes", max_field, exclude_field}),
        )

    return plausibility


plausible_lead_times = _plausibility_check(
    DEPLOYMENT_CHANGES,
    PLAUSIBLE_LEAD_TIMES,
    "check_lead_times",
    "No lead time is negative beyond the clock-skew tolerance (a change created after the deployment that "
    "shipped it: ERROR, held back from gold's lead time figures in its repo and month). Lead times over "
    "checks.max_lead_time_days (a long-lived branch) are reported at WARN and kept, unless "
    "checks.exclude_lead_time_outliers.",
    what="lead time",
    plural="lead times",
    rows="(deployment, change) pairs",
    limit="lead_time",
)
plausible_restore_times = _plausibility_check(
    INCIDENTS,
    PLAUSIBLE_RESTORE_TIMES,
    "check_restore_times",
    "No incident is resolved before it was created (beyond the clock-skew tolerance: ERROR, held back from "
    "gold's time to restore figures in its repo and month). Times to restore over checks.max_restore_days "
    "(an incident left open) are reported at WARN and kept, unless checks.exclude_restore_time_outliers.",
    what="restore time",
    plural="times to restore",
    rows="resolved incidents",
    limit="restore",
)


@asset_check(
    pool=WAREHOUSE_POOL,
    asset=DEPLOYMENTS,
    additional_deps=[PUSHES, CHANGES],
    name=DEPLOYMENTS_HAVE_PUSHES,
    description=(
        "Every production deployment's commit was carried by a known push of its repo. A deployment "
        "without one means push webhooks are missing: its changes and lead times are missing too."
    ),
)
def deployments_have_pushes(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource) -> AssetCheckResult:
    found = _find(warehouse, dora_config, "check_deployments_without_push")
    return check_result(
        passed=found["affected"] == 0,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"all {found['deployments']} deployments have their pushes"
            if found["affected"] == 0
            else f"{found['affected']} of {found['deployments']} deployments deployed a commit no known push "
            f"carried (missing push webhooks?) in {', '.join(found['repos'][:3])}"
        ),
        counts={"deployments": found["deployments"], "deployments_without_push": found["affected"]},
        lists={"examples": found["examples"], "repos": found["repos"], "days": found["days"]},
    )


@asset_check(
    pool=WAREHOUSE_POOL,
    asset=INCIDENTS,
    additional_deps=[DEPLOYMENT_CHANGES],
    name=ROOT_CAUSES_WERE_DEPLOYED,
    description=(
        "Every incident's root cause is a change some production deployment shipped; otherwise it "
        "cannot count as a change failure (missing deployment or push webhooks, or a wrong sha)."
    ),
)
def root_causes_were_deployed(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource) -> AssetCheckResult:
    found = _find(warehouse, dora_config, "check_incidents_without_deployment")
    return check_result(
        passed=found["affected"] == 0,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"all {found['with_root_cause']} root causes were shipped by a known deployment"
            if found["affected"] == 0
            else f"{found['affected']} of {found['with_root_cause']} incidents name a root cause no known "
            "deployment shipped"
        ),
        counts={"incidents_with_root_cause": found["with_root_cause"], "unmatched": found["affected"]},
        lists={"examples": found["examples"], "repos": found["repos"], "days": found["days"]},
    )


def _rejects_check(key: AssetKey):
    table = _table(key)
    target_table = key.path[-1]

    @asset_check(
        pool=WAREHOUSE_POOL,
        asset=key,
        name=NO_REJECTED_EVENTS,
        description=(
            f"No recent delivery that feeds {table} was rejected by its mapping for lacking a field it needs "
            "(silver.rejected_events). Any reject fails at WARN; above checks.max_rejected_share at ERROR."
        ),
    )
    def no_rejected_events(
        warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock
    ) -> AssetCheckResult:
        thresholds = dora_config.load().checks
        found = _find(
            warehouse,
            dora_config,
            "check_rejected_events",
            target_table=target_table,
            since=clock.now() - timedelta(days=thresholds.recent_days),
            feeding_types=FEEDING_EVENT_TYPES[key],
        )
        share = found["rejected"] / found["read"] if found["read"] else 0.0
        return check_result(
            passed=found["rejected"] == 0,
            severity=AssetCheckSeverity.ERROR if share > thresholds.max_rejected_share else AssetCheckSeverity.WARN,
            description=(
                f"none of {found['read']} recent deliveries feeding {table} was rejected"
                if found["rejected"] == 0
                else f"{found['rejected']} of {found['read']} recent deliveries feeding {table} rejected "
                f"({share:.2%}); first reason: {found['reasons'][0]['reason']}"
            ),
            counts={"rejected": found["rejected"], "deliveries_read": found["read"], "rejected_share": share},
            rows=found["reasons"],
            thresholds={"recent_days": thresholds.recent_days, "max_rejected_share": thresholds.max_rejected_share},
        )

    return no_rejected_events


# --- Silver is behind bronze (the transform ledger, dora_assets/transform_ledger.py) -----------
SILVER_BEHIND_BRONZE = "transform_lag"
SILVER_LEDGER_KEYS = [PUSHES, CHANGES, DEPLOYMENTS, DEPLOYMENT_CHANGES, INCIDENTS, PULL_REQUESTS, PULL_REQUEST_REVIEWS]


@asset_check(
    pool=WAREHOUSE_POOL,
    asset=PUSHES,
    additional_deps=SILVER_LEDGER_KEYS[1:],
    name=SILVER_BEHIND_BRONZE,
    description=(
        "Silver is not behind bronze: no ingested window (bronze.pending_transforms) has waited longer than "
        "checks.transform_lag_minutes for a transform that rebuilt silver and gold over it (a killed or failed "
        "transform). One check for all of silver, on silver/pushes, evaluated after every silver table."
    ),
)
def transform_lag(
    context: AssetCheckExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock
) -> AssetCheckResult:
    """Judged hourly by dora_checks, with nobody refreshing. In a transform run it runs after every
    silver table (additional_deps): windows this run has just rebuilt are not behind."""
    coverage = run_coverage(context.instance, context.run.run_id, SILVER_LEDGER_KEYS, ingest=RAW_EVENTS)
    with warehouse.get_connection() as connection:
        return transform_lag_result(connection, clock.now(), dora_config.load().checks.transform_lag_minutes, coverage)


silver_checks = [
    *(_keys_check(key) for key in SILVER_LEDGER_KEYS),
    *(_future_check(key) for key in SILVER_LEDGER_KEYS if key != DEPLOYMENT_CHANGES),
    *(_rejects_check(key) for key in FEEDING_EVENT_TYPES),
    plausible_lead_times,
    plausible_restore_times,
    deployments_have_pushes,
    root_causes_were_deployed,
    transform_lag,
]
