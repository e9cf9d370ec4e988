"""Checks on the gold tables, beside the assets they guard."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from dora_assets.check_results import check_result
from dora_assets.defs.gold.assets import DORA_MONTHLY
from dora_assets.resources import WAREHOUSE_POOL, DoraConfigResource, DuckDBWarehouse
from dora_assets.sql import fetch_dicts

ORG_TOTALS_ADD_UP = "org_totals_add_up"


@asset_check(
    pool=WAREHOUSE_POOL,
    asset=DORA_MONTHLY,
    name=ORG_TOTALS_ADD_UP,
    description="Each month's org-wide row (repo '*') adds up to the sum of that month's repo rows.",
)
def org_totals_add_up(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource) -> AssetCheckResult:
    max_examples = dora_config.load().checks.max_examples
    with warehouse.get_connection() as connection:
        mismatches = fetch_dicts(connection, "gold", "check_org_totals")
    return check_result(
        passed=not mismatches,
        severity=AssetCheckSeverity.ERROR,
        description=(
            "org-wide rows add up"
            if not mismatches
            else f"{len(mismatches)} org-wide figures differ from the sum of their repos, first: "
            f"{mismatches[0]['figure']} in {mismatches[0]['month']}"
        ),
        counts={"mismatches": len(mismatches)},
        rows=mismatches[:max_examples],
    )


gold_checks = [org_totals_add_up]
