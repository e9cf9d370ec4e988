"""The Dagster UI as users meet it: `dagster dev -w workspace.yaml` (webserver + daemon, as the
README says) shows the graph with its groups and column schemas, and a run launched through it
(what the UI's Materialize button does) materializes everything into the data home."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dora_assets.runs import ensure_dagster_home
from dora_assets.settings import DoraPaths
from dora_assets_tests.conftest import query
from dora_assets_tests.test_metrics_known_answers import land_history

REPO_ROOT = Path(__file__).resolve().parents[1]

ASSETS_QUERY = """
query {
  assetNodes {
    assetKey { path }
    groupName
    description
    metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name } } } }
  }
}
"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUN_STATUS = "query Status($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def webserver(data_home: DoraPaths):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DORA_", "DAGSTER_"))}
    env |= {"DORA_HOME": str(data_home.home), "DAGSTER_HOME": str(ensure_dagster_home(data_home.dagster_home))}
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                if httpx.post(url, json={"query": "{ version }"}, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dagster dev did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def graphql(url: str, document: str, variables: dict | None = None) -> dict:
    response = httpx.post(url, json={"query": document, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_ui_shows_the_graph_and_materializes_it(webserver: str, data_home: DoraPaths) -> None:
    nodes = {"/".join(node["assetKey"]["path"]): node for node in graphql(webserver, ASSETS_QUERY)["assetNodes"]}
    assert {
        "bronze/raw_events",
        "bronze/quarantine",
        "silver/changes",
        "silver/deployments",
        "silver/deployment_changes",
        "silver/incidents",
        "gold/dora_monthly",
    } <= set(nodes)
    for key, node in nodes.items():
        assert node["groupName"] == key.split("/")[0]
        assert node["description"]
        schemas = [entry for entry in node["metadataEntries"] if entry["label"] == "dagster/column_schema"]
        assert schemas and schemas[0]["schema"]["columns"], key

    land_history(data_home)
    launched = graphql(
        webserver,
        LAUNCH,
        {
            "params": {
                "selector": {
                    "repositoryLocationName": "dora_assets.definitions",
                    "repositoryName": "__repository__",
                    "jobName": "dora_refresh",
                },
                "runConfigData": {},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 120
    while (status := graphql(webserver, RUN_STATUS, {"id": run_id})["runOrError"]["status"]) not in (
        "SUCCESS",
        "FAILURE",
        "CANCELED",
    ):
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(1)
    assert status == "SUCCESS"
    assert query(data_home, "SELECT count(*) FROM gold.dora_monthly WHERE repo = '*'") == [(3,)]
