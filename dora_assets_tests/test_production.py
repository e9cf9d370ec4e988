"""The production profile (docs/production.md) against a real PostgreSQL server.

- With DAGSTER_PG_URL set, the instance dora-assets creates keeps runs, events and schedules in
  PostgreSQL; a `dora-assets refresh` in one process is seen by another; the password is never
  written or printed. dora-assets rewrites only its own dagster.yaml, never a user's.
- The services of deploy/Procfile (dagster-daemon, dagster-webserver, `dora-assets serve`) run as
  separate processes on that instance: a delivery posted to the receiver and files dropped into
  the landing folder reach gold through sensor ticks; runs of the warehouse pool submitted through
  the webserver (a job and "Materialize" clicks) are queued and never overlap; everything stops on
  SIGTERM and leaves no process behind.
- The deploy/ files (systemd units, Procfile, Helm values, Kubernetes manifest) name what the code
  reads: the module, the warehouse pool's limit, the environment variables.

The server: $DAGSTER_PG_URL when set (.ci/run starts one; conftest takes the variable out of the
environment of every other test), else a throwaway server started here with Debian's initdb and
pg_ctl. Each test gets a database of its own. When neither works the tests are skipped, loudly.
"""

from __future__ import annotations

import configparser
import glob
import hashlib
import hmac
import itertools
import json
import logging
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import httpx
import psycopg2
import pytest
import yaml
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter, job, op
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.scheduler.instigation import InstigatorType
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from dora_assets.cli import dora_assets_cli
from dora_assets.cli import main as cli_main
from dora_assets.definitions import INGEST_JOB_NAME, defs
from dora_assets.defs.bronze.assets import bronze_ingestion
from dora_assets.defs.ops.alerts import SLACK_WEBHOOK_ENV
from dora_assets.extract.github_client import API_URL_ENV
from dora_assets.instance import (
    INSTANCE_YAML,
    OWN_HEADER,
    PG_URL_ENV,
    POSTGRES_INSTANCE_YAML,
    RUN_CREATION_ENV,
    InstanceConfigWarning,
    apply_run_creation_env,
    dagster_instance,
    ensure_dagster_home,
)
from dora_assets.receiver.settings import SECRET_ENV_VARS
from dora_assets.resources import WAREHOUSE_POOL
from dora_assets.settings import DoraPaths
from dora_assets_tests.helpers import query
from dora_assets_tests.test_metrics_known_answers import land_history
from dora_assets_tests.test_webserver import LAUNCH, free_port, gold_org_rows, graphql

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY = REPO_ROOT / "deploy"
WAREHOUSE_POOLS = {"granularity": "run", "default_limit": 1}
# Environment variables the code (or Dagster, for DAGSTER_HOME) reads, from the code's own constants.
DORA_PATH_VARS = {"DORA_HOME", "DORA_DUCKDB_PATH", "DORA_LANDING_DIR", "DAGSTER_HOME", "DORA_CONFIG"}
SECRET_VARS = {PG_URL_ENV, defs.resources["github"].token.env_var_name, *SECRET_ENV_VARS.values(), SLACK_WEBHOOK_ENV}
CODE_VARS = DORA_PATH_VARS | SECRET_VARS | {API_URL_ENV} | set(RUN_CREATION_ENV)
UNFINISHED = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}


# --------------------------------------------------------------------------------------------
# The PostgreSQL server
# --------------------------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """The URL as libpq (psycopg2.connect) takes it: without SQLAlchemy's ``+driver``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+")[0]))


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def password_of(url: str) -> str:
    return urlsplit(url).password or ""


