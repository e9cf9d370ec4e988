"""Headless runs of the asset graph on the shared Dagster instance (CONTRACT section 1).

`dora-assets` commands, the `dagster` CLI and `dagster dev` all use the instance in
``DAGSTER_HOME`` (default ``$DORA_HOME/dagster``), so a run started here shows up in the UI.
Its storage is SQLite under DAGSTER_HOME (the embedded default) or, when DAGSTER_PG_URL is set,
PostgreSQL (the production profile; see docs/production.md).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml
from dagster import AssetCheckEvaluation, AssetCheckSeverity, DagsterInstance
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster_shared.error import SerializableErrorInfo

from dora_assets.settings import DoraPaths

# The first line of every dagster.yaml that dora-assets writes. A file that starts with it is ours and
# is rewritten when the profile (or this module's text) changes; any other file is the user's.
OWN_HEADER = "# The dora-assets Dagster instance (created by dora-assets"
PG_URL_ENV = "DAGSTER_PG_URL"
# Less free space than this on DAGSTER_HOME's file system is named as the cause of a storage error.
LOW_DISK_BYTES = 1024 * 1024

_RUN_QUEUE = """\
# DuckDB lets one process write the warehouse. Every asset and check that opens it is in the
# dora_warehouse pool (resources.WAREHOUSE_POOL); at run granularity, with every pool limited to 1,
# the run queue (Dagster's QueuedRunCoordinator, used by dagster dev, the webserver and the daemon)
# starts one run holding such a step at a time, whether a job, a sensor, a "Materialize" click or an
# asset backfill launched it. Runs started outside the queue (the dora-assets CLI) wait for the
# file lock instead.
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    granularity: run
    default_limit: 1
"""

# The embedded default: SQLite files under DAGSTER_HOME.
INSTANCE_YAML = (
    f"""\
{OWN_HEADER}; profile: sqlite). SQLite storage under this folder.
# Set {PG_URL_ENV} to move the instance to PostgreSQL (dora-assets then rewrites this file).
# To keep this file as you edit it, delete its first line: dora-assets never rewrites a file of yours.
telemetry:
  enabled: false
"""
    + _RUN_QUEUE
    + """\
# Dagster's run monitoring (in the daemon, and so in dagster dev): a run whose worker never reports
# STARTED is marked failed after 5 minutes. The default run launcher cannot tell whether a STARTED
# run's process is alive, and runs of the dora-assets CLI have no launcher: for those, dora-assets
# sweeps runs whose process is gone (the stuck_runs sensor, status, every command that starts runs).
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  max_resume_run_attempts: 0
  poll_interval_seconds: 60
"""
)

# The production profile, chosen when DAGSTER_PG_URL is set: run, event-log and schedule storage
# in PostgreSQL. Only the variable's name is written here; every process that opens the instance
# reads the URL (and its password) from its own environment.
POSTGRES_INSTANCE_YAML = (
    f"""\
{OWN_HEADER}; profile: postgres). Storage in PostgreSQL at ${PG_URL_ENV}.
# Written because {PG_URL_ENV} is set; without it dora-assets rewrites this file for SQLite.
# To keep this file as you edit it, delete its first line: dora-assets never rewrites a file of yours.
telemetry:
  enabled: false
storage:
  postgres:
    postgres_url:
      env: {PG_URL_ENV}
"""
    + _RUN_QUEUE
    + """\
# A run whose worker never reports STARTED (it died while starting) is marked failed after 5 minutes,
# so that it cannot hold the dora_warehouse pool for good. Needs the daemon.
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
"""
)


QUIET_LOGGING = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class InstanceConfigWarning(UserWarning):
    """The instance's dagster.yaml is not what the environment asks for (never names a secret)."""


def instance_profile(environ: Mapping[str, str] | None = None) -> str:
    """``postgres`` when DAGSTER_PG_URL is set (non-empty) in ``environ`` (default: the process
    environment, read now), else ``sqlite``."""
    env = os.environ if environ is None else environ
    return "postgres" if env.get(PG_URL_ENV) else "sqlite"


def instance_yaml(environ: Mapping[str, str] | None = None) -> str:
    """The dagster.yaml that dora-assets writes for the environment's profile."""
    return POSTGRES_INSTANCE_YAML if instance_profile(environ) == "postgres" else INSTANCE_YAML


