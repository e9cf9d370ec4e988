"""The gap checks on real traffic shapes: an organisation rebuilt from the real git histories of
uv, sqlalchemy, click and starlette (real_org.py: six repos, busy to nearly dead) is landed through
the real ingest, one day at a time, and the bronze checks are judged after each day's landing at
60 moments (every day of the last 60, at an hour that moves by 7 each day so every hour of the
day is seen) through the Clock resource: no ERROR may fail on this clean history. Then one gap
at a time is injected into the same history and must fail its check (ERROR) when it becomes
detectable. Expected outcomes come from the scenario, not from running the checks."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetCheckResult, AssetCheckSeverity, AssetSelection, DagsterInstance, build_op_context, materialize

from dora_assets.config import CheckThresholds
from dora_assets.definitions import defs
from dora_assets.defs.bronze.checks import (
    EVENT_TYPE_SILENCE,
    LANDING_BACKLOG,
    NO_FUTURE_DELIVERIES,
    REPO_SILENCE,
    SOURCE_SILENCE,
    VOLUME_DROP,
    judge_silences,
    landing_backlog,
    negative_binomial_at_most,
    no_future_deliveries,
    poisson_at_most,
    silence_verdicts,
    silences,
    volume_drop,
)
from dora_assets.extract.github_client import GitHubClient
from dora_assets.ingestion.ingest import ingest_landing
from dora_assets.resources import Clock, DoraConfigResource, DuckDBWarehouse, LandingFolder, connect_warehouse
from dora_assets_tests.real_org import END, REPOS, land, organisation, received

JUDGED = (SOURCE_SILENCE, REPO_SILENCE, EVENT_TYPE_SILENCE, VOLUME_DROP, LANDING_BACKLOG, NO_FUTURE_DELIVERIES)
FIRST_DAY = END.replace(hour=0, minute=0, second=0) - timedelta(days=59)
MOMENTS = [FIRST_DAY + timedelta(days=day, hours=(7 * day) % 24) for day in range(60)]
# Delivered on each of the 56 days before 13 August 2024: 27 to 74 deliveries on a Monday, 4 to 141
# on a Tuesday (53 on average), 2 to 12 on a weekend day.
BUSY = "acme/uv"


@dataclass
class Judgement:
    moment: datetime
    results: dict[str, AssetCheckResult]

    def errors(self) -> set[str]:
        return {
            name
            for name, result in self.results.items()
            if not result.passed and result.severity == AssetCheckSeverity.ERROR
        }

    def warnings(self) -> set[str]:
        return {
            name
            for name, result in self.results.items()
            if not result.passed and result.severity == AssetCheckSeverity.WARN
        }

    def metadata(self, check: str) -> dict:
        return {key: value.value for key, value in self.results[check].metadata.items()}


class Warehouse:
    """A real DuckDB file and landing folder, fed by the real ingest and judged by the check functions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.landing = root / "landing"
        self.path = root / "warehouse.duckdb"
        # Held open so that every check's own connection finds the database already loaded.
        self.keeper = connect_warehouse(str(self.path))
        self.instance = DagsterInstance.ephemeral()

    def ingest(self, deliveries: list[dict], name: str) -> None:
        land(self.landing, deliveries, name)
        with self.resource().get_connection() as connection:
            ingest_landing(connection, self.landing, settle_seconds=0)

    def resource(self) -> DuckDBWarehouse:
        return DuckDBWarehouse(database=str(self.path))

    def resources(self, moment: datetime) -> dict:
        return {
            "warehouse": self.resource(),
            "landing": LandingFolder(path=str(self.landing), settle_seconds=0),
            "dora_config": DoraConfigResource(),
            "clock": Clock(frozen_at=moment.isoformat()),
        }

    def judge(self, moment: datetime) -> Judgement:
        """Every gap check, invoked directly with the resources a run would give it."""
        resources = self.resources(moment)
        results = {}
        for check in (silences, volume_drop, no_future_deliveries, landing_backlog):
            with build_op_context(resources=resources, instance=self.instance) as context:
                for result in check(context) if check is silences else [check(context)]:
                    results[result.check_name or next(iter(check.check_specs)).name] = result
        return Judgement(moment, results)

    def copy(self, root: Path) -> Warehouse:
        self.keeper.execute("CHECKPOINT")
        shutil.copytree(self.landing, root / "landing")
        shutil.copyfile(self.path, root / "warehouse.duckdb")
        return Warehouse(root)

    def close(self) -> None:
        self.keeper.close()


