"""What an unlucky operator meets (issue 18, items 5, 8 and 13): a damaged warehouse, a full disk
under DAGSTER_HOME, a binary config, an impossible backfill range, zombie runs left by killed
refreshes, and `dora-assets dev` stopped by a signal. Real subprocesses, real DuckDB files, real
Dagster instances, a real tmpfs (as root) and real SIGKILLs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter, build_sensor_context
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from dora_assets.instance import RUN_CREATION_ENV
from dora_assets.settings import DoraPaths
from dora_assets_tests.helpers import cli_env, run_cli, small_tmpfs
from dora_assets_tests.test_metrics_known_answers import land_history

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


def assert_one_error_line(result: subprocess.CompletedProcess, command: str, *fragments: str, status: int = 2) -> str:
    """Exit ``status``, no traceback, exactly one ``dora-assets COMMAND: error:`` line on stderr,
    holding every fragment; returns that line."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("dora-assets ")]
    assert len(lines) == 1, result.stderr[-3000:]
    [line] = lines
    assert line.startswith(f"dora-assets {command}: error: "), line
    for fragment in fragments:
        assert fragment in line, line
    assert result.returncode == status, (result.returncode, result.stderr[-3000:])
    return line


def gold_rows(paths: DoraPaths) -> list[tuple]:
    connection = duckdb.connect(str(paths.duckdb_path), read_only=True)
    try:
        return connection.execute("SELECT * FROM gold.dora_monthly ORDER BY ALL").fetchall()
    finally:
        connection.close()


# -- 8. a damaged warehouse ------------------------------------------------------------------------

DAMAGED_COMMANDS = (
    ("refresh", "--quiet"),
    ("report",),
    ("metrics",),
    ("audit",),
    ("checks",),
    ("status",),
    ("replay", "--quiet"),
    ("backfill", "--start", "2023-03-01", "--end", "2023-03-31", "--quiet"),
)


