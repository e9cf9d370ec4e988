"""The dora-assets command as users run it: a real subprocess with its own data home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from dora_assets.settings import DoraPaths
from dora_assets_tests.helpers import assert_one_line_error, query, run_cli
from dora_assets_tests.test_metrics_known_answers import land_history

pytestmark = pytest.mark.slow


COMMANDS = ("demo", "refresh", "replay", "backfill", "metrics", "status", "checks", "audit", "dev", "serve",
            "report", "extract")  # fmt: skip


def test_help_lists_every_command_in_the_order_of_the_workflow(data_home: DoraPaths) -> None:
    for flag in ("--help", "-h"):
        result = run_cli(data_home, flag)
        assert result.returncode == 0, result.stderr
        listed = [line.split()[0] for line in result.stdout.split("Commands:\n", 1)[1].splitlines() if line[2:3] != " "]
        assert tuple(listed) == COMMANDS
    extract = run_cli(data_home, "extract", "--help")
    assert extract.returncode == 0 and "github  deployments, default-branch commits" in extract.stdout


def test_refresh_prints_metrics_records_the_run_and_is_idempotent(data_home: DoraPaths) -> None:
    land_history(data_home)

    first = run_cli(data_home, "refresh")
    assert first.returncode == 0, first.stderr
    assert "2 new landing files, 24 records: 23 landed, 0 quarantined, 1 duplicates" in first.stdout
    assert "Organisation (repo '*')" in first.stdout and "acme/api" in first.stdout
    page = data_home.reports_dir / "dora.html"
    assert f"refresh: dashboard {page}" in first.stdout and page.is_file()
    snapshot = query(data_home, "SELECT * FROM gold.dora_monthly ORDER BY month, repo")
    bronze = query(data_home, "SELECT * FROM bronze.raw_events ORDER BY delivery_id")

    second = run_cli(data_home, "refresh", "--quiet")
    assert second.returncode == 0, second.stderr
    assert "0 new landing files, 0 records" in second.stdout
    assert query(data_home, "SELECT * FROM gold.dora_monthly ORDER BY month, repo") == snapshot
    assert query(data_home, "SELECT * FROM bronze.raw_events ORDER BY delivery_id") == bronze

    report = run_cli(data_home, "report")
    assert report.returncode == 0, report.stderr
    assert f"report: wrote {page} (0 failing ERROR checks shown)" in report.stdout

    instance = DagsterInstance.from_config(str(data_home.dagster_home))
    runs = instance.get_runs()
    assert [run.job_name for run in runs] == [
        "dora_report",
        "dora_transform",
        "dora_ingest",
        "dora_transform",
        "dora_ingest",
    ]
    # The second refresh rebuilt only today: nothing new had landed.
    assert runs[1].tags["dagster/asset_partition_range_start"] == runs[1].tags["dagster/asset_partition_range_end"]
    assert all(run.is_success for run in runs)
    # The first transform ran over 50 months (the history reaches back to May 2019): one "materialization
    # planned" event per asset holds the whole range (instance.RUN_CREATION_ENV), not one per asset and month.
    first_transform = runs[3]
    assert first_transform.tags["dagster/asset_partition_range_start"] == "2019-05-01"
    planned = instance.all_logs(first_transform.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    keys = [entry.dagster_event.asset_key for entry in planned]
    assert len(keys) == len(set(keys)) == 13, keys  # silver's 7 tables and gold's 6 assets, once each
    silver_pushes = next(entry for entry in planned if entry.dagster_event.asset_key == AssetKey(["silver", "pushes"]))
    subset = silver_pushes.dagster_event.event_specific_data.partitions_subset
    assert len(subset.get_partition_keys()) == 50


def test_metrics_prints_the_last_months(refreshed_history: DoraPaths) -> None:
    result = run_cli(refreshed_history, "metrics", "--months", "1")
    assert result.returncode == 0, result.stderr
    assert "2023-05" in result.stdout and "2023-03" not in result.stdout


def test_metrics_before_any_refresh_fails_in_one_line(data_home: DoraPaths) -> None:
    assert_one_line_error(run_cli(data_home, "metrics"), "run `dora-assets refresh` first")


@pytest.mark.parametrize(
    ("config_text", "fragment"),
    [
        ("production_environment: [prod]\n", "production_environment: Extra inputs are not permitted"),
        ("benchmark: 1999\n", "unknown benchmark"),
        ("incident_labels: []\n", "incident_labels"),
        ("teams: [not, a, mapping]\n", "teams"),
    ],
)
def test_refresh_rejects_a_bad_config_in_one_line(
    data_home: DoraPaths, tmp_path: Path, config_text: str, fragment: str
) -> None:
    config = tmp_path / "dora.yaml"
    config.write_text(config_text, encoding="utf-8")
    result = run_cli(data_home, "refresh", extra_env={"DORA_CONFIG": str(config)})
    assert_one_line_error(result, fragment)
    assert result.returncode == 2
    assert not data_home.duckdb_path.exists()


def test_bad_arguments_fail_without_traceback(data_home: DoraPaths) -> None:
    result = run_cli(data_home, "demo", "--days", "zero")
    assert result.returncode == 2
    assert "'zero' is not a valid whole number" in result.stderr and "Traceback" not in result.stderr
    assert_one_line_error(
        run_cli(data_home, "metrics", extra_env={"DORA_CONFIG": "/nonexistent/dora.yaml"}), "no warehouse"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("backfill", "--start", "2023-02-30", "--end", "2023-03-31"),
            "Invalid value for '--start': '2023-02-30' is not a date like YYYY-MM-DD",
        ),
        (
            ("extract", "github", "--repo", "acme/api", "--since", "last week"),
            "Invalid value for '--since': 'last week' is not a date like YYYY-MM-DD",
        ),
        (("metrics", "--months", "0"), "Invalid value for '--months': 0 is not in the range x>=1."),
        (("metrics", "--months", "2023-05"), "Invalid value for '--months': '2023-05' is not a valid whole number."),
        (
            ("demo", "--sources", "github,svn"),
            "Invalid value for '--sources': unknown source 'svn'; choose from github, gitlab, pagerduty, jira, jenkins",
        ),
        (("extract", "gitlab"), "No such command 'gitlab'. Did you mean 'github'?"),
        (
            ("extract", "github", "--repo", "payments"),
            "Invalid value for '--repo': 'payments' is not a repository name like OWNER/NAME",
        ),
        (("serve", "--port", "65536"), "Invalid value for '--port': 65536 is not in the range 1<=x<=65535."),
        (
            ("serve", "--header-timeout", "0"),
            "Invalid value for '--header-timeout': 0.0 is not in the range 0<x<=3600.",
        ),
        (("backfill", "--end", "2023-03-31"), "Missing option '--start'."),
    ],
)
def test_a_bad_option_value_is_a_usage_error_naming_the_option_before_anything_runs(
    data_home: DoraPaths, args: tuple[str, ...], message: str
) -> None:
    result = run_cli(data_home, *args)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Usage: dora-assets "), result.stderr
    assert lines[-1] == f"Error: {message}"
    assert not data_home.dagster_home.exists() and not data_home.duckdb_path.exists()
    assert not any(data_home.landing_dir.iterdir())


def test_a_usage_error_from_main_returns_2_with_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    from dora_assets.cli import main

    assert main(["metrics", "--months", "none"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: dora-assets metrics [OPTIONS]")
    assert err.splitlines()[-1] == "Error: Invalid value for '--months': 'none' is not a valid whole number."


def test_a_subcommand_s_failure_names_the_whole_command(data_home: DoraPaths) -> None:
    result = run_cli(
        data_home, "extract", "github", "--repo", "acme/api", "--since", "2023-05-01", extra_env={"GITHUB_TOKEN": ""}
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "dora-assets extract github: error: GITHUB_TOKEN is not set (a token that can read the repos; see README)"
    ]


def test_checks_json_before_any_run_lists_every_check_as_not_evaluated(data_home: DoraPaths) -> None:
    before = run_cli(data_home, "checks", "--json")
    assert before.returncode == 1  # nothing has been checked yet: that is a gap too
    assert {entry["status"] for entry in json.loads(before.stdout)} == {"not_evaluated"}


def test_checks_json_lists_the_latest_result_of_every_check(refreshed_history: DoraPaths) -> None:
    after = run_cli(refreshed_history, "checks", "--json")

    assert after.returncode == 0, after.stdout
    results = json.loads(after.stdout)
    assert {"asset", "check", "passed", "severity", "description", "metadata"} <= set(results[0])
    by_name = {(entry["asset"], entry["check"]): entry for entry in results}
    assert len(by_name) == len(results) >= 25
    accounting = by_name[("bronze/landing_files", "accounting_balanced")]
    assert accounting["passed"] is True and accounting["severity"] == "ERROR"
    assert accounting["metadata"]["records_seen"] == 24
    assert by_name[("silver/deployments", "deployments_have_pushes")]["severity"] == "WARN"
    assert all(entry["status"] == "evaluated" for entry in results)


def test_status_shows_last_run_ingest_failures_and_checks(refreshed_history: DoraPaths) -> None:
    data_home = refreshed_history
    healthy = run_cli(data_home, "status")

    assert healthy.returncode == 0, healthy.stderr
    assert "last run:        dora_transform SUCCESS" in healthy.stdout
    assert "last failed run: none" in healthy.stdout
    assert "2 files, 23 landed, 0 quarantined, 1 duplicates" in healthy.stdout
    assert "0 ERROR and 0 WARN failing" in healthy.stdout

    data_home.duckdb_path.rename(data_home.home / "moved.duckdb")
    data_home.duckdb_path.mkdir()  # the next refresh fails
    assert run_cli(data_home, "refresh", "--quiet").returncode != 0
    result = run_cli(data_home, "status", "--json")
    assert result.stdout, result.stderr
    broken = json.loads(result.stdout)

    assert broken["last_failed_run"]["job"] == "dora_ingest"
    assert broken["last_run"]["status"] == "FAILURE"
    assert broken["last_ingest"]["records_landed"] == 23


def test_a_run_in_progress_shows_last_results_and_only_a_failed_run_counts_as_failing(
    refreshed_history: DoraPaths,
) -> None:
    from dora_assets.definitions import CHECKS_JOB_NAME, defs
    from dora_assets.instance import dagster_instance

    data_home = refreshed_history
    instance = dagster_instance(data_home)
    # A run created but not yet started, as a sensor's run waits in the queue: Dagster records
    # every check it plans at creation.
    queued = instance.create_run_for_job(defs.resolve_job_def(CHECKS_JOB_NAME), tags={"dora/trigger": "test"})
    assert queued.status == DagsterRunStatus.NOT_STARTED

    while_queued = run_cli(data_home, "checks", "--json")

    assert while_queued.returncode == 0, while_queued.stdout
    results = json.loads(while_queued.stdout)
    assert {entry["status"] for entry in results} == {"in_progress"}
    assert {entry["run_id"] for entry in results} == {queued.run_id}
    accounting = next(entry for entry in results if entry["check"] == "accounting_balanced")
    # The last completed result is shown: the refresh's recount of the 24 records.
    assert accounting["passed"] is True and accounting["metadata"]["records_seen"] == 24
    assert accounting["evaluated_at"] and accounting["failing"] is False
    listing = run_cli(data_home, "checks")
    assert "0 ERROR check(s) failing" in listing.stdout and "being re-evaluated by a run in progress" in listing.stdout
    assert "FAIL" not in listing.stdout
    assert "0 ERROR and 0 WARN failing" in run_cli(data_home, "status").stdout

    instance.report_run_failed(queued)  # the run died before evaluating anything

    after_failure = run_cli(data_home, "checks", "--json")
    assert after_failure.returncode == 1
    failed = json.loads(after_failure.stdout)
    assert {entry["status"] for entry in failed} == {"not_evaluated"}
    assert all(entry["failing"] and "run failure" in entry["description"] for entry in failed)
