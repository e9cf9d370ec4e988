"""Headless runs of the asset graph on the shared Dagster instance (CONTRACT section 1).

`dora-assets` commands, the `dagster` CLI and `dagster dev` all use the instance in
``DAGSTER_HOME`` (default ``$DORA_HOME/dagster``), so a run started here shows up in the UI.
Its storage is SQLite under DAGSTER_HOME (the embedded default) or, when DAGSTER_PG_URL is set,
PostgreSQL (the production profile; see docs/production.md).
"""

from __future__ import annotations

import fcntl
import os
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

_RUN_QUEUE = """\
# DuckDB lets one process write the warehouse. Every job that writes it is tagged
# dora/duckdb=writer; the run queue (Dagster's QueuedRunCoordinator, used by dagster dev, the
# webserver and the daemon) starts one such run at a time. Runs started outside the queue (the
# dora-assets CLI) wait for the file lock instead.
run_queue:
  max_concurrent_runs: 4
  tag_concurrency_limits:
    - key: dora/duckdb
      value: writer
      limit: 1
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
# so that it cannot hold the dora/duckdb=writer slot for good. Needs the daemon.
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
    home.mkdir(parents=True, exist_ok=True)
    with _instance_lock(home):
        ours = _write_instance_yaml(home, os.environ)
        try:
            instance = DagsterInstance.from_config(str(home))
            instance.get_run_records(limit=1)  # runs the storages' migrations now, under the lock
            instance.event_log_storage.get_latest_materialization_events([])
        except Exception as error:
            url = os.environ.get(PG_URL_ENV, "")
            if not (ours and url):
                raise
            # One line without the password (nor the URL, which a parse error would quote whole).
            raise InstanceStorageError(
                f"cannot open the Dagster instance's PostgreSQL storage at {describe_pg_url(url)} "
                f"({PG_URL_ENV}): {_redact(_innermost(error), url)}"
            ) from None
    return instance


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