def test_a_truncated_warehouse_stops_every_command_in_one_line_and_a_refresh_rebuilds_it(
    refreshed_history: DoraPaths,
) -> None:
    data_home = refreshed_history
    gold_before = gold_rows(data_home)
    assert gold_before

    warehouse = data_home.duckdb_path
    os.truncate(warehouse, warehouse.stat().st_size // 2)
    damaged_size = warehouse.stat().st_size

    for command in DAMAGED_COMMANDS:
        result = run_cli(data_home, *command)
        line = assert_one_error_line(result, command[0], str(warehouse), "damaged", "truncated", "dora-assets refresh")
        assert "move it aside" in line
        # audit never reports a balance it could not read; nothing prints figures from a damaged file
        assert "balanced" not in result.stdout and "Organisation" not in result.stdout, result.stdout
    assert warehouse.stat().st_size == damaged_size  # no command wrote to it

    # The documented recovery (README "A damaged warehouse"): move the file aside, refresh.
    warehouse.rename(warehouse.with_name(warehouse.name + ".damaged"))
    recovered = run_cli(data_home, "refresh", "--quiet")
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert "2 new landing files, 24 records: 23 landed, 0 quarantined, 1 duplicates" in recovered.stdout
    assert gold_rows(data_home) == gold_before
    audit = run_cli(data_home, "audit")
    assert audit.returncode == 0 and "balanced" in audit.stdout, audit.stdout + audit.stderr


def test_a_file_that_is_not_duckdb_is_named_as_such(data_home: DoraPaths) -> None:
    data_home.duckdb_path.write_bytes(b"this is not a database\n" * 1000)
    for command in (("metrics",), ("audit",), ("status",)):
        result = run_cli(data_home, *command)
        assert_one_error_line(result, command[0], str(data_home.duckdb_path), "not a DuckDB database file")


# -- 13. messages ------------------------------------------------------------------------------------


def test_a_binary_config_names_the_file_and_exits_2_like_every_config_error(
    data_home: DoraPaths, tmp_path: Path
) -> None:
    binary = tmp_path / "dora.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("checks: {no_such_threshold: 1}\n", encoding="utf-8")
    for config, fragment in ((binary, "is not UTF-8 text"), (invalid, "is invalid")):
        for command in (("refresh", "--quiet"), ("checks",)):
            result = run_cli(data_home, *command, extra_env={"DORA_CONFIG": str(config)})
            assert_one_error_line(result, command[0], str(config), fragment, status=2)


@pytest.mark.parametrize(
    ("start", "end", "fragment"),
    [
        ("9999-12-01", "9999-12-31", "--start 9999-12-01 is after the last partition"),
        ("2023-03-01", "9999-12-31", "--end 9999-12-31 is after the last partition"),
        ("2014-12-31", "2015-01-31", "--start 2014-12-31 is before the first partition"),
        ("2023-03-02", "2023-03-01", "--end 2023-03-01 is before --start 2023-03-02"),
    ],
)
def test_an_impossible_backfill_range_is_refused_before_any_run(
    data_home: DoraPaths, start: str, end: str, fragment: str
) -> None:
    result = run_cli(data_home, "backfill", "--start", start, "--end", end, "--quiet")
    line = assert_one_error_line(result, "backfill", fragment, status=2)
    assert "out of range" not in line
    assert not data_home.dagster_home.exists() or not any(data_home.dagster_home.rglob("*.db"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB file system (tmpfs), unmounted afterwards whatever happens."""
    with small_tmpfs(tmp_path / "small-disk", "4m") as disk:
        yield disk


def test_a_full_disk_under_dagster_home_is_one_line_naming_it(data_home: DoraPaths, small_disk: Path) -> None:
    dagster_home = small_disk / "dagster"
    env = {"DAGSTER_HOME": str(dagster_home)}
    first = run_cli(data_home, "status", extra_env=env)  # creates the instance's SQLite storage
    assert "error" not in first.stderr, first.stderr
    info = os.statvfs(small_disk)
    with (small_disk / "filler").open("wb") as filler, contextlib.suppress(OSError):  # full: the point
        filler.write(b"\0" * (info.f_bavail * info.f_frsize))
    for command in (("status",), ("refresh", "--quiet"), ("checks",)):
        result = run_cli(data_home, *command, extra_env=env)
        line = assert_one_error_line(result, command[0], f"DAGSTER_HOME={dagster_home}", "the disk is full", status=2)
        assert "[SQL:" not in line and "sqlalche.me" not in line


# -- 5. `dora-assets dev` stops on SIGTERM and SIGINT, children included ---------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        children = {child for child, ppid in parents.items() if ppid == parent}
        found |= children
        frontier += children
    return found


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _environment(pid: int) -> dict[str, str] | None:
    """Process ``pid``'s environment (/proc/PID/environ), or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    pairs = (entry.decode("utf-8", "replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_dev_stops_with_every_child_on_sigterm_and_sigint(data_home: DoraPaths, tmp_path: Path, signum: int) -> None:
    """With a run in progress: the landing sensor's dora_ingest run waits for the warehouse's write
    lock, which this test holds (as a long backup or another writer would). dagster dev alone waits
    for its code server to finish that run (up to the lock's 10 minutes)."""
    if not Path("/proc").is_dir():
        pytest.skip("NOT RUN: the test follows dagster dev's children through /proc (Linux)")
    land_history(data_home)
    holder = duckdb.connect(str(data_home.duckdb_path))  # the write lock, held until the end
    port = _free_port()
    log = tmp_path / "dev.log"  # a file, not a pipe: dagster dev logs a lot, and a full pipe would stall it
    dev = subprocess.Popen(
        [sys.executable, "-m", "dora_assets.cli", "dev", "--port", str(port)],
        env=cli_env(data_home.home),
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 300
        instance = None
        while True:
            assert dev.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, (
                "no sensor-launched run STARTED within 300 s: runs "
                + str([(r.dagster_run.job_name, r.dagster_run.status.value) for r in instance.get_run_records()])
                + f"; dagster dev's log ends: {log.read_text()[-2000:]}"
                if instance is not None
                else "the instance was never created"
            )
            if instance is None and _answers(port):  # dagster dev has its instance (not before)
                instance = _instance(data_home)
            if instance is not None and instance.get_run_records(
                filters=RunsFilter(statuses=[DagsterRunStatus.STARTED]), limit=1
            ):
                break
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=10) as answer:
            assert answer.status == 200  # the webserver answers
        children = _descendants(dev.pid)
        assert len(children) >= 4, children  # dagster dev, the webserver, the daemon, a code server, the run
        # The webserver and the daemon create runs: they inherit RUN_CREATION_ENV from `dora-assets dev`
        # (this test's environment has no DAGSTER_* variable).
        environments = {pid: env for pid in children if (env := _environment(pid)) is not None}
        without = [pid for pid, env in environments.items() if not RUN_CREATION_ENV.items() <= env.items()]
        assert environments and not without, f"processes without {RUN_CREATION_ENV}: {without}"
        sent = time.monotonic()
        dev.send_signal(signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            dev.wait(timeout=15)
        left = [pid for pid in children if _alive(pid)]
        while left and time.monotonic() - sent < 15:
            time.sleep(0.1)
            left = [pid for pid in children if _alive(pid)]
        elapsed = time.monotonic() - sent
        assert dev.poll() is not None, f"dora-assets dev still running {elapsed:.1f} s after the signal"
        assert not left, f"still running {elapsed:.1f} s after the signal: {left}"
        assert dev.returncode == 0, log.read_text()[-3000:]
        print(f"dora-assets dev and its {len(children)} processes stopped {elapsed:.1f} s after the signal")
    finally:
        for pid in [dev.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        dev.wait(timeout=10)
        holder.close()


# -- 5. zombie runs: a SIGKILLed refresh leaves its run STARTED ------------------------------------


def _instance(paths: DoraPaths) -> DagsterInstance:
    from dora_assets.instance import dagster_instance

    return dagster_instance(paths)


def kill_refresh_while_started(paths: DoraPaths) -> str:
    """Start `dora-assets refresh` as a real process, SIGKILL it as soon as the instance records
    one of its runs as STARTED, and return that run's id."""
    refresh = subprocess.Popen(
        [sys.executable, "-m", "dora_assets.cli", "refresh", "--quiet"],
        env=cli_env(paths.home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        instance = None
        while True:
            assert refresh.poll() is None, "the refresh ended before its run was seen STARTED"
            assert time.monotonic() < deadline, "no STARTED run within 240 s"
            if instance is None and (paths.dagster_home / "history" / "runs.db").is_file():
                instance = _instance(paths)
            if instance is not None:
                started = instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED]), limit=1)
                if started:
                    break
            time.sleep(0.05)
        refresh.send_signal(signal.SIGKILL)
        refresh.wait(timeout=30)
    finally:
        if refresh.poll() is None:
            refresh.kill()
            refresh.wait()
    [record] = started
    run = _instance(paths).get_run_by_id(record.dagster_run.run_id)
    assert run.status == DagsterRunStatus.STARTED  # the zombie: nobody will ever finish it
    assert run.tags.get("dora/pid", str(refresh.pid)) == str(refresh.pid)
    return run.run_id


def test_a_killed_refresh_leaves_a_stuck_run_that_status_reports_and_the_sweep_fails(data_home: DoraPaths) -> None:
    land_history(data_home)

    # 1. `dora-assets status` reports the zombie, marks it failed, and exits non-zero.
    zombie = kill_refresh_while_started(data_home)
    status = run_cli(data_home, "status")
    assert status.returncode == 1, status.stdout + status.stderr
    assert "Traceback" not in status.stderr
    [line] = [line for line in status.stdout.splitlines() if zombie[:8] in line and "STARTED" in line]
    assert "is gone" in line and "marked failed by dora-assets status" in line, line
    assert "stuck runs:      1 (1 whose process was gone, now marked failed)" in status.stdout
    failed = _instance(data_home).get_run_by_id(zombie)
    assert failed.status == DagsterRunStatus.FAILURE
    again = run_cli(data_home, "status", "--json")
    assert json.loads(again.stdout)["stuck_runs"] == []  # swept once, reported once

    # 2. The stuck_runs sensor (as the daemon evaluates it) sweeps a second zombie.
    from dora_assets.defs.ops.run_health import stuck_runs

    zombie = kill_refresh_while_started(data_home)
    instance = _instance(data_home)
    with build_sensor_context(instance=instance) as context:
        skip = stuck_runs(context)
    assert zombie[:8] in skip.skip_message and "is gone" in skip.skip_message, skip.skip_message
    assert instance.get_run_by_id(zombie).status == DagsterRunStatus.FAILURE

    # 3. A new refresh sweeps a third zombie itself, then works: the warehouse pool is free again.
    zombie = kill_refresh_while_started(data_home)
    refresh = run_cli(data_home, "refresh", "--quiet")
    assert refresh.returncode == 0, refresh.stderr[-3000:]
    assert f"refresh: run {zombie} of dora_ingest was left STARTED" in refresh.stderr, refresh.stderr
    assert "marked failed by dora-assets refresh" in refresh.stderr
    assert _instance(data_home).get_run_by_id(zombie).status == DagsterRunStatus.FAILURE
    assert gold_rows(data_home)
    in_progress = _instance(data_home).get_run_records(
        filters=RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING])
    )
    assert in_progress == []
    final = run_cli(data_home, "status")
    assert "stuck runs:      0" in final.stdout, final.stdout


def test_a_run_queued_too_long_is_reported_by_status_and_fails_no_stuck_runs(data_home: DoraPaths) -> None:
    from dora_assets.definitions import INGEST_JOB_NAME, defs

    # A dora_ingest run as the UI or a sensor enqueues it, left QUEUED (no daemon dequeues it here).
    instance = _instance(data_home)
    code_location = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="dora_assets.definitions"))
    queued = instance.create_run_for_job(
        defs.resolve_job_def(INGEST_JOB_NAME),
        status=DagsterRunStatus.QUEUED,
        remote_job_origin=RemoteJobOrigin(RemoteRepositoryOrigin(code_location, "__repository__"), INGEST_JOB_NAME),
    )
    env = {"DORA_STUCK_QUEUED_MINUTES": "0.01"}  # 0.6 s
    time.sleep(1)
    status = run_cli(data_home, "status", extra_env=env)
    assert status.returncode == 1, status.stdout + status.stderr
    [line] = [line for line in status.stdout.splitlines() if queued.run_id[:8] in line and "queued for" in line]
    assert line.strip().startswith("QUEUED") and "queued for" in line and "is the daemon running" in line, line
    assert _instance(data_home).get_run_by_id(queued.run_id).status == DagsterRunStatus.QUEUED  # reported, not touched

    checks = run_cli(data_home, "checks", "--run", "--json", extra_env=env)
    [result] = [item for item in json.loads(checks.stdout) if item["check"] == "no_stuck_runs"]
    assert result["asset"] == "bronze/raw_events" and result["severity"] == "ERROR"
    assert not result["passed"] and queued.run_id in result["metadata"]["stuck_run_ids"], result
    assert checks.returncode == 1

    quiet = run_cli(data_home, "checks", "--run", "--json")  # within the default 30 minutes: not stuck
    [result] = [item for item in json.loads(quiet.stdout) if item["check"] == "no_stuck_runs"]
    assert result["passed"], result


