"""Gap injection: a clean generated history passes every check (no false alarms on weekends,
quiet nights, weekly deployers, holidays or new repos); then one fault at a time is injected
into the landing files and exactly the checks that should catch it fail. Checks run through
Dagster (`materialize` with every asset and check), judged as of a fixed moment (the Clock
resource), on a real DuckDB file per test."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from dora_assets.definitions import defs
from dora_assets.demo.generator import generate_demo
from dora_assets.extract.github_client import GitHubClient
from dora_assets.resources import Clock, DoraConfigResource, DuckDBWarehouse, LandingFolder
from dora_assets_tests.builders import refuse_listing
from dora_assets_tests.helpers import refresh_runs

pytestmark = pytest.mark.slow

# The checks' frozen 'now': long past on any date the suite runs (see make test-time-travel).
THURSDAY_AFTERNOON = datetime(2023, 3, 9, 15, 0, tzinfo=UTC)
MONDAY_EARLY = datetime(2023, 3, 13, 6, 0, tzinfo=UTC)  # after a weekend and a night
BUSY_REPO = "acme/payments"  # deploys several times a day
HISTORY_DAYS = 70


def generate(folder: Path, until: datetime) -> Path:
    generate_demo(folder, days=HISTORY_DAYS, repos=4, seed=21, end=until.date(), until=until)
    return folder


@pytest.fixture(scope="module")
def clean_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("clean") / "landing", THURSDAY_AFTERNOON)


class Runs:
    """The results of one refresh (ingest and transform runs) seen as one."""

    def __init__(self, results: list) -> None:
        self.results = results

    @property
    def success(self) -> bool:
        return all(result.success for result in self.results)

    def get_asset_check_evaluations(self) -> list:
        return [evaluation for result in self.results for evaluation in result.get_asset_check_evaluations()]

    def get_asset_materialization_events(self) -> list:
        return [event for result in self.results for event in result.get_asset_materialization_events()]


class Home:
    """One test's data home: a copy of the clean landing folder and its own warehouse."""

    def __init__(self, root: Path, landing: Path, now: datetime) -> None:
        self.root = root
        self.landing = root / "landing"
        shutil.copytree(landing, self.landing)
        self.warehouse = root / "warehouse.duckdb"
        self.now = now
        self.instance = DagsterInstance.ephemeral()  # one run history, as in production

    def resources(self) -> dict:
        return {
            "warehouse": DuckDBWarehouse(database=str(self.warehouse)),
            "landing": LandingFolder(path=str(self.landing)),
            "dora_config": DoraConfigResource(),
            "clock": Clock(frozen_at=self.now.isoformat()),
            "github": GitHubClient(token="unused: these runs never extract"),
        }

    def run(self, *, checks_only: bool = False):
        """Refresh as production does (ingest, then transform), or evaluate the checks only.
        Returns the failed checks as 'asset:check' strings, and the runs' results."""
        if checks_only:
            results = [
                materialize(
                    [*defs.assets, *defs.asset_checks],
                    selection=AssetSelection.all_asset_checks(),
                    resources=self.resources(),
                    instance=self.instance,
                    raise_on_error=False,
                )
            ]
        else:
            results = refresh_runs(self.instance, self.resources())
        evaluations = [evaluation for result in results for evaluation in result.get_asset_check_evaluations()]
        assert evaluations, "no check was evaluated"
        failed = {f"{e.asset_key.to_user_string()}:{e.check_name}" for e in evaluations if not e.passed}
        return failed, Runs(results)

    def rewrite(self, keep: Callable[[dict], dict | None]) -> None:
        """Rewrite every NDJSON landing file, keeping (possibly changed) envelopes ``keep`` returns."""
        for path in self.landing.rglob("*.ndjson"):
            lines = [keep(json.loads(line)) for line in path.read_text().splitlines()]
            path.write_text("".join(json.dumps(envelope) + "\n" for envelope in lines if envelope is not None))
        for path in self.landing.rglob("*.json"):
            if keep(json.loads(path.read_text())) is None:
                path.unlink()

    def check_details(self, result, check: str) -> dict:
        [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == check]
        return {key: value.value for key, value in evaluation.metadata.items()}


@pytest.fixture
def home(tmp_path: Path, clean_landing: Path) -> Home:
    return Home(tmp_path, clean_landing, THURSDAY_AFTERNOON)


def received(envelope: dict) -> datetime:
    return datetime.fromisoformat(envelope["received_at"])


def repo_of(envelope: dict) -> str | None:
    return (envelope["payload"].get("repository") or {}).get("full_name")


def day_file(home: Home, day: date) -> Path:
    return home.landing / "github" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / "deliveries.ndjson"


# -- no false alarms ----------------------------------------------------------------------


def test_a_clean_history_passes_every_check(home: Home) -> None:
    failed, result = home.run()

    assert result.success
    assert failed == set()
    # The history exercises what must not alarm: weekends, a weekly deployer, quiet nights.
    assert query_one(home, "SELECT count(DISTINCT repo) FROM silver.deployments") == 4
    assert home.check_details(result, "repo_silence")["repos_judged"] == 4


