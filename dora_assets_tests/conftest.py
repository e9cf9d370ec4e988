"""Shared fixtures: every test gets its own data home (DuckDB file, landing folder, instance)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from dora_assets.definitions import defs
from dora_assets.settings import DoraPaths

DORA_ENV_VARS = ("DORA_HOME", "DORA_DUCKDB_PATH", "DORA_LANDING_DIR", "DAGSTER_HOME", "DORA_CONFIG")


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DoraPaths:
    """A fresh, empty data home in tmp_path, selected through DORA_HOME as users do."""
    for name in DORA_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DORA_HOME", str(tmp_path / "home"))
    paths = DoraPaths.from_env()
    paths.landing_dir.mkdir(parents=True)
    return paths


def materialize_everything(instance: DagsterInstance | None = None):
    """Materialize every asset (and run every check) through Dagster, as the UI would."""
    result = materialize(
        [*defs.assets, *(defs.asset_checks or [])],
        resources=defs.resources,
        instance=instance or DagsterInstance.ephemeral(),
        raise_on_error=True,
    )
    assert result.success
    return result


def query(paths: DoraPaths, sql: str, params: dict | None = None) -> list[tuple]:
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        return connection.execute(sql, params).fetchall()


def query_dicts(paths: DoraPaths, sql: str, params: dict | None = None) -> list[dict]:
    with duckdb.connect(str(paths.duckdb_path), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        cursor = connection.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def gold_monthly(paths: DoraPaths, columns: tuple[str, ...]) -> dict[tuple, dict]:
    """gold.dora_monthly keyed by (month, repo), restricted to ``columns``."""
    return {
        (row["month"], row["repo"]): {name: row[name] for name in columns}
        for row in query_dicts(paths, "SELECT * FROM gold.dora_monthly")
    }
