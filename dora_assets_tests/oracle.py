"""An independent, deliberately naive oracle for CONTRACT section 4, as the README's "Lead time"
extends it (ancestry; a pull request's start, its commits one change with its merge; bots apart).

It reads landing files with the standard library and computes the monthly DORA figures with
plain loops, sharing no code (and no SQL) with the pipeline. The end-to-end tests compare
``gold.dora_monthly`` with what this module computes from the same files, so a mistake has to
be made twice, in two different languages, to go unnoticed.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

ROOT_CAUSE = re.compile(r"root cause:\s*([0-9a-f]{7,40})\b", re.IGNORECASE)
# README "Block only what is wrong": a lead time or time to restore more negative than the
# clock-skew tolerance (10 minutes) is wrong; it is left out of the medians and counted.
SKEW_HOURS = 10 / 60


def read_envelopes(landing_dir: Path) -> list[dict]:
    """Every envelope in the landing folder, once per delivery_id (first seen wins).

    Files are read in sorted path order; NDJSON lines in file order. Blank lines are skipped.
    """
    seen: set[str] = set()
    envelopes = []
    for path in sorted(Path(landing_dir).rglob("*")):
        if not path.is_file() or path.suffix not in {".json", ".ndjson"}:
            continue
        text = path.read_text(encoding="utf-8")
        documents = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if path.suffix == ".ndjson"
            else [json.loads(text)]
        )
        for envelope in documents:
            if envelope["delivery_id"] not in seen:
                seen.add(envelope["delivery_id"])
                envelopes.append(envelope)
    return envelopes


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def month_of(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def hours(delta) -> float:
    return delta.total_seconds() / 3600.0


def push_time(envelope: dict) -> datetime:
    payload = envelope["payload"]
    pushed_at = (payload.get("repository") or {}).get("pushed_at")
    if isinstance(pushed_at, int | float) and not isinstance(pushed_at, bool):
        return datetime.fromtimestamp(pushed_at, UTC)
    head = payload.get("head_commit") or {}
    return parse_time(head.get("timestamp")) or parse_time(envelope["received_at"])


def repo_of(payload: dict) -> str | None:
    repository = payload.get("repository") or {}
    return repository.get("full_name") or repository.get("name")


def github_events(envelopes: Iterable[dict], event_type: str) -> list[dict]:
    return [e for e in envelopes if e["source"] == "github" and e["event_type"] == event_type]


def pushes_by_branch(envelopes: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """(repo, branch) -> that branch's pushes in push order (time, then delivery_id)."""
    branches: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for envelope in github_events(envelopes, "push"):
        payload = envelope["payload"]
        ref = payload.get("ref") or ""
        if not ref.startswith("refs/heads/") or repo_of(payload) is None or payload.get("after") is None:
            continue
        branches[(repo_of(payload), ref[len("refs/heads/") :])].append(
            {
                "time": push_time(envelope),
                "delivery_id": envelope["delivery_id"],
                "after": payload["after"].lower(),
                "before": payload["before"].lower() if isinstance(payload.get("before"), str) else None,
                "commits": [
                    (commit["id"].lower(), parse_time(commit.get("timestamp")))
                    for commit in payload.get("commits") or []
                    if commit.get("id")
                ],
            }
        )
    for pushes in branches.values():
        pushes.sort(key=lambda push: (push["time"], push["delivery_id"]))
    return branches


def changes(envelopes: list[dict]) -> dict[tuple[str, str], datetime]:
    """(repo, sha) -> the commit's earliest timestamp over every push (any ref) carrying it."""
    earliest: dict[tuple[str, str], datetime] = {}
    for envelope in github_events(envelopes, "push"):
        payload = envelope["payload"]
        if repo_of(payload) is None or payload.get("ref") is None or payload.get("after") is None:
            continue
        for commit in payload.get("commits") or []:
            created = parse_time(commit.get("timestamp"))
            if commit.get("id") and created is not None:
                key = (repo_of(payload), commit["id"].lower())
                earliest[key] = min(created, earliest.get(key, created))
    return earliest