def dagster_instance(paths: DoraPaths) -> DagsterInstance:
    """The persistent instance in ``paths.dagster_home``, created on first use.

    Creating the storages runs schema migrations, which two processes must not run at once:
    concurrent `dora-assets` commands on a fresh data home take turns under a file lock. The
    storage is SQLite under DAGSTER_HOME, or PostgreSQL when DAGSTER_PG_URL is set (see
    ``ensure_dagster_home``).
    """
    home = paths.dagster_home
    url = os.environ.get(PG_URL_ENV, "")
    try:
        home.mkdir(parents=True, exist_ok=True)
        with _instance_lock(home):
            ours = _write_instance_yaml(home, os.environ)
            try:
                instance = DagsterInstance.from_config(str(home))
                instance.get_run_records(limit=1)  # runs the storages' migrations now, under the lock
                instance.event_log_storage.get_latest_materialization_events([])
            except Exception as error:
                if not (ours and url):
                    raise
                # One line without the password (nor the URL, which a parse error would quote whole).
                raise InstanceStorageError(
                    f"cannot open the Dagster instance's PostgreSQL storage at {describe_pg_url(url)} "
                    f"({PG_URL_ENV}): {_redact(_innermost(error), url)}"
                ) from None
    except InstanceStorageError:
        raise
    except Exception as error:
        if url:
            raise
        # The SQLite profile (or a dagster.yaml of the user's): one line naming the folder and the
        # cause, never SQLAlchemy's statement dump (a full disk shows as "disk I/O error").
        raise InstanceStorageError(_local_storage_message(home, error)) from None
    return instance


def _local_storage_message(home: Path, error: BaseException) -> str:
    cause = _innermost(error)
    cause = cause.split(" [SQL:")[0].strip()
    message = f"cannot open the Dagster instance's storage in DAGSTER_HOME={home}: {cause}"
    try:
        free = shutil.disk_usage(home if home.exists() else home.parent).free
    except OSError:
        free = None
    if free is not None and free < LOW_DISK_BYTES:
        message += (
            f"; its file system has {free} bytes free: the disk is full. Free some space there (or point "
            "DAGSTER_HOME at a larger disk) and run the command again"
        )
    elif "disk i/o error" in cause.lower() or "readonly" in cause.lower() or "unable to open" in cause.lower():
        message += "; check that the disk holding it is writable, not full and not failing"
    return message


class InstanceStorageError(Exception):
    """The instance's storage cannot be opened; the message never holds a password."""


def describe_pg_url(url: str) -> str:
    """``url`` without its password, for messages: ``postgresql://user@host:port/db``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
    except ValueError:
        return "a URL that cannot be parsed"
    if not (parts.scheme and host):
        return "a URL that cannot be parsed"
    return _redact(f"{parts.scheme}://{user}{host}{port}{parts.path}", url)


def _innermost(error: BaseException) -> str:
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    return f"{type(error).__name__}: " + " ".join(str(error).split("(Background on this error")[0].split())


def _redact(text: str, url: str) -> str:
    secrets = [url]
    try:
        if password := urlsplit(url).password:
            secrets += [password, unquote(password)]
    except ValueError:
        pass
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def ensure_dagster_home(home: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Create DAGSTER_HOME and the dagster.yaml of the environment's profile (``instance_yaml``).

    A dagster.yaml that dora-assets wrote (it starts with ``OWN_HEADER``) is rewritten when the
    profile changes, with a warning, since the other profile's run history stays behind; a
    dagster.yaml written by anyone else is never touched (a warning says so when DAGSTER_PG_URL
    is set but that file does not use PostgreSQL). The environment is read now, never at import.
    """
    home.mkdir(parents=True, exist_ok=True)
    with _instance_lock(home):
        _write_instance_yaml(home, os.environ if environ is None else environ)
    return home