def test_monday_morning_after_a_quiet_weekend_and_night_is_not_a_gap(tmp_path: Path) -> None:
    home = Home(tmp_path, generate(tmp_path / "generated", MONDAY_EARLY), MONDAY_EARLY)

    failed, _ = home.run()

    assert failed == set()


def test_an_org_wide_holiday_is_reported_not_failed(home: Home) -> None:
    # A Thursday one week earlier: nobody deploys, reviews or files issues; only the pushes
    # that reached main (from the day before) arrive, in every repo.
    holiday = THURSDAY_AFTERNOON.date() - timedelta(days=7)

    def holiday_traffic(envelope: dict) -> dict | None:
        on_main = envelope["event_type"] == "push" and envelope["payload"]["ref"] == "refs/heads/main"
        return None if received(envelope).date() == holiday and not on_main else envelope

    home.rewrite(holiday_traffic)

    failed, result = home.run()

    assert failed == set()
    assert home.check_details(result, "volume_drop")["org_quiet_days"] == [holiday.isoformat()]


def test_a_new_repo_with_little_history_is_not_judged(home: Home, tmp_path: Path) -> None:
    # Five repos over the last 5 days: the fifth (acme/mobile-api) is new, then goes quiet.
    recent = generate_demo(
        tmp_path / "recent", days=5, repos=5, seed=4, end=THURSDAY_AFTERNOON.date(), until=THURSDAY_AFTERNOON
    )
    newcomer = recent.repos[4]
    lines = [
        line
        for path in sorted((tmp_path / "recent").rglob("deliveries.ndjson"))
        for line in path.read_text().splitlines()
        if repo_of(json.loads(line)) == newcomer and received(json.loads(line)) < THURSDAY_AFTERNOON - timedelta(days=2)
    ]
    assert lines
    (home.landing / "newcomer.ndjson").write_text("\n".join(lines) + "\n")

    failed, _ = home.run()

    assert failed == set()


@pytest.mark.parametrize(("kept", "failed_checks"), [(3, set()), (0, {"bronze/raw_events:volume_drop"})])
def test_a_thin_day_of_a_slow_repo_is_chance_but_an_empty_one_is_a_drop(
    home: Home, kept: int, failed_checks: set[str]
) -> None:
    # acme/checkout usually gets 9 to 21 deliveries on a Thursday (13.6 on average). Three is
    # below a quarter of that and below its quietest Thursday, yet chance gives it often enough:
    # once in 1,500 days even as a Poisson count, more often under the key's own negative
    # binomial. Nothing at all is a broken webhook: the demo's traffic is nearly Poisson, so the
    # key is judged with the least dispersion assumed for any key (0.1), and an empty day's chance
    # is (1 + 0.1 * 13.6)^-10 = e^-8.6, below the e^-8 bar.
    thursday = THURSDAY_AFTERNOON.date() - timedelta(days=7)
    seen: list[dict] = []

    def thin_thursday(envelope: dict) -> dict | None:
        if repo_of(envelope) != "acme/checkout" or received(envelope).date() != thursday:
            return envelope
        seen.append(envelope)
        return envelope if len(seen) <= kept else None

    home.rewrite(thin_thursday)
    assert len(seen) >= 8

    failed, result = home.run()

    assert failed == failed_checks
    assert home.check_details(result, "volume_drop")["drops"] == len(failed_checks)


# -- one fault at a time ------------------------------------------------------------------


def test_a_repo_webhook_stopped_for_two_days(home: Home) -> None:
    outage_start = THURSDAY_AFTERNOON - timedelta(days=2)
    home.rewrite(lambda e: None if repo_of(e) == BUSY_REPO and received(e) >= outage_start else e)

    failed, result = home.run()

    assert failed == {"bronze/raw_events:repo_silence", "bronze/raw_events:volume_drop"}
    assert home.check_details(result, "repo_silence")["silent_repos"] == [f"github:{BUSY_REPO}"]
    assert home.check_details(result, "volume_drop")["repos"] == [BUSY_REPO]


def test_a_source_stopped_entirely(home: Home) -> None:
    outage_start = THURSDAY_AFTERNOON - timedelta(days=2)
    home.rewrite(lambda e: None if received(e) >= outage_start else e)

    failed, result = home.run()

    assert failed == {
        "bronze/raw_events:source_silence",
        "bronze/raw_events:repo_silence",
        "bronze/raw_events:volume_drop",
    }
    assert home.check_details(result, "source_silence")["silent_sources"] == ["github"]
    assert "*" in home.check_details(result, "volume_drop")["repos"]


def test_push_webhooks_missing_for_one_repo(home: Home) -> None:
    home.rewrite(lambda e: None if repo_of(e) == BUSY_REPO and e["event_type"] == "push" else e)

    failed, result = home.run()

    assert failed == {"silver/deployments:deployments_have_pushes", "silver/incidents:root_causes_were_deployed"}
    details = home.check_details(result, "deployments_have_pushes")
    assert details["repos"] == [BUSY_REPO]
    assert details["deployments_without_push"] == query_one(
        home, "SELECT count(*) FROM silver.deployments WHERE repo = $repo", {"repo": BUSY_REPO}
    )


