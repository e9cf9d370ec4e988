"""Concurrent runs on one data home never fail with a lock error and never corrupt data: two
`dora-assets refresh` processes and a `dagster` CLI backfill start at the same moment on the
same warehouse and instance; all succeed, each delivery lands once, and gold equals the oracle.
A command never waits for good behind another process holding the instance's lock: it stops
after the lock's timeout with a one-line error."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, asset
from dagster._core.instance.config import PoolGranularity

from dora_assets import instance as instance_module
from dora_assets.cli import main as cli_main
from dora_assets.definitions import (
    ASSET_CHECKS,
    ASSETS,
    CHECKS_JOB_NAME,
    INGEST_JOB_NAME,
    defs,
    warehouse_pool_violations,
)
from dora_assets.defs.silver.sensors import TRANSFORM_JOB_NAME
from dora_assets.demo.generator import generate_demo
from dora_assets.instance import InstanceLockTimeout, dagster_instance, ensure_dagster_home
from dora_assets.resources import WAREHOUSE_POOL, DuckDBWarehouse
from dora_assets.settings import DoraPaths
from dora_assets_tests import oracle
from dora_assets_tests.helpers import cli_env, gold_monthly, query
from dora_assets_tests.test_end_to_end import FIGURES, approx

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_overlapping_runs_all_succeed_and_land_everything_once(data_home: DoraPaths) -> None:
    summary = generate_demo(data_home.landing_dir, days=60, repos=3, seed=13, end=date(2023, 7, 31))
    env = cli_env(data_home.home, {"DAGSTER_HOME": str(ensure_dagster_home(data_home.dagster_home))})
    # The instance exists already, as it does whenever `dagster dev` runs beside the CLI. (Creating
    # its SQLite storage is a migration that two processes must not run at once; `dora-assets`
    # commands serialize it with a file lock, the `dagster` CLI does not.)
    dagster_instance(data_home)
    commands = [
        [sys.executable, "-m", "dora_assets.cli", "refresh", "--quiet"],
        [sys.executable, "-m", "dora_assets.cli", "refresh", "--quiet"],
        [
            sys.executable, "-m", "dagster", "asset", "materialize", "-m", "dora_assets.definitions",
            "--select", "group:silver,group:gold", "--partition-range", "2023-06-01...2023-07-01",
        ],
    ]  # fmt: skip
    processes = [
        subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    outputs = [process.communicate(timeout=600) for process in processes]

    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
        assert "could not set lock" not in stderr and "conflicting lock" not in stderr.lower(), stderr[-3000:]
    landed = query(data_home, "SELECT count(*), count(DISTINCT delivery_id) FROM bronze.raw_events")
    assert landed == [(summary.deliveries - summary.redeliveries,) * 2]
    # Whatever order the runs took, the last word is a refresh over complete bronze.
    assert subprocess.run(commands[0], cwd=REPO_ROOT, env=env, capture_output=True, check=False).returncode == 0
    expected = oracle.expected_monthly(oracle.read_envelopes(data_home.landing_dir))
    actual = gold_monthly(data_home, FIGURES)
    assert sorted(actual) == sorted(expected)
    for key, figures in expected.items():
        assert actual[key] == approx({name: figures[name] for name in FIGURES}), key


def pools_of(job) -> set[str | None]:
    return {op.pool for op in job.graph.iterate_op_defs()}


def test_the_instance_queues_runs_that_open_the_warehouse_one_at_a_time(data_home: DoraPaths) -> None:
    config = yaml.safe_load((ensure_dagster_home(data_home.dagster_home) / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"] == {"granularity": "run", "default_limit": 1}
    pools = dagster_instance(data_home).get_concurrency_config().pool_config
    assert (pools.pool_granularity, pools.default_pool_limit) == (PoolGranularity.RUN, 1)
    assert "run_queue" not in config  # one place for the queue's settings: concurrency

    # The pool is on the assets and checks themselves, so every way of launching them (the jobs,
    # a "Materialize" click, an asset backfill) holds it; checks open the warehouse too.
    for job in (INGEST_JOB_NAME, TRANSFORM_JOB_NAME, CHECKS_JOB_NAME):
        assert WAREHOUSE_POOL in pools_of(defs.resolve_job_def(job)), job
    single = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={AssetKey(["silver", "pushes"])})
    assert WAREHOUSE_POOL in pools_of(single)
    assert warehouse_pool_violations([*ASSETS, *ASSET_CHECKS]) == []


def test_an_asset_that_opens_the_warehouse_outside_the_pool_is_refused() -> None:
    @asset(name="stray")
    def stray(warehouse: DuckDBWarehouse) -> None:
        del warehouse

    @asset(name="tidy", pool=WAREHOUSE_POOL)
    def tidy() -> None:
        pass

    assert warehouse_pool_violations([stray, tidy]) == ["stray (pool None)", "tidy (pool 'dora_warehouse')"]


HOLD_INSTANCE_LOCK = """
import sys
from pathlib import Path
from dora_assets.instance import instance_lock
with instance_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_command_waits_for_the_instance_lock_only_so_long_then_stops_in_one_line(
    data_home: DoraPaths, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ensure_dagster_home(data_home.dagster_home)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_INSTANCE_LOCK, str(home)],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    # Should the wait ignore its timeout, the holder is killed after a minute (releasing the lock)
    # and the test fails instead of hanging.
    watchdog = threading.Timer(60, holder.kill)
    watchdog.start()
    try:
        assert holder.stdout.readline() == "held\n"
        started = time.monotonic()
        with pytest.raises(
            InstanceLockTimeout, match=r"waited 0\.5 s for the Dagster instance's lock .*\.dora-instance"
        ):
            dagster_instance(data_home, lock_timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 10

        # The CLI's error funnel: one line, exit 2 (nothing could run until someone acts).
        monkeypatch.setattr(instance_module, "INSTANCE_LOCK_TIMEOUT_SECONDS", 0.5)
        capsys.readouterr()
        assert cli_main(["status"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("dora-assets status: error: waited 0.5 s"), err
        assert str(home / ".dora-instance.lock") in err and "Traceback" not in err
    finally:
        holder.communicate(input="", timeout=30)
        watchdog.cancel()
    assert holder.returncode == 0
    # Released by its holder, the lock is free again: the instance opens at once.
    dagster_instance(data_home, lock_timeout=5).dispose()
