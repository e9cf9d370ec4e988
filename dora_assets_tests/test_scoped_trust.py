"""Block only what is wrong, and only where it is wrong: one repo's odd record never stops the
organisation's gold. Wrong rows (a negative lead time, an incident resolved before it opened, a
time in the future) are held back from the figures of their own repo and period and reported at
ERROR; unusual rows (a change authored 384 days before it shipped, a year-long incident) stay in
the figures and are reported at WARN. Figures are computed by hand in each docstring."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, DagsterInstance

from dora_assets.definitions import defs
from dora_assets.settings import DoraPaths
from dora_assets_tests.builders import deployment_status, envelope, issue, push, write_landing_file
from dora_assets_tests.helpers import gold_monthly, refresh_runs

pytestmark = pytest.mark.slow

APP, API = "acme/app", "acme/api"
FIGURES = (
    "changes_deployed",
    "lead_time_median_hours",
    "lead_times_held_back",
    "incidents",
    "incidents_resolved",
    "time_to_restore_median_hours",
    "restore_times_held_back",
)


WRONG = {"app-i2", "api-push", "api-d2"}  # the deliveries carrying wrong times (c3 with c4, #2)


def land_march(paths: Path, *, wrong: bool = True) -> None:
    """March 2023 (long past on any date the suite runs), two repos.

    acme/app: one push on the 1st at 09:00 carries c1, authored 2022-02-10 10:00 (a long-lived
    branch: 384 days = 9216 h before it ships) and c2 (08:00, 2 h); D1 ships both at 10:00.
    Incident #1 opens on the 3rd at 00:00 and is resolved 24 h later; incident #2 opens on the
    6th at 12:00 and is "resolved" at 10:00 the same day, before it opened (a wrong time).

    acme/api: one push on the 2nd at 09:00 carries c4 (authored 07:00: 3 h) and c3, stamped
    12:00 by a skewed clock, two hours after D2 shipped it at 10:00 (-2 h: wrong). Incident #7
    opens on 2023-03-05 00:00 and is resolved on 2024-03-05 00:00: 366 days = 8784 h (unusual).
    """
    c1, c2, c3, c4 = ("1" * 40, "2" * 40, "3" * 40, "4" * 40)
    deliveries = [
        envelope(
            "push",
            push(
                APP,
                "main",
                "0" * 40,
                [(c1, "2022-02-10T10:00:00Z"), (c2, "2023-03-01T08:00:00Z")],
                "2023-03-01T09:00:00Z",
            ),
            "app-push",
            "2023-03-01T09:00:00Z",
        ),
        envelope(
            "deployment_status", deployment_status(APP, 1, c2, "2023-03-01T10:00:00Z"), "app-d1", "2023-03-01T10:00:00Z"
        ),
        envelope(
            "issues",
            issue(
                APP,
                1,
                "closed",
                labels=["incident"],
                created_at="2023-03-03T00:00:00Z",
                updated_at="2023-03-04T00:00:00Z",
                closed_at="2023-03-04T00:00:00Z",
            ),
            "app-i1",
            "2023-03-04T00:00:00Z",
        ),
        envelope(
            "issues",
            issue(
                APP,
                2,
                "closed",
                labels=["incident"],
                created_at="2023-03-06T12:00:00Z",
                updated_at="2023-03-06T12:00:00Z",
                closed_at="2023-03-06T10:00:00Z",
            ),
            "app-i2",
            "2023-03-06T12:00:00Z",
        ),
        envelope(
            "push",
            push(
                API,
                "main",
                "0" * 40,
                [(c4, "2023-03-02T07:00:00Z"), (c3, "2023-03-02T12:00:00Z")],
                "2023-03-02T09:00:00Z",
            ),
            "api-push",
            "2023-03-02T09:00:00Z",
        ),
        envelope(
            "deployment_status", deployment_status(API, 2, c3, "2023-03-02T10:00:00Z"), "api-d2", "2023-03-02T10:00:00Z"
        ),
        envelope(
            "issues",
            issue(
                API,
                7,
                "closed",
                labels=["incident"],
                created_at="2023-03-05T00:00:00Z",
                updated_at="2024-03-05T00:00:00Z",
                closed_at="2024-03-05T00:00:00Z",
            ),
            "api-i7",
            "2024-03-05T00:00:00Z",
        ),
    ]
    write_landing_file(
        paths / "march.ndjson", [item for item in deliveries if wrong or item["delivery_id"] not in WRONG]
    )


def refresh(data_home: DoraPaths, *, wrong: bool = True) -> dict:
    land_march(data_home.landing_dir, wrong=wrong)
    results = refresh_runs(DagsterInstance.ephemeral(), defs.resources)
    materialized = {event.asset_key.to_user_string() for r in results for event in r.get_asset_materialization_events()}
    checks = {
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}": evaluation
        for r in results
        for evaluation in r.get_asset_check_evaluations()
    }
    return {"results": results, "materialized": materialized, "checks": checks}


def march(data_home: DoraPaths) -> dict:
    rows = gold_monthly(data_home, FIGURES)
    return {repo: figures for (month, repo), figures in rows.items() if str(month) == "2023-03-01"}


def test_one_odd_record_never_stops_other_repos_gold(data_home: DoraPaths) -> None:
    run = refresh(data_home)

    # Every run step succeeded and every gold table (and the dashboard) was rebuilt.
    assert all(result.success for result in run["results"])
    assert {"gold/dora_monthly", "gold/dora_weekly", "gold/dora_summary", "gold/dora_dashboard"} <= run["materialized"]
    figures = march(data_home)
    # acme/app: the 9216 h outlier stays in: median of (2, 9216) = 4609 h. Its incidents: #1
    # (24 h) counts, #2 (resolved before it opened) is held back.
    assert figures[APP] == {
        "changes_deployed": 2,
        "lead_time_median_hours": pytest.approx(4609.0),
        "lead_times_held_back": 0,
        "incidents": 2,
        "incidents_resolved": 2,
        "time_to_restore_median_hours": pytest.approx(24.0),
        "restore_times_held_back": 1,
    }
    # acme/api: c3's -2 h is held back: median of (3) = 3 h; #7's 8784 h year stays in.
    assert figures[API] == {
        "changes_deployed": 2,
        "lead_time_median_hours": pytest.approx(3.0),
        "lead_times_held_back": 1,
        "incidents": 1,
        "incidents_resolved": 1,
        "time_to_restore_median_hours": pytest.approx(8784.0),
        "restore_times_held_back": 0,
    }
    # The organisation: lead times (2, 3, 9216) -> 3 h; restore times (24, 8784) -> 4404 h.
    assert figures["*"] == {
        "changes_deployed": 4,
        "lead_time_median_hours": pytest.approx(3.0),
        "lead_times_held_back": 1,
        "incidents": 3,
        "incidents_resolved": 3,
        "time_to_restore_median_hours": pytest.approx(4404.0),
        "restore_times_held_back": 1,
    }

    lead_times = run["checks"]["silver/deployment_changes:plausible_lead_times"]
    assert not lead_times.passed and lead_times.severity == AssetCheckSeverity.ERROR
    metadata = {key: value.value for key, value in lead_times.metadata.items()}
    assert (metadata["negative"], metadata["outliers"]) == (1, 1)
    assert metadata["repos"] == [API, APP] and metadata["months"] == ["2023-03"]
    assert metadata["negative_examples"] == [f"{API} 2/{'3' * 40}: -2.0 h"]
    assert metadata["outlier_examples"] == [f"{APP} 1/{'1' * 40}: 384.0 days"]

    restore = run["checks"]["silver/incidents:plausible_restore_times"]
    assert not restore.passed and restore.severity == AssetCheckSeverity.ERROR
    metadata = {key: value.value for key, value in restore.metadata.items()}
    assert (metadata["judged"], metadata["negative"], metadata["outliers"]) == (3, 1, 1)
    assert metadata["outlier_examples"] == [f"{API}#7 (github): 366.0 days"]

    # Gold is fresh: one odd record did not turn the dashboard stale.
    for key in ("gold/dora_monthly", "gold/dora_weekly", "gold/dora_summary"):
        freshness = [name for name in run["checks"] if name.startswith(f"{key}:") and "fresh" in name]
        assert freshness and all(run["checks"][name].passed for name in freshness), freshness


def test_an_outlier_alone_is_a_warning_and_the_config_may_exclude_it(data_home: DoraPaths) -> None:
    """With exclude_lead_time_outliers, c1's 9216 h is held back too: acme/app's median is c2's
    2 h, the organisation's the median of (2, 3) = 2.5 h with 2 held back. With
    exclude_restore_time_outliers, #7's year is held back: acme/api has no time to restore."""
    data_home.default_config.write_text(
        "checks:\n  exclude_lead_time_outliers: true\n  exclude_restore_time_outliers: true\n", encoding="utf-8"
    )
    run = refresh(data_home)

    figures = march(data_home)
    assert figures[APP]["lead_time_median_hours"] == pytest.approx(2.0) and figures[APP]["lead_times_held_back"] == 1
    assert figures["*"]["lead_time_median_hours"] == pytest.approx(2.5) and figures["*"]["lead_times_held_back"] == 2
    assert figures[API]["time_to_restore_median_hours"] is None and figures[API]["restore_times_held_back"] == 1
    assert figures["*"]["time_to_restore_median_hours"] == pytest.approx(24.0)
    lead_times = run["checks"]["silver/deployment_changes:plausible_lead_times"]
    assert "held back from the figures" in lead_times.description


def test_outliers_alone_are_warnings_kept_in_the_figures(data_home: DoraPaths) -> None:
    """Without the wrong rows: acme/app's lead times (2, 9216) -> 4609 h, acme/api's one
    incident 8784 h, both kept; the checks warn and no ERROR check fails."""
    run = refresh(data_home, wrong=False)

    figures = march(data_home)
    assert figures[APP]["lead_time_median_hours"] == pytest.approx(4609.0)
    assert figures[API]["time_to_restore_median_hours"] == pytest.approx(8784.0)
    for name, what in (
        ("silver/deployment_changes:plausible_lead_times", "1 lead times over 365 days, kept in the figures"),
        ("silver/incidents:plausible_restore_times", "1 times to restore over 90 days, kept in the figures"),
    ):
        evaluation = run["checks"][name]
        assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
        assert evaluation.description.startswith(what), evaluation.description
    errors = [
        name
        for name, evaluation in run["checks"].items()
        if not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    ]
    assert errors == []