@pytest.fixture(scope="module")
def deliveries() -> list[dict]:
    return organisation()


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, deliveries: list[dict]):
    """The clean organisation landed day by day; the checks judged after each landing."""
    warehouse = Warehouse(tmp_path_factory.mktemp("clean"))
    warehouse.ingest([d for d in deliveries if received(d) < MOMENTS[0]], "history")
    judgements = []
    previous = MOMENTS[0]
    for index, moment in enumerate(MOMENTS):
        warehouse.ingest([d for d in deliveries if previous <= received(d) < moment], f"day-{index:02d}")
        previous = moment
        judgements.append(warehouse.judge(moment))
    yield warehouse, judgements
    warehouse.close()


def with_gap(root: Path, deliveries: list[dict], lost: Callable[[dict], bool], until: datetime) -> Warehouse:
    """A warehouse holding the organisation's deliveries received before ``until``, minus the lost ones."""
    warehouse = Warehouse(root)
    warehouse.ingest([d for d in deliveries if received(d) < until and not lost(d)], "history")
    return warehouse


def repo_of(delivery: dict) -> str:
    return delivery["payload"]["repository"]["full_name"]


# -- no false alarms ----------------------------------------------------------------------


def test_the_negative_binomial_gives_bursty_keys_their_quiet_days() -> None:
    # P(X <= x) with mean 10: a Poisson count (dispersion 0) is empty once in e^10 days; with
    # dispersion 1 (variance 110), one day in 11 is empty: (1 + 10)^-1.
    assert (
        negative_binomial_at_most(0, 10, 0) == pytest.approx(poisson_at_most(0, 10)) == pytest.approx(4.54e-5, rel=1e-3)
    )
    assert negative_binomial_at_most(0, 10, 1) == pytest.approx(1 / 11)
    # P(X <= 1) = 1/11 + P(X = 1) = 1/11 + (1/11) * (10/11)
    assert negative_binomial_at_most(1, 10, 1) == pytest.approx(1 / 11 + 10 / 121)
    assert negative_binomial_at_most(1000, 10, 0.3) == pytest.approx(1.0)


def test_no_error_at_any_judged_moment_of_the_clean_real_shaped_organisation(sweep) -> None:
    _, judgements = sweep

    errors = [(str(j.moment), sorted(j.errors()), [j.results[c].description for c in j.errors()]) for j in judgements]
    assert [error for error in errors if error[1]] == []
    # Every judgement judged all six repos, and the quiet ones too: the figure is not vacuous.
    assert len(judgements) == 60
    for judgement in judgements:
        assert set(judgement.results) == set(JUDGED)
        assert judgement.metadata(REPO_SILENCE)["repos_judged"] == len(REPOS)
        assert judgement.metadata(SOURCE_SILENCE)["sources_judged"] == 1
        assert judgement.metadata(EVENT_TYPE_SILENCE)["event_types_judged"] >= 2 * len(REPOS)


def test_no_silence_gap_twice_a_day_over_the_last_60_days(sweep) -> None:
    # The silence checks run hourly in production: judged every 12 hours over the same 60 days
    # (120 more moments, at hours the daily sweep did not use that day, through the functions
    # the checks call; bronze holds the whole history, the SQL reads only what was received
    # before each moment), no key is a gap.
    warehouse, _ = sweep
    thresholds = DoraConfigResource().load().checks
    gaps = []
    with warehouse.resource().get_connection() as connection:
        for step in range(120):
            moment = END - timedelta(hours=12 * step + 3)
            verdicts = silence_verdicts(judge_silences(connection, thresholds, moment))
            gaps += [
                (str(moment), check, row["repo"], row["event_type"])
                for check, (_, found, _) in verdicts.items()
                for row in found
            ]
    assert gaps == []


