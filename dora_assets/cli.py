"""The `dora-assets` command line (CONTRACT section 5).

Every command fails with a one-line reason and a non-zero exit, never a traceback
(set DORA_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from dora_assets.config import REPO_NAME, ConfigError, load_config
from dora_assets.settings import DoraPaths


class CommandError(Exception):
    """A failure with a one-line explanation for the user."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the one place that turns any failure into a one-line reason
        if os.environ.get("DORA_DEBUG"):
            traceback.print_exc()
        print(f"dora-assets {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2 if _operator_must_fix(error) else 1


def _operator_must_fix(error: BaseException) -> bool:
    """Exit status 2: nothing could run until the operator fixes something (usage, the config, the
    instance's storage, a damaged warehouse). Exit status 1: a run or an ERROR check failed."""
    kinds: tuple[type, ...] = (ConfigError, CommandError)
    for module, name in (
        ("dora_assets.instance", "InstanceStorageError"),
        ("dora_assets.resources", "WarehouseDamagedError"),
    ):
        if module in sys.modules:
            kinds += (getattr(sys.modules[module], name),)
    return isinstance(error, kinds)


def _sweep_dead_runs(command: str, instance) -> list:
    """Mark runs whose process is gone (a killed `dora-assets` command, a dead run worker) as
    failed before starting another, so that none holds the warehouse pool or a queue place for good;
    one line on stderr for each."""
    from dora_assets.stuck_runs import sweep_dead_runs

    stuck = sweep_dead_runs(instance, by=f"dora-assets {command}")
    for run in stuck:
        if run.dead:
            print(f"{command}: run {run.run_id} of {run.job} was left {run.status}: {run.reason}", file=sys.stderr)
    return stuck


def _require_whole_warehouse(paths: DoraPaths) -> None:
    """Stop a command before it starts a run (or reads a figure) on a damaged warehouse file: one
    line that says what is wrong and how to recover, instead of a failed run's dump."""
    from dora_assets.resources import require_whole_warehouse

    require_whole_warehouse(paths.duckdb_path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dora-assets",
        description="Raw engineering events in, DORA metrics you can trust out. "
        "Data home: $DORA_HOME (default ./data).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="generate a realistic demo history of webhook deliveries (GitHub by default) into the landing folder",
    )
    demo.add_argument("--days", type=_positive_int, default=120, help="days of history (default 120)")
    demo.add_argument("--repos", type=_positive_int, default=4, help="number of repositories (default 4)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument("--end", type=_iso_date, default=None, help="last day of the history, YYYY-MM-DD (default today)")
    demo.add_argument("--if-empty", action="store_true", help="do nothing when the landing folder already holds files")
    demo.add_argument(
        "--sources",
        default="github",
        metavar="LIST",
        help="comma-separated senders: github, gitlab, pagerduty, jira, jenkins (default github). The same history, "
        "with some repos hosted on GitLab, deployed by Jenkins, or paged in PagerDuty or tracked in Jira; the config "
        "Jira and Jenkins need is written to $DORA_HOME/dora.yaml unless that file exists",
    )
    demo.set_defaults(handler=command_demo)

    refresh = commands.add_parser(
        "refresh", help="ingest new landing files and rebuild silver and gold with their checks (one headless run)"
    )
    refresh.add_argument("--quiet", action="store_true", help="do not print the metrics afterwards")
    refresh.set_defaults(handler=command_refresh)

    replay = commands.add_parser(
        "replay",
        help="recompute all of silver and gold from bronze with the current config (after a metric redefinition)",
    )
    replay.add_argument("--quiet", action="store_true", help="do not print the metrics afterwards")
    replay.set_defaults(handler=command_replay)

    backfill = commands.add_parser(
        "backfill", help="rebuild silver for a range of days (inclusive) and gold, from bronze"
    )
    backfill.add_argument("--start", type=_iso_date, required=True, help="first day, YYYY-MM-DD")
    backfill.add_argument("--end", type=_iso_date, required=True, help="last day, YYYY-MM-DD (inclusive)")
    backfill.add_argument("--quiet", action="store_true", help="do not print the metrics afterwards")
    backfill.set_defaults(handler=command_backfill)

    metrics = commands.add_parser("metrics", help="print the DORA metrics of gold.dora_monthly")
    metrics.add_argument("--months", type=_positive_int, default=3, help="how many recent months (default 3)")
    metrics.set_defaults(handler=command_metrics)

    status = commands.add_parser(
        "status", help="the last run, the last failed run, the last ingest and the state of every check"
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=command_status)

    checks = commands.add_parser(
        "checks", help="the latest result of every asset check (exit 1 when an ERROR check failed)"
    )
    checks.add_argument("--json", action="store_true", help="print a JSON list for scripts and alerting")
    checks.add_argument("--run", action="store_true", help="evaluate every check now (the dora_checks job) first")
    checks.set_defaults(handler=command_checks)

    audit = commands.add_parser(
        "audit",
        help="prove that every landing record is in bronze exactly once: landed, quarantined or a duplicate",
    )
    audit.add_argument("--json", action="store_true", help="print the audit as JSON")
    audit.add_argument("--problems-only", action="store_true", help="list only files whose accounting does not balance")
    audit.add_argument(
        "--no-recount", action="store_true", help="do not re-read landing files; check bronze against its ledger only"
    )
    audit.set_defaults(handler=command_audit)

    dev = commands.add_parser("dev", help="open the Dagster UI (dagster dev) on the shared instance")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=_positive_int, default=3000)
    dev.set_defaults(handler=command_dev)

    serve = commands.add_parser(
        "serve",
        help="run the webhook receiver: verified GitHub, GitLab, PagerDuty, Jira and Jenkins deliveries into the "
        "landing folder",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_tcp_port, default=8000, help="port to listen on (default 8000)")
    for flag, kind, help_text in SERVE_LIMIT_FLAGS:
        serve.add_argument(flag, type=kind, default=None, help=help_text)
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="comma-separated proxy IPs (or *) whose X-Forwarded-For/-Proto are trusted "
        "(default $FORWARDED_ALLOW_IPS, else 127.0.0.1)",
    )
    serve.set_defaults(handler=command_serve)

    report = commands.add_parser("report", help="write the self-contained dashboard to $DORA_HOME/reports/dora.html")
    report.add_argument("--open", action="store_true", help="open it in the default browser afterwards")
    report.set_defaults(handler=command_report)

    extract = commands.add_parser(
        "extract", help="land API history as envelopes (GitHub: GITHUB_TOKEN, GITHUB_API_URL)"
    )
    extract_sources = extract.add_subparsers(dest="source", required=True, metavar="SOURCE")
    github = extract_sources.add_parser(
        "github", help="deployments, default-branch commits, merged PRs and incident issues of repos, into landing/"
    )
    github.add_argument(
        "--repo",
        action="append",
        type=_repo_name,
        default=[],
        help="OWNER/NAME (repeatable; default: config github.extract_repos)",
    )
    github.add_argument(
        "--since", type=_iso_date, default=None, help="first day, YYYY-MM-DD (default: where the last extraction ended)"
    )
    github.add_argument("--until", type=_iso_date, default=None, help="last day, YYYY-MM-DD, inclusive (default today)")
    github.set_defaults(handler=command_extract_github)
    return parser


