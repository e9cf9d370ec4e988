"""The benchmark cannot rot: `bench/run.py` at 10k deliveries (the smallest size of `make bench`,
with a private data cache in tmp_path) runs every stage and writes a results file with every
field. No timing is asserted; the bare DuckDB scripts' figures must equal gold's (a correctness
check of both)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

SIZE_FIELDS = {
    "deliveries",
    "deliveries_landed",
    "redeliveries",
    "history_bytes",
    "history_days",
    "first_day",
    "last_day",
    "full_refresh_s",
    "throughput_deliveries_per_s",
    "full_refresh_peak_rss_bytes",
    "full_refresh_breakdown",
    "incremental_deliveries",
    "incremental_refresh_s",
    "incremental_peak_rss_bytes",
    "incremental_breakdown",
    "bare_duckdb_s",
    "bare_duckdb_peak_rss_bytes",
    "bare_duckdb_statements_s",
    "bare_typed_s",
    "bare_typed_peak_rss_bytes",
    "refresh_over_bare",
    "refresh_over_bare_typed",
    "bare_figures_equal_gold",
    "bare_figure_differences",
    "warehouse_bytes",
    "failed_checks_full",
    "failed_checks_incremental",
    "incremental_samples_s",
    "incremental_landed_per_sample",
}
BREAKDOWN_FIELDS = {"import_s", "instance_s", "ingest_run_s", "transform_run_s", "steps_s", "slowest_steps_s", "months"}


def test_the_bench_script_writes_every_field(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--sizes",
            "10k",
            "--chunk-days",
            "14",
            "--data",
            str(tmp_path / "data"),
            "--out",
            str(out),
            "--incremental-repeats",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))

    assert set(results["sizes"]) == {"10k"}
    size = results["sizes"]["10k"]
    assert set(size) >= SIZE_FIELDS, SIZE_FIELDS - set(size)
    assert size["deliveries"] >= 10_000 and size["deliveries_landed"] > 0
    assert size["incremental_deliveries"] == 1000
    # Each repeat starts from the state the full refresh left: the same work, so the same outcome.
    assert len(size["incremental_samples_s"]) == 2 and size["incremental_refresh_s"] in size["incremental_samples_s"]
    assert size["incremental_landed_per_sample"] == [size["incremental_deliveries"]] * 2
    for stage in ("full_refresh_breakdown", "incremental_breakdown"):
        assert set(size[stage]) >= BREAKDOWN_FIELDS, stage
    assert all(size[name] > 0 for name in ("full_refresh_s", "incremental_refresh_s", "bare_duckdb_s", "bare_typed_s"))
    assert all(size[name] > 0 for name in ("full_refresh_peak_rss_bytes", "incremental_peak_rss_bytes"))
    assert size["bare_figures_equal_gold"], size["bare_figure_differences"]

    assert {"refresh_s", "peak_rss_bytes", "import_s", "ingest_run_s", "transform_run_s"} <= set(
        results["dagster_overhead"]
    )
    assert set(results["ratios"]) == {"refresh_over_bare", "refresh_over_bare_typed", "incremental_10k_over_10k"}
    assert set(results["targets"]) == {
        "full_refresh_1M_under_5_min",
        "refresh_within_2x_bare_at_100k",
        "refresh_within_2x_bare_at_1M",
        "peak_rss_under_2_GiB",
        "incremental_1M_over_10k_under_1_5",
    }
    assert {"machine", "commit", "data", "created_at"} <= set(results)
    assert "10k" in run.stdout and "full/bare" in run.stdout
