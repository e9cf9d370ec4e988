"""End to end: a generated demo history goes through the real pipeline (Dagster, DuckDB), and
gold.dora_monthly must equal what the independent pure-Python oracle computes from the same
landing files (dora_assets_tests/oracle.py shares no code with the pipeline)."""

from __future__ import annotations

from datetime import date

import pytest

from dora_assets.demo.generator import generate_demo
from dora_assets.settings import DoraPaths
from dora_assets_tests import oracle
from dora_assets_tests.helpers import FIGURES, gold_monthly, materialize_everything, query

pytestmark = pytest.mark.slow


def approx(figures: dict) -> dict:
    return {
        key: (pytest.approx(value, abs=1e-9) if isinstance(value, float) else value) for key, value in figures.items()
    }


@pytest.mark.parametrize(
    ("days", "repos", "seed", "end"), [(75, 4, 11, date(2023, 10, 15)), (40, 6, 3, date(2023, 2, 10))]
)
def test_gold_equals_the_independent_oracle(data_home: DoraPaths, days: int, repos: int, seed: int, end: date) -> None:
    summary = generate_demo(data_home.landing_dir, days=days, repos=repos, seed=seed, end=end)
    materialize_everything()

    expected = oracle.expected_monthly(oracle.read_envelopes(data_home.landing_dir))
    actual = gold_monthly(data_home, FIGURES)

    assert sorted(actual) == sorted(expected)
    for key, figures in expected.items():
        assert actual[key] == approx({name: figures[name] for name in FIGURES}), key
    # The history is not trivial: every repo deployed, shipped changes and some deployments failed.
    org = [figures for (month, repo), figures in actual.items() if repo == "*"]
    assert sum(f["deployments"] for f in org) > 50
    assert sum(f["failed_deployments"] for f in org) >= 1
    assert sum(f["incidents_resolved"] for f in org) >= 1
    assert {repo for (_, repo) in actual} == {*summary.repos, "*"}
    # Redeliveries reached bronze as duplicates, never as second deliveries.
    assert query(data_home, "SELECT count(*) FROM bronze.duplicates") == [(summary.redeliveries,)]
