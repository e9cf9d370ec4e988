"""Checks on the bronze layer, beside the assets they guard: accounting, ingestion backlog,
silent sources and repos, volume drops, schema drift and clock skew (README: "How gaps are
surfaced"). Every threshold comes from the config's ``checks`` section."""

import math
from collections.abc import Iterator
from datetime import datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    asset_check,
    multi_asset_check,
)

from dora_assets.check_results import check_result
from dora_assets.config import CheckThresholds
from dora_assets.defs.bronze.assets import LANDING_FILES, RAW_EVENTS
from dora_assets.ingestion.audit import audit_bronze
from dora_assets.ingestion.ingest import pending_landing_files
from dora_assets.resources import WAREHOUSE_POOL, Clock, DoraConfigResource, DuckDBWarehouse, LandingFolder
from dora_assets.sql import fetch_dicts, run_sql

ACCOUNTING_BALANCED = "accounting_balanced"
LANDING_BACKLOG = "landing_backlog"
SOURCE_SILENCE = "source_silence"
REPO_SILENCE = "repo_silence"
EVENT_TYPE_SILENCE = "event_type_silence"
VOLUME_DROP = "volume_drop"
QUARANTINE_SHARE = "quarantine_share"
UNKNOWN_EVENT_TYPES = "unknown_event_types"
DUPLICATE_SHARE = "duplicate_share"
NO_FUTURE_DELIVERIES = "no_future_deliveries"


@asset_check(
    pool=WAREHOUSE_POOL,
    asset=LANDING_FILES,
    name=ACCOUNTING_BALANCED,
    description=(
        "Every landing file's records seen (ledger) equal landed + quarantined + duplicates as "
        "recounted from the bronze tables now, and the ledger's own counts match the tables. "
        "The same audit as `dora-assets audit --no-recount`. Not blocking: bronze is what it is, "
        "and silver and gold rebuilt from it are right for what it holds; the failure says which files to fix."
    ),
)
def bronze_accounting_balanced(
    warehouse: DuckDBWarehouse, landing: LandingFolder, dora_config: DoraConfigResource
) -> AssetCheckResult:
    with warehouse.get_connection() as connection:
        report = audit_bronze(connection, landing.directory(), recount_files=False, scan_landing_folder=False)
    unbalanced = report.unbalanced
    totals = {name: report.total(name) for name in ("seen", "landed", "quarantined", "duplicates")}
    return check_result(
        passed=report.balanced,
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"{report.file_count} files: {totals['seen']} records seen = {totals['landed']} landed + "
            f"{totals['quarantined']} quarantined + {totals['duplicates']} duplicates"
            if report.balanced
            else f"{len(unbalanced)} landing files do not balance; first: {unbalanced[0].landing_file}"
        ),
        counts={
            "files": report.file_count,
            **{f"records_{name}": value for name, value in totals.items()},
            "unbalanced_files": len(unbalanced),
        },
        rows=[
            {"landing file": audit.landing_file, "problems": "; ".join(audit.problems)}
            for audit in unbalanced[: dora_config.load().checks.max_examples]
        ],
    )


