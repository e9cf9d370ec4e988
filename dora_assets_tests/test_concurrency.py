"""Concurrent runs on one data home never fail with a lock error and never corrupt data: two
`dora-assets refresh` processes and a `dagster` CLI backfill start at the same moment on the
same warehouse and instance; all succeed, each delivery lands once, and gold equals the oracle."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import yaml
from dagster import AssetKey, asset
from dagster._core.instance.config import PoolGranularity

from dora_assets.definitions import (
    ASSET_CHECKS,
    ASSETS,
    CHECKS_JOB_NAME,
    INGEST_JOB_NAME,
    defs,
    warehouse_pool_violations,
)
from dora_assets.demo.generator import generate_demo
from dora_assets.instance import dagster_instance, ensure_dagster_home
from dora_assets.resources import WAREHOUSE_POOL, DuckDBWarehouse
from dora_assets.settings import DoraPaths
from dora_assets.silver.sensors import TRANSFORM_JOB_NAME
from dora_assets_tests import oracle
from dora_assets_tests.helpers import gold_monthly, query
from dora_assets_tests.test_end_to_end import FIGURES, approx

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_overlapping_runs_all_succeed_and_land_everything_once(data_home: DoraPaths) -> None:
    summary = generate_demo(data_home.landing_dir, days=60, repos=3, seed=13, end=date(2023, 7, 31))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DORA_", "DAGSTER_"))}
    env |= {"DORA_HOME": str(data_home.home), "DAGSTER_HOME": str(ensure_dagster_home(data_home.dagster_home))}
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
