"""Test histories built from the real ones in ``fixtures/real-histories`` (real times and subjects),
told two ways (webhook deliveries, and a fake GitHub API the extractor reads), and an independent
oracle of what each deployment shipped: a real git repository with the same commit graph, asked
with ``git rev-list`` (git's ancestry, not ours).

- ``merge_commit_history``: click's first-parent history, each merge commit merging a two-commit
  topic branch authored days before it (so committer dates go backwards along the default branch,
  as in real merge-commit histories); a deployment every Friday at 18:00 UTC of the head then.
- ``squash_history``: starlette's squash merges (``... (#N)``), each pull request with a two-commit
  branch whose first commit predates the request; deployments at starlette's real release tags.
  ``Bump ...`` requests are dependabot's.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import statistics
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from dora_assets_tests.builders import deployment_status, envelope, iso, push, sample
from dora_assets_tests.fake_github import FakeGitHub

REAL_HISTORIES = Path(__file__).parent / "fixtures" / "real-histories"
ZERO = "0" * 40
PULL_NUMBER = re.compile(r"\(#(\d+)\)$")


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    authored: datetime
    committed: datetime
    subject: str


@dataclass(frozen=True)
class Deployment:
    deploy_id: int
    sha: str
    at: datetime


@dataclass(frozen=True)
class Pull:
    number: int
    branch: str
    opened: datetime
    merged: datetime
    merge_sha: str
    commits: tuple[Commit, ...]
    author: str


@dataclass
class History:
    repo: str
    main: list[Commit]  # first-parent order, oldest first
    branches: dict[str, list[Commit]] = field(default_factory=dict)  # topic branch -> its commits
    merged_branch: dict[str, str] = field(default_factory=dict)  # merge commit -> the branch it merged
    deployments: list[Deployment] = field(default_factory=list)
    pulls: list[Pull] = field(default_factory=list)

    def commits(self) -> list[Commit]:
        """Every commit, parents before children."""
        topics = {sha: self.branches[branch] for sha, branch in self.merged_branch.items()}
        ordered: list[Commit] = []
        for commit in self.main:
            ordered.extend(topics.get(commit.sha, []))
            ordered.append(commit)
        for pull in self.pulls:
            ordered.extend(pull.commits)
        return ordered


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _sha(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


def real_rows(name: str, start: date, end: date) -> list[dict]:
    """The first-parent commits of ``<name>.tsv`` committed in [start, end), oldest first."""
    with (REAL_HISTORIES / f"{name}.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    chosen = [row for row in rows if start <= _utc(row["commit_time"]).date() < end]
    return chosen[::-1]


def merge_commit_history(repo: str, start: date, end: date) -> History:
    history = History(repo, [])
    for index, row in enumerate(real_rows("click", start, end)):
        authored, committed = _utc(row["author_time"]), _utc(row["commit_time"])
        previous = history.main[-1].sha if history.main else None
        parents = (previous,) if previous else ()
        if len(row["parents"].split()) == 2:
            branch = f"topic-{index}"
            point = history.main[max(len(history.main) - 3, 0)].sha if history.main else None
            first = Commit(
                _sha(f"{row['sha']}:1"),
                (point,) if point else (),
                authored - timedelta(days=3),
                authored - timedelta(days=3),
                f"start {branch}",
            )
            second = Commit(
                _sha(f"{row['sha']}:2"),
                (first.sha,),
                authored - timedelta(days=1),
                authored - timedelta(days=1),
                f"finish {branch}",
            )
            history.branches[branch] = [first, second]
            history.merged_branch[row["sha"]] = branch
            parents = (*parents, second.sha)
        history.main.append(Commit(row["sha"], parents, authored, committed, row["subject"]))
    friday = start + timedelta(days=(4 - start.weekday()) % 7)
    deployed = None
    while friday < end:
        at = datetime.combine(friday, time(18), tzinfo=UTC)
        head = [commit for commit in history.main if commit.committed <= at]
        if head and head[-1].sha != deployed:
            deployed = head[-1].sha
            history.deployments.append(Deployment(5000 + len(history.deployments), deployed, at))
        friday += timedelta(days=7)
    return history


def squash_history(repo: str, start: date, end: date) -> History:
    history = History(repo, [])
    for row in real_rows("starlette", start, end):
        authored, committed = _utc(row["author_time"]), _utc(row["commit_time"])
        previous = history.main[-1].sha if history.main else None
        commit = Commit(row["sha"], (previous,) if previous else (), authored, committed, row["subject"])
        number = PULL_NUMBER.search(row["subject"])
        if number:
            n = int(number[1])
            first_at = authored - timedelta(hours=30 + n % 11)
            first = Commit(_sha(f"{repo}:{n}:1"), (previous,) if previous else (), first_at, first_at, "work")
            second_at = authored - timedelta(hours=4 + n % 5)
            second = Commit(_sha(f"{repo}:{n}:2"), (first.sha,), second_at, second_at, "review fixes")
            bot = row["subject"].startswith("Bump ")
            history.pulls.append(
                Pull(
                    n,
                    f"pr-{n}",
                    first_at + timedelta(hours=1),
                    committed,
                    row["sha"],
                    (first, second),
                    "dependabot[bot]" if bot else "contributor",
                )
            )
        history.main.append(commit)
    shas = {commit.sha for commit in history.main}
    with (REAL_HISTORIES / "starlette.tags.tsv").open(encoding="utf-8") as handle:
        for line in handle:
            tag_object, peeled, created, _name = line.rstrip("\n").split("\t")
            target, at = peeled or tag_object, _utc(created)
            if target in shas and start <= at.date() < end:
                history.deployments.append(Deployment(7000 + len(history.deployments), target, at))
    history.deployments.sort(key=lambda deployment: deployment.at)
    return history


# --- webhook deliveries ----------------------------------------------------------------------


def pull_request_closed(repo: str, pull: Pull) -> dict:
    """The real ``closed`` webhook body of a merged request, with this request's facts."""
    payload = sample("pull_request/closed.payload.json")
    payload["repository"].update(full_name=repo, name=repo.split("/")[1])
    payload["number"] = pull.number
    payload["pull_request"].update(
        number=pull.number,
        title=f"request {pull.number}",
        created_at=iso(pull.opened),
        updated_at=iso(pull.merged),
        closed_at=iso(pull.merged),
        merged_at=iso(pull.merged),
        merged=True,
        merge_commit_sha=pull.merge_sha,
        html_url=f"https://github.com/{repo}/pull/{pull.number}",
    )
    payload["pull_request"]["user"]["login"] = pull.author
    payload["pull_request"]["head"]["ref"] = pull.branch
    payload["pull_request"]["base"]["ref"] = "main"
    return payload