def command_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dora_assets.demo.generator import (
        config_covers,
        demo_config_yaml,
        describe_senders,
        generate_demo,
        parse_sources,
    )

    paths = DoraPaths.from_env()
    landing = paths.landing_dir
    try:
        sources = parse_sources(args.sources)
    except ValueError as error:
        raise CommandError(f"--sources: {error}") from None
    if args.if_empty and landing.is_dir() and any(path.is_file() for path in landing.rglob("*")):
        print(f"demo: {landing} already holds landing files; nothing generated")
        return 0
    try:
        summary = generate_demo(
            landing, days=args.days, repos=args.repos, seed=args.seed, end=args.end, sources=sources
        )
    except ValueError as error:
        raise CommandError(str(error)) from None
    print(
        f"demo: wrote {summary.deliveries} deliveries ({summary.redeliveries} redeliveries) in {summary.files} files "
        f"for {len(summary.repos)} repos, {summary.start} to {summary.end}, into {landing}"
    )
    if summary.sources != ("github",):
        print(f"demo: senders: {describe_senders(summary.senders)}")
    if not summary.config:
        return 0
    needs = " and ".join(summary.config)
    named = os.environ.get("DORA_CONFIG")
    target = Path(named) if named else paths.default_config
    if not named and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(demo_config_yaml(summary.config), encoding="utf-8")
        os.replace(temporary, target)
        print(f"demo: wrote the config the {needs} deliveries need to {target}")
        return 0
    try:
        covered = config_covers(load_config(target), summary.config)
    except ConfigError:
        covered = False
    where = f"{target} (DORA_CONFIG)" if named else str(target)
    if covered:
        print(f"demo: {where} already has the config the {needs} deliveries need")
    else:
        keys = "".join(f"  {line}\n" for line in demo_config_yaml(summary.config).splitlines()[1:])
        print(f"demo: {where} was left unchanged; add these keys to it for the {needs} deliveries:\n{keys}", end="")
    return 0


