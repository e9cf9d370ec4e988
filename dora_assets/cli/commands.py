"""The `dora-assets` commands (CONTRACT section 5): one click command per subcommand of the
``dora_assets_cli`` group. Options are typed (``params``), so a bad value is a usage error before
anything runs; what the commands print is formatted in ``output``; every failure goes through the
one-line funnel of ``errors``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import click
import duckdb

from dora_assets.cli.errors import CommandError, FunnelledGroup
from dora_assets.cli.output import (
    audit_lines,
    check_table,
    extraction_line,
    extraction_total,
    json_text,
    metrics_tables,
    run_problems,
    run_summary,
    status_lines,
)
from dora_assets.cli.params import POSITIVE_INT, SECONDS, TCP_PORT, DemoSources, IsoDate, RepoName
from dora_assets.config import ConfigError, load_config
from dora_assets.settings import DoraPaths


@click.group(
    "dora-assets",
    cls=FunnelledGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Raw engineering events in, DORA metrics you can trust out. Data home: $DORA_HOME (default ./data).",
)
def dora_assets_cli() -> None:
    """The `dora-assets` command: its subcommands do the work."""


def command(group: click.Group, name: str, summary: str) -> Callable[[Callable[..., int]], click.Command]:
    """``group``'s subcommand ``name``; ``summary`` is both its line in the group's help and its help."""
    return group.command(name, help=summary, short_help=summary)


def quiet_option(function: Callable[..., int]) -> Callable[..., int]:
    """The ``--quiet`` flag of the commands that print the metrics after their runs."""
    return click.option("--quiet", is_flag=True, help="do not print the metrics afterwards")(function)


# -- demo ------------------------------------------------------------------------------------------


@command(
    dora_assets_cli,
    "demo",
    "generate a realistic demo history of webhook deliveries (GitHub by default) into the landing folder",
)
@click.option("--days", type=POSITIVE_INT, default=120, metavar="N", help="days of history (default 120)")
@click.option("--repos", type=POSITIVE_INT, default=4, metavar="K", help="number of repositories (default 4)")
@click.option("--seed", type=int, default=7, metavar="S", help="random seed (default 7)")
@click.option(
    "--end", type=IsoDate(), default=None, metavar="YYYY-MM-DD", help="last day of the history (default today)"
)
@click.option("--if-empty", is_flag=True, help="do nothing when the landing folder already holds files")
@click.option(
    "--sources",
    type=DemoSources(),
    default="github",
    metavar="LIST",
    help="comma-separated senders: github, gitlab, pagerduty, jira, jenkins (default github). The same history, "
    "with some repos hosted on GitLab, deployed by Jenkins, or paged in PagerDuty or tracked in Jira; the config "
    "Jira and Jenkins need is written to $DORA_HOME/dora.yaml unless that file exists",
)
def command_demo(days: int, repos: int, seed: int, end: date | None, if_empty: bool, sources: tuple[str, ...]) -> int:
    """Write the demo history into the landing folder, and the config its senders need."""
    from pathlib import Path

    from dora_assets.demo.generator import (
        config_covers,
        demo_config_yaml,
        describe_senders,
        generate_demo,
    )

    paths = DoraPaths.from_env()
    landing = paths.landing_dir
    if if_empty and landing.is_dir() and any(path.is_file() for path in landing.rglob("*")):
        click.echo(f"demo: {landing} already holds landing files; nothing generated")
        return 0
    try:
        summary = generate_demo(landing, days=days, repos=repos, seed=seed, end=end, sources=sources)
    except ValueError as error:
        raise CommandError(str(error)) from None
    click.echo(
        f"demo: wrote {summary.deliveries} deliveries ({summary.redeliveries} redeliveries) in {summary.files} files "
        f"for {len(summary.repos)} repos, {summary.start} to {summary.end}, into {landing}"
    )
    if summary.sources != ("github",):
        click.echo(f"demo: senders: {describe_senders(summary.senders)}")
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
        click.echo(f"demo: wrote the config the {needs} deliveries need to {target}")
        return 0
    try:
        covered = config_covers(load_config(target), summary.config)
    except ConfigError:
        covered = False
    where = f"{target} (DORA_CONFIG)" if named else str(target)
    if covered:
        click.echo(f"demo: {where} already has the config the {needs} deliveries need")
    else:
        keys = "".join(f"  {line}\n" for line in demo_config_yaml(summary.config).splitlines()[1:])
        click.echo(
            f"demo: {where} was left unchanged; add these keys to it for the {needs} deliveries:\n{keys}", nl=False
        )
    return 0


# -- refresh, replay, backfill ---------------------------------------------------------------------


@command(
    dora_assets_cli,
    "refresh",
    "ingest new landing files and rebuild silver and gold with their checks (one headless run)",
)
@quiet_option
def command_refresh(quiet: bool) -> int:
    """Ingest new landing files, then rebuild silver for the days they can change, and gold."""
    from dora_assets.definitions import INGEST_JOB_NAME
    from dora_assets.defs.silver.sensors import TRANSFORM_JOB_NAME, ingest_transform_range
    from dora_assets.windows import partition_range_tags

    ingest = _run_and_report("refresh", INGEST_JOB_NAME)
    # The ingest step reads the transform ledger in its own connection: its affected_from covers
    # the new batches and every window an earlier, killed or failed, transform left pending.
    landed = ingest.materialized.get("bronze/raw_events", {})
    if landed.get("pending_earlier"):
        click.echo(
            f"refresh: {landed['pending_earlier']} pending window(s) from an earlier run, from "
            f"{landed.get('pending_from')}: transformed now"
        )
    first, last = ingest_transform_range([landed], datetime.now(UTC).date())
    transform = _run_and_report("refresh", TRANSFORM_JOB_NAME, tags=partition_range_tags(first, last))
    if "gold/dora_dashboard" in transform.materialized:
        click.echo(f"refresh: dashboard {DoraPaths.from_env().reports_dir / 'dora.html'}")
    return _finish("refresh", [ingest, transform], quiet=quiet)


@command(
    dora_assets_cli,
    "replay",
    "recompute all of silver and gold from bronze with the current config (after a metric redefinition)",
)
@quiet_option
def command_replay(quiet: bool) -> int:
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
    return _finish("replay", [outcome], quiet=quiet)


@command(dora_assets_cli, "backfill", "rebuild silver for a range of days (inclusive) and gold, from bronze")
@click.option("--start", type=IsoDate(), required=True, metavar="YYYY-MM-DD", help="first day")
@click.option("--end", type=IsoDate(), required=True, metavar="YYYY-MM-DD", help="last day (inclusive)")
@quiet_option
def command_backfill(start: date, end: date, quiet: bool) -> int:
    """Recompute silver for the days ``--start`` to ``--end`` (inclusive), and gold."""
    from dora_assets.defs.silver.sensors import TRANSFORM_JOB_NAME
    from dora_assets.windows import MONTHLY, PARTITIONS_START, partition_range_tags

    if end < start:
        raise CommandError(f"--end {end} is before --start {start}")
    if start < PARTITIONS_START:
        raise CommandError(f"--start {start} is before the first partition, {PARTITIONS_START}")
    # Silver's partitions (windows.MONTHLY, end_offset=1) end with next month's; nothing is later.
    last = MONTHLY.get_last_partition_window()
    for flag, day in (("--start", start), ("--end", end)):
        if last is None or day >= last.end.date():
            raise CommandError(
                f"{flag} {day} is after the last partition, {last.start:%Y-%m} (silver's months end with the "
                f"month after this one): pick days from {PARTITIONS_START} to {datetime.now(UTC).date()}"
            )
    outcome = _run_and_report("backfill", TRANSFORM_JOB_NAME, tags=partition_range_tags(start, end))
    return _finish("backfill", [outcome], quiet=quiet)


def _sweep_dead_runs(command: str, instance) -> list:
    """Mark runs whose process is gone (a killed `dora-assets` command, a dead run worker) as
    failed before starting another, so that none holds the warehouse pool or a queue place for good;
    one line on stderr for each."""
    from dora_assets.stuck_runs import sweep_dead_runs

    stuck = sweep_dead_runs(instance, by=f"dora-assets {command}")
    for run in stuck:
        if run.dead:
            click.echo(f"{command}: run {run.run_id} of {run.job} was left {run.status}: {run.reason}", err=True)
    return stuck


def _require_whole_warehouse(paths: DoraPaths) -> None:
    """Stop a command before it starts a run (or reads a figure) on a damaged warehouse file: one
    line that says what is wrong and how to recover, instead of a failed run's dump."""
    from dora_assets.resources import require_whole_warehouse

    require_whole_warehouse(paths.duckdb_path)


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
    summary = run_summary(command, outcome, config)
    if summary is not None:
        click.echo(summary)
    for line in run_problems(command, outcome):
        click.echo(line, err=True)
    if not outcome.success:
        raise RuntimeError(f"run {outcome.run_id} failed; see `dagster dev` or the messages above")
    return outcome