@asset_check(
    pool=WAREHOUSE_POOL,
    asset=LANDING_FILES,
    name=LANDING_BACKLOG,
    description=(
        "No landing file has waited for ingestion longer than checks.landing_backlog_minutes: files "
        "piling up mean the landing sensor or the schedule stopped."
    ),
)
def landing_backlog(
    warehouse: DuckDBWarehouse, landing: LandingFolder, dora_config: DoraConfigResource, clock: Clock
) -> AssetCheckResult:
    thresholds = dora_config.load().checks
    now = clock.now()
    with warehouse.get_connection() as connection:
        pending, unreadable = pending_landing_files(
            connection, landing.directory(), use_settled=landing.settle_seconds > 0
        )
    limit = timedelta(minutes=thresholds.landing_backlog_minutes)
    waiting = sorted(
        ((name, now - modified) for name, modified in pending if now - modified > limit),
        key=lambda item: item[1],
        reverse=True,
    )
    oldest_hours = round(waiting[0][1].total_seconds() / 3600, 1) if waiting else 0.0
    problems = []
    if waiting:
        problems.append(
            f"{len(waiting)} landing files have waited more than {thresholds.landing_backlog_minutes:g} min "
            f"for ingestion (oldest {oldest_hours} h): is the landing sensor running?"
        )
    if unreadable:
        problems.append(
            f"{len(unreadable)} landing entries cannot be read (first: {unreadable[0]}): their files cannot be ingested"
        )
    return check_result(
        passed=not problems,
        severity=AssetCheckSeverity.ERROR,
        description=(
            "; ".join(problems)
            or f"{len(pending)} landing files pending, none older than {thresholds.landing_backlog_minutes:g} min"
        ),
        counts={
            "files_pending": len(pending),
            "files_overdue": len(waiting),
            "oldest_overdue_hours": oldest_hours,
            "entries_unreadable": len(unreadable),
        },
        lists={
            "examples": [name for name, _ in waiting[: thresholds.max_examples]],
            "unreadable": unreadable[: thresholds.max_examples],
        },
        thresholds={"landing_backlog_minutes": thresholds.landing_backlog_minutes},
    )


def _delivery_hours(connection, now: datetime, days: int) -> None:
    """The per-key hourly counts (sources, repos, event types of a repo) of the ``days`` before ``now``."""
    run_sql(connection, "bronze", "check_delivery_hours", {"since": now - timedelta(days=days), "now": now})


def judge_silences(connection, thresholds: CheckThresholds, now: datetime) -> list[dict]:
    """Every key's current silence judged against its own traffic model (check_silences.sql)."""
    _delivery_hours(connection, now, thresholds.baseline_days)
    return fetch_dicts(
        connection,
        "bronze",
        "check_silences",
        {
            "now": now,
            "threshold": thresholds.silence_expected_deliveries,
            "min_history_hours": thresholds.min_history_days * 24,
            "dispersion_floor": thresholds.dispersion_floor,
            "longest_ratio": thresholds.silence_longest_ratio,
        },
    )


SILENCE_SCOPES = {SOURCE_SILENCE: "source", REPO_SILENCE: "repo", EVENT_TYPE_SILENCE: "event type"}


def silence_scope(row: dict) -> str:
    """Which silence check judges a key: a source (repo '*'), a repo, or one event type of a repo."""
    if row["repo"] == "*":
        return SOURCE_SILENCE
    return REPO_SILENCE if row["event_type"] == "*" else EVENT_TYPE_SILENCE


def silence_verdicts(rows: list[dict]) -> dict[str, tuple[list[dict], list[dict], list[dict]]]:
    """Per silence check: (judged keys, gaps, quiet but normal keys). An event type is judged only
    while its repo and source are not themselves gaps: a whole repo's silence is repo_silence's."""
    silent_repos = {(row["source"], row["repo"]) for row in rows if row["is_gap"] and row["event_type"] == "*"}
    verdicts: dict[str, tuple[list[dict], list[dict], list[dict]]] = {name: ([], [], []) for name in SILENCE_SCOPES}
    for row in rows:
        check_name = silence_scope(row)
        judged, gaps, quiet = verdicts[check_name]
        judged.append(row)
        covered = check_name == EVENT_TYPE_SILENCE and (
            (row["source"], row["repo"]) in silent_repos or (row["source"], "*") in silent_repos
        )
        if covered:
            continue
        if row["is_gap"]:
            gaps.append(row)
        elif row["quiet_normal"]:
            quiet.append(row)
    return verdicts


def _key_name(row: dict) -> str:
    name = row["source"] if row["repo"] == "*" else f"{row['source']}:{row['repo']}"
    return name if row["event_type"] == "*" else f"{name}:{row['event_type']}"


_BONFERRONI_NOTE = " for each of the event types judged: the bar plus ln(their number)"