def deployments(envelopes: list[dict], production_environments: Iterable[str]) -> dict[str, dict]:
    """deployment.id -> its earliest successful production status."""
    production = {environment.lower() for environment in production_environments}
    found: dict[str, dict] = {}
    for envelope in github_events(envelopes, "deployment_status"):
        payload = envelope["payload"]
        deployment = payload.get("deployment") or {}
        status = payload.get("deployment_status") or {}
        environment = deployment.get("environment") or status.get("environment") or ""
        if (status.get("state") or "").lower() != "success" or environment.lower() not in production:
            continue
        if repo_of(payload) is None or deployment.get("id") is None or deployment.get("sha") is None:
            continue
        deployed = parse_time(status.get("created_at")) or parse_time(envelope["received_at"])
        deploy_id = str(deployment["id"])
        ref = deployment.get("ref") or ""
        candidate = {
            "deploy_id": deploy_id,
            "repo": repo_of(payload),
            "branch": ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref,
            "sha": deployment["sha"].lower(),
            "time": deployed,
        }
        if deploy_id not in found or deployed < found[deploy_id]["time"]:
            found[deploy_id] = candidate
    return found


def commit_parents(branches: dict[tuple[str, str], list[dict]]) -> dict[tuple[str, str], set[str]]:
    """(repo, sha) -> its parents as the branch pushes tell them: the commit listed before it in its
    push, the push's ``before`` for the first one listed (none when the push created the branch; the
    previous push's ``after`` when it names no ``before`` or one no push brought), and for a push's ``after`` that its
    commits do not end with, the last one listed (else ``before``)."""
    parents: dict[tuple[str, str], set[str]] = defaultdict(set)
    known = {
        (repo, sha)
        for (repo, _branch), pushes in branches.items()
        for push in pushes
        for sha in (push["after"], *(commit for commit, _ in push["commits"]))
    }
    for (repo, _branch), pushes in branches.items():
        for index, push in enumerate(pushes):
            before = push["before"]
            if before is None or (set(before) - {"0"} and (repo, before) not in known):  # lost: follow the order
                before = pushes[index - 1]["after"] if index else ""
            previous = "" if set(before) <= {"0"} else before
            for sha, _ in push["commits"]:
                if previous:
                    parents[(repo, sha)].add(previous)
                previous = sha
            if previous and previous != push["after"] and set(push["after"]) - {"0"}:
                parents[(repo, push["after"])].add(previous)
    return parents


def ancestors(repo: str, sha: str, parents: dict[tuple[str, str], set[str]]) -> set[str]:
    """``sha`` and every commit it reaches through ``parents``: the whole set, every time."""
    found, stack = set(), [sha]
    while stack:
        commit = stack.pop()
        if commit not in found:
            found.add(commit)
            stack.extend(parents.get((repo, commit), ()))
    return found


def shipped_changes(
    deployed: dict[str, dict], parents: dict[tuple[str, str], set[str]], created: dict[tuple[str, str], datetime]
) -> list[tuple[dict, str]]:
    """(deployment, sha) for every change, credited to the first deployment that ships it: the
    ancestors of its commit, less those of every earlier deployment of its repo."""
    reached: dict[str, set[str]] = defaultdict(set)
    shipped = []
    for deployment in sorted(deployed.values(), key=lambda d: (d["time"], d["deploy_id"])):
        repo = deployment["repo"]
        mine = ancestors(repo, deployment["sha"], parents)
        shipped += [(deployment, sha) for sha in sorted(mine - reached[repo]) if (repo, sha) in created]
        reached[repo] |= mine
    return shipped


BOTS = re.compile(r"(?i)(\[bot\]$|^dependabot|^renovate)")