def command_refresh(args: argparse.Namespace) -> int:
    """Ingest new landing files, then rebuild silver for the days they can change, and gold."""
    from dora_assets.definitions import INGEST_JOB_NAME
    from dora_assets.defs.silver.sensors import TRANSFORM_JOB_NAME, ingest_transform_range
    from dora_assets.windows import partition_range_tags

    ingest = _run_and_report("refresh", INGEST_JOB_NAME)
    # The ingest step reads the transform ledger in its own connection: its affected_from covers
    # the new batches and every window an earlier, killed or failed, transform left pending.
    landed = ingest.materialized.get("bronze/raw_events", {})
    if landed.get("pending_earlier"):
        print(
            f"refresh: {landed['pending_earlier']} pending window(s) from an earlier run, from "
            f"{landed.get('pending_from')}: transformed now"
        )
    first, last = ingest_transform_range([landed], datetime.now(UTC).date())
    transform = _run_and_report("refresh", TRANSFORM_JOB_NAME, tags=partition_range_tags(first, last))
    if "gold/dora_dashboard" in transform.materialized:
        print(f"refresh: dashboard {DoraPaths.from_env().reports_dir / 'dora.html'}")
    return _finish("refresh", [ingest, transform], quiet=args.quiet)


def command_replay(args: argparse.Namespace) -> int:
    """Recompute every silver partition that bronze can fill, and gold, with the current config."""
    from dora_assets.defs.silver.sensors import TRANSFORM_JOB_NAME, transform_range
    from dora_assets.ingestion.ingest import event_day_span
    from dora_assets.resources import connect_warehouse
    from dora_assets.windows import partition_range_tags

    load_config()  # a bad DORA_CONFIG is the first thing to report
    paths = DoraPaths.from_env()
    if not paths.duckdb_path.is_file():
        raise CommandError("bronze does not exist yet: run `dora-assets refresh` first")
    # A write connection: it brings an older warehouse up to date first (bronze.raw_events_index
    # among others), as the replay's own run would.
    connection = connect_warehouse(str(paths.duckdb_path))
    try:
        earliest, latest = event_day_span(connection)
    finally:
        connection.close()
    first, last = transform_range([earliest], datetime.now(UTC).date(), [latest])
    outcome = _run_and_report("replay", TRANSFORM_JOB_NAME, tags=partition_range_tags(first, last))
    return _finish("replay", [outcome], quiet=args.quiet)


def command_backfill(args: argparse.Namespace) -> int:
    """Recompute silver for the days ``--start`` to ``--end`` (inclusive), and gold."""
    from dora_assets.defs.silver.sensors import TRANSFORM_JOB_NAME
    from dora_assets.windows import MONTHLY, PARTITIONS_START, partition_range_tags

    if args.end < args.start:
        raise CommandError(f"--end {args.end} is before --start {args.start}")
    if args.start < PARTITIONS_START:
        raise CommandError(f"--start {args.start} is before the first partition, {PARTITIONS_START}")
    # Silver's partitions (windows.MONTHLY, end_offset=1) end with next month's; nothing is later.
    last = MONTHLY.get_last_partition_window()
    for flag, day in (("--start", args.start), ("--end", args.end)):
        if last is None or day >= last.end.date():
            raise CommandError(
                f"{flag} {day} is after the last partition, {last.start:%Y-%m} (silver's months end with the "
                f"month after this one): pick days from {PARTITIONS_START} to {datetime.now(UTC).date()}"
            )
    outcome = _run_and_report("backfill", TRANSFORM_JOB_NAME, tags=partition_range_tags(args.start, args.end))
    return _finish("backfill", [outcome], quiet=args.quiet)