def _daemon_style_started_run(instance: DagsterInstance, pid: int | None) -> str:
    """A dora_ingest run as the daemon's run worker records it: STARTED, with its "Started process
    for run (pid: N)." engine event, and none of the CLI's dora/pid tags."""
    from dagster import DagsterEvent, DagsterEventType
    from dagster._core.events.log import EventLogEntry

    from dora_assets.definitions import INGEST_JOB_NAME, defs

    run = instance.create_run_for_job(defs.resolve_job_def(INGEST_JOB_NAME))
    if pid is not None:
        _report_worker_pid(instance, run.run_id, pid)
    start = DagsterEvent(event_type_value=DagsterEventType.RUN_START.value, job_name=run.job_name)
    instance.handle_new_event(
        EventLogEntry(
            error_info=None,
            level=20,
            user_message="",
            run_id=run.run_id,
            timestamp=time.time(),
            step_key=None,
            job_name=run.job_name,
            dagster_event=start,
        )
    )
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED
    return run.run_id


def _report_worker_pid(instance: DagsterInstance, run_id: str, pid: int) -> None:
    from dagster._core.events import EngineEventData

    run = instance.get_run_by_id(run_id)
    instance.report_engine_event(f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid))


def test_a_daemon_run_whose_worker_is_gone_is_swept_and_a_live_one_is_not(data_home: DoraPaths) -> None:
    from dora_assets.stuck_runs import find_stuck_runs

    instance = _instance(data_home)
    sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
    worker = subprocess.Popen(sleeper)
    replacement = None
    try:
        time.sleep(0.5)
        alive = _daemon_style_started_run(instance, worker.pid)
        gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        dead = _daemon_style_started_run(instance, int(gone.stdout))
        # A pid that now belongs to a process started well after the run: not the run's worker.
        reused = _daemon_style_started_run(instance, None)
        time.sleep(6)
        replacement = subprocess.Popen(sleeper)
        _report_worker_pid(instance, reused, replacement.pid)

        stuck = {run.run_id: run for run in find_stuck_runs(instance)}
        assert set(stuck) == {dead, reused}, stuck
        assert f"its run worker (pid {gone.stdout.strip()}) is gone" in stuck[dead].reason
        assert "belongs to a newer process" in stuck[reused].reason

        status = run_cli(data_home, "status")
        assert status.returncode == 1, status.stdout + status.stderr
        assert dead[:8] in status.stdout and reused[:8] in status.stdout, status.stdout
        after = _instance(data_home)
        assert after.get_run_by_id(dead).status == DagsterRunStatus.FAILURE
        assert after.get_run_by_id(reused).status == DagsterRunStatus.FAILURE
        assert after.get_run_by_id(alive).status == DagsterRunStatus.STARTED  # its worker lives: left alone
    finally:
        for process in (worker, replacement):
            if process is not None:
                process.kill()
                process.wait()