def _silence_result(
    check_name: str, judged: list[dict], gaps: list[dict], quiet: list[dict], thresholds: CheckThresholds
) -> AssetCheckResult:
    scope = SILENCE_SCOPES[check_name]
    plural = "event types" if scope == "event type" else f"{scope}s"
    label = scope.replace(" ", "_")
    names = [_key_name(row) for row in gaps]
    if gaps:
        severity = AssetCheckSeverity.ERROR
        description = (
            f"{len(gaps)} {plural} silent for longer than their own traffic explains (chance below "
            f"e^-{gaps[0]['threshold']:g}{_BONFERRONI_NOTE if scope == 'event type' else ''}, and "
            f"{thresholds.silence_longest_ratio:g}x the longest silence of their last "
            f"{thresholds.baseline_days} days): " + ", ".join(names[:5])
        )
    elif quiet:
        severity = AssetCheckSeverity.WARN
        description = (
            f"{len(quiet)} {plural} quiet, but within their own normal range (as long a silence in their last "
            f"{thresholds.baseline_days} days): " + ", ".join(_key_name(row) for row in quiet[:5])
        )
    else:
        severity = AssetCheckSeverity.ERROR
        description = (
            f"all {len(judged)} {plural} with at least {thresholds.min_history_days} days of history are "
            "delivering within their own rhythm"
        )
    return check_result(
        check_name=check_name,
        passed=not gaps and not quiet,
        severity=severity,
        description=description,
        counts={f"{label}s_judged": len(judged), f"{label}s_silent": len(gaps), f"{label}s_quiet_normal": len(quiet)},
        lists={
            f"silent_{label}s": names[: thresholds.max_examples],
            f"quiet_normal_{label}s": [_key_name(row) for row in quiet[: thresholds.max_examples]],
        },
        rows=[
            {
                "key": _key_name(row),
                "silent since": row["silent_since"],
                "silent hours": row["silent_hours"],
                "active hours expected": row["expected_active_hours"],
                "-ln chance": row["score"],
                "-ln chance needed": row["threshold"],
                "longest usual silence (h)": row["longest_usual_hours"],
                "its active hours expected": row["longest_usual_active_hours"],
                "dispersion": row["dispersion"],
            }
            for row in (gaps or quiet or judged)[: thresholds.max_examples]
        ],
        thresholds={
            "silence_expected_deliveries": thresholds.silence_expected_deliveries,
            "silence_longest_ratio": thresholds.silence_longest_ratio,
            "dispersion_floor": thresholds.dispersion_floor,
            "baseline_days": thresholds.baseline_days,
            "min_history_days": thresholds.min_history_days,
        },
    )


@multi_asset_check(
    pool=WAREHOUSE_POOL,
    specs=[
        AssetCheckSpec(
            SOURCE_SILENCE,
            asset=RAW_EVENTS,
            description=(
                "Freshness per source: the hours since a source's last delivery are judged against its own "
                "traffic (how often each hour of the week is active, negative binomial days): ERROR when chance "
                "would give so long a silence at most e^-8 of the time and it is 1.2x the longest silence of its "
                "last 8 weeks (checks.silence_*); WARN when unlikely but within that range."
            ),
        ),
        AssetCheckSpec(
            REPO_SILENCE,
            asset=RAW_EVENTS,
            description=(
                "Freshness per repo: the same judgement per (source, repo); a repo whose own history holds "
                "quiet weeks is not a gap after a quiet day, one that delivers every day is after about a day."
            ),
        ),
        AssetCheckSpec(
            EVENT_TYPE_SILENCE,
            asset=RAW_EVENTS,
            description=(
                "Freshness per event type of a repo (e.g. its pushes): the same judgement per (source, repo, "
                "event type), reported while the repo's other events still arrive (one webhook lost)."
            ),
        ),
    ],
    can_subset=True,
)
def silences(
    context: AssetCheckExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock
) -> Iterator[AssetCheckResult]:
    """The three silence checks from one pass over the baseline."""
    thresholds = dora_config.load().checks
    with warehouse.get_connection() as connection:
        verdicts = silence_verdicts(judge_silences(connection, thresholds, clock.now()))
    selected = {key.name for key in context.selected_asset_check_keys}
    for check_name, (judged, gaps, quiet) in verdicts.items():
        if check_name in selected:
            yield _silence_result(check_name, judged, gaps, quiet, thresholds)


