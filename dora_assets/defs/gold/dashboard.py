"""gold/dora_dashboard: the static HTML dashboard, rebuilt after gold at every refresh."""

from collections.abc import Callable, Iterable

from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from dora_assets.defs.gold.assets import DORA_SUMMARY, DORA_WEEKLY
from dora_assets.report.dashboard import render_dashboard
from dora_assets.resources import WAREHOUSE_POOL, Clock, DuckDBWarehouse
from dora_assets.settings import DoraPaths
from dora_assets.status import latest_check_results
from dora_assets.windows import SINGLE_RUN

DORA_DASHBOARD = AssetKey(["gold", "dora_dashboard"])
DASHBOARD_FILE = "dora.html"


def dashboard_asset(check_keys: Callable[[], Iterable[AssetCheckKey]]) -> AssetsDefinition:
    """The gold/dora_dashboard asset, showing the latest result of the checks ``check_keys()``
    names when it runs: definitions.py passes every check of its ``defs``, which this module
    cannot import (the definitions import it)."""

    @asset(
        pool=WAREHOUSE_POOL,
        key=DORA_DASHBOARD,
        deps=[DORA_SUMMARY, DORA_WEEKLY],
        group_name="gold",
        kinds={"html"},
        # As the gold tables: `dagster asset materialize --select group:gold --partition-range ...`
        # takes it in the same single run.
        backfill_policy=SINGLE_RUN,
    )
    def dora_dashboard(context: AssetExecutionContext, warehouse: DuckDBWarehouse, clock: Clock) -> MaterializeResult:
        """The DORA dashboard, $DORA_HOME/reports/dora.html: headline tiles with tier colours (last 30
        days, gold.dora_summary), weekly trend charts (gold.dora_weekly), a per-team table, and the
        state of every check, so that a number resting on incomplete data says so. One
        self-contained file: no CDN, no script. Grain: one page. Source: gold tables and the Dagster
        instance's latest check results."""
        checks = latest_check_results(context.instance, check_keys())
        with warehouse.get_connection() as connection:
            page = render_dashboard(connection, checks, clock.now())
        reports = DoraPaths.from_env().reports_dir
        reports.mkdir(parents=True, exist_ok=True)
        target = reports / DASHBOARD_FILE
        temporary = target.with_name(f".{DASHBOARD_FILE}.tmp")
        temporary.write_text(page, encoding="utf-8")
        temporary.replace(target)  # readers never see a half-written page
        failing = [check for check in checks if check.failing_error]
        context.log.info(f"dashboard written to {target} ({len(page)} bytes, {len(failing)} failing ERROR checks)")
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(target)),
                "bytes": len(page),
                "checks_shown": len(checks),
                "failing_error_checks": len(failing),
            }
        )

    return dora_dashboard