def _finish(command: str, outcomes: list, *, quiet: bool) -> int:
    """Print the metrics unless ``quiet``; exit 1 when an ERROR check failed in any run."""
    if not quiet:
        show_metrics(DoraPaths.from_env(), months=3)
    failed = [check for outcome in outcomes for check in outcome.failed_error_checks]
    if failed:
        click.echo(f"{command}: {len(failed)} ERROR check(s) failed", err=True)
        return 1
    return 0


# -- metrics, status, checks, audit ----------------------------------------------------------------


@command(dora_assets_cli, "metrics", "print the DORA metrics of gold.dora_monthly")
@click.option("--months", type=POSITIVE_INT, default=3, metavar="N", help="how many recent months (default 3)")
def command_metrics(months: int) -> int:
    """Print gold.dora_monthly for the last ``--months`` months, org-wide and per repo."""
    show_metrics(DoraPaths.from_env(), months=months)
    return 0


def show_metrics(paths: DoraPaths, *, months: int) -> None:
    """Print the org-wide and per-repo rows of gold.dora_monthly for the last ``months`` months."""
    from dora_assets.resources import connect_warehouse
    from dora_assets.sql import run_sql

    connection = connect_warehouse(str(paths.duckdb_path), read_only=True)
    try:
        frame = run_sql(connection, "gold", "metrics_report", {"months": months}).fetchdf()
    except duckdb.CatalogException:
        raise CommandError("gold.dora_monthly does not exist yet: run `dora-assets refresh` first") from None
    finally:
        connection.close()
    click.echo(metrics_tables(frame, paths.duckdb_path))