def _run_and_report(command: str, job_name: str, *, tags: dict[str, str] | None = None):
    """Run one job on the shared instance and print what it did and its failed checks."""
    from dora_assets.definitions import defs
    from dora_assets.instance import dagster_instance
    from dora_assets.runs import run_job

    config = load_config()  # a bad DORA_CONFIG fails here, with its one-line reason, before any run starts
    _require_whole_warehouse(DoraPaths.from_env())
    instance = dagster_instance(DoraPaths.from_env())
    _sweep_dead_runs(command, instance)
    outcome = run_job(defs.resolve_job_def(job_name), instance, tags=tags)
    ingest = outcome.materialized.get("bronze/raw_events", {})
    if ingest:
        print(
            f"{command}: {ingest.get('files_ingested', 0)} new landing files, {ingest.get('records_seen', 0)} records: "
            f"{ingest.get('records_landed', 0)} landed, {ingest.get('records_quarantined', 0)} quarantined, "
            f"{ingest.get('records_duplicate', 0)} duplicates (run {outcome.run_id})"
        )
    elif outcome.materialized:
        window = outcome.materialized.get("silver/pushes", {})
        days = f"days {window['window_start'][:10]} to {window['window_end'][:10]} (exclusive)" if window else ""
        print(
            f"{command}: rebuilt silver {days} and gold from bronze with production environments "
            f"{config.production_environments} and incident labels {config.incident_labels} (run {outcome.run_id})"
        )
    for error in outcome.step_errors:
        print(f"{command}: step failed: {error}", file=sys.stderr)
    for check in outcome.checks:
        if not check.passed:
            print(
                f"{command}: check {check.severity} {check.asset} {check.check}: {check.description}", file=sys.stderr
            )
    if not outcome.success:
        raise RuntimeError(f"run {outcome.run_id} failed; see `dagster dev` or the messages above")
    return outcome


def _finish(command: str, outcomes: list, *, quiet: bool) -> int:
    """Print the metrics unless ``quiet``; exit 1 when an ERROR check failed in any run."""
    if not quiet:
        print_metrics(DoraPaths.from_env(), months=3)
    failed = [check for outcome in outcomes for check in outcome.failed_error_checks]
    if failed:
        print(f"{command}: {len(failed)} ERROR check(s) failed", file=sys.stderr)
        return 1
    return 0


def command_report(args: argparse.Namespace) -> int:
    """Rebuild gold/dora_dashboard from the current gold tables and check results."""
    import webbrowser

    from dora_assets.definitions import REPORT_JOB_NAME, defs
    from dora_assets.instance import dagster_instance
    from dora_assets.runs import run_job

    paths = DoraPaths.from_env()
    if not paths.duckdb_path.exists():
        raise CommandError(f"{paths.duckdb_path} does not exist yet: run `dora-assets refresh` first")
    _require_whole_warehouse(paths)
    instance = dagster_instance(paths)
    _sweep_dead_runs("report", instance)
    outcome = run_job(defs.resolve_job_def(REPORT_JOB_NAME), instance)
    for error in outcome.step_errors:
        print(f"report: {error}", file=sys.stderr)
    if not outcome.success:
        raise CommandError(f"run {outcome.run_id} failed; see the messages above")
    page = paths.reports_dir / "dora.html"
    written = outcome.materialized.get("gold/dora_dashboard", {})
    print(f"report: wrote {page} ({written.get('failing_error_checks', 0)} failing ERROR checks shown)")
    if args.open:
        webbrowser.open(page.as_uri())
    return 0


