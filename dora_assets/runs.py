"""Headless runs of the asset graph on the shared Dagster instance (CONTRACT section 1).

`dora-assets` commands, the `dagster` CLI and `dagster dev` all use the instance in
``DAGSTER_HOME`` (default ``$DORA_HOME/dagster``), so a run started here shows up in the UI.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dagster import AssetCheckEvaluation, AssetCheckSeverity, DagsterInstance
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster_shared.error import SerializableErrorInfo

from dora_assets.settings import DoraPaths

INSTANCE_YAML = """\
# The dora-assets Dagster instance (created by dora-assets). SQLite storage under this folder.
telemetry:
  enabled: false
# DuckDB lets one process write the warehouse. Every job that writes it is tagged
# dora/duckdb=writer; the run queue (used by dagster dev and the daemon) starts one such run at a
# time. Runs started outside the queue (the dora-assets CLI) wait for the file lock instead.
run_queue:
  max_concurrent_runs: 4
  tag_concurrency_limits:
    - key: dora/duckdb
      value: writer
      limit: 1
"""
QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def dagster_instance(paths: DoraPaths) -> DagsterInstance:
    """The persistent instance in ``paths.dagster_home``, created on first use.

    Creating the SQLite storages runs schema migrations, which two processes must not run at
    once: concurrent `dora-assets` commands on a fresh data home take turns under a file lock.
    """
    home = ensure_dagster_home(paths.dagster_home)
    with (home / ".dora-instance.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            instance = DagsterInstance.from_config(str(home))
            instance.get_run_records(limit=1)  # runs the storages' migrations now, under the lock
            instance.event_log_storage.get_latest_materialization_events([])
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return instance


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


def run_job(
    job_name: str, instance: DagsterInstance, *, tags: dict[str, str] | None = None, run_config: dict | None = None
) -> RunOutcome:
    """Execute one job of the definitions in this process, recorded on ``instance``."""
    from dora_assets.definitions import defs

    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=instance, raise_on_error=False, run_config={**QUIET_LOGGING, **(run_config or {})}, tags=tags
    )
    outcome = RunOutcome(run_id=result.run_id, success=result.success)
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            outcome.step_errors.append(f"{event.step_key}: {root_cause(event.step_failure_data.error)}")
    for materialization in result.get_asset_materialization_events():
        data = materialization.event_specific_data.materialization
        outcome.materialized[data.asset_key.to_user_string()] = {
            key: value.value for key, value in data.metadata.items()
        }
    for evaluation in result.get_asset_check_evaluations():
        outcome.checks.append(_check_outcome(evaluation, run_id=result.run_id))
    return outcome


EVALUATED = (AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED)


def root_cause(error: SerializableErrorInfo) -> str:
    """The innermost error of a chain (Dagster wraps the user's exception), on one line."""
    while error.cause is not None:
        error = error.cause
    return f"{error.cls_name}: " + " ".join(error.message.split())


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
        evaluation = record.evaluation if record and record.status in EVALUATED else None
        if evaluation is None:
            outcomes.append(
                CheckOutcome(
                    asset=key.asset_key.to_user_string(),
                    check=key.name,
                    passed=False,
                    severity="ERROR",
                    description="never evaluated"
                    if record is None
                    else f"not evaluated by the latest run that planned it ({record.status.value}: an upstream "
                    "step failed or the run is still going)",
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


@dataclass
class RunSummary:
    run_id: str
    job: str
    status: str
    started_at: str | None
    ended_at: str | None


@dataclass
class PlatformStatus:
    """What `dora-assets status` prints: the last run, the last failed run, the last ingest and
    the latest result of every check."""

    last_run: RunSummary | None
    last_failed_run: RunSummary | None
    last_ingest_at: str | None
    last_ingest: dict[str, object]
    checks: list[CheckOutcome]


def platform_status(instance: DagsterInstance) -> PlatformStatus:
    from dagster import AssetKey, DagsterRunStatus, RunsFilter

    def summary(records) -> RunSummary | None:
        if not records:
            return None
        record = records[0]
        return RunSummary(
            run_id=record.dagster_run.run_id,
            job=record.dagster_run.job_name,
            status=record.dagster_run.status.value,
            started_at=_iso(record.start_time),
            ended_at=_iso(record.end_time),
        )

    ingest = instance.get_latest_materialization_event(AssetKey(["bronze", "raw_events"]))
    materialization = ingest.asset_materialization if ingest else None
    return PlatformStatus(
        last_run=summary(instance.get_run_records(limit=1)),
        last_failed_run=summary(
            instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus.FAILURE]), limit=1)
        ),
        last_ingest_at=_iso(ingest.timestamp) if ingest else None,
        last_ingest={key: value.value for key, value in materialization.metadata.items()} if materialization else {},
        checks=latest_check_results(instance),
    )


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds") if timestamp else None