def test_the_daemon_sweeps_a_zombie_and_the_queued_writer_run_it_blocked_launches(data_home: DoraPaths) -> None:
    """The issue's scenario through the real daemon: a SIGKILLed refresh's run holds the
    dora_warehouse pool (limit 1, run granularity), so a queued dora_ingest cannot start; the stuck_runs sensor
    (evaluated by `dagster-daemon`) marks the zombie failed and the queue launches the run."""
    land_history(data_home)
    zombie = kill_refresh_while_started(data_home)
    env = cli_env(data_home.home, {"DAGSTER_HOME": str(data_home.dagster_home)})
    workspace = ["-m", "dora_assets.definitions"]
    launched = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "launch", *workspace, "-j", "dora_ingest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    instance = _instance(data_home)
    [queued] = instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus.QUEUED]))
    queued_id = queued.dagster_run.run_id
    assert instance.get_run_by_id(zombie).status == DagsterRunStatus.STARTED

    log = data_home.home / "daemon.log"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "dagster._daemon", "run", *workspace],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 400
        while True:
            assert daemon.poll() is None, log.read_text()[-3000:]
            run = instance.get_run_by_id(queued_id)
            if run.is_finished:
                break
            assert time.monotonic() < deadline, f"the queued run is still {run.status} after 400 s"
            time.sleep(1)
        assert run.status == DagsterRunStatus.SUCCESS, run.status
        failed = instance.get_run_by_id(zombie)
        assert failed.status == DagsterRunStatus.FAILURE
        [failure] = [
            record.message
            for record in instance.all_logs(zombie)
            if record.dagster_event is not None and record.dagster_event.event_type_value == "PIPELINE_FAILURE"
        ]
        assert "is gone; marked failed by the stuck_runs sensor" in failure, failure
        started = instance.get_run_record_by_id(queued_id).start_time
        assert started > instance.get_run_record_by_id(zombie).end_time  # it waited for the sweep
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