def test_a_repo_quiet_for_days_as_it_often_is_is_not_a_gap(sweep) -> None:
    # acme/click (pallets/click) is often quiet for one or two weeks, acme/starlette for a month:
    # at some judged moment each had been silent for more than three days, and no silence check
    # failed at ERROR then (the first test): the sweep did judge long quiet stretches.
    _, judgements = sweep
    longest = {}
    for judgement in judgements:
        for row in judgement.results[REPO_SILENCE].metadata["details"].value.splitlines():
            for repo in ("acme/click", "acme/starlette"):
                if f"github:{repo} |" in row:
                    longest[repo] = max(longest.get(repo, 0), int(row.split("|")[3]))
    assert longest.keys() == {"acme/click", "acme/starlette"}
    assert min(longest.values()) > 72


def test_the_checks_read_only_what_was_received_before_now(sweep) -> None:
    # The sweep judged each moment with only the deliveries received before it in bronze; judged
    # again now that bronze holds the whole history, the gap checks must say the same.
    warehouse, judgements = sweep
    for judgement in judgements[::15]:
        again = warehouse.judge(judgement.moment)
        for check in (SOURCE_SILENCE, REPO_SILENCE, EVENT_TYPE_SILENCE, VOLUME_DROP):
            assert again.results[check].passed == judgement.results[check].passed
            assert again.results[check].description == judgement.results[check].description


# -- each gap fails its check when it becomes detectable ----------------------------------


def test_a_busy_repo_silent_for_24_hours(tmp_path: Path, deliveries: list[dict]) -> None:
    # acme/uv delivered on every day of the eight weeks before, 53 deliveries on an average
    # Tuesday; its webhook stops on Tuesday 13 August 2024 at 14:00 UTC. Judged 24 hours later,
    # through a Dagster run of the bronze assets and their checks.
    start = datetime.fromisoformat("2024-08-13T14:00:00+00:00")
    now = start + timedelta(hours=24)
    warehouse = with_gap(tmp_path, deliveries, lambda d: repo_of(d) == BUSY and received(d) >= start, now)
    warehouse.close()
    resources = {**warehouse.resources(now), "github": GitHubClient(token="unused: no extraction")}

    result = materialize(
        [*defs.assets, *defs.asset_checks],
        selection=AssetSelection.groups("bronze"),
        resources=resources,
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )

    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = {name for name, e in evaluations.items() if not e.passed and e.severity == AssetCheckSeverity.ERROR}
    assert failed == {REPO_SILENCE}
    details = {key: value.value for key, value in evaluations[REPO_SILENCE].metadata.items()}
    assert details["silent_repos"] == [f"github:{BUSY}"]


def test_a_whole_source_stopped_for_12_hours(tmp_path: Path, deliveries: list[dict]) -> None:
    # Nothing from GitHub from Tuesday 13 August 2024 at 12:00 UTC, the organisation's busiest
    # hours (43 to 113 deliveries on each of the four Tuesday afternoons and evenings before).
    start = datetime.fromisoformat("2024-08-13T12:00:00+00:00")
    now = start + timedelta(hours=12)
    warehouse = with_gap(tmp_path, deliveries, lambda d: received(d) >= start, now)

    judgement = warehouse.judge(now)

    assert SOURCE_SILENCE in judgement.errors()
    assert judgement.metadata(SOURCE_SILENCE)["silent_sources"] == ["github"]
    assert EVENT_TYPE_SILENCE not in judgement.errors()  # a whole source's silence is not one webhook's
    warehouse.close()


