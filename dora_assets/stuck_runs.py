"""Runs whose process is gone, found and marked failed (README "Zombie runs").

Dagster's run monitoring asks the run launcher whether a run's worker is alive; the default run
launcher (dagster dev, the daemon on one host) cannot tell, and runs executed in-process by the
dora-assets CLI have no launcher at all. A SIGKILLed `dora-assets refresh` therefore leaves its run
STARTED for good, holding the dora_warehouse pool and one of the queue's places. The sweep
(``sweep_dead_runs``) marks such runs failed: each CLI run records its process (``runs.process_tags``:
its pid, host and start time, so that a reused pid is not taken for it); a run launched by the
daemon is judged by the pid in its "Started process for run" event, on the SQLite profile only (a
SQLite instance lives on one host; with PostgreSQL the launcher's host is not recorded). The
sensor and the check that run the sweep are in run_health.py.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from dora_assets.instance import instance_profile
from dora_assets.outcomes import StuckRun, iso_seconds
from dora_assets.runs import RUN_HOST_TAG, RUN_PID_TAG, RUN_PROCESS_START_TAG, process_start_ticks

# A run QUEUED longer than this is reported as stuck (`dora-assets status`, the stuck_runs sensor).
STUCK_QUEUED_MINUTES_ENV = "DORA_STUCK_QUEUED_MINUTES"
DEFAULT_STUCK_QUEUED_MINUTES = 30.0


def _process_started_at(pid: int) -> float | None:
    """When process ``pid`` started, as a Unix time (Linux only), or None."""
    ticks = process_start_ticks(pid)
    if ticks is None:
        return None
    try:
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stuck_queued_minutes(environ: Mapping[str, str] | None = None) -> float:
    """DORA_STUCK_QUEUED_MINUTES (read now), else 30."""
    text = (os.environ if environ is None else environ).get(STUCK_QUEUED_MINUTES_ENV, "").strip()
    if not text:
        return DEFAULT_STUCK_QUEUED_MINUTES
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{STUCK_QUEUED_MINUTES_ENV} must be a number of minutes, not {text!r}") from None
    if value <= 0:
        raise ValueError(f"{STUCK_QUEUED_MINUTES_ENV} must be more than 0 minutes, not {text!r}")
    return value


def _daemon_run_pid(instance: DagsterInstance, run_id: str) -> int | None:
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        data = event.engine_event_data if event is not None else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None and str(event.message or "").startswith("Started process for run"):
            try:
                return int(getattr(pid, "value", pid))
            except ValueError:
                return None
    return None


def _dead_process(instance: DagsterInstance, record) -> str | None:
    """Why the process of an in-progress run is known to be gone, or None (alive, or unknown)."""
    run = record.dagster_run
    tags = run.tags
    if RUN_PID_TAG in tags:
        if tags.get(RUN_HOST_TAG) != socket.gethostname():
            return None  # another host's process: only a sweep there can tell
        try:
            pid = int(tags[RUN_PID_TAG])
        except ValueError:
            return None
        recorded = tags.get(RUN_PROCESS_START_TAG)
        current = process_start_ticks(pid)
        if current is None and os.path.isdir("/proc"):
            return f"its process (pid {pid} on {tags[RUN_HOST_TAG]}) is gone"
        if current is None:
            return None if _process_exists(pid) else f"its process (pid {pid} on {tags[RUN_HOST_TAG]}) is gone"
        if recorded is not None and str(current) != recorded:
            return f"its process (pid {pid} on {tags[RUN_HOST_TAG]}) is gone (the pid now belongs to another process)"
        return None
    if instance_profile() != "sqlite" or not os.path.isdir("/proc"):
        return None
    pid = _daemon_run_pid(instance, run.run_id)
    if pid is None:
        return None
    started = _process_started_at(pid)
    if started is None:
        return f"its run worker (pid {pid}) is gone"
    if record.start_time is not None and started > record.start_time + 5:
        return f"its run worker (pid {pid}) is gone (the pid now belongs to a newer process)"
    return None


def find_stuck_runs(instance: DagsterInstance, *, queued_minutes: float | None = None) -> list[StuckRun]:
    """Runs in progress whose process is gone, and runs QUEUED for longer than ``queued_minutes``
    (default: ``stuck_queued_minutes()``)."""
    limit = stuck_queued_minutes() if queued_minutes is None else queued_minutes
    now = datetime.now(UTC).timestamp()
    stuck = []
    in_progress = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.CANCELING]
    for record in instance.get_run_records(filters=RunsFilter(statuses=in_progress)):
        run = record.dagster_run
        if (reason := _dead_process(instance, record)) is not None:
            stuck.append(
                StuckRun(
                    run.run_id,
                    run.job_name,
                    run.status.value,
                    iso_seconds(record.start_time or record.create_timestamp.timestamp()),
                    reason,
                    True,
                )
            )
    for record in instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus.QUEUED])):
        queued_at = record.create_timestamp.timestamp()
        if now - queued_at > limit * 60:
            run = record.dagster_run
            stuck.append(
                StuckRun(
                    run.run_id,
                    run.job_name,
                    run.status.value,
                    iso_seconds(queued_at),
                    f"queued for {int((now - queued_at) // 60)} minutes (more than {limit:g}): is the daemon running, "
                    "and is every run in progress alive?",
                    False,
                )
            )
    return stuck


def sweep_dead_runs(instance: DagsterInstance, *, by: str) -> list[StuckRun]:
    """Mark every in-progress run whose process is gone as failed (``instance.report_run_failed``,
    with a one-line reason naming ``by``, the sweeper), and return the stuck runs found (the
    QUEUED ones are reported, not touched)."""
    stuck = find_stuck_runs(instance)
    for item in stuck:
        if not item.dead:
            continue
        run = instance.get_run_by_id(item.run_id)
        if run is None or run.is_finished:
            continue  # it finished meanwhile
        item.reason = f"{item.reason}; marked failed by {by}"
        instance.report_run_failed(run, f"dora-assets: run {run.run_id} of {run.job_name}: {item.reason}")
    return stuck
