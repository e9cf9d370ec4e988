"""What the `dora-assets` commands print: the metrics tables, the check table, the status lines, the
audit table and the one-line summaries of runs and extractions. Each function here takes what a
command found and returns the text; the commands decide where it goes (stdout or stderr)."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from typing import Any


def json_text(value: Any) -> str:
    """``value`` (a dataclass, or lists and dicts of plain values) as indented JSON; dates and
    other values JSON has no type for are written as their text."""
    return json.dumps(asdict(value) if is_dataclass(value) else value, indent=2, default=str)


# -- runs ------------------------------------------------------------------------------------------


def run_summary(command: str, outcome: Any, config: Any) -> str | None:
    """One line saying what a run did: the ingestion's counts when it ingested, else the window
    it rebuilt and the definitions it used; None when it materialized nothing."""
    ingest = outcome.materialized.get("bronze/raw_events", {})
    if ingest:
        return (
            f"{command}: {ingest.get('files_ingested', 0)} new landing files, {ingest.get('records_seen', 0)} records: "
            f"{ingest.get('records_landed', 0)} landed, {ingest.get('records_quarantined', 0)} quarantined, "
            f"{ingest.get('records_duplicate', 0)} duplicates (run {outcome.run_id})"
        )
    if not outcome.materialized:
        return None
    window = outcome.materialized.get("silver/pushes", {})
    days = f"days {window['window_start'][:10]} to {window['window_end'][:10]} (exclusive)" if window else ""
    return (
        f"{command}: rebuilt silver {days} and gold from bronze with production environments "
        f"{config.production_environments} and incident labels {config.incident_labels} (run {outcome.run_id})"
    )


def run_problems(command: str, outcome: Any) -> list[str]:
    """The lines for stderr after a run: each failed step, then each check that did not pass."""
    lines = [f"{command}: step failed: {error}" for error in outcome.step_errors]
    lines += [
        f"{command}: check {check.severity} {check.asset} {check.check}: {check.description}"
        for check in outcome.checks
        if not check.passed
    ]
    return lines


# -- metrics ---------------------------------------------------------------------------------------


def metrics_tables(frame: Any, source: Any) -> str:
    """The org-wide and per-repo rows of ``frame`` (gold.dora_monthly as the metrics_report query
    gives it, with its ``benchmark`` column) as two tables under a legend naming ``source``."""
    import pandas as pd

    if frame.empty:
        return "gold.dora_monthly is empty: no deployments, changes or incidents have landed yet"
    benchmark = frame["benchmark"].iloc[0]
    frame = frame.drop(columns="benchmark")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 500):
        organisation = frame[frame["repo"] == "*"].drop(columns="repo").to_string(index=False, na_rep="-")
        per_repo = frame[frame["repo"] != "*"].to_string(index=False, na_rep="-")
    return (
        f"\nDORA metrics from {source} (tiers: deploy frequency/lead time/change failure/restore,\n"
        f"e=elite h=high m=medium l=low, DORA {benchmark} benchmark; times in hours)\n\n"
        f"Organisation (repo '*')\n{organisation}\n\nPer repository\n{per_repo}"
    )


# -- checks ----------------------------------------------------------------------------------------


def check_table(results: list[Any]) -> list[str]:
    """One line per check result: verdict, severity, asset, check, description, and a note when a
    run in progress is re-evaluating it; then a blank line and the totals."""
    lines = [
        f"{check_verdict(result)} {result.severity:<5} {result.asset:<28} {result.check:<32} "
        f"{result.description or ''}{in_progress_note(result)}"
        for result in results
    ]
    failed_errors = sum(bool(result.failing_error) for result in results)
    in_progress = sum(result.status == "in_progress" for result in results)
    running = f", {in_progress} being re-evaluated by a run in progress" if in_progress else ""
    return [*lines, "", f"checks: {len(results)} checks, {failed_errors} ERROR check(s) failing{running}"]


def check_verdict(result: Any) -> str:
    """Four characters: ``ok``, ``FAIL`` (an ERROR check), ``warn`` (a WARN check), or ``...`` for a
    check being evaluated for the first time."""
    if result.status == "in_progress" and result.evaluated_at is None:
        return "... "
    if result.passed:
        return "ok  "
    return "FAIL" if result.severity == "ERROR" else "warn"


def in_progress_note(result: Any) -> str:
    """For a check a run in progress is re-evaluating: which run, and when the result shown is from."""
    if result.status != "in_progress":
        return ""
    return f" [re-evaluating in run {result.run_id[:8]}; result from {(result.evaluated_at or 'never')[:16]}]"


# -- status ----------------------------------------------------------------------------------------


def status_lines(status: Any) -> list[str]:
    """The platform status (``status.platform_status``, with its ``stuck_runs``) as aligned lines: the
    last run, the last failed run, the last ingest, the checks with each failing one, and the stuck
    runs with each one."""
    failing = [check for check in status.checks if check.failing]
    failed_errors = [check for check in failing if check.severity == "ERROR"]
    in_progress = sum(check.status == "in_progress" for check in status.checks)
    ingest = status.last_ingest
    ingest_counts = (
        f": {ingest.get('files_ingested', 0)} files, {ingest.get('records_landed', 0)} landed, "
        f"{ingest.get('records_quarantined', 0)} quarantined, {ingest.get('records_duplicate', 0)} duplicates"
        if ingest
        else ""
    )
    stuck = status.stuck_runs
    dead = sum(run.dead for run in stuck)
    lines = [
        f"last run:        {_run_line(status.last_run)}",
        f"last failed run: {_run_line(status.last_failed_run)}",
        f"last ingest:     {status.last_ingest_at or 'never'}{ingest_counts}",
        f"checks:          {len(status.checks) - len(failing)} of {len(status.checks)} passing, "
        f"{len(failed_errors)} ERROR and {len(failing) - len(failed_errors)} WARN failing"
        + (f", {in_progress} being re-evaluated" if in_progress else ""),
    ]
    lines += [f"  {check.severity:<5} {check.asset} {check.check}: {check.description}" for check in failing]
    lines.append(
        f"stuck runs:      {len(stuck)}"
        + (f" ({dead} whose process was gone, now marked failed)" if dead else "")
        + (f", {len(stuck) - dead} queued too long" if len(stuck) > dead else "")
    )
    lines += [f"  {run.status:<8} {run.job} (run {run.run_id[:8]}, since {run.since}): {run.reason}" for run in stuck]
    return lines


def _run_line(run: Any) -> str:
    if run is None:
        return "none"
    return f"{run.job} {run.status} (run {run.run_id[:8]}, started {run.started_at}, ended {run.ended_at or '-'})"


# -- audit -----------------------------------------------------------------------------------------


def audit_lines(report: Any, *, problems_only: bool) -> list[str]:
    """The bronze audit (``bronze.audit.audit_bronze``): a table of the landing files (only the
    unbalanced ones when ``problems_only``), the totals with the verdict, and a line for each kind of
    file the audit could not account for."""
    lines = []
    shown = report.unbalanced if problems_only else report.files
    if shown:
        width = max(len("landing file"), *(len(audit.landing_file) for audit in shown))
        lines.append(f"{'landing file':<{width}}  {'seen':>8} {'landed':>8} {'quarant.':>8} {'dupl.':>8}  status")
        for audit in shown:
            verdict = "ok" if audit.balanced else "UNBALANCED: " + "; ".join(audit.problems)
            lines.append(
                f"{audit.landing_file:<{width}}  {audit.seen:>8} {audit.landed:>8} {audit.quarantined:>8}"
                f" {audit.duplicates:>8}  {audit.status or '-'} {verdict}"
            )
        lines.append("")
    totals = {name: report.total(name) for name in ("seen", "landed", "quarantined", "duplicates")}
    verdict = "balanced" if report.balanced else f"UNBALANCED in {len(report.unbalanced)} file(s)"
    lines.append(
        f"audit: {len(report.files)} files, {totals['seen']} records seen = {totals['landed']} landed"
        f" + {totals['quarantined']} quarantined + {totals['duplicates']} duplicates: {verdict}"
    )
    if report.pending or report.in_flight:
        lines.append(
            f"audit: {len(report.pending)} landing files not ingested yet, {len(report.in_flight)} still being written"
        )
    if report.unreadable:
        lines.append(
            f"audit: {len(report.unreadable)} landing entries could not be read, so their files were not audited,"
            f" e.g. {report.unreadable[0]}"
        )
    if report.missing_from_landing:
        lines.append(
            f"audit: {len(report.missing_from_landing)} ingested files are no longer in the landing folder"
            f" (their records are safe in bronze), e.g. {report.missing_from_landing[0]}"
        )
    return lines


# -- extract ---------------------------------------------------------------------------------------


def extraction_line(extraction: dict[str, Any], since: Any, until: Any) -> str:
    """One line for one repository's extraction (an entry of the github_api asset's
    ``extractions`` metadata): what landed, per resource, and what is still pending."""
    landed = ", ".join(f"{count} {resource.replace('_', ' ')}" for resource, count in extraction["landed"].items())
    return (
        f"extract github: {extraction['repo']} {since}..{until}: landed {landed}"
        f" ({extraction['already_landed']} already landed) in {len(extraction['files'])} files"
        f"; {extraction['pending_deployments']} deployments still waiting for a final status"
    )


def extraction_total(landed: dict[str, Any]) -> str:
    """The closing line of an extraction: envelopes, landing files and API requests in all."""
    return (
        f"extract github: {landed.get('envelopes_landed', 0)} envelopes in {landed.get('landing_files', 0)} "
        f"landing files, {landed.get('api_requests', 0)} API requests; `dora-assets refresh` ingests them "
        "(the landing sensor does too)"
    )
