"""The DORA dashboard page: headline tiles with tier colours (gold.dora_summary), weekly trends
(gold.dora_weekly), a per-team table, and a data-health panel from the latest check results, so
that readers see when a number rests on incomplete data. One self-contained HTML file: inline
CSS and SVG, no scripts, nothing fetched."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from importlib.resources import files
from typing import Any

import duckdb

from dora_assets.outcomes import CheckOutcome
from dora_assets.report.charts import Series, line_chart, waterfall_chart
from dora_assets.sql import fetch_dicts

# (column of gold.dora_summary, label, unit, tier column or None, p90 column or None)
TILES = (
    ("deployments_per_week", "Deployment frequency", "per week", "deployment_frequency_tier", None),
    ("lead_time_median_hours", "Lead time for changes", "hours (median)", "lead_time_tier", "lead_time_p90_hours"),
    ("change_failure_rate", "Change failure rate", "of deployments", "change_failure_rate_tier", None),
    (
        "time_to_restore_median_hours",
        "Time to restore",
        "hours (median)",
        "time_to_restore_tier",
        "time_to_restore_p90_hours",
    ),
    ("rework_rate", "Rework rate", "of deployments", None, None),
)
TREND_WEEKS = 26
PERCENT = {"change_failure_rate", "rework_rate"}


def format_figure(column: str, value: float | None) -> str:
    """How a figure is shown (the test reads tiles back through this)."""
    if value is None:
        return "n/a"
    if column in PERCENT:
        return f"{value * 100:.1f}%"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def render_dashboard(
    connection: duckdb.DuckDBPyConnection, checks: Sequence[CheckOutcome], generated_at: datetime
) -> str:
    org = {row["window_days"]: row for row in fetch_dicts(connection, "gold", "dashboard_org")}
    teams = fetch_dicts(connection, "gold", "dashboard_teams")
    weeks = fetch_dicts(connection, "gold", "dashboard_weeks", {"weeks": TREND_WEEKS})
    stages = {row["grain"]: row for row in fetch_dicts(connection, "gold", "stages_headline")}
    failing_errors = [check for check in checks if check.failing_error]
    main = org.get(30)
    benchmark = (main or {}).get("benchmark", "")
    body = [
        "<header><h1>DORA metrics</h1>",
        f'<p class="meta">Last 30 days to {generated_at:%Y-%m-%d %H:%M} UTC · tiers: DORA {escape(str(benchmark))} '
        "benchmark · figures from gold.dora_summary</p></header>",
        _health_banner(checks, failing_errors),
        '<section class="tiles">',
        *(_tile(main, org.get(90), *tile) for tile in TILES),
        "</section>",
        _stages_section(stages),
        "<h2>Weekly trends (organisation)</h2>",
        '<section class="charts">',
        *(
            line_chart(Series(label, unit, [(row["week"], row[column]) for row in weeks]))
            for column, label, unit, _, _ in TILES
        ),
        "</section>",
        "<h2>Teams (last 90 days)</h2>",
        _team_table(teams),
        "<h2>Data health</h2>",
        _health_table(checks),
    ]
    css = files("dora_assets.report").joinpath("dashboard.css").read_text(encoding="utf-8")
    return PAGE.format(generated=f"{generated_at:%Y-%m-%d %H:%M} UTC", css=css, body="\n".join(body))


def _tile(
    row: dict | None, row_90: dict | None, column: str, label: str, unit: str, tier: str | None, p90: str | None
) -> str:
    value = row[column] if row else None
    tier_name = (row or {}).get(tier) if tier else None
    detail = f"p90 {format_figure(p90, row[p90])} · " if row and p90 else ""
    ninety = f"90 days: {format_figure(column, row_90[column])}" if row_90 else ""
    return (
        f'<div class="tile tier-{escape(tier_name or "none")}" data-metric="{column}" '
        f'data-value="{"" if value is None else repr(float(value))}">'
        f'<div class="label">{escape(label)}</div>'
        f'<div class="value">{format_figure(column, value)}</div>'
        f'<div class="unit">{escape(unit)}</div>'
        f'<div class="tier">{escape(tier_name or "no tier")}</div>'
        f'<div class="detail">{detail}{ninety}</div></div>'
    )


STAGE_LABELS = (("coding", "Coding"), ("pickup", "Pickup"), ("review", "Review"), ("deploy", "Deploy"))


def _stages_section(stages: dict[str, dict]) -> str:
    """The lead-time waterfall: the organisation's median stages over the last 30 days (else 90)
    of changes that merged a pull request (gold.lead_time_stages)."""
    grain = "30d" if (stages.get("30d") or {}).get("changes") else "90d"
    row = stages.get(grain) or {}
    chart = waterfall_chart(
        f"Where lead time goes: median hours per stage, last {grain[:-1]} days",
        [(label, row.get(f"{stage}_p50_hours")) for stage, label in STAGE_LABELS],
    )
    caption = (
        f"{row.get('changes', 0)} changes that merged a pull request ({row.get('changes_reviewed', 0)} reviewed by "
        "someone other than the author). Coding: first commit to opened; pickup: to the first review; review: to "
        "the merge; deploy: to production. Each bar is its stage's own median: they need not add up to the median "
        "lead time."
    )
    return (
        f'<h2>Where lead time goes (organisation)</h2><section class="stages" data-grain="{grain}">{chart}'
        f'<p class="meta">{escape(caption)}</p></section>'
    )


def _team_table(teams: list[dict[str, Any]]) -> str:
    if not teams:
        return '<p class="empty">No team has activity in the last 90 days.</p>'
    header = "".join(f"<th>{escape(label)}</th>" for label in ["Team", *(label for _, label, _, _, _ in TILES)])
    rows = "".join(
        f'<tr data-team="{escape(team["name"])}"><td>{escape(team["name"])}</td>'
        + "".join(
            f'<td class="tier-{escape((team.get(tier) if tier else None) or "none")}">'
            f"{format_figure(column, team[column])}</td>"
            for column, _, _, tier, _ in TILES
        )
        + "</tr>"
        for team in teams
    )
    return f'<table class="teams"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>'


def _health_banner(checks: Sequence[CheckOutcome], failing_errors: list[CheckOutcome]) -> str:
    if not checks:
        return '<p class="health warn" data-health="unknown">No check has run yet: the figures are unverified.</p>'
    if failing_errors:
        names = ", ".join(escape(f"{check.asset}: {check.check}") for check in failing_errors[:5])
        return (
            f'<p class="health bad" data-health="failing">{len(failing_errors)} ERROR check(s) failing: these '
            f"figures may rest on incomplete or wrong data ({names}).</p>"
        )
    return f'<p class="health good" data-health="passing">All {len(checks)} checks pass at ERROR severity.</p>'


def _verdict(check: CheckOutcome) -> str:
    if check.status == "in_progress" and check.evaluated_at is None:
        return "running"
    return "FAIL" if check.failing else "pass"


def _health_table(checks: Sequence[CheckOutcome]) -> str:
    ordered = sorted(checks, key=lambda check: (not check.failing, check.severity != "ERROR", check.asset, check.check))
    rows = "".join(
        f'<tr class="{"failed" if check.failing else "ok"}" data-status="{escape(check.status)}">'
        f"<td>{_verdict(check)}</td>"
        f"<td>{escape(check.severity)}</td><td>{escape(check.asset)}</td><td>{escape(check.check)}</td>"
        f"<td>{escape(check.description or '')}</td><td>{escape((check.evaluated_at or 'never')[:16])}"
        f"{' (re-evaluating)' if check.status == 'in_progress' else ''}</td></tr>"
        for check in ordered
    )
    return (
        '<table class="health-table"><thead><tr><th></th><th>Severity</th><th>Asset</th><th>Check</th>'
        f"<th>Result</th><th>Evaluated</th></tr></thead><tbody>{rows}</tbody></table>"
    )


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="dora-assets">
<title>DORA metrics · {generated}</title>
<style>
{css}</style></head>
<body>
{body}
</body></html>
"""