def webhook_envelopes(history: History) -> list[dict]:
    """The history as GitHub's webhooks tell it: a push per topic branch and per request branch,
    a push per default-branch commit (a merge's push lists the branch's commits, then the merge),
    the merged requests, and each deployment's success."""
    repo, events = history.repo, []

    def commit_list(commits: list[Commit] | tuple[Commit, ...]) -> list[tuple[str, str]]:
        return [(commit.sha, iso(commit.authored)) for commit in commits]

    for branch, commits in history.branches.items():
        pushed = commits[-1].committed + timedelta(minutes=10)
        body = push(
            repo, branch, commits[0].parents[0] if commits[0].parents else ZERO, commit_list(commits), iso(pushed)
        )
        events.append(envelope("push", body, f"push-{branch}", iso(pushed)))
    for pull in history.pulls:
        pushed = pull.commits[-1].committed + timedelta(minutes=5)
        before = pull.commits[0].parents[0] if pull.commits[0].parents else ZERO
        body = push(repo, pull.branch, before, commit_list(pull.commits), iso(pushed))
        events.append(envelope("push", body, f"push-{pull.branch}", iso(pushed)))
        events.append(
            envelope("pull_request", pull_request_closed(repo, pull), f"pull-{pull.number}", iso(pull.merged))
        )
    for commit in history.main:
        listed = [*history.branches.get(history.merged_branch.get(commit.sha, ""), []), commit]
        before = commit.parents[0] if commit.parents else ZERO
        body = push(repo, "main", before, commit_list(listed), iso(commit.committed))
        events.append(envelope("push", body, f"push-main-{commit.sha}", iso(commit.committed)))
    for deployment in history.deployments:
        body = deployment_status(repo, deployment.deploy_id, deployment.sha, iso(deployment.at))
        events.append(envelope("deployment_status", body, f"deploy-{deployment.deploy_id}", iso(deployment.at)))
    return events


