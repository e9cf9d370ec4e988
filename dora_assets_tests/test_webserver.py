"""The Dagster UI as users meet it: `dagster dev -w workspace.yaml` (webserver + daemon, as the
README says) on a fresh data home shows the graph with its groups and column schemas; files
dropped into the landing folder reach gold without anyone clicking (landing sensor, then the
transform sensor); and a run launched through the UI's GraphQL API succeeds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from dora_assets.instance import ensure_dagster_home
from dora_assets.settings import DoraPaths
from dora_assets_tests.helpers import cli_env, query
from dora_assets_tests.test_metrics_known_answers import land_history

pytestmark = pytest.mark.slow

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
UNFINISHED = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED"}
RUNS = "query { runsOrError { ... on Runs { results { jobName status } } } }"
STEPS = "query Steps($id: ID!) { runOrError(runId: $id) { ... on Run { stepStats { stepKey status } } } }"
RUN_STATUS = "query Status($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def webserver(data_home: DoraPaths, tmp_path: Path):
    port = free_port()
    # A file, not a pipe: nobody reads a pipe while the test runs, and a full pipe would block
    # dagster dev and the run workers that inherit it.
    log = (tmp_path / "dagster-dev.log").open("w+b")
    env = cli_env(data_home.home, {"DAGSTER_HOME": str(ensure_dagster_home(data_home.dagster_home))})
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
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
                log.seek(0)
                raise RuntimeError(f"dagster dev did not start: {log.read().decode()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        # Ctrl-C, as a user stops it: dagster dev then stops the webserver and the daemon and
        # exits in a few seconds (on SIGTERM it waited out the 30 s and was killed).
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def graphql(url: str, document: str, variables: dict | None = None) -> dict:
    response = httpx.post(url, json={"query": document, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.mark.real_clock
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
        if key == "gold/dora_dashboard":  # a page, not a table
            continue
        schemas = [entry for entry in node["metadataEntries"] if entry["label"] == "dagster/column_schema"]
        assert schemas and schemas[0]["schema"]["columns"], key

    dropped = time.monotonic()
    land_history(data_home)
    deadline = dropped + 240
    while not gold_org_rows(data_home):
        assert time.monotonic() < deadline, "the drop never reached gold: are the sensors running?"
        time.sleep(2)
    print(f"drop to gold: {time.monotonic() - dropped:.0f} s")
    assert gold_org_rows(data_home) == 3
    runs = {run["jobName"] for run in graphql(webserver, RUNS)["runsOrError"]["results"]}
    assert {"dora_ingest", "dora_transform"} <= runs
    deadline = time.monotonic() + 300
    while busy := [run for run in graphql(webserver, RUNS)["runsOrError"]["results"] if run["status"] in UNFINISHED]:
        assert time.monotonic() < deadline, f"runs still going after 300 s: {busy}"
        time.sleep(2)
    print(f"all triggered runs finished: {time.monotonic() - dropped:.0f} s after the drop")

    launched = graphql(
        webserver,
        LAUNCH,
        {
            "params": {
                "selector": {
                    "repositoryLocationName": "dora_assets.definitions",
                    "repositoryName": "__repository__",
                    "jobName": "dora_checks",
                },
                "runConfigData": {},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    launched_at = time.monotonic()
    deadline = time.monotonic() + 400
    while (status := graphql(webserver, RUN_STATUS, {"id": run_id})["runOrError"]["status"]) not in (
        "SUCCESS",
        "FAILURE",
        "CANCELED",
    ):
        assert time.monotonic() < deadline, (
            status,
            graphql(webserver, STEPS, {"id": run_id}),
            graphql(webserver, RUNS),
        )
        time.sleep(1)
    assert status == "SUCCESS"
    print(f"checks run: {time.monotonic() - launched_at:.0f} s")


def gold_org_rows(paths: DoraPaths) -> int:
    """Org-wide gold rows, 0 while the warehouse or the table does not exist or is being written."""
    try:
        return query(paths, "SELECT count(*) FROM gold.dora_monthly WHERE repo = '*'")[0][0]
    except (duckdb.IOException, duckdb.CatalogException, duckdb.ConnectionException):
        return 0
