"""Metric redefinition: a changed config and one command (`dora-assets replay`) recompute all
of silver and gold from the immutable bronze. Old and new gold each equal the independent
oracle under their own definitions, they differ, and bronze is untouched."""

from __future__ import annotations

from datetime import date

import pytest

from dora_assets.demo.generator import generate_demo
from dora_assets.settings import DoraPaths
from dora_assets_tests import oracle
from dora_assets_tests.helpers import gold_monthly, query, run_cli
from dora_assets_tests.test_end_to_end import FIGURES, approx

pytestmark = pytest.mark.slow

BRONZE_TABLES = ("raw_events", "quarantine", "duplicates", "landing_files")


def bronze_snapshot(paths: DoraPaths) -> dict[str, list[tuple]]:
    return {
        table: query(paths, "SELECT * FROM query_table($table) ORDER BY ALL", {"table": f"bronze.{table}"})
        for table in BRONZE_TABLES
    }


def assert_gold_matches(paths: DoraPaths, expected: dict) -> dict:
    actual = gold_monthly(paths, FIGURES)
    assert sorted(actual) == sorted(expected)
    for key, figures in expected.items():
        assert actual[key] == approx({name: figures[name] for name in FIGURES}), key
    return actual


def test_replay_recomputes_history_under_a_new_definition(data_home: DoraPaths) -> None:
    generate_demo(data_home.landing_dir, days=45, repos=3, seed=17, end=date(2023, 6, 30))
    envelopes = oracle.read_envelopes(data_home.landing_dir)
    assert run_cli(data_home, "refresh", "--quiet").returncode == 0
    before = assert_gold_matches(data_home, oracle.expected_monthly(envelopes))
    bronze = bronze_snapshot(data_home)

    config = data_home.home / "dora.yaml"
    config.write_text("production_environments: [production, prod, staging]\nincident_labels: [incident, bug]\n")
    replay = run_cli(data_home, "replay", "--quiet", extra_env={"DORA_CONFIG": str(config)})

    assert replay.returncode == 0, replay.stderr
    assert "replay: rebuilt silver days 2023-05-01 to " in replay.stdout
    assert "'staging'" in replay.stdout and "'bug'" in replay.stdout
    after = assert_gold_matches(
        data_home,
        oracle.expected_monthly(
            envelopes, production_environments=("production", "prod", "staging"), incident_labels=("incident", "bug")
        ),
    )
    # The redefinition shows: staging deployments now count, bug issues are incidents.
    assert sum(f["deployments"] for (_, repo), f in after.items() if repo == "*") > sum(
        f["deployments"] for (_, repo), f in before.items() if repo == "*"
    )
    assert sum(f["incidents"] for (_, repo), f in after.items() if repo == "*") > sum(
        f["incidents"] for (_, repo), f in before.items() if repo == "*"
    )
    assert bronze_snapshot(data_home) == bronze


def test_replay_with_a_bad_config_is_a_one_line_error(data_home: DoraPaths) -> None:
    config = data_home.home / "dora.yaml"
    config.write_text("production_environment: [prod]\n")

    result = run_cli(data_home, "replay", extra_env={"DORA_CONFIG": str(config)})

    assert result.returncode == 2
    assert "production_environment" in result.stderr and "Traceback" not in result.stderr


def test_replay_before_any_refresh_is_a_one_line_error_and_creates_nothing(data_home: DoraPaths) -> None:
    result = run_cli(data_home, "replay")

    assert result.returncode == 2
    assert "run `dora-assets refresh` first" in result.stderr and "Traceback" not in result.stderr
    assert not data_home.duckdb_path.exists()