@command(
    dora_assets_cli,
    "status",
    "the last run, the last failed run, the last ingest and the state of every check",
)
@click.option("--json", "as_json", is_flag=True, help="print the status as JSON")
def command_status(as_json: bool) -> int:
    """Print the platform's status; exit 1 when an ERROR check is failing or a run was stuck."""
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
    failed_errors = [check for check in status.checks if check.failing and check.severity == "ERROR"]
    click.echo(json_text(status) if as_json else "\n".join(status_lines(status)))
    return 1 if failed_errors or stuck else 0


@command(dora_assets_cli, "checks", "the latest result of every asset check (exit 1 when an ERROR check failed)")
@click.option("--json", "as_json", is_flag=True, help="print a JSON list for scripts and alerting")
@click.option("--run", "run_first", is_flag=True, help="evaluate every check now (the dora_checks job) first")
def command_checks(as_json: bool, run_first: bool) -> int:
    """Print the latest result of every asset check, after evaluating them all when ``--run``."""
    from dataclasses import asdict

    from dora_assets.definitions import CHECKS_JOB_NAME, defs
    from dora_assets.instance import dagster_instance
    from dora_assets.runs import run_job
    from dora_assets.status import latest_check_results

    load_config()
    _require_whole_warehouse(DoraPaths.from_env())
    instance = dagster_instance(DoraPaths.from_env())
    if run_first:
        _sweep_dead_runs("checks", instance)
        outcome = run_job(defs.resolve_job_def(CHECKS_JOB_NAME), instance)
        for error in outcome.step_errors:
            click.echo(f"checks: step failed: {error}", err=True)
    results = latest_check_results(instance, defs.resolve_asset_graph().asset_check_keys)
    if as_json:
        click.echo(json_text([{**asdict(result), "failing": result.failing} for result in results]))
    else:
        click.echo("\n".join(check_table(results)))
    return 1 if any(result.failing_error for result in results) else 0


