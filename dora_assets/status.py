"""What the Dagster instance says about the platform: the latest result of every check, and the
last runs and ingest (`dora-assets status`, `dora-assets checks`, the dashboard).

Which checks exist is the definitions' knowledge: callers pass their keys (the CLI from
``defs``, the dashboard asset through the resolver definitions.py gives it), so that this
module never imports the definitions that import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from dagster import AssetCheckKey, AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from dora_assets.outcomes import CheckOutcome, PlatformStatus, RunSummary, iso_seconds

# The ingest's asset (bronze/raw_events): its latest materialization is the last ingest.
INGEST_ASSET = AssetKey(["bronze", "raw_events"])
EVALUATED = (AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED)


def latest_check_results(instance: DagsterInstance, check_keys: Iterable[AssetCheckKey]) -> list[CheckOutcome]:
    """The latest result of every check of ``check_keys`` (every check of the definitions: ``defs.
    resolve_asset_graph().asset_check_keys``), as recorded on ``instance``, by asset and check name.

    A check that a queued or running run has planned is shown with its last completed result,
    marked ``in_progress``: a normal run must not make every check it will re-evaluate look
    failed. Only a check whose planning run has finished without evaluating it (the run failed,
    or an upstream step failed and the check was skipped), or that never ran, is ``not_evaluated``.
    """
    keys = sorted(check_keys, key=lambda key: (key.asset_key.to_user_string(), key.name))
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    return [_latest_outcome(instance, key, records.get(key)) for key in keys]


def _latest_outcome(instance: DagsterInstance, key, record) -> CheckOutcome:
    if record is not None and record.status in EVALUATED:
        return _recorded_outcome(record)
    asset, name = key.asset_key.to_user_string(), key.name
    run = instance.get_run_by_id(record.run_id) if record is not None else None
    if run is not None and not run.is_finished:
        completed = instance.event_log_storage.get_asset_check_execution_history(key, limit=1, status=set(EVALUATED))
        if completed:
            outcome = _recorded_outcome(completed[0])
        else:
            outcome = CheckOutcome(
                asset=asset,
                check=name,
                passed=False,
                severity="ERROR",
                description="being evaluated for the first time",
                metadata={},
            )
        outcome.status = "in_progress"
        outcome.run_id = run.run_id
        return outcome
    if record is None:
        description = "never evaluated"
    elif run is None:
        description = "not evaluated: the run that planned it was deleted"
    else:
        description = (
            f"not evaluated by the latest run that planned it (run {run.status.value.lower()}: "
            "an upstream step failed, or the check was skipped)"
        )
    return CheckOutcome(
        asset=asset,
        check=name,
        passed=False,
        severity="ERROR",
        description=description,
        metadata={},
        status="not_evaluated",
        run_id=record.run_id if record else None,
    )


def _recorded_outcome(record) -> CheckOutcome:
    outcome = CheckOutcome.from_evaluation(record.evaluation, run_id=record.run_id)
    outcome.evaluated_at = datetime.fromtimestamp(record.create_timestamp, UTC).isoformat()
    return outcome


def platform_status(instance: DagsterInstance, check_keys: Iterable[AssetCheckKey]) -> PlatformStatus:
    """The last run, the last failed run, the last ingest and the latest result of every check of
    ``check_keys`` (see ``latest_check_results``); the caller fills in the stuck runs."""

    def summary(records) -> RunSummary | None:
        if not records:
            return None
        record = records[0]
        return RunSummary(
            run_id=record.dagster_run.run_id,
            job=record.dagster_run.job_name,
            status=record.dagster_run.status.value,
            started_at=iso_seconds(record.start_time),
            ended_at=iso_seconds(record.end_time),
        )

    ingest = instance.get_latest_materialization_event(INGEST_ASSET)
    materialization = ingest.asset_materialization if ingest else None
    return PlatformStatus(
        last_run=summary(instance.get_run_records(limit=1)),
        last_failed_run=summary(
            instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus.FAILURE]), limit=1)
        ),
        last_ingest_at=iso_seconds(ingest.timestamp) if ingest else None,
        last_ingest={key: value.value for key, value in materialization.metadata.items()} if materialization else {},
        checks=latest_check_results(instance, check_keys),
    )
