"""The demo generator: deterministic, valid envelopes, real payload shapes and a coherent history."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from dora_assets.config import CheckThresholds
from dora_assets.defs.bronze.checks import judge_silences, judge_volume, silence_verdicts
from dora_assets.demo.generator import DemoSummary, generate_demo
from dora_assets.ingestion.envelope import Envelope
from dora_assets.ingestion.ingest import ingest_landing
from dora_assets.resources import connect_warehouse

END = date(2023, 11, 24)  # a Friday, long past on any date the suite runs (see make test-time-travel)
ZERO_SHA = "0" * 40
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SECONDS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ROOT_CAUSE = re.compile(r"(?i)root cause:\s*([0-9a-f]{7,40})\b")


@dataclass(frozen=True)
class Demo:
    root: Path
    summary: DemoSummary
    envelopes: list[dict[str, Any]]  # every NDJSON line, in file order (files sorted by path)
    redelivery_files: list[Path]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("landing")
    summary = generate_demo(root, days=90, repos=4, seed=7, end=END)
    envelopes = [
        json.loads(line) for path in sorted(root.rglob("*.ndjson")) for line in path.read_text("utf-8").splitlines()
    ]
    return Demo(root, summary, envelopes, sorted(root.rglob("*.json")))


def template(name: str) -> dict[str, Any]:
    text = resources.files("dora_assets.demo").joinpath("templates", "github", f"{name}.json").read_text("utf-8")
    return json.loads(text)


def by_type(demo: Demo, event_type: str) -> list[dict[str, Any]]:
    return [envelope for envelope in demo.envelopes if envelope["event_type"] == event_type]


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def repo_of(envelope: dict[str, Any]) -> str:
    return envelope["payload"]["repository"]["full_name"]


def all_bytes(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_same_arguments_write_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate_demo(tmp_path / "a", days=10, repos=2, seed=11, end=END)
    second = generate_demo(tmp_path / "b", days=10, repos=2, seed=11, end=END)
    other = generate_demo(tmp_path / "c", days=10, repos=2, seed=12, end=END)
    assert first == second
    assert all_bytes(tmp_path / "a") == all_bytes(tmp_path / "b")
    assert all_bytes(tmp_path / "a") != all_bytes(tmp_path / "c")
    assert other.repos == first.repos == ["acme/payments", "acme/checkout"]


def test_summary_describes_the_history(demo: Demo) -> None:
    summary = demo.summary
    assert summary.start == date(2023, 8, 27)
    assert summary.end == END
    assert summary.repos == ["acme/payments", "acme/checkout", "acme/search", "acme/identity"]
    assert 2_000 <= summary.deliveries <= 6_000


def test_summary_counts_match_the_files(demo: Demo) -> None:
    files = [path for path in demo.root.rglob("*") if path.is_file()]
    assert demo.summary.files == len(files)
    assert demo.summary.redeliveries == len(demo.redelivery_files)
    assert demo.summary.deliveries == len(demo.envelopes) + len(demo.redelivery_files)
    assert all(path.suffix in {".ndjson", ".json"} for path in files)


def test_every_line_is_a_valid_envelope(demo: Demo) -> None:
    for path in sorted(demo.root.rglob("*.ndjson")):
        for line in path.read_text("utf-8").splitlines():
            envelope = Envelope.model_validate_json(line)
            assert envelope.source == "github"
            assert envelope.event_type in {"push", "deployment", "deployment_status", "issues", "pull_request"}
            assert envelope.known_event_type
            assert UUID.match(envelope.delivery_id)
            assert envelope.to_json() == line
    for envelope in demo.envelopes:
        assert SECONDS_Z.match(envelope["received_at"])


def test_each_day_file_holds_that_days_deliveries_in_received_order(demo: Demo) -> None:
    day_files = sorted(demo.root.rglob("deliveries.ndjson"))
    assert len(day_files) >= 80
    for path in day_files:
        year, month, day = path.parent.relative_to(demo.root / "github").parts
        received = [moment(json.loads(line)["received_at"]) for line in path.read_text("utf-8").splitlines()]
        assert received == sorted(received)
        assert {moment.date() for moment in received} == {date(int(year), int(month), int(day))}
        assert demo.summary.start <= received[0].date() <= received[-1].date() <= demo.summary.end


def test_no_temporary_file_is_left_behind(demo: Demo) -> None:
    assert [path for path in demo.root.rglob("*") if path.name.startswith(".")] == []


def test_payloads_keep_the_shape_of_the_real_examples(demo: Demo) -> None:
    shapes = {
        ("push", None): "push",
        ("deployment", "created"): "deployment",
        ("deployment_status", "created"): "deployment_status",
        ("issues", "opened"): "issues.opened",
        ("issues", "labeled"): "issues.labeled",
        ("issues", "edited"): "issues.edited",
        ("issues", "closed"): "issues.closed",
        ("pull_request", "closed"): "pull_request.closed",
    }
    seen = Counter((envelope["event_type"], envelope["payload"].get("action")) for envelope in demo.envelopes)
    assert set(seen) == set(shapes)
    for envelope in demo.envelopes:
        payload = envelope["payload"]
        example = template(shapes[envelope["event_type"], payload.get("action")])
        assert payload.keys() == example.keys()
        assert payload["repository"].keys() == example["repository"].keys()
        assert payload["sender"].keys() == example["sender"].keys()
        for key in ("deployment", "deployment_status", "issue", "pull_request"):
            if key in example:
                assert payload[key].keys() == example[key].keys()
        if envelope["event_type"] == "push":
            assert all(commit.keys() == example["commits"][0].keys() for commit in payload["commits"])
            assert payload["head_commit"] == payload["commits"][-1]


def test_no_trace_of_the_example_repository_is_left(demo: Demo) -> None:
    text = "\n".join(path.read_text("utf-8") for path in demo.root.rglob("*.ndjson"))
    assert "Codertocat" not in text
    assert "Hello-World" not in text


def test_repositories_have_different_rhythms_and_quiet_weekends(demo: Demo) -> None:
    production = Counter(
        repo_of(envelope)
        for envelope in by_type(demo, "deployment")
        if envelope["payload"]["deployment"]["environment"] == "production"
    )
    assert production["acme/payments"] > 2 * production["acme/checkout"] > 2 * production["acme/identity"] > 0
    weekdays = Counter(moment(envelope["received_at"]).weekday() < 5 for envelope in by_type(demo, "push"))
    assert weekdays[False] < weekdays[True] / 5


def test_push_chains_are_consistent(demo: Demo) -> None:
    previous_after: dict[tuple[str, str], str] = {}
    for envelope in sorted(by_type(demo, "push"), key=lambda envelope: envelope["received_at"]):
        payload = envelope["payload"]
        key = (repo_of(envelope), payload["ref"])
        commits = payload["commits"]
        assert payload["ref"].startswith(("refs/heads/feature/", "refs/heads/main"))
        assert 1 <= len(commits) <= 5
        assert payload["after"] == commits[-1]["id"] == payload["head_commit"]["id"]
        times = [moment(commit["timestamp"]) for commit in commits]
        assert times == sorted(times)
        pushed = payload["repository"]["pushed_at"]
        assert isinstance(pushed, int)
        assert times[-1].timestamp() <= pushed <= moment(envelope["received_at"]).timestamp()
        if key in previous_after:
            assert payload["before"] == previous_after[key]
            assert payload["created"] is False
        elif payload["ref"] == "refs/heads/main":
            assert payload["before"] != ZERO_SHA
        else:
            assert payload["before"] == ZERO_SHA
            assert payload["created"] is True
        previous_after[key] = payload["after"]


def test_merged_feature_commits_reach_main_with_the_same_sha_and_time(demo: Demo) -> None:
    feature: dict[str, str] = {}
    repeated = 0
    for envelope in sorted(by_type(demo, "push"), key=lambda envelope: envelope["received_at"]):
        payload = envelope["payload"]
        for commit in payload["commits"]:
            if payload["ref"] != "refs/heads/main":
                feature[commit["id"]] = commit["timestamp"]
            elif commit["id"] in feature:
                assert commit["timestamp"] == feature[commit["id"]]
                assert commit["distinct"] is False
                repeated += 1
    assert repeated > 100


def test_production_deployments_ship_earlier_pushes_to_main(demo: Demo) -> None:
    main_pushes: dict[str, list[tuple[int, str]]] = defaultdict(list)  # repo -> (pushed_at, after)
    for envelope in by_type(demo, "push"):
        payload = envelope["payload"]
        if payload["ref"] == "refs/heads/main":
            main_pushes[repo_of(envelope)].append((payload["repository"]["pushed_at"], payload["after"]))
    deployments = by_type(demo, "deployment")
    assert len({envelope["payload"]["deployment"]["id"] for envelope in deployments}) == len(deployments)
    staged: set[tuple[str, str]] = set()
    for envelope in sorted(deployments, key=lambda envelope: envelope["received_at"]):
        deployment = envelope["payload"]["deployment"]
        assert deployment["ref"] == "main"
        assert deployment["environment"] in {"staging", "production"}
        if deployment["environment"] == "staging":
            staged.add((repo_of(envelope), deployment["sha"]))
            continue
        assert (repo_of(envelope), deployment["sha"]) in staged
        created = moment(deployment["created_at"]).timestamp()
        earlier = {after for pushed, after in main_pushes[repo_of(envelope)] if pushed <= created}
        assert deployment["sha"] in earlier


def test_deployment_statuses_follow_their_deployment(demo: Demo) -> None:
    created = {envelope["payload"]["deployment"]["id"]: envelope for envelope in by_type(demo, "deployment")}
    states: dict[int, list[str]] = defaultdict(list)
    for envelope in sorted(by_type(demo, "deployment_status"), key=lambda envelope: envelope["received_at"]):
        payload = envelope["payload"]
        deployment = created[payload["deployment"]["id"]]["payload"]["deployment"]
        assert payload["deployment"]["sha"] == deployment["sha"]
        assert payload["deployment_status"]["environment"] == deployment["environment"]
        assert payload["deployment_status"]["created_at"] > deployment["created_at"]
        states[payload["deployment"]["id"]].append(payload["deployment_status"]["state"])
    assert all(sequence[0] == "in_progress" and len(sequence) <= 2 for sequence in states.values())
    finals = Counter(sequence[-1] for sequence in states.values() if len(sequence) == 2)
    failed = finals["failure"] + finals["error"]
    assert 0 < 5 * failed < finals["success"]


def deployed_commits(demo: Demo) -> dict[str, set[str]]:
    """Per repo: the commits of main pushes up to the last one a successful production deployment shipped."""
    pushes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for envelope in sorted(by_type(demo, "push"), key=lambda envelope: envelope["received_at"]):
        if envelope["payload"]["ref"] == "refs/heads/main":
            pushes[repo_of(envelope)].append(envelope["payload"])
    shipped: dict[str, set[str]] = defaultdict(set)
    for envelope in by_type(demo, "deployment_status"):
        payload = envelope["payload"]
        if payload["deployment_status"]["state"] != "success" or payload["deployment"]["environment"] != "production":
            continue
        repo = repo_of(envelope)
        position = [push["after"] for push in pushes[repo]].index(payload["deployment"]["sha"])
        shipped[repo].update(commit["id"] for push in pushes[repo][: position + 1] for commit in push["commits"])
    return shipped


def test_incidents_name_deployed_commits_and_resolve_later(demo: Demo) -> None:
    shipped = deployed_commits(demo)
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for envelope in sorted(by_type(demo, "issues"), key=lambda envelope: envelope["received_at"]):
        latest[repo_of(envelope), envelope["payload"]["issue"]["number"]] = envelope["payload"]["issue"]
    incidents = {
        key: issue
        for key, issue in latest.items()
        if any(label["name"].lower() == "incident" for label in issue["labels"])
    }
    assert 10 <= len(incidents) < len(latest)
    assert {label["name"] for issue in incidents.values() for label in issue["labels"]} >= {"incident", "Incident"}
    causes = {key: ROOT_CAUSE.search(issue["body"]) for key, issue in incidents.items()}
    lengths = Counter(len(match.group(1)) == 40 for match in causes.values() if match)
    assert lengths[True] > 0 and lengths[False] > 0
    assert any(match is None for match in causes.values())
    for (repo, _), match in causes.items():
        if match:
            assert any(sha.startswith(match.group(1)) for sha in shipped[repo])
    for issue in incidents.values():
        if issue["state"] == "closed":
            assert issue["closed_at"] > issue["created_at"]
        else:
            assert issue["closed_at"] is None
    newest = max(incidents.values(), key=lambda issue: issue["created_at"])
    assert newest["state"] == "open"
    assert 1 <= sum(issue["state"] == "open" for issue in incidents.values()) <= 3


def test_redeliveries_repeat_an_earlier_delivery_byte_for_byte(demo: Demo) -> None:
    lines = {
        json.loads(line)["delivery_id"]: line
        for path in demo.root.rglob("*.ndjson")
        for line in path.read_text("utf-8").splitlines()
    }
    assert len(lines) == len(demo.envelopes)
    assert len(demo.redelivery_files) >= 20
    for path in demo.redelivery_files:
        assert path.parent.name == "redeliveries"
        text = path.read_text("utf-8")
        assert text == lines[path.stem] + "\n"
        assert (path.parent.parent / "deliveries.ndjson").read_text("utf-8").count(lines[path.stem]) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"days": 0}, "days"), ({"days": -3}, "days"), ({"repos": 0}, "repos"), ({"repos": 27}, "repos")],
)
def test_bad_arguments_are_refused(tmp_path: Path, arguments: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_demo(tmp_path / "landing", end=END, **arguments)
    assert not (tmp_path / "landing").exists()


def test_the_largest_organisation_is_allowed(tmp_path: Path) -> None:
    summary = generate_demo(tmp_path, days=1, repos=26, end=END)
    assert len(summary.repos) == len(set(summary.repos)) == 26
    assert all(re.fullmatch(r"acme/[a-z-]+", repo) for repo in summary.repos)


def test_number_offset_moves_issue_and_pull_request_numbers_and_nothing_else(tmp_path: Path) -> None:
    offset = 100_000
    generate_demo(tmp_path / "a", days=30, repos=2, seed=11, end=END)
    generate_demo(tmp_path / "b", days=30, repos=2, seed=11, end=END, number_offset=offset)

    def numbers(root: Path) -> dict[str, list[int]]:
        """delivery id -> the issue number, the pull request's number (twice: the event's, the
        request's), or the pull-request numbers its pushed commits name."""
        found = {}
        for path in sorted(root.rglob("*.ndjson")):
            for line in path.read_text("utf-8").splitlines():
                envelope = json.loads(line)
                payload = envelope["payload"]
                if envelope["event_type"] == "issues":
                    found[envelope["delivery_id"]] = [payload["issue"]["number"]]
                elif envelope["event_type"] == "pull_request":
                    found[envelope["delivery_id"]] = [payload["number"], payload["pull_request"]["number"]]
                elif envelope["event_type"] == "push":
                    messages = [commit["message"] for commit in payload["commits"]]
                    found[envelope["delivery_id"]] = [int(n) for m in messages for n in re.findall(r"#(\d+)", m)]
        return found

    before, after = numbers(tmp_path / "a"), numbers(tmp_path / "b")
    assert before.keys() == after.keys()
    assert sum(len(named) for named in before.values()) > 20
    assert all(after[key] == [number + offset for number in named] for key, named in before.items())
    assert (
        all_bytes(tmp_path / "a").keys() == all_bytes(tmp_path / "b").keys()
    )  # the same deliveries, days, redeliveries


