"""The shared Dagster instance (CONTRACT section 1): its ``dagster.yaml`` profiles, the lock under
which it is created, and opening it with one-line storage errors.

`dora-assets` commands, the `dagster` CLI and `dagster dev` all use the instance in
``DAGSTER_HOME`` (default ``$DORA_HOME/dagster``), so a run started by a command shows up in the
UI. Its storage is SQLite under DAGSTER_HOME (the embedded default) or, when DAGSTER_PG_URL is
set, PostgreSQL (the production profile; see docs/production.md). ``python -m
dora_assets.instance`` writes the profile and creates the storage (the deploy/ units run it
before the daemon and the webserver).
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import yaml
from filelock import FileLock, Timeout

from dora_assets.settings import DoraPaths

if TYPE_CHECKING:
    from dagster import DagsterInstance

# The first line of every dagster.yaml that dora-assets writes. A file that starts with it is ours and
# is rewritten when the profile (or this module's text) changes; any other file is the user's.
OWN_HEADER = "# The dora-assets Dagster instance (created by dora-assets"
PG_URL_ENV = "DAGSTER_PG_URL"
# Less free space than this on DAGSTER_HOME's file system is named as the cause of a storage error.
LOW_DISK_BYTES = 1024 * 1024
# Taking turns to create the instance's storage takes seconds; a command that waits longer than
# this for the lock stops with a one-line error (InstanceLockTimeout) instead of hanging.
INSTANCE_LOCK_TIMEOUT_SECONDS = 120.0
LOCK_FILE = ".dora-instance.lock"

# Dagster settings read from the environment of the processes that create runs: the dora-assets
# commands, and through `dora-assets dev` its webserver and daemon (deploy/ sets them for the
# services). A run over a range of silver's months records one "materialization planned" event per
# asset holding the whole range, instead of one per asset and month: a first refresh of four years
# wrote 550 such events (about 30% of its CPU) and a replay of ten years would write 1,300. What
# Dagster gives up: when such a run fails, its months show as missing rather than failed on the
# asset's partitions page; the run itself shows as failed, and the transform ledger keeps its
# window pending until a later run rebuilds it (README, "A refresh that was stopped heals itself").
RUN_CREATION_ENV = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}


def apply_run_creation_env(environ: dict[str, str] | None = None) -> None:
    """Set RUN_CREATION_ENV in ``environ`` (default: this process's environment, so that the
    processes it starts inherit it), keeping any value already set there."""
    env = os.environ if environ is None else environ
    for name, value in RUN_CREATION_ENV.items():
        env.setdefault(name, value)


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


def dagster_instance(paths: DoraPaths, *, lock_timeout: float | None = None) -> DagsterInstance:
    """The persistent instance in ``paths.dagster_home``, created on first use.

    Creating the storages runs schema migrations, which two processes must not run at once:
    concurrent `dora-assets` commands on a fresh data home take turns under a file lock, each
    waiting at most ``lock_timeout`` seconds (default INSTANCE_LOCK_TIMEOUT_SECONDS) before
    InstanceLockTimeout. The storage is SQLite under DAGSTER_HOME, or PostgreSQL when
    DAGSTER_PG_URL is set (see ``ensure_dagster_home``).
    """
    from dagster import DagsterInstance  # here, not at import: the commands that open no instance start faster

    home = paths.dagster_home
    url = os.environ.get(PG_URL_ENV, "")
    try:
        home.mkdir(parents=True, exist_ok=True)
        with instance_lock(home, timeout=lock_timeout):
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


class InstanceLockTimeout(InstanceStorageError):
    """Another process has held the instance's lock for longer than the wait allowed."""


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


def ensure_dagster_home(
    home: Path, environ: Mapping[str, str] | None = None, *, lock_timeout: float | None = None
) -> Path:
    """Create DAGSTER_HOME and the dagster.yaml of the environment's profile (``instance_yaml``).

    A dagster.yaml that dora-assets wrote (it starts with ``OWN_HEADER``) is rewritten when the
    profile changes, with a warning, since the other profile's run history stays behind; a
    dagster.yaml written by anyone else is never touched (a warning says so when DAGSTER_PG_URL
    is set but that file does not use PostgreSQL). The environment is read now, never at import.
    Waits at most ``lock_timeout`` seconds for the instance's lock (see ``instance_lock``).
    """
    home.mkdir(parents=True, exist_ok=True)
    with instance_lock(home, timeout=lock_timeout):
        _write_instance_yaml(home, os.environ if environ is None else environ)
    return home


@contextmanager
def instance_lock(home: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock under which dora-assets writes ``home``'s dagster.yaml and creates the
    instance's storage (``home``/.dora-instance.lock, an flock shared by every process on the
    host). Waits at most ``timeout`` seconds (default INSTANCE_LOCK_TIMEOUT_SECONDS, read now),
    then raises InstanceLockTimeout."""
    wait = INSTANCE_LOCK_TIMEOUT_SECONDS if timeout is None else timeout
    path = home / LOCK_FILE
    lock = FileLock(path, timeout=wait)
    try:
        lock.acquire()
    except Timeout:
        raise InstanceLockTimeout(
            f"waited {wait:g} s for the Dagster instance's lock {path}: another process holds it while it creates or "
            f"opens the instance (`fuser -v {path}` lists the processes that have it open); let it finish or stop "
            "it, then run the command again"
        ) from None
    try:
        yield
    finally:
        lock.release()


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


def main() -> int:
    """``python -m dora_assets.instance``: write DAGSTER_HOME/dagster.yaml for the environment's
    profile and open the instance (creating its storage), then say where it is. The systemd units
    in deploy/ run it before the daemon and the webserver start, so that neither finds a missing
    dagster.yaml (Dagster would quietly use SQLite then). One line, never the password."""
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
