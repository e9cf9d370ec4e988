"""The composition root: every layer's assets, one job, and the cross-cutting policy.

Policy applied here, once:
- Executor: in-process. DuckDB allows one writing process per file, so the steps of a run share
  the run's process instead of fighting over the file lock.
- Resources resolve their paths and config from the environment when a run starts, so the
  same definitions serve `make run`, `dagster dev` and tests with temporary data homes.
"""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from dora_assets.bronze.assets import bronze_ingestion
from dora_assets.bronze.checks import bronze_checks
from dora_assets.gold.assets import gold_assets
from dora_assets.resources import DoraConfigResource, DuckDBWarehouse, LandingFolder
from dora_assets.silver.assets import silver_assets

REFRESH_JOB_NAME = "dora_refresh"

dora_refresh_job = define_asset_job(
    name=REFRESH_JOB_NAME,
    selection=AssetSelection.all(),
    description="Ingest new landing files, then rebuild silver and gold (the main job of `make run`).",
)

defs = Definitions(
    assets=[bronze_ingestion, *silver_assets, *gold_assets],
    asset_checks=[*bronze_checks],
    jobs=[dora_refresh_job],
    resources={
        "warehouse": DuckDBWarehouse(),
        "landing": LandingFolder(),
        "dora_config": DoraConfigResource(),
    },
    executor=in_process_executor,
)