def poisson_at_most(count: int, mean: float) -> float:
    """P(X <= count) for X ~ Poisson(mean): how often chance alone gives a day this quiet."""
    term = total = math.exp(-mean)
    for k in range(1, int(count) + 1):
        term *= mean / k
        total += term
    return min(total, 1.0)


def negative_binomial_at_most(count: int, mean: float, dispersion: float) -> float:
    """P(X <= count) for X negative binomial with this mean and variance mean + dispersion * mean^2
    (Poisson when dispersion is 0): how often an overdispersed key has a day this quiet."""
    if dispersion <= 0:
        return poisson_at_most(count, mean)
    size = 1 / dispersion
    success = 1 / (1 + dispersion * mean)
    term = total = success**size
    for k in range(int(count)):
        term *= (k + size) / (k + 1) * (1 - success)
        total += term
    return min(total, 1.0)


def judge_volume(connection, thresholds: CheckThresholds, now: datetime) -> dict[str, list[dict]]:
    """The complete recent days of every key, judged (check_volume_drops.sql). Of the days far
    below their weekday's mean that the key's negative binomial gives at most the configured
    chance: 'gaps' (ERROR: also below every such weekday of the baseline), 'quiet' (WARN: the key
    had as quiet a weekday before, within its normal range) and 'org_quiet' (a day most repos
    dropped together: a holiday)."""
    today = now.date()
    _delivery_hours(connection, now, thresholds.baseline_days + thresholds.volume_lookback_days)
    candidates = fetch_dicts(
        connection,
        "bronze",
        "check_volume_drops",
        {
            "today": today,
            "judged_from": today - timedelta(days=thresholds.volume_lookback_days),
            "holidays": thresholds.holidays,
            "drop_ratio": thresholds.volume_drop_ratio,
            "min_expected": thresholds.volume_min_expected,
            "org_quiet_share": thresholds.org_quiet_share,
            "dispersion_floor": thresholds.dispersion_floor,
        },
    )
    verdict: dict[str, list[dict]] = {"gaps": [], "quiet": [], "org_quiet": []}
    for row in candidates:
        row["chance"] = negative_binomial_at_most(row["deliveries"], row["mean_deliveries"], row["dispersion"])
        unlikely = row["chance"] <= thresholds.volume_drop_max_chance
        if not unlikely:
            continue
        if row["org_quiet"]:
            verdict["org_quiet"].append(row)
        elif row["below_lowest"]:
            verdict["gaps"].append(row)
        else:
            verdict["quiet"].append(row)
    return verdict


def _day_key(row: dict) -> str:
    return row["repo"] if row["event_type"] == "*" else f"{row['repo']} ({row['event_type']})"