@contextmanager
def admin_cursor(url: str) -> Iterator:
    connection = psycopg2.connect(libpq_url(url), connect_timeout=10)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server for one test (or one module); dropped afterwards."""
    name = f"dora_test_{secrets.token_hex(6)}"
    with admin_cursor(server_url) as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with admin_cursor(server_url) as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class ThrowawayServer:
    """A PostgreSQL cluster in a temporary folder on 127.0.0.1, run as the 'postgres' user when
    this process is root (the server refuses to run as root)."""

    root: Path
    pg_ctl: str
    as_user: list[str]
    url: str = field(repr=False)

    @classmethod
    def start(cls) -> ThrowawayServer:
        initdbs = sorted(
            glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[-3].split(".")[0])
        )
        if not initdbs:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/initdb (Debian's postgresql package is not installed)")
        bin_dir = Path(initdbs[-1]).parent
        as_user: list[str] = []
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' user to run the server as") from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root and there is no runuser to start the server as 'postgres'")
            as_user = [runuser, "-u", "postgres", "--"]
        root = Path(tempfile.mkdtemp(prefix="dora-pg-"))
        password = secrets.token_hex(16)
        (root / "pwfile").write_text(password + "\n")
        if owner is not None:
            for path in (root, root / "pwfile"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        server = cls(root=root, pg_ctl=str(bin_dir / "pg_ctl"), as_user=as_user, url="")
        try:
            subprocess.run(
                [*as_user, str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", "dora",
                 "--pwfile", str(root / "pwfile"), "--auth=scram-sha-256", "-E", "UTF8", "--locale=C"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            (root / "pwfile").unlink()
            port = free_port()
            options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' -c fsync=off"
            subprocess.run(
                [*as_user, server.pg_ctl, "-D", str(root / "data"), "-l", str(root / "server.log"), "-w", "-t", "60",
                 "-o", options, "start"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            output = getattr(error, "stderr", b"") or b""
            server.stop()
            raise RuntimeError(
                f"{shlex.join(map(str, error.cmd[len(as_user) :][:1]))} failed: {output.decode()}"
            ) from None
        server.url = f"postgresql://dora:{password}@127.0.0.1:{port}/postgres"
        return server

    def stop(self) -> None:
        if (self.root / "data" / "postmaster.pid").exists():
            subprocess.run(
                [*self.as_user, self.pg_ctl, "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"],
                capture_output=True, timeout=120, check=False,
            )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def skip_loudly(request: pytest.FixtureRequest, reason: str) -> None:
    """Skip with the exact reason, printed on the terminal (past output capture) and as a warning."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    banner = f"test_production.py SKIPPED, no PostgreSQL: {reason}"
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line("*" * 100, yellow=True, bold=True)
            reporter.write_line(banner, yellow=True, bold=True)
            reporter.write_line("*" * 100, yellow=True, bold=True)
    print(banner, file=sys.stderr)
    warnings.warn(banner, pytest.PytestWarning, stacklevel=2)
    pytest.skip(banner)


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest, pg_server_url: str | None) -> Iterator[str]:
    """The URL of a PostgreSQL server (and a database on it) where this role may create databases."""
    reasons = []
    if pg_server_url:
        try:
            with fresh_database(pg_server_url):
                pass
            yield pg_server_url
            return
        except Exception as error:  # say why, without the URL (it holds the password)
            message = " ".join(str(error).replace(password_of(pg_server_url) or "\0", "***").split())
            reasons.append(
                f"{PG_URL_ENV} is set but cannot create a database there ({type(error).__name__}: {message})"
            )
    else:
        reasons.append(f"{PG_URL_ENV} is not set")
    try:
        server = ThrowawayServer.start()
    except Exception as error:
        reasons.append(f"a throwaway server could not be started ({' '.join(str(error).split())})")
        skip_loudly(request, "; ".join(reasons))
        return
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    with fresh_database(pg_server) as url:
        yield url


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without DORA_*, DAGSTER_* and the secrets, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DORA_", "DAGSTER_")) and key not in SECRET_VARS
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env | extra


# --------------------------------------------------------------------------------------------
# The instance's dagster.yaml: profiles, and whose file it is (no server needed)
# --------------------------------------------------------------------------------------------