def test_pushes_of_a_busy_repo_lost_for_3_days_while_its_other_events_continue(
    tmp_path: Path, deliveries: list[dict]
) -> None:
    # acme/uv's push webhook is lost from Monday 12 August 2024 14:00 UTC; its merged pull
    # requests (one per squash-merged commit) keep arriving. Judged after the three days: the
    # repo is not silent, its pushes are.
    start = datetime.fromisoformat("2024-08-12T14:00:00+00:00")
    now = start + timedelta(days=3)

    def lost(delivery: dict) -> bool:
        return repo_of(delivery) == BUSY and delivery["event_type"] == "push" and received(delivery) >= start

    warehouse = with_gap(tmp_path, deliveries, lost, now)

    judgement = warehouse.judge(now)

    assert judgement.errors() == {EVENT_TYPE_SILENCE}
    assert judgement.metadata(EVENT_TYPE_SILENCE)["silent_event_types"] == [f"github:{BUSY}:push"]
    warehouse.close()


def test_deliveries_from_the_future(sweep, tmp_path: Path, deliveries: list[dict]) -> None:
    # A sender whose clock runs three days ahead re-sends acme/uv's last three pushes.
    clean, judgements = sweep
    warehouse = clean.copy(tmp_path)
    now = judgements[-1].moment
    skewed = [dict(d) for d in deliveries if repo_of(d) == BUSY and d["event_type"] == "push" and received(d) < now]
    for delivery in skewed[-3:]:
        delivery["delivery_id"] += ":skewed"
        delivery["received_at"] = (received(delivery) + timedelta(days=3)).isoformat()
    warehouse.ingest(skewed[-3:], "skewed")

    judgement = warehouse.judge(now)

    assert judgement.errors() == {NO_FUTURE_DELIVERIES}
    warehouse.close()


def test_files_piling_up_unprocessed(sweep, tmp_path: Path, deliveries: list[dict]) -> None:
    # The landing sensor stopped: the last hours' deliveries wait in a file dropped 3 hours ago.
    clean, judgements = sweep
    warehouse = clean.copy(tmp_path)
    now = judgements[-1].moment
    waiting = land(warehouse.landing, [d for d in deliveries if now - timedelta(hours=3) <= received(d) < now], "late")
    three_hours_ago = (now - timedelta(hours=3)).timestamp()
    os.utime(waiting, (three_hours_ago, three_hours_ago))

    judgement = warehouse.judge(now)

    assert judgement.errors() == {LANDING_BACKLOG}
    assert judgement.metadata(LANDING_BACKLOG)["examples"] == ["late.ndjson"]
    warehouse.close()


def test_one_event_type_among_many_needs_a_rarer_silence_than_one_repo(tmp_path: Path, deliveries: list[dict]) -> None:
    # acme/uv's pushes lost from Monday 12 August 2024 14:00 UTC, its pull requests still
    # arriving. event_type_silence judges every (repo, event type) key at once, so each needs a
    # chance below e^-(8 + ln(keys judged)); sources and repos keep e^-8.
    start = datetime.fromisoformat("2024-08-12T14:00:00+00:00")

    def lost(delivery: dict) -> bool:
        return repo_of(delivery) == BUSY and delivery["event_type"] == "push" and received(delivery) >= start

    verdicts = {}
    for hours in (24, 36):
        now = start + timedelta(hours=hours)
        warehouse = with_gap(tmp_path / f"after-{hours}h", deliveries, lost, now)
        rows = judge_silences(warehouse.keeper, CheckThresholds(), now)
        warehouse.close()
        event_types = [row for row in rows if row["repo"] != "*" and row["event_type"] != "*"]
        assert {row["threshold"] for row in rows if row not in event_types} == {8.0}
        assert {row["threshold"] for row in event_types} == {round(8 + math.log(len(event_types)), 2)}
        [pushes] = [row for row in event_types if row["repo"] == BUSY and row["event_type"] == "push"]
        verdicts[hours] = pushes

    # After a day the silence is rarer than e^-8, a gap for a single key, but not for one of ~19.
    assert 8 < verdicts[24]["score"] < verdicts[24]["threshold"]
    assert not verdicts[24]["is_gap"]
    assert verdicts[36]["is_gap"]
