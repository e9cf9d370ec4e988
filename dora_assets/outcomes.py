"""What runs, checks and the Dagster instance report, in the terms the `dora-assets` commands, the
dashboard and the sensors show: the types ``runs``, ``status`` and ``stuck_runs`` share.

A leaf module: it imports no other dora_assets module, so any of them can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from dagster import AssetCheckEvaluation, AssetCheckSeverity
from dagster_shared.error import SerializableErrorInfo


@dataclass
class CheckOutcome:
    """One check's result, as the commands and the dashboard show it. ``status`` is:

    - ``evaluated``: the latest run that planned the check evaluated it;
    - ``in_progress``: a queued or running run will evaluate it again; ``passed``, ``severity``,
      ``description`` and ``evaluated_at`` are those of its last completed evaluation (if any),
      and ``run_id`` is the run in progress;
    - ``not_evaluated``: it never ran, or the latest run that planned it failed or skipped it
      (an unchecked asset is a gap, so this counts as failing at ERROR).
    """

    asset: str
    check: str
    passed: bool
    severity: str
    description: str | None
    metadata: dict[str, object]
    status: str = "evaluated"
    evaluated_at: str | None = None
    run_id: str | None = None

    @classmethod
    def from_evaluation(cls, evaluation: AssetCheckEvaluation, *, run_id: str | None) -> CheckOutcome:
        """The outcome of one evaluation, recorded by run ``run_id``."""
        return cls(
            asset=evaluation.asset_key.to_user_string(),
            check=evaluation.check_name,
            passed=evaluation.passed,
            severity="ERROR" if evaluation.severity == AssetCheckSeverity.ERROR else "WARN",
            description=evaluation.description,
            metadata={key: value.value for key, value in evaluation.metadata.items()},
            run_id=run_id,
        )

    @property
    def failing(self) -> bool:
        """Failed at its last completed evaluation, or left unevaluated. A check being evaluated
        for the first time has no result yet and is not failing."""
        return not self.passed and not (self.status == "in_progress" and self.evaluated_at is None)

    @property
    def failing_error(self) -> bool:
        return self.failing and self.severity == "ERROR"


@dataclass
class RunOutcome:
    """What a headless run did, in terms a command can print and exit on."""

    run_id: str
    success: bool
    step_errors: list[str] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    materialized: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def failed_error_checks(self) -> list[CheckOutcome]:
        return [check for check in self.checks if not check.passed and check.severity == "ERROR"]

    @property
    def ok(self) -> bool:
        return self.success and not self.failed_error_checks


@dataclass
class RunSummary:
    """One run of the instance, as `dora-assets status` names it."""

    run_id: str
    job: str
    status: str
    started_at: str | None
    ended_at: str | None


@dataclass
class StuckRun:
    """A run that holds a place in the queue without progressing: ``dead`` (its process is gone;
    the sweep marks it failed) or queued for longer than the limit."""

    run_id: str
    job: str
    status: str
    since: str | None
    reason: str
    dead: bool


@dataclass
class PlatformStatus:
    """What `dora-assets status` prints: the last run, the last failed run, the last ingest, the
    latest result of every check and the stuck runs."""

    last_run: RunSummary | None
    last_failed_run: RunSummary | None
    last_ingest_at: str | None
    last_ingest: dict[str, object]
    checks: list[CheckOutcome]
    stuck_runs: list[StuckRun] = field(default_factory=list)


def root_cause(error: SerializableErrorInfo) -> str:
    """The innermost error of a chain (Dagster wraps the user's exception), on one line."""
    while error.cause is not None:
        error = error.cause
    return f"{error.cls_name}: " + " ".join(error.message.split())


def iso_seconds(timestamp: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC to the second, or None for no time."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds") if timestamp else None