@command(
    dora_assets_cli,
    "audit",
    "prove that every landing record is in bronze exactly once: landed, quarantined or a duplicate",
)
@click.option("--json", "as_json", is_flag=True, help="print the audit as JSON")
@click.option("--problems-only", is_flag=True, help="list only files whose accounting does not balance")
@click.option("--no-recount", is_flag=True, help="do not re-read landing files; check bronze against its ledger only")
def command_audit(as_json: bool, problems_only: bool, no_recount: bool) -> int:
    """Audit bronze against the landing folder; exit 1 when any file does not balance."""
    from dora_assets.ingestion.audit import audit_bronze
    from dora_assets.resources import connect_warehouse

    paths = DoraPaths.from_env()
    connection = connect_warehouse(str(paths.duckdb_path), read_only=True)
    try:
        report = audit_bronze(connection, paths.landing_dir, recount_files=not no_recount)
    except duckdb.CatalogException:
        raise CommandError("bronze does not exist yet: run `dora-assets refresh` first") from None
    finally:
        connection.close()
    if as_json:
        click.echo(json_text(report.as_dict()))
    else:
        click.echo("\n".join(audit_lines(report, problems_only=problems_only)))
    return 0 if report.balanced else 1


# -- dev, serve, report ----------------------------------------------------------------------------


@command(dora_assets_cli, "dev", "open the Dagster UI (dagster dev) on the shared instance")
@click.option("--host", default="127.0.0.1", metavar="H", help="address to listen on (default 127.0.0.1)")
@click.option("--port", type=TCP_PORT, default=3000, metavar="P", help="port to listen on (default 3000)")
def command_dev(host: str, port: int) -> int:
    """`dagster dev` on the shared instance, supervised by ``dev.supervise_dagster_dev``: a signal to
    this process stops it with every process it started."""
    from dora_assets.cli.dev import supervise_dagster_dev
    from dora_assets.instance import dagster_instance

    paths = DoraPaths.from_env()
    # The instance's storage is created (migrated) here, under dora-assets' lock, so that dagster
    # dev's processes never race another dora-assets command creating it on a fresh data home.
    dagster_instance(paths).dispose()
    env = {**os.environ, "DAGSTER_HOME": str(paths.dagster_home)}
    argv = [sys.executable, "-m", "dagster", "dev", "-m", "dora_assets.definitions"]
    argv += ["-h", host, "-p", str(port)]
    return supervise_dagster_dev(argv, env)


# The receiver's limits (README "Webhook receiver"): each flag wins over its DORA_RECEIVER_* env var.
SERVE_LIMIT_FLAGS: tuple[tuple[str, click.ParamType, str, str], ...] = (
    ("--max-body-bytes", POSITIVE_INT, "N", "refuse larger bodies with 413 (default 26214400, GitHub's 25 MiB cap)"),
    ("--max-json-depth", POSITIVE_INT, "N", "refuse bodies nesting arrays and objects deeper with 400 (default 128)"),
    ("--max-header-bytes", POSITIVE_INT, "N", "refuse a larger request line and headers with 431 (default 65536)"),
    ("--header-timeout", SECONDS, "SECONDS", "seconds for a request's headers to arrive, else 408 (default 10)"),
    ("--body-timeout", SECONDS, "SECONDS", "seconds for a request's body to arrive, else 408 (default 60)"),
    ("--max-connections", POSITIVE_INT, "N", "answer 503 to requests beyond this many in progress (default 1000)"),
    ("--large-body-bytes", POSITIVE_INT, "N", "bodies over this size count as large (default 1048576)"),
    ("--max-large-bodies", POSITIVE_INT, "N", "answer 503 to a large body beyond this many at once (default 4)"),
)


def serve_limit_options(function: Callable[..., int]) -> Callable[..., int]:
    """The ``SERVE_LIMIT_FLAGS`` as options, in that order; a flag not given is None."""
    for flag, kind, metavar, help_text in reversed(SERVE_LIMIT_FLAGS):
        function = click.option(flag, type=kind, default=None, metavar=metavar, help=help_text)(function)
    return function