def command_extract_github(args: argparse.Namespace) -> int:
    """One `dora_extract_github` run over the days [since, until] for the repos; prints what landed."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from dora_assets.definitions import defs
    from dora_assets.defs.landing.assets import EXTRACT_JOB_NAME, GITHUB_API
    from dora_assets.extract.github import cursor_start
    from dora_assets.instance import dagster_instance
    from dora_assets.resources import DuckDBWarehouse
    from dora_assets.runs import run_job

    config = load_config()
    repos = args.repo or config.github.extract_repos
    if not repos:
        raise CommandError("no repo: pass --repo OWNER/NAME or set github.extract_repos in the config")
    if not os.environ.get("GITHUB_TOKEN"):
        raise CommandError("GITHUB_TOKEN is not set (a token that can read the repos; see README)")
    today = datetime.now(UTC).date()
    until = args.until or today
    since = args.since
    if since is None:
        with DuckDBWarehouse().get_connection() as connection:
            starts = {repo: cursor_start(connection, repo) for repo in repos}
        never = [repo for repo, start in starts.items() if start is None]
        if never:
            raise CommandError(f"{', '.join(never)} never extracted: pass --since YYYY-MM-DD for the first extraction")
        since = min(starts.values()).date()
    if since > until:
        raise CommandError(f"--since {since} is after --until {until}")
    op_name = "__".join(GITHUB_API.path)
    instance = dagster_instance(DoraPaths.from_env())
    _sweep_dead_runs("extract github", instance)
    outcome = run_job(
        defs.resolve_job_def(EXTRACT_JOB_NAME),
        instance,
        tags={ASSET_PARTITION_RANGE_START_TAG: since.isoformat(), ASSET_PARTITION_RANGE_END_TAG: until.isoformat()},
        run_config={"ops": {op_name: {"config": {"repos": repos}}}},
    )
    landed = outcome.materialized.get(GITHUB_API.to_user_string(), {})
    for extraction in landed.get("extractions", []):
        print(
            f"extract github: {extraction['repo']} {since}..{until}: landed "
            + ", ".join(f"{count} {resource.replace('_', ' ')}" for resource, count in extraction["landed"].items())
            + f" ({extraction['already_landed']} already landed) in {len(extraction['files'])} files"
            + f"; {extraction['pending_deployments']} deployments still waiting for a final status"
        )
        for warning in extraction["warnings"]:
            print(f"extract github: warning: {warning}", file=sys.stderr)
    for error in outcome.step_errors:
        print(f"extract github: {error}", file=sys.stderr)
    if not outcome.success:
        raise CommandError(f"run {outcome.run_id} failed; see the messages above")
    print(
        f"extract github: {landed.get('envelopes_landed', 0)} envelopes in {landed.get('landing_files', 0)} "
        f"landing files, {landed.get('api_requests', 0)} API requests; `dora-assets refresh` ingests them "
        "(the landing sensor does too)"
    )
    return 0


def command_metrics(args: argparse.Namespace) -> int:
    print_metrics(DoraPaths.from_env(), months=args.months)
    return 0


def command_status(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from dora_assets.definitions import defs
    from dora_assets.instance import dagster_instance
    from dora_assets.status import platform_status
    from dora_assets.stuck_runs import sweep_dead_runs

    paths = DoraPaths.from_env()
    _require_whole_warehouse(paths)
    instance = dagster_instance(paths)
    stuck = sweep_dead_runs(instance, by="dora-assets status")
    status = platform_status(instance, defs.resolve_asset_graph().asset_check_keys)
    status.stuck_runs = stuck
    failing = [check for check in status.checks if check.failing]
    failed_errors = [check for check in failing if check.severity == "ERROR"]
    if args.json:
        print(json.dumps(asdict(status), indent=2, default=str))
        return 1 if failed_errors or stuck else 0

    def run_line(run) -> str:
        if run is None:
            return "none"
        return f"{run.job} {run.status} (run {run.run_id[:8]}, started {run.started_at}, ended {run.ended_at or '-'})"

    print(f"last run:        {run_line(status.last_run)}")
    print(f"last failed run: {run_line(status.last_failed_run)}")
    ingest = status.last_ingest
    print(
        f"last ingest:     {status.last_ingest_at or 'never'}"
        + (
            f": {ingest.get('files_ingested', 0)} files, {ingest.get('records_landed', 0)} landed, "
            f"{ingest.get('records_quarantined', 0)} quarantined, {ingest.get('records_duplicate', 0)} duplicates"
            if ingest
            else ""
        )
    )
    print(
        f"checks:          {len(status.checks) - len(failing)} of {len(status.checks)} passing, "
        f"{len(failed_errors)} ERROR and {len(failing) - len(failed_errors)} WARN failing"
        + (
            f", {in_progress} being re-evaluated"
            if (in_progress := sum(c.status == "in_progress" for c in status.checks))
            else ""
        )
    )
    for check in failing:
        print(f"  {check.severity:<5} {check.asset} {check.check}: {check.description}")
    dead = sum(run.dead for run in stuck)
    print(
        f"stuck runs:      {len(stuck)}"
        + (f" ({dead} whose process was gone, now marked failed)" if dead else "")
        + (f", {len(stuck) - dead} queued too long" if len(stuck) > dead else "")
    )
    for run in stuck:
        print(f"  {run.status:<8} {run.job} (run {run.run_id[:8]}, since {run.since}): {run.reason}")
    return 1 if failed_errors or stuck else 0


def command_checks(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from dora_assets.definitions import CHECKS_JOB_NAME, defs
    from dora_assets.instance import dagster_instance
    from dora_assets.runs import run_job
    from dora_assets.status import latest_check_results

    load_config()
    _require_whole_warehouse(DoraPaths.from_env())
    instance = dagster_instance(DoraPaths.from_env())
    if args.run:
        _sweep_dead_runs("checks", instance)
        outcome = run_job(defs.resolve_job_def(CHECKS_JOB_NAME), instance)
        for error in outcome.step_errors:
            print(f"checks: step failed: {error}", file=sys.stderr)
    results = latest_check_results(instance, defs.resolve_asset_graph().asset_check_keys)
    failed_errors = [result for result in results if result.failing_error]
    in_progress = [result for result in results if result.status == "in_progress"]
    if args.json:
        print(json.dumps([{**asdict(result), "failing": result.failing} for result in results], indent=2, default=str))
    else:
        for result in results:
            print(
                f"{_verdict(result)} {result.severity:<5} {result.asset:<28} {result.check:<32} "
                f"{result.description or ''}{_in_progress_note(result)}"
            )
        running = f", {len(in_progress)} being re-evaluated by a run in progress" if in_progress else ""
        print(f"\nchecks: {len(results)} checks, {len(failed_errors)} ERROR check(s) failing{running}")
    return 1 if failed_errors else 0


def _verdict(result) -> str:
    if result.status == "in_progress" and result.evaluated_at is None:
        return "... "
    if result.passed:
        return "ok  "
    return "FAIL" if result.severity == "ERROR" else "warn"


def _in_progress_note(result) -> str:
    if result.status != "in_progress":
        return ""
    return f" [re-evaluating in run {result.run_id[:8]}; result from {(result.evaluated_at or 'never')[:16]}]"


def command_audit(args: argparse.Namespace) -> int:
    import json

    from dora_assets.ingestion.audit import audit_bronze
    from dora_assets.resources import connect_warehouse

    paths = DoraPaths.from_env()
    connection = connect_warehouse(str(paths.duckdb_path), read_only=True)
    try:
        report = audit_bronze(connection, paths.landing_dir, recount_files=not args.no_recount)
    except duckdb.CatalogException:
        raise CommandError("bronze does not exist yet: run `dora-assets refresh` first") from None
    finally:
        connection.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        print_audit(report, problems_only=args.problems_only)
    return 0 if report.balanced else 1


def print_audit(report, *, problems_only: bool) -> None:
    shown = report.unbalanced if problems_only else report.files
    if shown:
        width = max(len("landing file"), *(len(audit.landing_file) for audit in shown))
        print(f"{'landing file':<{width}}  {'seen':>8} {'landed':>8} {'quarant.':>8} {'dupl.':>8}  status")
        for audit in shown:
            verdict = "ok" if audit.balanced else "UNBALANCED: " + "; ".join(audit.problems)
            print(
                f"{audit.landing_file:<{width}}  {audit.seen:>8} {audit.landed:>8} {audit.quarantined:>8}"
                f" {audit.duplicates:>8}  {audit.status or '-'} {verdict}"
            )
        print()
    totals = {name: report.total(name) for name in ("seen", "landed", "quarantined", "duplicates")}
    verdict = "balanced" if report.balanced else f"UNBALANCED in {len(report.unbalanced)} file(s)"
    print(
        f"audit: {len(report.files)} files, {totals['seen']} records seen = {totals['landed']} landed"
        f" + {totals['quarantined']} quarantined + {totals['duplicates']} duplicates: {verdict}"
    )
    if report.pending or report.in_flight:
        print(
            f"audit: {len(report.pending)} landing files not ingested yet, {len(report.in_flight)} still being written"
        )
    if report.unreadable:
        print(
            f"audit: {len(report.unreadable)} landing entries could not be read, so their files were not audited,"
            f" e.g. {report.unreadable[0]}"
        )
    if report.missing_from_landing:
        print(
            f"audit: {len(report.missing_from_landing)} ingested files are no longer in the landing folder"
            f" (their records are safe in bronze), e.g. {report.missing_from_landing[0]}"
        )


# How `dora-assets dev` stops dagster dev and its children: the signal it got (SIGTERM, SIGINT or
# SIGHUP) is forwarded at once; SIGTERM follows after DEV_TERM_AFTER_SECONDS; what is left after
# DEV_STOP_GRACE_SECONDS is killed (a run cut short there is failed by the stuck-run sweep). A
# dagster dev whose children have all exited gets DEV_ALONE_SECONDS (it lingers in its clean-up).
DEV_TERM_AFTER_SECONDS = 3.0
DEV_STOP_GRACE_SECONDS = 8.0
DEV_ALONE_SECONDS = 2.0


def command_dev(args: argparse.Namespace) -> int:
    """`dagster dev` on the shared instance, as a child in its own process group: SIGTERM, SIGINT
    or SIGHUP to this process is forwarded to that group and to every descendant (the webserver,
    the daemon, the code servers, run workers), and whatever has not exited after
    DEV_STOP_GRACE_SECONDS is killed."""
    import contextlib
    import signal
    import subprocess
    import time

    from dora_assets.instance import dagster_instance

    paths = DoraPaths.from_env()
    # The instance's storage is created (migrated) here, under dora-assets' lock, so that dagster
    # dev's processes never race another dora-assets command creating it on a fresh data home.
    dagster_instance(paths).dispose()
    env = {**os.environ, "DAGSTER_HOME": str(paths.dagster_home)}
    argv = [sys.executable, "-m", "dagster", "dev", "-m", "dora_assets.definitions"]
    argv += ["-h", args.host, "-p", str(args.port)]
    child = subprocess.Popen(argv, env=env, start_new_session=True)
    stop_requested: list[float] = []
    started: set[int] = set()  # dagster dev's descendants seen since the stop was asked for
    alone_since: float | None = None  # since when dagster dev has had no descendant left

    def forward(signum: int, _frame: object) -> None:
        if not stop_requested:
            stop_requested.append(time.monotonic())
        started.update(_descendants(child.pid))
        _signal_tree(child.pid, signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop_requested:
                    remaining = _descendants(child.pid)
                    started.update(remaining)
                    # Once everything it started has exited, dagster dev has nothing left to wait for
                    # (it lingers for seconds in its own clean-up): it gets DEV_ALONE_SECONDS more.
                    if remaining:
                        alone_since = None
                    elif alone_since is None:
                        alone_since = time.monotonic()
                    now = time.monotonic()
                    alone_too_long = alone_since is not None and now - alone_since > DEV_ALONE_SECONDS
                    if now - stop_requested[0] > DEV_STOP_GRACE_SECONDS or alone_too_long:
                        _signal_tree(child.pid, signal.SIGKILL)
                    elif now - stop_requested[0] > DEV_TERM_AFTER_SECONDS and len(stop_requested) == 1:
                        stop_requested.append(now)  # SIGTERM sent once
                        _signal_tree(child.pid, signal.SIGTERM)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        # dagster dev has exited: nothing it started may outlive it (its group and any descendant
        # that left the group), given the same grace.
        deadline = stop_requested[0] + DEV_STOP_GRACE_SECONDS if stop_requested else time.monotonic()
        while _signal_tree(child.pid, 0, group_only=True) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_tree(child.pid, signal.SIGKILL, group_only=True)
        for pid in started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    if stop_requested:
        print("dev: stopped", file=sys.stderr)
        return 0
    return code if code >= 0 else 128 - code


def _signal_tree(pid: int, signum: int, *, group_only: bool = False) -> bool:
    """Send ``signum`` to the process group led by ``pid`` and (unless ``group_only``) to every
    descendant of ``pid`` outside it; True when any process was there to receive it."""
    alive = False
    try:
        os.killpg(pid, signum)
        alive = True
    except (ProcessLookupError, PermissionError):
        pass
    if group_only:
        return alive
    for descendant in _descendants(pid):
        try:
            os.kill(descendant, signum)
            alive = True
        except (ProcessLookupError, PermissionError):
            pass
    return alive


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc; empty elsewhere). Exited ones waiting to be
    reaped (zombies) are left out, and so are their own descendants, which now belong to init."""
    from pathlib import Path

    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def command_serve(args: argparse.Namespace) -> int:
    """Run the webhook receiver until SIGTERM (exit 0) or Ctrl-C."""
    from dora_assets.receiver.server import ServeError, serve

    names = (flag.removeprefix("--").replace("-", "_") for flag, _, _ in SERVE_LIMIT_FLAGS)
    limits = {name: getattr(args, name) for name in names}  # None: not given, the env var or default holds
    try:
        serve(args.host, args.port, forwarded_allow_ips=args.forwarded_allow_ips, **limits)
    except ServeError as error:
        raise CommandError(str(error)) from None
    return 0


