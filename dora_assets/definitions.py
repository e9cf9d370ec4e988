"""The composition root: every layer's assets and checks, the jobs, and the cross-cutting policy.

Policy applied here, once:
- Executor: in-process. DuckDB allows one writing process per file, so the steps of a run share
  the run's process instead of fighting over the file lock.
- Resources resolve their paths and config from the environment when a run starts, so the
  same definitions serve `make run`, `dagster dev` and tests with temporary data homes.
- Loud gaps: every check is an asset check with an explicit severity. Dagster's own
  freshness checks (ERROR, not the builder's WARN default) watch that bronze, silver and gold
  were updated within FRESHNESS_WINDOW, and they, like every data check, are evaluated on a
  schedule (`dora_checks`, hourly) and by the freshness sensor, not only when someone
  materializes.
- Automation, on by default so that `dagster dev` on a fresh clone needs no clicking: the
  `landing_drops` sensor launches `dora_ingest` for new drops; `transform_after_ingest` then
  launches `dora_transform` over the days the new deliveries can change; `dora_daily_ingest`
  is the daily safety net; `run_failure_alerts` reports failed runs.
- Extraction: `landing/github_api` pulls GitHub API history into the landing folder for a range
  of days (its partitions); it is started by hand or by `dora-assets extract github`, never by
  the automation, and what it lands is ingested like any drop.
- Partitions: silver is partitioned by UTC month (windows.MONTHLY, any range in one run); bronze is
  an append-only log keyed by landing file, and gold is recomputed whole from silver (small
  tables), so a late incident can change an old month's change failure rate.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    EnvVar,
    ScheduleDefinition,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    define_asset_job,
    in_process_executor,
)

from dora_assets.code_references import with_code_references
from dora_assets.defs.bronze.assets import RAW_EVENTS, bronze_ingestion
from dora_assets.defs.bronze.checks import bronze_checks
from dora_assets.defs.bronze.sensors import INGEST_JOB_NAME, landing_drops
from dora_assets.defs.gold.assets import gold_assets
from dora_assets.defs.gold.checks import gold_checks
from dora_assets.defs.gold.dashboard import dashboard_asset
from dora_assets.defs.gold.transform_runs import transform_runs
from dora_assets.defs.landing.assets import EXTRACT_JOB_NAME, github_api
from dora_assets.defs.ops.alerts import FailureNotifier, run_failure_alerts
from dora_assets.defs.ops.run_health import no_stuck_runs, stuck_runs
from dora_assets.defs.silver.assets import silver_assets
from dora_assets.defs.silver.checks import silver_checks
from dora_assets.defs.silver.sensors import TRANSFORM_JOB_NAME, transform_after_ingest
from dora_assets.extract.github_client import GitHubClient
from dora_assets.resources import WAREHOUSE_POOL, Clock, DoraConfigResource, DuckDBWarehouse, LandingFolder

CHECKS_JOB_NAME = "dora_checks"
# A daily refresh plus two hours of slack: a layer older than this missed its refresh.
FRESHNESS_WINDOW = timedelta(hours=26)

# Dagster 1.13 calls these builders "superseded" by FreshnessPolicy, but a FreshnessPolicy
# yields a freshness state, not a failed check, so a stale layer would not fail `dora-assets
# refresh` or `dora-assets checks`. We keep the checks, at ERROR, and silence the notice.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*is superseded")
    freshness_checks = build_last_update_freshness_checks(
        assets=[
            RAW_EVENTS,
            *(key for asset in silver_assets for key in asset.keys),
            *(key for asset in gold_assets for key in asset.keys),
        ],
        lower_bound_delta=FRESHNESS_WINDOW,
        severity=AssetCheckSeverity.ERROR,
    )
    freshness_sensor = build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        minimum_interval_seconds=600,
        default_status=DefaultSensorStatus.RUNNING,
    )

dora_ingest_job = define_asset_job(
    name=INGEST_JOB_NAME,
    selection=AssetSelection.groups("bronze"),
    description="Land every new landing file in bronze (append-only) and run the bronze checks.",
)

dora_transform_job = define_asset_job(
    name=TRANSFORM_JOB_NAME,
    selection=AssetSelection.groups("silver", "gold"),
    description=(
        "Rebuild silver for a range of months (its partitions; one run, one transaction per table) "
        "and gold from it, with their checks. Launched after every ingest, by `dora-assets backfill` "
        "and `dora-assets replay`."
    ),
)

dora_extract_github_job = define_asset_job(
    name=EXTRACT_JOB_NAME,
    selection=AssetSelection.assets(github_api),
    description="Land GitHub API history of the configured repos for a range of days (backfill or gap repair).",
)


def every_check_key() -> set[AssetCheckKey]:
    """Every check of ``defs``: the dashboard shows the latest result of each."""
    return defs.resolve_asset_graph().asset_check_keys


dora_dashboard = dashboard_asset(every_check_key)

REPORT_JOB_NAME = "dora_report"
dora_report_job = define_asset_job(
    name=REPORT_JOB_NAME,
    selection=AssetSelection.assets(dora_dashboard),
    description="Rebuild the HTML dashboard from gold and the latest check results (`dora-assets report`).",
)

dora_checks_job = define_asset_job(
    name=CHECKS_JOB_NAME,
    selection=AssetSelection.all_asset_checks(),
    description="Evaluate every check without materializing anything: gaps surface even when nobody refreshes.",
)

# Each asset's code reference (file and line, linked to GitHub or GitLab when the checkout has
# such an origin) is shown on its page in the UI.
ASSETS = with_code_references(
    [github_api, bronze_ingestion, *silver_assets, *gold_assets, transform_runs, dora_dashboard]
)
ASSET_CHECKS = [*bronze_checks, *silver_checks, *gold_checks, *freshness_checks, no_stuck_runs]


def warehouse_pool_violations(definitions: list) -> list[str]:
    """The assets and checks that need the warehouse resource but are not in WAREHOUSE_POOL, or are
    in it without needing it. The pool is what serialises DuckDB's writers (resources.py), so
    one asset outside it could be launched beside a writer, whoever launches it."""
    wrong = []
    for definition in definitions:
        needs_warehouse = "warehouse" in definition.required_resource_keys
        if needs_warehouse != (definition.op.pool == WAREHOUSE_POOL):
            wrong.append(f"{definition.op.name} (pool {definition.op.pool!r})")
    return wrong


if violations := warehouse_pool_violations([*ASSETS, *ASSET_CHECKS]):
    raise RuntimeError(f"assets or checks that open the warehouse must be in pool {WAREHOUSE_POOL}: {violations}")

defs = Definitions(
    assets=ASSETS,
    asset_checks=ASSET_CHECKS,
    jobs=[dora_extract_github_job, dora_ingest_job, dora_transform_job, dora_report_job, dora_checks_job],
    schedules=[
        ScheduleDefinition(
            name="dora_checks_hourly",
            job=dora_checks_job,
            cron_schedule="17 * * * *",
            default_status=DefaultScheduleStatus.RUNNING,
        ),
        # The safety net: even if the landing sensor were off, an ingest (and so a transform)
        # runs every day.
        ScheduleDefinition(
            name="dora_daily_ingest",
            job=dora_ingest_job,
            cron_schedule="7 4 * * *",
            default_status=DefaultScheduleStatus.RUNNING,
        ),
    ],
    sensors=[landing_drops, transform_after_ingest, freshness_sensor, run_failure_alerts, stuck_runs],
    resources={
        "warehouse": DuckDBWarehouse(),
        "landing": LandingFolder(),
        "dora_config": DoraConfigResource(),
        "clock": Clock(),
        "failure_notifier": FailureNotifier(),
        # Read when an extraction run starts; other runs never need it.
        "github": GitHubClient(token=EnvVar("GITHUB_TOKEN")),
    },
    executor=in_process_executor,
)