def test_the_profile_follows_dagster_pg_url_and_only_our_own_file_is_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster"
    config = home / "dagster.yaml"
    monkeypatch.delenv(PG_URL_ENV, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ensure_dagster_home(home)
    assert config.read_text() == INSTANCE_YAML
    assert "storage" not in yaml.safe_load(INSTANCE_YAML)

    url = "postgresql://dora:s3cret-pw@db.example.internal:5432/dagster"
    monkeypatch.setenv(PG_URL_ENV, url)  # read when called, not at import
    with pytest.warns(InstanceConfigWarning, match="from sqlite to postgres") as caught:
        ensure_dagster_home(home)
    assert config.read_text() == POSTGRES_INSTANCE_YAML
    profile = yaml.safe_load(config.read_text())
    assert profile["storage"] == {"postgres": {"postgres_url": {"env": PG_URL_ENV}}}
    assert profile["concurrency"]["pools"] == WAREHOUSE_POOLS
    assert "s3cret" not in config.read_text() and all("s3cret" not in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ensure_dagster_home(home)  # unchanged: no warning, same file
    assert config.read_text() == POSTGRES_INSTANCE_YAML

    monkeypatch.setenv(PG_URL_ENV, "")  # empty counts as unset
    with pytest.warns(InstanceConfigWarning, match="from postgres to sqlite"):
        ensure_dagster_home(home)
    assert config.read_text() == INSTANCE_YAML

    # The file an earlier dora-assets wrote carries the same header: it is ours.
    config.write_text(INSTANCE_YAML.replace("; profile: sqlite)", ")", 1))
    assert config.read_text().startswith(OWN_HEADER)
    monkeypatch.setenv(PG_URL_ENV, url)
    with pytest.warns(InstanceConfigWarning, match="from sqlite to postgres"):
        ensure_dagster_home(home)
    assert config.read_text() == POSTGRES_INSTANCE_YAML

    # A user's file is never touched; a warning says so when it ignores DAGSTER_PG_URL.
    mine = "# my instance\ntelemetry:\n  enabled: false\n"
    config.write_text(mine)
    with pytest.warns(InstanceConfigWarning, match="not written by dora-assets") as caught:
        ensure_dagster_home(home)
    assert config.read_text() == mine
    assert all("s3cret" not in str(w.message) for w in caught)
    mine_on_postgres = "storage:\n  postgres:\n    postgres_url:\n      env: MY_PG_URL\n"
    config.write_text(mine_on_postgres)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ensure_dagster_home(home)
        monkeypatch.delenv(PG_URL_ENV)
        ensure_dagster_home(home)
    assert config.read_text() == mine_on_postgres


def test_an_unreachable_or_malformed_pg_url_fails_in_one_line_without_the_password(
    data_home: DoraPaths,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log_records: list[logging.LogRecord],
) -> None:
    port = free_port()  # nothing listens there
    for url in (
        f"postgresql://dora:Pa55-w0rd-x@127.0.0.1:{port}/dagster",
        "postgresql://dora:Pa55-w0rd-x@127.0.0.1:notaport/dagster",
        "no url at all Pa55-w0rd-x",
    ):
        monkeypatch.setenv(PG_URL_ENV, url)
        assert cli_main(["status"]) != 0
        out, err = capsys.readouterr()
        last = err.strip().splitlines()[-1]
        assert last.startswith("dora-assets status: error: cannot open the Dagster instance's PostgreSQL storage"), err
        assert "Pa55-w0rd-x" not in out + err
        assert "Traceback" not in err
    assert not [record for record in log_records if "Pa55-w0rd-x" in record.getMessage()]


# --------------------------------------------------------------------------------------------
# The instance on PostgreSQL: the CLI in one process, the instance in another
# --------------------------------------------------------------------------------------------

LIST_RUNS = """
import json
from dora_assets.instance import dagster_instance
from dora_assets.settings import DoraPaths
instance = dagster_instance(DoraPaths.from_env())
print(json.dumps({
    "storage": type(instance.run_storage).__name__,
    "runs": {r.dagster_run.run_id: [r.dagster_run.job_name, r.dagster_run.status.value]
             for r in instance.get_run_records()},
}))
"""


def test_runs_live_in_postgres_and_a_refresh_is_seen_from_another_process(
    pg_url: str, data_home: DoraPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = password_of(pg_url)
    monkeypatch.setenv(PG_URL_ENV, pg_url)
    home = ensure_dagster_home(data_home.dagster_home)
    text = (home / "dagster.yaml").read_text()
    assert text == POSTGRES_INSTANCE_YAML and password not in text
    instance = dagster_instance(data_home)
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    pools = instance.get_concurrency_config().pool_config
    assert (pools.pool_granularity.value, pools.default_pool_limit) == ("run", 1)

    land_history(data_home)
    env = clean_env(DORA_HOME=str(data_home.home), DAGSTER_HOME=str(home), **{PG_URL_ENV: pg_url})
    started = time.monotonic()
    refresh = subprocess.run(
        [sys.executable, "-m", "dora_assets.cli", "refresh", "--quiet"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    print(f"refresh on PostgreSQL: {time.monotonic() - started:.0f} s")
    assert refresh.returncode == 0, refresh.stderr[-3000:]
    assert password not in refresh.stdout + refresh.stderr
    run_ids = re.findall(r"\(run ([0-9a-f-]{36})\)", refresh.stdout)
    assert len(run_ids) == 2, refresh.stdout

    # In PostgreSQL's own tables, read with plain SQL.
    with admin_cursor(pg_url) as cursor:
        cursor.execute("SELECT run_id, pipeline_name, status FROM runs")
        rows = set(cursor.fetchall())
        cursor.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (run_ids[1],),
        )
        [(materializations,)] = cursor.fetchall()
    assert {(run_ids[0], "dora_ingest", "SUCCESS"), (run_ids[1], "dora_transform", "SUCCESS")} <= rows
    assert materializations > 0
    # From a second process's instance, and from this one.
    second = subprocess.run(
        [sys.executable, "-c", LIST_RUNS], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, second.stderr[-3000:]
    seen = json.loads(second.stdout.strip().splitlines()[-1])
    assert seen["storage"] == "PostgresRunStorage"
    assert seen["runs"][run_ids[0]] == ["dora_ingest", "SUCCESS"]
    assert seen["runs"][run_ids[1]] == ["dora_transform", "SUCCESS"]
    assert instance.get_run_by_id(run_ids[1]).status == DagsterRunStatus.SUCCESS
    assert instance.get_latest_materialization_event(AssetKey(["gold", "dora_monthly"])).run_id == run_ids[1]
    # Nothing went to SQLite.
    assert not [path.name for path in home.rglob("*.db")]


def pg_client(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda path: int(Path(path).parts[-3]))
    return found[-1] if found else shutil.which(name)


@op
def noop() -> int:
    return 1


@job
def tiny() -> None:
    noop()


def test_the_instance_database_comes_back_from_pg_dump(
    pg_server: str, pg_url: str, data_home: DoraPaths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The backup of docs/production.md: pg_dump of the instance database, pg_restore into an empty
    one, and the instance over it has the same runs and events. The password goes by PGPASSWORD,
    never on a command line."""
    pg_dump, pg_restore = pg_client("pg_dump"), pg_client("pg_restore")
    if not (pg_dump and pg_restore):
        skip_loudly_in_test("pg_dump/pg_restore not found (Debian's postgresql-client)")
    monkeypatch.setenv(PG_URL_ENV, pg_url)
    instance = dagster_instance(data_home)
    result = tiny.execute_in_process(instance=instance, tags={"dora/test": "backup"})
    events = len(instance.all_logs(result.run_id))
    env = clean_env(PGPASSWORD=password_of(pg_url))
    parts = urlsplit(libpq_url(pg_url))
    no_password = urlunsplit(parts._replace(netloc=f"{parts.username}@{parts.hostname}:{parts.port}"))
    dump = tmp_path / "instance.dump"
    subprocess.run([pg_dump, "--format=custom", "--file", str(dump), "--dbname", no_password], env=env, check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    with fresh_database(pg_server) as restored_url:
        target = urlsplit(libpq_url(restored_url))
        subprocess.run(
            [pg_restore, "--no-owner", "--exit-on-error", "--dbname",
             urlunsplit(target._replace(netloc=f"{target.username}@{target.hostname}:{target.port}")), str(dump)],
            env=env, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        monkeypatch.setenv(PG_URL_ENV, restored_url)
        restored = DagsterInstance.from_config(str(data_home.dagster_home))
        try:
            run = restored.get_run_by_id(result.run_id)
            assert run is not None and run.status == DagsterRunStatus.SUCCESS
            assert run.tags.get("dora/test") == "backup"
            assert len(restored.all_logs(result.run_id)) == events
        finally:
            restored.dispose()


def skip_loudly_in_test(reason: str) -> None:
    print(f"SKIPPED: {reason}", file=sys.stderr)
    warnings.warn(reason, pytest.PytestWarning, stacklevel=2)
    pytest.skip(reason)


# --------------------------------------------------------------------------------------------
# The services of deploy/Procfile on that instance
# --------------------------------------------------------------------------------------------


def procfile() -> dict[str, str]:
    lines = (DEPLOY / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


@dataclass
class Services:
    paths: DoraPaths
    env: dict[str, str]
    graphql_url: str
    receiver_url: str
    marker: str
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def instance(self) -> DagsterInstance:
        previous = os.environ.get(PG_URL_ENV)
        os.environ[PG_URL_ENV] = self.env[PG_URL_ENV]
        try:
            return DagsterInstance.from_config(str(self.paths.dagster_home))
        finally:
            if previous is None:
                del os.environ[PG_URL_ENV]
            else:
                os.environ[PG_URL_ENV] = previous

    def diagnosis(self) -> str:
        """The runs so far (job, status, launching sensor, failed steps) and each service's log tail."""
        instance = self.instance()
        lines = []
        for record in instance.get_run_records():
            run = record.dagster_run
            failures = [
                event.dagster_event.step_key
                for event in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
            ]
            lines.append(
                f"{run.job_name} {run.status.value} sensor={run.tags.get('dagster/sensor_name')} "
                f"start={record.start_time} end={record.end_time} failed_steps={failures}"
            )
        logs = "\n".join(f"--- {name} ---\n{self.log_tail(name)}" for name in self.processes)
        return "runs:\n" + "\n".join(lines) + "\n" + logs

    def log_tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> dict[str, int | None]:
        """SIGTERM each service's process group (webserver and receiver first, the daemon last)
        and wait; SIGKILL only what is still there after 90 s. Returns the exit codes."""
        codes = {}
        for name in ("receiver", "webserver", "daemon"):
            process = self.processes.get(name)
            if process is None:
                continue
            if process.poll() is None:
                _signal_group(process.pid, signal.SIGTERM)
            try:
                codes[name] = process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
                codes[name] = None
            _wait_group_gone(process.pid, timeout=30)
        self.processes.clear()
        return codes

    def leftovers(self) -> list[str]:
        """Processes still running with this module's marker in their environment."""
        found = []
        for environ in glob.glob("/proc/[0-9]*/environ"):
            try:
                if self.marker.encode() in Path(environ).read_bytes():
                    cmdline = Path(environ).with_name("cmdline").read_bytes().replace(b"\0", b" ").decode()
                    found.append(f"{Path(environ).parent.name}: {cmdline[:200]}")
            except OSError:
                continue
        return found


def _signal_group(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    _signal_group(pgid, signal.SIGKILL)


GITHUB_SECRET = "receiver-test-secret"
DAEMON_HEALTH = "query { instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"


@pytest.fixture(scope="module")
def services(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """dagster-daemon, dagster-webserver and `dora-assets serve`, each started from its Procfile
    line in a session of its own, sharing one PostgreSQL-backed instance and one data home."""
    root = tmp_path_factory.mktemp("production")
    with fresh_database(pg_server) as url:
        home = root / "home"
        marker = f"dora-production-test-{uuid.uuid4().hex}"
        webserver_port, receiver_port = free_port(), free_port()
        env = clean_env(
            DORA_HOME=str(home),
            DAGSTER_HOME=str(home / "dagster"),
            DORA_PRODUCTION_TEST_MARKER=marker,
            DAGSTER_WEBSERVER_PORT=str(webserver_port),
            DORA_RECEIVER_PORT=str(receiver_port),
            **{PG_URL_ENV: url, SECRET_ENV_VARS["github"]: GITHUB_SECRET},
        )
        paths = DoraPaths.from_env(env)
        paths.landing_dir.mkdir(parents=True)
        # What the systemd units run before the daemon and the webserver (ExecStartPre).
        prepared = subprocess.run(
            [sys.executable, "-m", "dora_assets.instance"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert prepared.returncode == 0, prepared.stderr[-3000:]
        assert (
            "PostgreSQL at postgresql://dora@127.0.0.1" in prepared.stdout and password_of(url) not in prepared.stdout
        )
        logs = root / "logs"
        logs.mkdir()
        running = Services(
            paths=paths,
            env=env,
            graphql_url=f"http://127.0.0.1:{webserver_port}/graphql",
            receiver_url=f"http://127.0.0.1:{receiver_port}",
            marker=marker,
            logs=logs,
        )
        try:
            for name, command in procfile().items():
                # A file, not a pipe: nobody reads a pipe while the tests run.
                with (logs / f"{name}.log").open("wb") as log:
                    running.processes[name] = subprocess.Popen(
                        ["/bin/sh", "-c", f"exec {command}"],
                        cwd=REPO_ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
            _wait_until_up(running)
            yield running
        finally:
            running.stop()


def _wait_until_up(running: Services) -> None:
    deadline = time.monotonic() + 180
    while True:
        for name, process in running.processes.items():
            assert process.poll() is None, f"{name} exited: {running.log_tail(name)}"
        try:
            healthy = httpx.get(f"{running.receiver_url}/healthz", timeout=5).status_code == 200
            statuses = graphql(running.graphql_url, DAEMON_HEALTH)["instance"]["daemonHealth"]["allDaemonStatuses"]
            healthy = healthy and all(status["healthy"] for status in statuses if status["required"])
            if healthy and {"SENSOR", "QUEUED_RUN_COORDINATOR"} <= {status["daemonType"] for status in statuses}:
                return
        except (httpx.TransportError, httpx.HTTPStatusError):
            pass
        assert time.monotonic() < deadline, {name: running.log_tail(name) for name in running.processes}
        time.sleep(1)


@pytest.mark.real_clock
def test_services_turn_a_webhook_and_dropped_files_into_gold_through_sensor_ticks(services: Services) -> None:
    started = time.monotonic()
    # One delivery through the receiver, signed with the secret from the environment ...
    delivery = str(uuid.uuid4())
    body = json.dumps(
        {"action": "created", "starred_at": "2023-05-02T10:00:00Z", "repository": {"full_name": "acme/api"}}
    )
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "star", "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}
    unsigned = httpx.post(f"{services.receiver_url}/webhooks/github", content=body, headers=headers, timeout=30)
    assert unsigned.status_code == 401  # the secret came from the environment
    accepted = httpx.post(
        f"{services.receiver_url}/webhooks/github",
        content=body,
        headers={**headers, "X-Hub-Signature-256": signature},
        timeout=30,
    )
    assert accepted.status_code == 202, accepted.text
    # ... and files dropped into the landing folder, as senders do.
    land_history(services.paths)

    # Normally 1-2 minutes: up to four writer runs one after the other (an ingest and a transform
    # per sensor tick that saw new files), each a new process. The margin is for a loaded machine.
    deadline = started + 480
    while not (gold_org_rows(services.paths) == 3 and _landed(services.paths, delivery)):
        assert time.monotonic() < deadline, services.diagnosis()
        time.sleep(2)
    print(f"webhook and drop to gold: {time.monotonic() - started:.0f} s")
    instance = services.instance()
    _wait_for_runs_to_finish(instance, deadline=time.monotonic() + 300)
    records = instance.get_run_records()
    # The daemon (its Procfile line sets RUN_CREATION_ENV) planned each asset once per run, whatever the
    # number of months the run covers (the history reaches back to May 2019).
    for record in records:
        planned = instance.all_logs(record.dagster_run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        keys = [entry.dagster_event.asset_key for entry in planned]
        assert len(keys) == len(set(keys)), (record.dagster_run.job_name, len(keys))
    by_sensor = {(r.dagster_run.job_name, r.dagster_run.tags.get("dagster/sensor_name")) for r in records}
    assert {(INGEST_JOB_NAME, "landing_drops"), ("dora_transform", "transform_after_ingest")} <= by_sensor
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in records), [
        (r.dagster_run.job_name, r.dagster_run.status) for r in records
    ]
    # The sensors ticked in the daemon, on the shared instance.
    ticked = {
        state.instigator_name
        for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        if instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
    }
    assert {"landing_drops", "transform_after_ingest"} <= ticked
    assert gold_org_rows(services.paths) == 3
    print(f"all triggered runs finished: {time.monotonic() - started:.0f} s")


def _landed(paths: DoraPaths, delivery: str) -> bool:
    try:
        return bool(query(paths, "SELECT 1 FROM bronze.raw_events WHERE delivery_id = $id", {"id": delivery}))
    except Exception:  # the file is being written, or does not exist yet
        return False


def pools_of_run(run) -> set[str]:
    """The concurrency pools of the steps a run plans (as the run queue sees them)."""
    return set(run.run_op_concurrency.all_pools or []) if run.run_op_concurrency else set()


def _wait_for_runs_to_finish(instance: DagsterInstance, deadline: float) -> None:
    while busy := [
        (r.dagster_run.job_name, r.dagster_run.status.value)
        for r in instance.get_run_records()
        if r.dagster_run.status.value in UNFINISHED
    ]:
        assert time.monotonic() < deadline, f"runs still going: {busy}"
        time.sleep(2)


@pytest.mark.real_clock
def test_writer_runs_submitted_through_the_webserver_queue_and_never_overlap(services: Services) -> None:
    """A job launched from the UI, and two "Materialize" clicks on bronze (the asset job, no job
    and no tag of ours), at once: the dora_warehouse pool queues them one at a time."""
    instance = services.instance()
    _wait_for_runs_to_finish(instance, deadline=time.monotonic() + 300)
    started = time.monotonic()
    batch = uuid.uuid4().hex[:8]
    submitted = []
    bronze = [{"path": key.path} for key in bronze_ingestion.keys]
    selectors = [
        {"jobName": INGEST_JOB_NAME},
        {"jobName": "__ASSET_JOB", "assetSelection": bronze},
        {"jobName": "__ASSET_JOB", "assetSelection": bronze},
    ]
    for selector in selectors:
        launched = graphql(
            services.graphql_url,
            LAUNCH,
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": "dora_assets.definitions",
                        "repositoryName": "__repository__",
                        **selector,
                    },
                    "runConfigData": {},
                    "executionMetadata": {"tags": [{"key": "dora/test-batch", "value": batch}]},
                }
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        submitted.append(launched["run"]["runId"])

    seen_waiting = False  # a writer run queued while another writer run was in progress
    deadline = time.monotonic() + 400
    while True:
        statuses = {run_id: instance.get_run_by_id(run_id).status for run_id in submitted}
        in_progress = [s for s in statuses.values() if s in (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED)]
        assert len(in_progress) <= 1, statuses
        seen_waiting |= bool(in_progress) and DagsterRunStatus.QUEUED in statuses.values()
        if all(s.value not in UNFINISHED for s in statuses.values()):
            break
        assert time.monotonic() < deadline, services.diagnosis()
        time.sleep(0.5)
    print(f"3 queued writer runs: {time.monotonic() - started:.0f} s")

    records = {r.dagster_run.run_id: r for r in instance.get_run_records(filters=RunsFilter(run_ids=submitted))}
    for run_id in submitted:
        run = records[run_id].dagster_run
        assert run.status == DagsterRunStatus.SUCCESS, (run_id, run.status, services.log_tail("daemon"))
        assert instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_ENQUEUED).records
    assert seen_waiting
    assert {records[run_id].dagster_run.job_name for run_id in submitted} == {INGEST_JOB_NAME, "__ASSET_JOB"}
    # No two runs holding the pool ever overlapped (the sensor-launched ones included).
    writers = sorted(
        (r for r in instance.get_run_records() if r.start_time and WAREHOUSE_POOL in pools_of_run(r.dagster_run)),
        key=lambda r: r.start_time,
    )
    assert len(writers) >= 5
    for earlier, later in itertools.pairwise(writers):
        assert earlier.end_time is not None and earlier.end_time <= later.start_time, (
            earlier.dagster_run.run_id,
            later.dagster_run.run_id,
        )


@pytest.mark.real_clock
def test_a_warehouse_backup_taken_while_the_services_run_restores_whole(services: Services, tmp_path: Path) -> None:
    target = tmp_path / "backup"
    result = subprocess.run(
        [sys.executable, str(DEPLOY / "backup_warehouse.py"), str(target), "--copy"],
        cwd=REPO_ROOT, env=services.env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["rows"]["gold.dora_monthly"] > 0 and summary["rows"]["bronze.raw_events"] > 0
    restored = tmp_path / "restored.duckdb"
    with duckdb.connect(str(restored)) as connection:
        connection.execute(f"IMPORT DATABASE '{target / 'export'}'")
    # The export and the byte copy were taken under the same lock: the same rows, table by table.
    with (
        duckdb.connect(str(restored), read_only=True) as imported,
        duckdb.connect(str(target / services.paths.duckdb_path.name), read_only=True) as copied,
    ):
        for table, rows in summary["rows"].items():
            statement = f"SELECT * FROM {table} ORDER BY ALL"
            assert imported.execute(statement).fetchall() == copied.execute(statement).fetchall(), table
            assert len(copied.execute(statement).fetchall()) == rows, table


def test_services_stop_on_sigterm_and_leave_no_process_behind(services: Services) -> None:
    assert services.leftovers()  # the marker finds the services while they run
    codes = services.stop()
    assert set(codes) == {"daemon", "webserver", "receiver"}
    assert all(code is not None for code in codes.values()), codes  # none needed SIGKILL
    assert codes["receiver"] == 0, services.log_tail("receiver")
    deadline = time.monotonic() + 30
    while leftovers := services.leftovers():
        assert time.monotonic() < deadline, f"orphaned processes: {leftovers}"
        time.sleep(0.5)
    for name in ("daemon", "webserver", "receiver"):
        assert password_of(services.env[PG_URL_ENV]) not in services.log_tail(name)
        assert GITHUB_SECRET not in (services.logs / f"{name}.log").read_text(errors="replace")


# --------------------------------------------------------------------------------------------
# deploy/: what must match the code
# --------------------------------------------------------------------------------------------


def systemd_unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    unit.optionxform = str  # keys are case-sensitive
    # systemd repeats keys (Environment=); keep them all, joined by newlines.
    text = (DEPLOY / "systemd" / name).read_text()
    unit.read_string(_join_repeated_keys(text))
    return unit


def _join_repeated_keys(text: str) -> str:
    lines, seen = [], {}
    for line in text.splitlines():
        match = re.match(r"^(\w+)=(.*)$", line)
        if match and match.group(1) in seen:
            lines[seen[match.group(1)]] += "\n  " + match.group(2)
            continue
        if match:
            seen[match.group(1)] = len(lines)
        elif line.startswith("["):
            seen = {}
        lines.append(line)
    return "\n".join(lines)


def environment_of(unit: configparser.ConfigParser) -> dict[str, str]:
    values = unit["Service"].get("Environment", "").split()
    return dict(value.split("=", 1) for value in values)


def cli_command(argv: list[str]) -> str:
    """The name of the command ``argv`` (after the program) runs, once its options are parsed and
    converted by the real dora-assets command line (click raises a UsageError for a bad one)."""
    name, *rest = argv
    assert name in dora_assets_cli.commands, name
    dora_assets_cli.commands[name].make_context(name, rest)
    return name


def test_the_run_creation_settings_are_set_unless_the_operator_set_them() -> None:
    environ = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "false", "OTHER": "x"}
    apply_run_creation_env(environ)
    assert environ == {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "false", "OTHER": "x"}  # theirs wins
    empty: dict[str, str] = {}
    apply_run_creation_env(empty)
    assert empty == {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}


def test_the_deploy_files_match_the_code() -> None:
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    module = workspace["load_from"][0]["python_module"]["module_name"]
    assert module == "dora_assets.definitions"
    pools = [yaml.safe_load(text)["concurrency"]["pools"] for text in (INSTANCE_YAML, POSTGRES_INSTANCE_YAML)]
    assert pools == [WAREHOUSE_POOLS, WAREHOUSE_POOLS]

    # The secrets file: exactly the secrets the code reads, each named once.
    names = re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (DEPLOY / "dora-assets.env.example").read_text(), re.M)
    assert len(names) == len(set(names))
    assert set(names) - {API_URL_ENV} == SECRET_VARS

    # The systemd units: one user, one working directory, one data home, the secrets file, restarts.
    units = {name: systemd_unit(name) for name in ("dora-dagster-daemon.service", "dora-dagster-webserver.service",
                                                  "dora-receiver.service")}  # fmt: skip
    services = {name: unit["Service"] for name, unit in units.items()}
    for name, service in services.items():
        assert service["User"] == "dora" and service["Group"] == "dora", name
        assert service["WorkingDirectory"] == "/opt/dora-assets", name
        assert service["EnvironmentFile"] == "/etc/dora-assets/dora-assets.env", name
        assert service["Restart"] == "on-failure", name
        assert environment_of(units[name])["DORA_HOME"] == "/var/lib/dora-assets", name
        assert set(environment_of(units[name])) <= CODE_VARS, name
    for name in ("dora-dagster-daemon.service", "dora-dagster-webserver.service"):
        assert environment_of(units[name])["DAGSTER_HOME"] == "/var/lib/dora-assets/dagster"
        assert RUN_CREATION_ENV.items() <= environment_of(units[name]).items(), name  # they create runs
        assert services[name]["ExecStartPre"] == "/opt/dora-assets/.venv/bin/python -m dora_assets.instance"
    procfile_commands = procfile()
    daemon = shlex.split(services["dora-dagster-daemon.service"]["ExecStart"])
    assert daemon == ["/opt/dora-assets/.venv/bin/dagster-daemon", "run", "-w", "workspace.yaml"]
    run_creation = ["env", *(f"{name}={value}" for name, value in RUN_CREATION_ENV.items())]
    assert shlex.split(procfile_commands["daemon"]) == [*run_creation, "dagster-daemon", *daemon[1:]]
    webserver = shlex.split(services["dora-dagster-webserver.service"]["ExecStart"])
    assert webserver[:4] == ["/opt/dora-assets/.venv/bin/dagster-webserver", "-w", "workspace.yaml", "-h"]
    assert shlex.split(procfile_commands["webserver"])[: len(run_creation) + 3] == [
        *run_creation,
        "dagster-webserver",
        "-w",
        "workspace.yaml",
    ]
    receiver = shlex.split(services["dora-receiver.service"]["ExecStart"])
    assert receiver[0] == "/opt/dora-assets/.venv/bin/dora-assets"
    assert cli_command(receiver[1:]) == "serve"
    assert shlex.split(procfile_commands["receiver"])[:2] == ["dora-assets", "serve"]

    # The Helm values for the dagster/dagster chart.
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"] is True
    for service in ("dagsterWebserver", "dagsterDaemon"):  # they create runs
        assert {item["name"]: item["value"] for item in values[service]["env"]} == RUN_CREATION_ENV, service
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert set(env) <= CODE_VARS
    mounts = {mount["name"]: mount["mountPath"] for mount in deployment["volumeMounts"]}
    claims = {volume["name"]: volume["persistentVolumeClaim"]["claimName"] for volume in deployment["volumes"]}
    assert env["DORA_HOME"] in mounts.values()  # the data home is on the volume
    [data_volume] = [name for name, path in mounts.items() if path == env["DORA_HOME"]]
    assert [secret["name"] for secret in deployment["envSecrets"]] == ["dora-assets-secrets"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] is True and coordinator["type"] == "QueuedRunCoordinator"
    assert coordinator["config"]["queuedRunCoordinator"]["blockOpConcurrencyLimitedRuns"]["enabled"] is True
    assert values["additionalInstanceConfig"]["concurrency"]["pools"] == WAREHOUSE_POOLS
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"

    # The receiver beside the chart: the same image's `dora-assets serve`, the same volume, the
    # webhook secrets from a Secret. The header names every key the secret needs.
    manifest_text = (DEPLOY / "k8s" / "receiver.yaml").read_text()
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all(manifest_text)}
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"][0] == "dora-assets" and cli_command(container["command"][1:]) == "serve"
    assert container["image"] == f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    assert {item["name"]: item["value"] for item in container["env"]}["DORA_HOME"] == env["DORA_HOME"]
    assert [mount["mountPath"] for mount in container["volumeMounts"]] == [env["DORA_HOME"]]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == claims[data_volume]
    assert documents["PersistentVolumeClaim"]["metadata"]["name"] == claims[data_volume]
    assert set(re.findall(r"--from-literal=(\w+)=", manifest_text)) == set(SECRET_ENV_VARS.values())
    helm_text = (DEPLOY / "helm" / "values.yaml").read_text()
    assert set(re.findall(r"--from-literal=([\w-]+)=", helm_text)) == {"postgresql-password", "GITHUB_TOKEN",
                                                                    SLACK_WEBHOOK_ENV}  # fmt: skip
    # The image's default command is the code location's.
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f'CMD ["dagster", "api", "grpc", "-m", "{module}"' in dockerfile
    assert (
        "dagster-k8s==0.29.27" in dockerfile
        and "dagster-postgres==0.29.27" in (REPO_ROOT / "pyproject.toml").read_text()
    )