def print_metrics(paths: DoraPaths, *, months: int) -> None:
    """Print the org-wide and per-repo rows of gold.dora_monthly for the last ``months`` months."""
    import pandas as pd

    from dora_assets.resources import connect_warehouse
    from dora_assets.sql import run_sql

    connection = connect_warehouse(str(paths.duckdb_path), read_only=True)
    try:
        frame = run_sql(connection, "gold", "metrics_report", {"months": months}).fetchdf()
    except duckdb.CatalogException:
        raise CommandError("gold.dora_monthly does not exist yet: run `dora-assets refresh` first") from None
    finally:
        connection.close()
    if frame.empty:
        print("gold.dora_monthly is empty: no deployments, changes or incidents have landed yet")
        return
    benchmark = frame["benchmark"].iloc[0]
    frame = frame.drop(columns="benchmark")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 500):
        print(f"\nDORA metrics from {paths.duckdb_path} (tiers: deploy frequency/lead time/change failure/restore,")
        print(f"e=elite h=high m=medium l=low, DORA {benchmark} benchmark; times in hours)\n")
        print("Organisation (repo '*')")
        print(frame[frame["repo"] == "*"].drop(columns="repo").to_string(index=False, na_rep="-"))
        print("\nPer repository")
        print(frame[frame["repo"] != "*"].to_string(index=False, na_rep="-"))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 3600 seconds, got {text}")
    return value


