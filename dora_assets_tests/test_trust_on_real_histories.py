"""Trust on real histories: an organisation rebuilt from the real git history of six repositories
(dora_assets_tests/real_org.py: busy, medium and nearly dead repos, squash merges, release
trains, reverts), refreshed as it grows and judged at four moments, with two real-world oddities
injected: a long-lived branch merged with a commit authored 386 days earlier (unusual: kept,
WARN) and a commit stamped two hours after the deployment that shipped it (wrong: held back,
ERROR). At every moment every gold table is rebuilt for every repo, no other silver or gold check
fails at ERROR, and gold.dora_monthly equals the independent oracle (oracle.py) for every month
and repo, held-back counts included."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from dagster import AssetCheckSeverity, DagsterInstance

from dora_assets.definitions import defs
from dora_assets.resources import Clock
from dora_assets.settings import DoraPaths
from dora_assets_tests import oracle
from dora_assets_tests.builders import envelope, iso, push
from dora_assets_tests.helpers import FIGURES, gold_monthly, refresh_runs
from dora_assets_tests.real_org import END, REPOS, land, organisation, received

pytestmark = pytest.mark.slow

MOMENTS = [END - timedelta(days=42, hours=5), END - timedelta(days=28, hours=2), END - timedelta(days=14), END]
HELD_BACK = ("lead_times_held_back", "restore_times_held_back")
LONG_LIVED = "a" * 40  # acme/uv: authored 386 days before its merge
SKEWED = "b" * 40  # acme/starlette: stamped two hours after the deployment that shipped it
SKEWED_DEPLOYMENT = datetime.fromisoformat("2024-07-21T17:29:00+00:00")  # starlette's deployment that day


def real_organisation_with_oddities() -> list[dict]:
    """The real organisation, with deployment ids made unique across repos (GitHub's are global;
    the fixture numbers each repo's tags from 1000) and the two oddities injected."""
    deliveries = organisation()
    numbers = {repo.name: index for index, repo in enumerate(REPOS, start=1)}
    for delivery in deliveries:
        if delivery["event_type"] == "deployment_status":
            payload = delivery["payload"]
            payload["deployment"]["id"] += 1_000_000 * numbers[payload["repository"]["full_name"]]
    # The long-lived branch is merged on 2024-08-06: the first push to acme/uv's main from 10:00
    # on lists its commit before its own, as a merge's push does.
    merged = datetime.fromisoformat("2024-08-06T10:00:00+00:00")
    merge_push = min(
        (
            delivery
            for delivery in deliveries
            if delivery["event_type"] == "push"
            and delivery["payload"]["repository"]["full_name"] == "acme/uv"
            and received(delivery) >= merged
        ),
        key=received,
    )
    old_commit = {
        **merge_push["payload"]["commits"][0],
        "id": LONG_LIVED,
        "timestamp": iso(merged - timedelta(days=386)),
    }
    merge_push["payload"]["commits"].insert(0, old_commit)
    skewed_push_at = SKEWED_DEPLOYMENT - timedelta(minutes=20)
    skewed = push(
        "acme/starlette", "main", "0" * 40, [(SKEWED, iso(SKEWED_DEPLOYMENT + timedelta(hours=2)))], iso(skewed_push_at)
    )
    [starlette_deployment] = [
        delivery
        for delivery in deliveries
        if delivery["event_type"] == "deployment_status"
        and delivery["payload"]["repository"]["full_name"] == "acme/starlette"
        and received(delivery).replace(second=0) == SKEWED_DEPLOYMENT
    ]
    starlette_deployment["payload"]["deployment"]["sha"] = SKEWED
    deliveries.append(envelope("push", skewed, "push:acme/starlette:skewed", iso(skewed_push_at)))
    return sorted(deliveries, key=received)


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Refresh the growing organisation at each moment (deliveries received since the last one
    landed as one file, the Clock frozen at the moment); what each refresh did."""
    home = tmp_path_factory.mktemp("real-org") / "home"
    monkeypatch = pytest.MonkeyPatch()
    for name in ("DORA_DUCKDB_PATH", "DORA_LANDING_DIR", "DAGSTER_HOME", "DORA_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DORA_HOME", str(home))
    paths = DoraPaths.from_env()
    deliveries = real_organisation_with_oddities()
    instance = DagsterInstance.ephemeral()
    outcomes, previous = [], None
    try:
        for moment in MOMENTS:
            batch = [d for d in deliveries if (previous is None or received(d) >= previous) and received(d) < moment]
            land(paths.landing_dir, batch, f"until-{moment:%Y%m%dT%H%M}")
            previous = moment
            resources = {**defs.resources, "clock": Clock(frozen_at=moment.isoformat())}
            results = refresh_runs(instance, resources)
            outcomes.append(
                {
                    "moment": moment,
                    "success": all(result.success for result in results),
                    "materialized": {
                        event.asset_key.to_user_string()
                        for result in results
                        for event in result.get_asset_materialization_events()
                    },
                    "checks": {
                        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}": evaluation
                        for result in results
                        for evaluation in result.get_asset_check_evaluations()
                    },
                    "gold": gold_monthly(paths, (*FIGURES, *HELD_BACK)),
                    "expected": oracle.expected_monthly(oracle.read_envelopes(paths.landing_dir)),
                }
            )
    finally:
        monkeypatch.undo()
    return outcomes


def test_gold_is_rebuilt_for_every_repo_at_every_moment(judged: list[dict]) -> None:
    for outcome in judged:
        assert outcome["success"], outcome["moment"]
        assert {"gold/dora_monthly", "gold/dora_weekly", "gold/dora_summary"} <= outcome["materialized"]
        repos = {repo for (_, repo) in outcome["gold"]}
        assert repos == {repo.name for repo in REPOS} | {"*"}, outcome["moment"]
        freshness = [name for name in outcome["checks"] if name.startswith("gold/") and "fresh" in name]
        assert freshness and all(outcome["checks"][name].passed for name in freshness)


def test_gold_equals_the_oracle_at_every_moment(judged: list[dict]) -> None:
    for outcome in judged:
        expected, actual = outcome["expected"], outcome["gold"]
        assert sorted(actual) == sorted(expected), outcome["moment"]
        for key, figures in expected.items():
            assert actual[key] == pytest.approx(figures), (outcome["moment"], key)
    final = judged[-1]["expected"]
    # The organisation is not trivial, and the oddities reached the figures they belong to.
    assert sum(figures["deployments"] for (_, repo), figures in final.items() if repo == "*") >= 90
    assert sum(figures["lead_times_held_back"] for (_, repo), figures in final.items() if repo == "acme/starlette") == 1
    assert sum(figures["lead_times_held_back"] for (_, repo), figures in final.items() if repo != "acme/starlette") == 1


def test_only_the_wrong_row_fails_at_error_and_the_unusual_one_warns(judged: list[dict]) -> None:
    first, *later = judged
    lead_time_check = "silver/deployment_changes:plausible_lead_times"
    errors = {
        outcome["moment"]: sorted(
            name
            for name, evaluation in outcome["checks"].items()
            if not evaluation.passed
            and evaluation.severity == AssetCheckSeverity.ERROR
            and name.split("/")[0] in {"silver", "gold"}
        )
        for outcome in judged
    }
    # Before the skewed commit landed, no silver or gold check fails at ERROR.
    assert errors[first["moment"]] == []
    for outcome in later:  # after it, exactly the lead time check, about acme/starlette
        assert errors[outcome["moment"]] == [lead_time_check], outcome["moment"]
        metadata = {key: value.value for key, value in outcome["checks"][lead_time_check].metadata.items()}
        assert metadata["negative"] == 1 and "acme/starlette" in metadata["repos"]
        assert metadata["negative_examples"][0].startswith("acme/starlette ")
    # Once merged, the 386-day-old commit is an outlier reported with its repo, and kept.
    last = {key: value.value for key, value in judged[-1]["checks"][lead_time_check].metadata.items()}
    assert last["outliers"] == 1 and last["outlier_examples"][0].startswith("acme/uv ")
    # Merged on 2024-08-06, shipped by acme/uv's next deployment (2024-08-07).
    days = float(last["outlier_examples"][0].rsplit(": ", 1)[1].removesuffix(" days"))
    assert 387 <= days <= 401
