"""Headless runs of the asset graph on the shared Dagster instance: a job executed in this process
(as the `dora-assets` commands do), recorded on the instance so that it shows up in the UI, and
read back as a ``RunOutcome``.

A run executed here has no run launcher to watch it, so it is tagged with its process
(``process_tags``): if the process is killed, the sweep of ``stuck_runs`` sees that it is gone.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from dagster import DagsterInstance, JobDefinition

from dora_assets.outcomes import CheckOutcome, RunOutcome, root_cause

QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

RUN_PID_TAG = "dora/pid"
RUN_HOST_TAG = "dora/host"
RUN_PROCESS_START_TAG = "dora/process_started"


def run_job(
    job: JobDefinition,
    instance: DagsterInstance,
    *,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
) -> RunOutcome:
    """Execute ``job`` (one job of the definitions, e.g. ``defs.resolve_job_def(name)``) in this
    process, recorded on ``instance``."""
    # The run executes in this process, outside any run launcher: these tags let a later sweep
    # (stuck_runs.sweep_dead_runs) see that the process is gone if it is killed.
    result = job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={**QUIET_LOGGING, **(run_config or {})},
        tags={**(tags or {}), **process_tags()},
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
        outcome.checks.append(CheckOutcome.from_evaluation(evaluation, run_id=result.run_id))
    return outcome


def process_tags(pid: int | None = None) -> dict[str, str]:
    """The tags that identify the process running a run in-process (this one by default)."""
    pid = os.getpid() if pid is None else pid
    tags = {RUN_PID_TAG: str(pid), RUN_HOST_TAG: socket.gethostname()}
    if (started := process_start_ticks(pid)) is not None:
        tags[RUN_PROCESS_START_TAG] = str(started)
    return tags


def process_start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, /proc/PID/stat), or None when there
    is no such process or no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None
