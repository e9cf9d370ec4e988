"""Run-failure visibility: a real failed run on a real instance is recorded and posted to a
Slack-compatible webhook served on 127.0.0.1; the webhook URL (a secret) is never logged."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dagster import DagsterEventType, build_run_status_sensor_context

from dora_assets.definitions import INGEST_JOB_NAME, defs
from dora_assets.defs.ops.alerts import SLACK_WEBHOOK_ENV, FailureNotifier, run_failure_alerts
from dora_assets.instance import dagster_instance
from dora_assets.runs import run_job
from dora_assets.settings import DoraPaths

pytestmark = pytest.mark.slow


class SlackHook(BaseHTTPRequestHandler):
    """A Slack incoming webhook: records each posted JSON body on its server."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slack():
    server = HTTPServer(("127.0.0.1", 0), SlackHook)
    server.received = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret-token"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def failed_run_context(paths: DoraPaths):
    paths.duckdb_path.mkdir(parents=True)  # a directory where the DuckDB file should be: the run fails
    instance = dagster_instance(paths)
    outcome = run_job(defs.resolve_job_def(INGEST_JOB_NAME), instance)
    assert not outcome.success
    [failure] = instance.all_logs(outcome.run_id, of_type=DagsterEventType.RUN_FAILURE)
    return build_run_status_sensor_context(
        sensor_name="run_failure_alerts",
        dagster_event=failure.dagster_event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(outcome.run_id),
        resources={"failure_notifier": FailureNotifier()},
    ).for_run_failure(), outcome.run_id


def test_a_failed_run_is_recorded_and_posted_to_slack(
    data_home: DoraPaths, slack: HTTPServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(SLACK_WEBHOOK_ENV, slack.url)
    context, run_id = failed_run_context(data_home)

    run_failure_alerts(context)

    [posted] = slack.received
    assert run_id[:8] in posted["text"] and posted["failure"]["job"] == INGEST_JOB_NAME
    [recorded] = [json.loads(line) for line in (data_home.reports_dir / "run_failures.jsonl").read_text().splitlines()]
    assert recorded["run_id"] == run_id
    assert "bronze_ingestion" in recorded["error"] and "Is a directory" in recorded["error"]
    assert "secret-token" not in caplog.text


def test_without_a_slack_url_failures_are_still_recorded(
    data_home: DoraPaths, slack: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SLACK_WEBHOOK_ENV, raising=False)
    context, run_id = failed_run_context(data_home)

    run_failure_alerts(context)

    assert slack.received == []
    assert run_id in (data_home.reports_dir / "run_failures.jsonl").read_text()


def test_an_unreachable_slack_is_a_warning_not_a_crash(data_home: DoraPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SLACK_WEBHOOK_ENV, "http://127.0.0.1:9/services/secret-token")
    context, run_id = failed_run_context(data_home)

    run_failure_alerts(context)

    assert run_id in (data_home.reports_dir / "run_failures.jsonl").read_text()