@asset_check(
    pool=WAREHOUSE_POOL,
    asset=RAW_EVENTS,
    name=VOLUME_DROP,
    description=(
        "No recent complete day on which a source, a repo or one event type of a repo received far fewer "
        "deliveries than its own traffic explains: below a quarter of its weekday mean, below every such "
        "weekday of its baseline, and at most e^-8 likely under a negative binomial fitted to its own "
        "overdispersed days (a missing day in the middle of history, not only at its end). ERROR for such "
        "a day; WARN for an unlikely day no lower than the key's quietest such weekday (within its normal "
        "range). Days on "
        "which most repos dropped together are holidays: reported, not failed."
    ),
)
def volume_drop(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock) -> AssetCheckResult:
    thresholds = dora_config.load().checks
    now = clock.now()
    today = now.date()
    with warehouse.get_connection() as connection:
        verdict = judge_volume(connection, thresholds, now)
    gaps, quiet = verdict["gaps"], verdict["quiet"]
    quiet_days = sorted({row["day"] for row in verdict["org_quiet"]})
    if gaps:
        description = (
            f"{len(gaps)} key-day(s) far below their usual volume, first: {_day_key(gaps[0])} on "
            f"{gaps[0]['day']} ({gaps[0]['deliveries']} deliveries, ~{gaps[0]['expected']} expected)"
        )
    elif quiet:
        description = (
            f"{len(quiet)} quiet key-day(s), within their own normal range (as quiet a weekday before), first: "
            f"{_day_key(quiet[0])} on {quiet[0]['day']} ({quiet[0]['deliveries']} deliveries, "
            f"~{quiet[0]['expected']} on average)"
        )
    else:
        description = f"no volume drop in the {thresholds.volume_lookback_days} complete days before {today}"
    if not gaps and quiet_days:
        description += f" ({len(quiet_days)} org-wide quiet day(s), e.g. holidays)"
    shown = gaps or quiet
    return check_result(
        passed=not gaps and not quiet,
        severity=AssetCheckSeverity.ERROR if gaps or not quiet else AssetCheckSeverity.WARN,
        description=description,
        counts={"drops": len(gaps), "quiet_normal": len(quiet), "org_quiet_days": len(quiet_days)},
        lists={
            "repos": sorted({row["repo"] for row in gaps})[: thresholds.max_examples],
            "keys": sorted({_day_key(row) for row in gaps})[: thresholds.max_examples],
            "days": sorted({row["day"] for row in gaps})[: thresholds.max_examples],
            "org_quiet_days": quiet_days[: thresholds.max_examples],
        },
        rows=[
            {
                "day": row["day"],
                "source": row["source"],
                "repo": row["repo"],
                "event type": row["event_type"],
                "deliveries": row["deliveries"],
                "expected": row["expected"],
                "lowest usual": row["lowest_deliveries"],
                "dispersion": round(row["dispersion"], 3),
                "chance": f"{row['chance']:.2g}",
            }
            for row in shown[: thresholds.max_examples]
        ],
        thresholds={
            "volume_lookback_days": thresholds.volume_lookback_days,
            "volume_drop_ratio": thresholds.volume_drop_ratio,
            "volume_drop_max_chance": thresholds.volume_drop_max_chance,
            "volume_min_expected": thresholds.volume_min_expected,
            "dispersion_floor": thresholds.dispersion_floor,
            "org_quiet_share": thresholds.org_quiet_share,
            "holidays": thresholds.holidays,
        },
    )


def _record_shares(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock) -> dict:
    thresholds = dora_config.load().checks
    with warehouse.get_connection() as connection:
        [shares] = fetch_dicts(
            connection,
            "bronze",
            "check_record_shares",
            {
                "since": clock.now() - timedelta(days=thresholds.recent_days),
                "max_examples": thresholds.max_examples,
                "max_file_quarantine_share": thresholds.max_file_quarantine_share,
                "max_file_duplicate_share": thresholds.max_file_duplicate_share,
                "min_file_records": 10,
            },
        )
    return shares


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


@multi_asset_check(
    pool=WAREHOUSE_POOL,
    specs=[
        AssetCheckSpec(
            QUARANTINE_SHARE,
            asset=RAW_EVENTS,
            description=(
                "Schema drift: the share of quarantined records among those ingested recently stays under "
                "checks.max_quarantine_share, and no recent file is mostly quarantined (a corrupted file)."
            ),
        ),
        AssetCheckSpec(
            UNKNOWN_EVENT_TYPES,
            asset=RAW_EVENTS,
            description=(
                "Schema drift: the share of recent deliveries whose event type this project does not know "
                "(landed, flagged known_event_type = false) stays under checks.max_unknown_event_type_share."
            ),
        ),
        AssetCheckSpec(
            DUPLICATE_SHARE,
            asset=RAW_EVENTS,
            description=(
                "Sender trouble: the share of recent records skipped as duplicates (redeliveries) stays under "
                "checks.max_duplicate_share, and no recent file is mostly duplicates (a copied file)."
            ),
        ),
    ],
    can_subset=True,
)
def record_shares(
    context: AssetCheckExecutionContext, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock
) -> Iterator[AssetCheckResult]:
    """The three share checks from one count of the recent records (check_record_shares.sql)."""
    thresholds = dora_config.load().checks
    shares = _record_shares(warehouse, dora_config, clock)
    selected = {key.name for key in context.selected_asset_check_keys}
    if QUARANTINE_SHARE in selected:
        yield _record_share_result(
            shares,
            check_name=QUARANTINE_SHARE,
            outcome="quarantined",
            severity=AssetCheckSeverity.ERROR,
            max_share=thresholds.max_quarantine_share,
            thresholds=thresholds.model_dump(
                include={"max_quarantine_share", "max_file_quarantine_share", "recent_days"}
            ),
        )
    if UNKNOWN_EVENT_TYPES in selected:
        share = _share(shares["unknown_event_types"], shares["landed"])
        yield check_result(
            check_name=UNKNOWN_EVENT_TYPES,
            passed=share <= thresholds.max_unknown_event_type_share,
            severity=AssetCheckSeverity.WARN,
            description=f"{shares['unknown_event_types']} of {shares['landed']} recent deliveries of unknown event "
            f"types ({share:.2%})",
            counts={"deliveries": shares["landed"], "unknown": shares["unknown_event_types"], "unknown_share": share},
            lists={"event_types": shares["unknown_type_examples"]},
            thresholds={"max_unknown_event_type_share": thresholds.max_unknown_event_type_share},
        )
    if DUPLICATE_SHARE in selected:
        yield _record_share_result(
            shares,
            check_name=DUPLICATE_SHARE,
            outcome="duplicate",
            severity=AssetCheckSeverity.WARN,
            max_share=thresholds.max_duplicate_share,
            thresholds=thresholds.model_dump(
                include={"max_duplicate_share", "max_file_duplicate_share", "recent_days"}
            ),
        )


