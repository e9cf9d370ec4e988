"""The metric config: where it is read from, and the source mappings' validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, asset, materialize

from dora_assets.config import ConfigError, load_config
from dora_assets.resources import DoraConfigResource, DuckDBWarehouse
from dora_assets.settings import DoraPaths


def test_the_data_homes_dora_yaml_is_read_when_dora_config_is_unset(
    data_home: DoraPaths, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("DORA_CONFIG", raising=False)
    assert load_config().production_environments == ["production", "prod"]

    data_home.default_config.write_text("production_environments: [Live]\n", encoding="utf-8")
    assert load_config().production_environments == ["live"]

    explicit = tmp_path / "explicit.yaml"
    explicit.write_text("production_environments: [prd]\n", encoding="utf-8")
    monkeypatch.setenv("DORA_CONFIG", str(explicit))
    assert load_config().production_environments == ["prd"]


def test_source_maps_match_case_insensitively_and_reach_the_sql_as_two_lists(data_home: DoraPaths, monkeypatch) -> None:
    data_home.default_config.write_text(
        "repo_aliases: {Group/Payments: acme/payments}\n"
        "pagerduty: {services: {PA2P440: acme/payments}}\n"
        "jenkins: {deploy_jobs: ['*-Deploy'], jobs: {Payments-Deploy: acme/payments}}\n",
        encoding="utf-8",
    )
    params = load_config().silver_params()

    assert params["repo_aliases_keys"] == ["group/payments"]
    assert params["repo_aliases_values"] == ["acme/payments"]
    assert params["pagerduty_services_keys"] == ["pa2p440"]
    assert params["jenkins_deploy_jobs"] == ["*-deploy"]
    assert params["jenkins_jobs_keys"] == ["payments-deploy"]
    assert params["correlation_priority"] == ["pagerduty", "jira", "github", "gitlab"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("github: {deployments_from: [jenkins]}\n", "github.deployments_from.0"),
        ("incident_correlation: {source_priority: [github]}\n", "source_priority must list each of"),
        ("incident_correlation: {window_minutes: -5}\n", "incident_correlation.window_minutes"),
        ("jira: {projectz: {}}\n", "jira.projectz"),
    ],
)
def test_bad_source_settings_are_rejected_with_the_key(data_home: DoraPaths, text: str, message: str) -> None:
    data_home.default_config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config()


def test_duckdb_memory_limit_and_threads_come_from_the_environment_when_a_connection_opens(
    data_home: DoraPaths, monkeypatch
) -> None:
    warehouse = DuckDBWarehouse()
    settings = "SELECT current_setting('memory_limit'), current_setting('threads')"
    with warehouse.get_connection() as connection:
        [(memory_limit, _)] = connection.execute(settings).fetchall()
    assert memory_limit == "953.6 MiB"  # 1GB: a refresh stays small at any history size

    monkeypatch.setenv("DORA_DUCKDB_MEMORY_LIMIT", "512MB")
    monkeypatch.setenv("DORA_DUCKDB_THREADS", "1")
    with warehouse.get_connection() as connection:
        assert connection.execute(settings).fetchall() == [("488.2 MiB", 1)]

    monkeypatch.setenv("DORA_DUCKDB_THREADS", "two")
    with pytest.raises(ValueError, match="DORA_DUCKDB_THREADS must be a whole number"), warehouse.get_connection():
        pass


def test_a_run_judges_every_step_with_the_config_it_started_with(tmp_path: Path) -> None:
    # The file is edited while a run goes on (between its first and second step): both steps use
    # the definitions the run started with; the next run reads the new file.
    config = tmp_path / "dora.yaml"
    config.write_text("production_environments: [live]\n", encoding="utf-8")
    seen: dict[str, list[str]] = {}

    @asset
    def first(dora_config: DoraConfigResource) -> None:
        seen["first"] = list(dora_config.load().production_environments)
        config.write_text("production_environments: [prod-eu]\n", encoding="utf-8")

    @asset(deps=[first])
    def second(dora_config: DoraConfigResource) -> None:
        seen["second"] = list(dora_config.load().production_environments)

    resources = {"dora_config": DoraConfigResource(path=str(config))}
    assert materialize([first, second], resources=resources, instance=DagsterInstance.ephemeral()).success
    assert seen == {"first": ["live"], "second": ["live"]}

    assert materialize([second], resources=resources, instance=DagsterInstance.ephemeral()).success
    assert seen["second"] == ["prod-eu"]