# The receiver's limits (README "Webhook receiver"): each flag wins over its DORA_RECEIVER_* env var.
SERVE_LIMIT_FLAGS: tuple[tuple[str, Callable[[str], Any], str], ...] = (
    ("--max-body-bytes", _positive_int, "refuse larger bodies with 413 (default 26214400, GitHub's 25 MiB cap)"),
    ("--max-json-depth", _positive_int, "refuse bodies nesting arrays and objects deeper with 400 (default 128)"),
    ("--max-header-bytes", _positive_int, "refuse a larger request line and headers with 431 (default 65536)"),
    ("--header-timeout", _positive_seconds, "seconds for a request's headers to arrive, else 408 (default 10)"),
    ("--body-timeout", _positive_seconds, "seconds for a request's body to arrive, else 408 (default 60)"),
    ("--max-connections", _positive_int, "answer 503 to requests beyond this many in progress (default 1000)"),
    ("--large-body-bytes", _positive_int, "bodies over this size count as large (default 1048576)"),
    ("--max-large-bodies", _positive_int, "answer 503 to a large body beyond this many at once (default 4)"),
)


def _tcp_port(text: str) -> int:
    port = _positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port from 1 to 65535, got {port}")
    return port


def _repo_name(text: str) -> str:
    if not REPO_NAME.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a repository name like OWNER/NAME")
    return text


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-24") from None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 600 else text[:597] + "..."


if __name__ == "__main__":
    sys.exit(main())