@command(
    dora_assets_cli,
    "serve",
    "run the webhook receiver: verified GitHub, GitLab, PagerDuty, Jira and Jenkins deliveries into the landing folder",
)
@click.option("--host", default="127.0.0.1", metavar="H", help="address to listen on (default 127.0.0.1)")
@click.option("--port", type=TCP_PORT, default=8000, metavar="P", help="port to listen on (default 8000)")
@serve_limit_options
@click.option(
    "--forwarded-allow-ips",
    default=None,
    metavar="IPS",
    help="comma-separated proxy IPs (or *) whose X-Forwarded-For/-Proto are trusted "
    "(default $FORWARDED_ALLOW_IPS, else 127.0.0.1)",
)
def command_serve(host: str, port: int, forwarded_allow_ips: str | None, **limits: Any) -> int:
    """Run the webhook receiver until SIGTERM (exit 0) or Ctrl-C."""
    from dora_assets.receiver.server import ServeError, serve

    try:
        serve(host, port, forwarded_allow_ips=forwarded_allow_ips, **limits)
    except ServeError as error:
        raise CommandError(str(error)) from None
    return 0


@command(dora_assets_cli, "report", "write the self-contained dashboard to $DORA_HOME/reports/dora.html")
@click.option("--open", "open_page", is_flag=True, help="open it in the default browser afterwards")
def command_report(open_page: bool) -> int:
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
        click.echo(f"report: {error}", err=True)
    if not outcome.success:
        raise CommandError(f"run {outcome.run_id} failed; see the messages above")
    page = paths.reports_dir / "dora.html"
    written = outcome.materialized.get("gold/dora_dashboard", {})
    click.echo(f"report: wrote {page} ({written.get('failing_error_checks', 0)} failing ERROR checks shown)")
    if open_page:
        webbrowser.open(page.as_uri())
    return 0


# -- extract ---------------------------------------------------------------------------------------


@dora_assets_cli.group(
    "extract",
    help="land API history as envelopes (GitHub: GITHUB_TOKEN, GITHUB_API_URL)",
    short_help="land API history as envelopes (GitHub: GITHUB_TOKEN, GITHUB_API_URL)",
)
def extract_group() -> None:
    """`dora-assets extract SOURCE`: one subcommand per API."""


@command(
    extract_group,
    "github",
    "deployments, default-branch commits, merged PRs and incident issues of repos, into landing/",
)
@click.option(
    "--repo",
    "repos",
    type=RepoName(),
    multiple=True,
    metavar="OWNER/NAME",
    help="a repository (repeatable; default: config github.extract_repos)",
)
@click.option(
    "--since",
    type=IsoDate(),
    default=None,
    metavar="YYYY-MM-DD",
    help="first day (default: where the last extraction ended)",
)
@click.option("--until", type=IsoDate(), default=None, metavar="YYYY-MM-DD", help="last day, inclusive (default today)")
def command_extract_github(repos: tuple[str, ...], since: date | None, until: date | None) -> int:
    """One `dora_extract_github` run over the days [since, until] for the repos; prints what landed."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from dora_assets.definitions import defs
    from dora_assets.defs.landing.assets import EXTRACT_JOB_NAME, GITHUB_API
    from dora_assets.extract.github import cursor_start
    from dora_assets.instance import dagster_instance
    from dora_assets.resources import DuckDBWarehouse
    from dora_assets.runs import run_job

    config = load_config()
    repos = list(repos) or config.github.extract_repos
    if not repos:
        raise CommandError("no repo: pass --repo OWNER/NAME or set github.extract_repos in the config")
    if not os.environ.get("GITHUB_TOKEN"):
        raise CommandError("GITHUB_TOKEN is not set (a token that can read the repos; see README)")
    until = until or datetime.now(UTC).date()
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
        click.echo(extraction_line(extraction, since, until))
        for warning in extraction["warnings"]:
            click.echo(f"extract github: warning: {warning}", err=True)
    for error in outcome.step_errors:
        click.echo(f"extract github: {error}", err=True)
    if not outcome.success:
        raise CommandError(f"run {outcome.run_id} failed; see the messages above")
    click.echo(extraction_total(landed))
    return 0
