"""Run-failure visibility: every failed run is logged, appended to
``$DORA_HOME/reports/run_failures.jsonl`` and, when ``DORA_SLACK_WEBHOOK_URL`` is set, posted to
Slack. The webhook URL is a secret: it comes from the environment when the sensor runs and is
never logged."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
from dagster import (
    ConfigurableResource,
    DagsterEventType,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
)
from pydantic import Field

from dora_assets.outcomes import root_cause
from dora_assets.settings import DoraPaths

SLACK_WEBHOOK_ENV = "DORA_SLACK_WEBHOOK_URL"


class FailureNotifier(ConfigurableResource):
    """Where run failures go: a JSON-lines file under the reports folder, and Slack when
    ``$DORA_SLACK_WEBHOOK_URL`` is set (read when a failure is reported, never at import)."""

    timeout_seconds: float = Field(default=10.0, description="Slack request timeout.")

    def record(self, failure: dict) -> Path:
        reports = DoraPaths.from_env().reports_dir
        reports.mkdir(parents=True, exist_ok=True)
        path = reports / "run_failures.jsonl"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(failure, default=str) + "\n")
        return path

    def notify_slack(self, failure: dict) -> bool:
        url = os.environ.get(SLACK_WEBHOOK_ENV, "")
        if not url:
            return False
        text = (
            f":red_circle: dora-assets run `{failure['run_id'][:8]}` of job `{failure['job']}` failed: "
            f"{failure['error']}"
        )
        response = httpx.post(url, json={"text": text, "failure": failure}, timeout=self.timeout_seconds)
        response.raise_for_status()
        return True


@run_failure_sensor(
    name="run_failure_alerts",
    description="Log, record and (with DORA_SLACK_WEBHOOK_URL) post every failed run.",
    default_status=DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
)
def run_failure_alerts(context: RunFailureSensorContext, failure_notifier: FailureNotifier) -> None:
    run = context.dagster_run
    step_errors = [
        f"{event.step_key}: {root_cause(event.dagster_event.step_failure_data.error)}"
        for event in context.instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
        if event.dagster_event.step_failure_data.error is not None
    ]
    failure = {
        "run_id": run.run_id,
        "job": run.job_name,
        "failed_at": datetime.now(UTC).isoformat(),
        "error": " ".join((step_errors[0] if step_errors else context.failure_event.message or "run failed").split())[
            :500
        ],
        "tags": {key: value for key, value in run.tags.items() if not key.startswith(".dagster")},
    }
    path = failure_notifier.record(failure)
    context.log.error(f"run {run.run_id} of {run.job_name} failed: {failure['error']} (recorded in {path})")
    try:
        if failure_notifier.notify_slack(failure):
            context.log.info("run failure posted to Slack")
    except httpx.HTTPError as error:  # the URL is never printed: it is the secret
        context.log.warning(f"could not post the run failure to Slack: {type(error).__name__}")