# --- the same history behind the fake API ----------------------------------------------------


def serve(history: History, github: FakeGitHub, *, created_at: datetime) -> None:
    """The history in the fake GitHub: the same commits (merges with both parents), requests
    with their commits, deployments with their success."""
    repo = history.repo
    github.add_repo(repo, created_at=created_at)
    topics = {sha: history.branches[branch] for sha, branch in history.merged_branch.items()}
    pulls = {pull.merge_sha: pull for pull in history.pulls}
    for commit in history.main:
        for listed in (*topics.get(commit.sha, []), *(pulls[commit.sha].commits if commit.sha in pulls else ())):
            branch = history.merged_branch.get(commit.sha) or pulls[commit.sha].branch
            github.add_commit(
                repo,
                branch=branch,
                sha=listed.sha,
                message=listed.subject,
                at=listed.authored,
                committed_at=listed.committed,
                parents=list(listed.parents),
            )
        if commit.sha in pulls:
            pull = pulls[commit.sha]
            github.add_pull(
                repo,
                head=pull.branch,
                at=pull.opened,
                merged_at=pull.merged,
                merge_commit_sha=pull.merge_sha,
                author=pull.author,
                commits=[listed.sha for listed in pull.commits],
            )
        github.add_commit(
            repo,
            sha=commit.sha,
            message=commit.subject,
            at=commit.authored,
            committed_at=commit.committed,
            parents=list(commit.parents),
        )
    for deployment in history.deployments:
        github.add_deployment(repo, sha=deployment.sha, at=deployment.at, statuses=[("success", deployment.at)])


# --- the oracle --------------------------------------------------------------------------------


def git_shipments(history: History, workdir: Path) -> dict[int, list[Commit]]:
    """What each deployment shipped first, by git: a bare repository with the history's graph
    (``git commit-tree``), then per deployment in time order ``git rev-list <its commit> --not
    <every earlier deployment's commit>``."""
    env = {
        **os.environ,
        "GIT_DIR": str(workdir / "oracle.git"),
        "GIT_AUTHOR_NAME": "oracle",
        "GIT_AUTHOR_EMAIL": "oracle@example.com",
        "GIT_COMMITTER_NAME": "oracle",
        "GIT_COMMITTER_EMAIL": "oracle@example.com",
    }

    def git(*args: str, **extra: str) -> str:
        return subprocess.run(
            ["git", *args], env=env | extra, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "--bare", "-q", str(workdir / "oracle.git"))
    tree = git("hash-object", "-t", "tree", "-w", "--stdin")  # the empty tree
    ours_to_git: dict[str, str] = {}
    by_git: dict[str, Commit] = {}
    for commit in history.commits():
        parents = [arg for parent in commit.parents if parent in ours_to_git for arg in ("-p", ours_to_git[parent])]
        made = git(
            "commit-tree",
            tree,
            *parents,
            "-m",
            commit.sha,
            GIT_AUTHOR_DATE=commit.authored.isoformat(),
            GIT_COMMITTER_DATE=commit.committed.isoformat(),
        )
        ours_to_git[commit.sha] = made
        by_git[made] = commit
    shipped: dict[int, list[Commit]] = {}
    earlier: list[str] = []
    for deployment in sorted(history.deployments, key=lambda item: (item.at, item.deploy_id)):
        head = ours_to_git[deployment.sha]
        listed = git("rev-list", head, "--not", *earlier) if earlier else git("rev-list", head)
        shipped[deployment.deploy_id] = [by_git[sha] for sha in listed.split()]
        earlier.append(head)
    return shipped


def monthly_figures(history: History, lead_times: dict[int, list[float]]) -> dict[date, dict]:
    """Per month of deployment: deployments, changes counted and the median lead time (hours),
    from (deployment id -> the lead times of the changes it counts)."""
    months: dict[date, dict] = defaultdict(lambda: {"deployments": 0, "hours": []})
    for deployment in history.deployments:
        month = months[deployment.at.date().replace(day=1)]
        month["deployments"] += 1
        month["hours"] += lead_times.get(deployment.deploy_id, [])
    return {
        month: {
            "deployments": figures["deployments"],
            "changes_deployed": len(figures["hours"]),
            "lead_time_median_hours": statistics.median(figures["hours"]) if figures["hours"] else None,
        }
        for month, figures in months.items()
    }


def hours(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 3600