@contextmanager
def _instance_lock(home: Path) -> Iterator[None]:
    with (home / ".dora-instance.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_instance_yaml(home: Path, environ: Mapping[str, str]) -> bool:
    """Write the profile's dagster.yaml unless the file there is the user's; True when the file
    in place is ours."""
    config = home / "dagster.yaml"
    wanted = instance_yaml(environ)
    try:
        current = config.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current == wanted:
        return True
    profile = instance_profile(environ)
    if current is not None and not current.startswith(OWN_HEADER):
        if profile == "postgres" and not _uses_postgres(current):
            warnings.warn(
                f"{config} was not written by dora-assets, so it is left as it is: {PG_URL_ENV} is set but that "
                "file does not configure PostgreSQL storage, and the instance uses what the file says",
                InstanceConfigWarning,
                stacklevel=3,
            )
        return False
    if current is not None:
        previous = "postgres" if "profile: postgres" in current.partition("\n")[0] else "sqlite"
        if previous != profile:
            warnings.warn(
                f"{config}: switching the Dagster instance from {previous} to {profile} storage because "
                f"{PG_URL_ENV} is {'set' if profile == 'postgres' else 'unset'}; the run history kept in "
                f"{previous} stays there and is not copied",
                InstanceConfigWarning,
                stacklevel=3,
            )
    staging = home / f".dagster.yaml.{os.getpid()}.tmp"
    staging.write_text(wanted, encoding="utf-8")
    os.replace(staging, config)
    return True


def _uses_postgres(text: str) -> bool:
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    if not isinstance(config, dict):
        return False
    storages = [config.get(key) for key in ("storage", "run_storage", "event_log_storage", "schedule_storage")]
    return any(
        isinstance(storage, dict) and ("postgres" in storage or "Postgres" in str(storage)) for storage in storages
    )


@dataclass
class CheckOutcome:
    """One check's result, as the commands and the dashboard show it. ``status`` is:

    - ``evaluated``: the latest run that planned the check evaluated it;
    - ``in_progress``: a queued or running run will evaluate it again; ``passed``, ``severity``,
      ``description`` and ``evaluated_at`` are those of its last completed evaluation (if any),
      and ``run_id`` is the run in progress;
    - ``not_evaluated``: it never ran, or the latest run that planned it failed or skipped it
      (an unchecked asset is a gap, so this counts as failing at ERROR).
    """

    asset: str
    check: str
    passed: bool
    severity: str
    description: str | None
    metadata: dict[str, object]
    status: str = "evaluated"
    evaluated_at: str | None = None
    run_id: str | None = None

    @property
    def failing(self) -> bool:
        """Failed at its last completed evaluation, or left unevaluated. A check being evaluated
        for the first time has no result yet and is not failing."""
        return not self.passed and not (self.status == "in_progress" and self.evaluated_at is None)

    @property
    def failing_error(self) -> bool:
        return self.failing and self.severity == "ERROR"


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
    # The run executes in this process, outside any run launcher: these tags let a later sweep
    # (sweep_dead_runs) see that the process is gone if it is killed.
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
        outcome.checks.append(_check_outcome(evaluation, run_id=result.run_id))
    return outcome


EVALUATED = (AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED)


def root_cause(error: SerializableErrorInfo) -> str:
    """The innermost error of a chain (Dagster wraps the user's exception), on one line."""
    while error.cause is not None:
        error = error.cause
    return f"{error.cls_name}: " + " ".join(error.message.split())


def latest_check_results(instance: DagsterInstance) -> list[CheckOutcome]:
    """The latest result of every check in the definitions, as recorded on ``instance``.

    A check that a queued or running run has planned is shown with its last completed result,
    marked ``in_progress``: a normal run must not make every check it will re-evaluate look
    failed. Only a check whose planning run has finished without evaluating it (the run failed,
    or an upstream step failed and the check was skipped), or that never ran, is ``not_evaluated``.
    """
    from dora_assets.definitions import defs

    keys = sorted(
        defs.resolve_asset_graph().asset_check_keys, key=lambda key: (key.asset_key.to_user_string(), key.name)
    )
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
    outcome = _check_outcome(record.evaluation, run_id=record.run_id)
    outcome.evaluated_at = datetime.fromtimestamp(record.create_timestamp, UTC).isoformat()
    return outcome


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
    stuck_runs: list[StuckRun] = field(default_factory=list)


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


# -- Runs whose process is gone ----------------------------------------------------------------
#
# Dagster's run monitoring asks the run launcher whether a run's worker is alive; the default run
# launcher (dagster dev, the daemon on one host) cannot tell, and runs executed in-process by the
# dora-assets CLI have no launcher at all. A SIGKILLed `dora-assets refresh` therefore leaves its run
# STARTED for good, holding the dora_warehouse pool and one of the queue's places. The sweep
# below marks such runs failed: each CLI run records its process (RUN_PID_TAG, RUN_HOST_TAG and the
# process's start time, so that a reused pid is not taken for it); a run launched by the daemon is
# judged by the pid in its "Started process for run" event, on the SQLite profile only (a SQLite
# instance lives on one host; with PostgreSQL the launcher's host is not recorded).

RUN_PID_TAG = "dora/pid"
RUN_HOST_TAG = "dora/host"
RUN_PROCESS_START_TAG = "dora/process_started"
# A run QUEUED longer than this is reported as stuck (`dora-assets status`, the stuck_runs sensor).
STUCK_QUEUED_MINUTES_ENV = "DORA_STUCK_QUEUED_MINUTES"
DEFAULT_STUCK_QUEUED_MINUTES = 30.0


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


@dataclass
class StuckRun:
    """A run that holds a place in the queue without progressing: ``dead`` (its process is gone;
    the sweep marks it failed) or queued for longer than the limit."""

    run_id: str
    job: str
    status: str
    since: str | None
    reason: str
    dead: bool


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
    from dagster import DagsterEventType

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
    from dagster import DagsterRunStatus, RunsFilter

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
                    _iso(record.start_time or record.create_timestamp.timestamp()),
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
                    _iso(queued_at),
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


def main() -> int:
    """``python -m dora_assets.runs``: write DAGSTER_HOME/dagster.yaml for the environment's profile
    and open the instance (creating its storage), then say where it is. The systemd units in
    deploy/ run it before the daemon and the webserver start, so that neither finds a missing
    dagster.yaml (Dagster would quietly use SQLite then). One line, never the password."""
    import sys

    paths = DoraPaths.from_env()
    try:
        dagster_instance(paths)
    except Exception as error:
        url = os.environ.get(PG_URL_ENV, "")
        message = str(error) if isinstance(error, InstanceStorageError) else _redact(_innermost(error), url or "\0")
        print(f"dora-assets instance: error: {message}", file=sys.stderr)
        return 1
    url = os.environ.get(PG_URL_ENV, "")
    storage = f"PostgreSQL at {describe_pg_url(url)}" if url else f"SQLite under {paths.dagster_home}"
    print(f"dora-assets instance: DAGSTER_HOME={paths.dagster_home}, {storage}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