def test_a_history_ending_today_holds_nothing_from_the_future(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    summary = generate_demo(tmp_path, days=3, repos=3, seed=5)

    received = [
        datetime.fromisoformat(json.loads(line)["received_at"])
        for path in tmp_path.rglob("*.ndjson")
        for line in path.read_text().splitlines()
    ]
    assert summary.end == now.date()
    assert received and max(received) <= datetime.now(UTC)


def test_until_cuts_the_last_day_short(tmp_path: Path) -> None:
    until = datetime(2023, 3, 8, 12, 0, tzinfo=UTC)  # a Wednesday, noon

    generate_demo(tmp_path, days=3, repos=4, seed=5, end=date(2023, 3, 8), until=until)

    received = [
        datetime.fromisoformat(json.loads(line)["received_at"])
        for path in tmp_path.rglob("*.ndjson")
        for line in path.read_text().splitlines()
    ]
    assert max(received) < until
    assert any(moment.date() == until.date() for moment in received)


@pytest.mark.parametrize("until", [datetime(2023, 11, 6, 16, tzinfo=UTC), datetime(2023, 11, 13, 17, tzinfo=UTC)])
def test_the_last_hours_of_a_demo_are_as_busy_as_any(tmp_path: Path, until: datetime) -> None:
    # `make run` generates the default demo up to now and judges it at once. Feature branches are
    # pushed up to 72 h before their merge; a history that stopped playing at its end left out the
    # branch pushes of the merges just after it, and on these two Mondays acme/payments' pushes
    # looked lost (event_type_silence ERROR, chance below e^-13) on data that was whole.
    generate_demo(tmp_path / "landing", days=120, end=until.date(), until=until)  # `dora-assets demo` defaults
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    ingest_landing(connection, tmp_path / "landing", settle_seconds=0)
    thresholds = CheckThresholds()

    verdicts = silence_verdicts(judge_silences(connection, thresholds, until))
    volume = judge_volume(connection, thresholds, until)
    connection.close()

    assert {name: [row["repo"] for row in gaps] for name, (_, gaps, _) in verdicts.items()} == {
        name: [] for name in verdicts
    }
    assert volume["gaps"] == []