def test_duplicate_deliveries_from_a_resent_batch(home: Home) -> None:
    source = day_file(home, THURSDAY_AFTERNOON.date() - timedelta(days=3))
    shutil.copyfile(source, source.with_name("resent.ndjson"))

    failed, result = home.run()

    assert failed == {"bronze/raw_events:duplicate_share"}
    assert home.check_details(result, "duplicate_share")["files_mostly_duplicate"] == 1
    assert query_one(home, "SELECT count(*) FROM bronze.raw_events GROUP BY delivery_id ORDER BY 1 DESC LIMIT 1") == 1


def test_a_corrupted_ingest_file(home: Home) -> None:
    target = day_file(home, THURSDAY_AFTERNOON.date() - timedelta(days=6))
    lines = target.read_bytes().splitlines(keepends=True)
    target.write_bytes(
        b"".join(line[: len(line) // 2] + b"\n" if index % 3 == 0 else line for index, line in enumerate(lines))
    )

    failed, result = home.run()

    # A root cause whose every push was in a corrupted line is now shipped by no known deployment:
    # root_causes_were_deployed says so too (which lines carry one depends on the demo's history).
    causes = set(
        re.findall(
            r"(?i)root cause:\s*([0-9a-f]{7,40})", "\n".join(p.read_text() for p in home.landing.rglob("*.ndjson"))
        )
    )
    pushes = [
        line for path in home.landing.rglob("*.ndjson") for line in path.read_text().splitlines() if '"push"' in line
    ]
    lost = {
        cause
        for cause in causes
        if not any(cause in line for line in pushes if line.startswith("{") and line.endswith("}"))
    }
    expected = {"bronze/raw_events:quarantine_share"} | (
        {"silver/incidents:root_causes_were_deployed"} if lost else set()
    )
    assert failed == expected
    assert home.check_details(result, "quarantine_share")["files_mostly_quarantined"] == 1
    assert query_one(home, "SELECT count(*) FROM bronze.quarantine WHERE reason_code = 'invalid_json'") == len(
        range(0, len(lines), 3)
    )


def test_clock_skew_produces_future_timestamps_loudly_without_stopping_gold(home: Home) -> None:
    # A sender whose clock runs three days ahead re-sends its latest pushes.
    skew = timedelta(days=3)
    latest = sorted(
        (
            json.loads(line)
            for line in day_file(home, THURSDAY_AFTERNOON.date()).read_text().splitlines()
            if json.loads(line)["event_type"] == "push"
        ),
        key=received,
    )[-3:]
    skewed = []
    for envelope in latest:
        envelope["delivery_id"] = str(uuid.uuid4())
        envelope["received_at"] = (received(envelope) + skew).isoformat()
        envelope["payload"]["repository"]["pushed_at"] += int(skew.total_seconds())
        skewed.append(json.dumps(envelope))
    (home.landing / "skewed.ndjson").write_text("\n".join(skewed) + "\n")

    failed, result = home.run()

    assert failed == {"bronze/raw_events:no_future_deliveries", "silver/pushes:no_future_timestamps"}
    # Both fail at ERROR, yet gold is rebuilt for every repo: it publishes no row dated after
    # now, so the skewed pushes wait outside the figures (README: "Checks").
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert {"silver/pushes", "gold/dora_monthly", "gold/dora_summary"} <= materialized
    assert result.success


def test_nothing_ingested_while_files_pile_up(home: Home, tmp_path: Path) -> None:
    # The landing sensor is off: yesterday's refresh ingested everything, new drops since wait.
    failed, _ = home.run()
    assert failed == set()
    late = tmp_path / "late"
    generate_demo(late, days=2, repos=4, seed=5, end=THURSDAY_AFTERNOON.date(), until=THURSDAY_AFTERNOON)
    waiting = home.landing / "github" / "waiting.ndjson"
    shutil.copyfile(late / "github" / "2023" / "03" / "09" / "deliveries.ndjson", waiting)
    three_hours_ago = THURSDAY_AFTERNOON.timestamp() - 3 * 3600
    os.utime(waiting, (three_hours_ago, three_hours_ago))

    failed, result = home.run(checks_only=True)

    assert failed == {"bronze/landing_files:landing_backlog"}
    assert result.get_asset_materialization_events() == []
    assert home.check_details(result, "landing_backlog")["examples"] == ["github/waiting.ndjson"]


def test_a_landing_folder_that_cannot_be_read_fails_the_backlog_check(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed, _ = home.run()
    assert failed == set()
    locked = home.landing / "gitlab"
    locked.mkdir()
    refuse_listing(monkeypatch, locked)
    failed, result = home.run(checks_only=True)

    assert failed == {"bronze/landing_files:landing_backlog"}
    assert home.check_details(result, "landing_backlog")["unreadable"] == ["gitlab/: Permission denied"]


def query_one(home: Home, sql: str, params: dict | None = None):
    with duckdb.connect(str(home.warehouse), read_only=True) as connection:
        [(value,)] = connection.execute(sql, params).fetchall()
    return value
