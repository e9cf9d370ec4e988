"""Stuck runs made visible (README "Zombie runs"): a run whose process is gone (a SIGKILLed
`dora-assets refresh`, a dead run worker) stays STARTED in the instance and holds the
dora_warehouse pool and a place in the queue, so every queued ingest and transform waits for
good. The sweep (``stuck_runs.sweep_dead_runs``) marks such runs failed; it runs in every
`dora-assets` command that starts runs, in `dora-assets status`, in the ``stuck_runs`` sensor (every minute
while the daemon or `dagster dev` runs) and in the ``no_stuck_runs`` check, which fails at ERROR
on bronze/raw_events while runs are stuck (its description names them)."""

from __future__ import annotations

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SkipReason,
    asset_check,
    sensor,
)

from dora_assets.check_results import check_result
from dora_assets.defs.bronze.assets import RAW_EVENTS
from dora_assets.outcomes import StuckRun
from dora_assets.stuck_runs import stuck_queued_minutes, sweep_dead_runs


def describe_stuck(stuck: list[StuckRun]) -> str:
    """One line for a list of stuck runs."""
    return "; ".join(
        f"run {run.run_id[:8]} of {run.job} ({run.status} since {run.since}): {run.reason}" for run in stuck
    )


@sensor(
    name="stuck_runs",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Every minute: mark runs whose process is gone as failed (run_failure_alerts then reports them), "
    "and name runs queued for longer than DORA_STUCK_QUEUED_MINUTES (default 30).",
)
def stuck_runs(context: SensorEvaluationContext) -> SkipReason:
    stuck = sweep_dead_runs(context.instance, by="the stuck_runs sensor")
    for run in stuck:
        if run.dead:
            context.log.error(f"run {run.run_id} of {run.job} was left {run.status}: {run.reason}")
        else:
            context.log.warning(f"run {run.run_id} of {run.job}: {run.reason}")
    if not stuck:
        return SkipReason("no stuck runs")
    return SkipReason(f"{len(stuck)} stuck run(s): {describe_stuck(stuck)}")


@asset_check(
    asset=RAW_EVENTS,
    name="no_stuck_runs",
    description="No run of the instance is stuck: none whose process is gone (it would hold the "
    "dora_warehouse pool and a queue place for good; the check marks it failed) and none queued "
    "for longer than DORA_STUCK_QUEUED_MINUTES (default 30).",
)
def no_stuck_runs(context) -> AssetCheckResult:
    stuck = sweep_dead_runs(context.instance, by="the no_stuck_runs check")
    limit = stuck_queued_minutes()
    dead = [run for run in stuck if run.dead]
    queued = [run for run in stuck if not run.dead]
    if stuck:
        description = (
            f"{len(dead)} run(s) whose process was gone (now marked failed) and {len(queued)} queued for more than "
            f"{limit:g} minutes: {describe_stuck(stuck)}"
        )
    else:
        description = f"no stuck runs: every run in progress has a live process, none queued over {limit:g} minutes"
    return check_result(
        passed=not stuck,
        severity=AssetCheckSeverity.ERROR,
        description=description[:1000],
        counts={"dead_runs": len(dead), "long_queued_runs": len(queued)},
        lists={"stuck_run_ids": [run.run_id for run in stuck]},
        thresholds={"stuck_queued_minutes": limit},
    )