def merged_requests(envelopes: list[dict], branches: dict[tuple[str, str], list[dict]]) -> dict[tuple[str, str], dict]:
    """(repo, merge or squash sha) -> the pull request it merged (its latest closed, merged
    delivery): its start (the earliest commit pushed to its head branch before it merged and after
    the branch's previous merge, else its opening), its branch commits and whether a bot opened it."""
    latest: dict[tuple[str, str], dict] = {}
    for envelope in github_events(envelopes, "pull_request"):
        payload = envelope["payload"]
        pull = payload.get("pull_request") or {}
        if payload.get("action") != "closed" or not pull.get("merged") or repo_of(payload) is None:
            continue
        key = (repo_of(payload), str(pull.get("number")))
        rank = (parse_time(pull.get("updated_at")) or datetime.min.replace(tzinfo=UTC), envelope["delivery_id"])
        if key not in latest or rank > latest[key]["rank"]:
            latest[key] = {"rank": rank, "pull": pull}
    found: dict[tuple[str, str], dict] = {}
    previous_merge: dict[tuple[str, str], datetime] = {}
    for (repo, _number), state in sorted(latest.items(), key=lambda item: parse_time(item[1]["pull"]["merged_at"])):
        pull = state["pull"]
        merged, branch = parse_time(pull.get("merged_at")), (pull.get("head") or {}).get("ref")
        if not pull.get("merge_commit_sha") or merged is None:
            continue
        after = previous_merge.get((repo, branch))
        pushed = [
            commit
            for push in branches.get((repo, branch), [])
            if push["time"] <= merged and (after is None or push["time"] > after)
            for commit in push["commits"]
        ]
        times = [moment for _, moment in pushed if moment is not None]
        found[(repo, pull["merge_commit_sha"].lower())] = {
            "start": min(times) if times else parse_time(pull.get("created_at")),
            "commits": {sha for sha, _ in pushed},
            "bot": bool(BOTS.search(((pull.get("user") or {}).get("login")) or "")),
        }
        if branch:
            previous_merge[(repo, branch)] = merged
    return found


def counted_lead_times(
    shipped: list[tuple[dict, str]], created: dict[tuple[str, str], datetime], requests: dict[tuple[str, str], dict]
) -> list[tuple[dict, float]]:
    """(deployment, lead time in hours) of every change lead time counts: a request's merge or
    squash commit from the request's start (its own commits shipped with it are no changes of their
    own), any other commit from its time; bots' requests are left out."""
    shipped_with: dict[str, set[str]] = defaultdict(set)
    for deployment, sha in shipped:
        shipped_with[deployment["deploy_id"]].add(sha)
    members = {
        (deployment["deploy_id"], sha)
        for deployment, merge in shipped
        if (deployment["repo"], merge) in requests
        for sha in requests[(deployment["repo"], merge)]["commits"] & shipped_with[deployment["deploy_id"]] - {merge}
    }
    counted = []
    for deployment, sha in shipped:
        request = requests.get((deployment["repo"], sha))
        if (deployment["deploy_id"], sha) in members or (request and request["bot"]):
            continue
        start = created[(deployment["repo"], sha)]
        if request and request["start"] is not None:
            start = min(start, request["start"])
        counted.append((deployment, hours(deployment["time"] - start)))
    return counted


def incidents(envelopes: list[dict], incident_labels: Iterable[str]) -> list[dict]:
    """Issues carrying an incident label, as of their latest delivery."""
    labels_wanted = {label.lower() for label in incident_labels}
    latest: dict[tuple[str, str], dict] = {}
    for envelope in github_events(envelopes, "issues"):
        payload = envelope["payload"]
        issue = payload.get("issue") or {}
        if repo_of(payload) is None or issue.get("number") is None:
            continue
        key = (repo_of(payload), str(issue["number"]))
        updated = parse_time(issue.get("updated_at"))
        # Latest state: updated_at (missing counts as oldest), then received_at, then delivery_id.
        rank = (
            updated is not None,
            updated or datetime.min.replace(tzinfo=UTC),
            parse_time(envelope["received_at"]),
            envelope["delivery_id"],
        )
        if key not in latest or rank > latest[key]["rank"]:
            latest[key] = {"rank": rank, "payload": payload}
    found = []
    for (repo, _number), state in latest.items():
        payload = state["payload"]
        issue = payload["issue"]
        labels = {(label.get("name") or "").lower() for label in issue.get("labels") or []}
        created = parse_time(issue.get("created_at"))
        if payload.get("action") == "deleted" or not labels & labels_wanted or created is None:
            continue
        closed = issue.get("state") == "closed" or payload.get("action") == "closed" or issue.get("state") is None
        cause = ROOT_CAUSE.search(issue.get("body") or "")
        found.append(
            {
                "repo": repo,
                "created": created,
                "resolved": parse_time(issue.get("closed_at")) if closed else None,
                "root_cause": cause.group(1).lower() if cause else None,
            }
        )
    return found


