"""Checks on the bronze layer, beside the assets they guard."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from dora_assets.bronze.assets import LANDING_FILES
from dora_assets.bronze.audit import audit_bronze
from dora_assets.metadata import markdown_table
from dora_assets.resources import DuckDBWarehouse, LandingFolder

ACCOUNTING_BALANCED = "accounting_balanced"
MAX_EXAMPLES = 10


@asset_check(
    asset=LANDING_FILES,
    name=ACCOUNTING_BALANCED,
    description=(
        "Every landing file's records seen (ledger) equal landed + quarantined + duplicates as "
        "recounted from the bronze tables now, and the ledger's own counts match the tables. "
        "The same audit as `dora-assets audit --no-recount`."
    ),
    blocking=True,
)
def bronze_accounting_balanced(warehouse: DuckDBWarehouse, landing: LandingFolder) -> AssetCheckResult:
    with warehouse.get_connection() as connection:
        report = audit_bronze(connection, landing.directory(), recount_files=False)
    unbalanced = report.unbalanced
    return AssetCheckResult(
        passed=report.balanced,
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"{len(report.files)} files: {report.total('seen')} records seen = {report.total('landed')} landed + "
            f"{report.total('quarantined')} quarantined + {report.total('duplicates')} duplicates"
            if report.balanced
            else f"{len(unbalanced)} landing files do not balance; first: {unbalanced[0].landing_file}"
        ),
        metadata={
            "files": len(report.files),
            "records_seen": report.total("seen"),
            "records_landed": report.total("landed"),
            "records_quarantined": report.total("quarantined"),
            "records_duplicate": report.total("duplicates"),
            "unbalanced_files": len(unbalanced),
            "files_pending": len(report.pending),
            "unbalanced_examples": markdown_table(
                [
                    {"landing file": audit.landing_file, "problems": "; ".join(audit.problems)}
                    for audit in unbalanced[:MAX_EXAMPLES]
                ]
            ),
        },
    )


bronze_checks = [bronze_accounting_balanced]