def _record_share_result(
    shares: dict,
    *,
    check_name: str,
    outcome: str,
    severity: AssetCheckSeverity,
    max_share: float,
    thresholds: dict,
) -> AssetCheckResult:
    """Pass while the recent share of ``outcome`` records (quarantined or duplicate) stays under
    ``max_share`` and no recent file is mostly made of them (the SQL applied the file limit)."""
    count = shares["quarantined" if outcome == "quarantined" else "duplicates"]
    share = _share(count, shares["seen"])
    files = shares[f"files_mostly_{outcome}_count"]
    passed = share <= max_share and not files
    return check_result(
        check_name=check_name,
        passed=passed,
        severity=severity,
        description=(
            f"{count} of {shares['seen']} recent records {outcome} ({share:.2%})"
            + ("" if passed else f"; {files} file(s) mostly {outcome}")
        ),
        counts={
            "records_seen": shares["seen"],
            f"records_{outcome}": count,
            f"{outcome}_share": share,
            f"files_mostly_{outcome}": files,
        },
        lists={"files": shares[f"files_mostly_{outcome}"]},
        thresholds=thresholds,
    )


def future_times_result(
    context_table: str, warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock
) -> AssetCheckResult:
    """Rows of ``context_table`` dated after now (plus the tolerance): clock skew or bad parsing."""
    thresholds = dora_config.load().checks
    latest_allowed = clock.now() + timedelta(minutes=thresholds.future_tolerance_minutes)
    with warehouse.get_connection() as connection:
        [found] = fetch_dicts(
            connection,
            "silver",
            "check_future_times",
            {"table": context_table, "latest_allowed": latest_allowed, "max_examples": thresholds.max_examples},
        )
    return check_result(
        passed=found["affected"] == 0,
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"no {context_table} row dated after {latest_allowed:%Y-%m-%d %H:%M} UTC"
            if found["affected"] == 0
            else f"{found['affected']} {context_table} rows dated in the future (clock skew at the sender?)"
        ),
        counts={"rows_in_future": found["affected"]},
        lists={"examples": found["examples"], "repos": found["repos"], "days": found["days"]},
        thresholds={"future_tolerance_minutes": thresholds.future_tolerance_minutes},
    )


@asset_check(
    pool=WAREHOUSE_POOL,
    asset=RAW_EVENTS,
    name=NO_FUTURE_DELIVERIES,
    description="No delivery's received_at lies in the future (beyond checks.future_tolerance_minutes).",
)
def no_future_deliveries(warehouse: DuckDBWarehouse, dora_config: DoraConfigResource, clock: Clock) -> AssetCheckResult:
    return future_times_result("bronze.raw_events", warehouse, dora_config, clock)


bronze_checks = [
    bronze_accounting_balanced,
    landing_backlog,
    silences,
    volume_drop,
    record_shares,
    no_future_deliveries,
]
