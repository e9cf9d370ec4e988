"""Headless runs of the asset graph on the shared Dagster instance (CONTRACT section 1).

`dora-assets` commands, the `dagster` CLI and `dagster dev` all use the instance in
``DAGSTER_HOME`` (default ``$DORA_HOME/dagster``), so a run started here shows up in the UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dagster import AssetCheckEvaluation, AssetCheckSeverity, DagsterInstance

from dora_assets.settings import DoraPaths

INSTANCE_YAML = """\
# The dora-assets Dagster instance (created by dora-assets). SQLite storage under this folder.
telemetry:
  enabled: false
"""
QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def dagster_instance(paths: DoraPaths) -> DagsterInstance:
    """The persistent instance in ``paths.dagster_home``, created on first use."""
    home = ensure_dagster_home(paths.dagster_home)
    return DagsterInstance.from_config(str(home))


def ensure_dagster_home(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML, encoding="utf-8")
    return home


@dataclass
class CheckOutcome:
    """One check's result. ``status`` is ``evaluated``, or ``not_evaluated`` for a check that
    has never run or whose latest run skipped it (reported as failed: an unchecked asset is a gap)."""

    asset: str
    check: str
    passed: bool
    severity: str
    description: str | None
    metadata: dict[str, object]
    status: str = "evaluated"
    evaluated_at: str | None = None
    run_id: str | None = None


@dataclass
class RunOutcome:
    """What a headless run did, in terms a command can print and exit on."""

    run_id: str
    success: bool
    step_errors: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    materialized: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def failed_error_checks(self) -> list[CheckOutcome]:
        return [check for check in self.checks if not check.passed and check.severity == "ERROR"]

    @property
    def ok(self) -> bool:
        return self.success and not self.failed_error_checks


def run_job(job_name: str, instance: DagsterInstance, *, tags: dict[str, str] | None = None) -> RunOutcome:
    """Execute one job of the definitions in this process, recorded on ``instance``."""
    from dora_assets.definitions import defs

    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET_LOGGING, tags=tags)
    outcome = RunOutcome(run_id=result.run_id, success=result.success)
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            outcome.step_errors.append(f"{event.step_key}: {event.step_failure_data.error.message.strip()}")
    for materialization in result.get_asset_materialization_events():
        data = materialization.event_specific_data.materialization
        outcome.materialized[data.asset_key.to_user_string()] = {
            key: value.value for key, value in data.metadata.items()
        }
    for evaluation in result.get_asset_check_evaluations():
        outcome.checks.append(_check_outcome(evaluation, run_id=result.run_id))
    return outcome


def latest_check_results(instance: DagsterInstance) -> list[CheckOutcome]:
    """The latest result of every check in the definitions, as recorded on ``instance``."""
    from dora_assets.definitions import defs

    keys = sorted(
        defs.resolve_asset_graph().asset_check_keys, key=lambda key: (key.asset_key.to_user_string(), key.name)
    )
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    outcomes = []
    for key in keys:
        record = records.get(key)
        evaluation = record.evaluation if record else None
        if evaluation is None:
            outcomes.append(
                CheckOutcome(
                    asset=key.asset_key.to_user_string(),
                    check=key.name,
                    passed=False,
                    severity="ERROR",
                    description="never evaluated" if record is None else "planned but not evaluated (skipped?)",
                    metadata={},
                    status="not_evaluated",
                    run_id=record.run_id if record else None,
                )
            )
        else:
            outcome = _check_outcome(evaluation, run_id=record.run_id)
            outcome.evaluated_at = datetime.fromtimestamp(record.create_timestamp, UTC).isoformat()
            outcomes.append(outcome)
    return outcomes


def _check_outcome(evaluation: AssetCheckEvaluation, *, run_id: str | None) -> CheckOutcome:
    return CheckOutcome(
        asset=evaluation.asset_key.to_user_string(),
        check=evaluation.check_name,
        passed=evaluation.passed,
        severity="ERROR" if evaluation.severity == AssetCheckSeverity.ERROR else "WARN",
        description=evaluation.description,
        metadata={key: value.value for key, value in evaluation.metadata.items()},
        run_id=run_id,
    )