def expected_monthly(
    envelopes: list[dict],
    production_environments: Iterable[str] = ("production", "prod"),
    incident_labels: Iterable[str] = ("incident",),
) -> dict[tuple[date, str], dict]:
    """(month, repo or '*') -> the CONTRACT section 4 figures of gold.dora_monthly."""
    created = changes(envelopes)
    deployed = deployments(envelopes, production_environments)
    branches = pushes_by_branch(envelopes)
    shipped = shipped_changes(deployed, commit_parents(branches), created)
    counted = counted_lead_times(shipped, created, merged_requests(envelopes, branches))
    found_incidents = incidents(envelopes, incident_labels)
    causes = {incident["root_cause"] for incident in found_incidents if incident["root_cause"]}
    failed_ids = {
        deployment["deploy_id"] for deployment, sha in shipped if any(sha.startswith(cause) for cause in causes)
    }

    first_month: dict[str, date] = {}
    all_months: list[date] = []

    def active(repo: str, moment: datetime) -> None:
        month = month_of(moment)
        first_month[repo] = min(month, first_month.get(repo, month))
        all_months.append(month)

    for deployment in deployed.values():
        active(deployment["repo"], deployment["time"])
    for (repo, _), moment in created.items():
        active(repo, moment)
    for incident in found_incidents:
        active(incident["repo"], incident["created"])
    if not all_months:
        return {}
    first_month["*"] = min(all_months)
    last = max(all_months)

    def figures(repo: str, month: date) -> dict:
        def mine(candidate_repo: str, moment: datetime) -> bool:
            return (repo == "*" or candidate_repo == repo) and month_of(moment) == month

        month_deployments = [d for d in deployed.values() if mine(d["repo"], d["time"])]
        lead_times = [lead_time for d, lead_time in counted if mine(d["repo"], d["time"])]
        month_incidents = [i for i in found_incidents if mine(i["repo"], i["created"])]
        restore_times = [hours(i["resolved"] - i["created"]) for i in month_incidents if i["resolved"]]
        plausible_lead_times = [value for value in lead_times if value >= -SKEW_HOURS]
        plausible_restore_times = [value for value in restore_times if value >= -SKEW_HOURS]
        failed = sum(1 for d in month_deployments if d["deploy_id"] in failed_ids)
        return {
            "deployments": len(month_deployments),
            "deploy_days": len({d["time"].date() for d in month_deployments}),
            "changes_deployed": len(lead_times),
            "lead_time_median_hours": statistics.median(plausible_lead_times) if plausible_lead_times else None,
            "lead_times_held_back": len(lead_times) - len(plausible_lead_times),
            "failed_deployments": failed,
            "change_failure_rate": failed / len(month_deployments) if month_deployments else None,
            "incidents": len(month_incidents),
            "incidents_resolved": len(restore_times),
            "time_to_restore_median_hours": (
                statistics.median(plausible_restore_times) if plausible_restore_times else None
            ),
            "restore_times_held_back": len(restore_times) - len(plausible_restore_times),
        }

    expected = {}
    for repo, month in first_month.items():
        while month <= last:
            expected[(month, repo)] = figures(repo, month)
            month = next_month(month)
    return expected
