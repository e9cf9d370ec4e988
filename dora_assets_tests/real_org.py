"""A clean organisation rebuilt from real git histories (fixtures/real-histories, see
fixtures/SOURCES.md), for calibrating the gap checks on real traffic shapes.

Six made-up repositories, each one real history moved back by a whole number of weeks (so every
delivery keeps its weekday and hour) to end in August 2024:

- acme/uv: astral-sh/uv (busy: 10 to 30 commits a weekday, quiet weekends, release trains);
- acme/resolver: astral-sh/uv one year earlier (busy, with its own bursts and holidays);
- acme/sqlalchemy and acme/orm: sqlalchemy/sqlalchemy now and one year earlier (about one a day,
  quiet for a week now and then);
- acme/click: pallets/click (a few a week, quiet for two weeks at times);
- acme/starlette: encode/starlette (nearly dead: quiet for a month at times).

Each first-parent commit becomes a GitHub `push` delivery received at its commit time; a commit
whose subject names a pull request "(#N)" also gets a `pull_request` (closed, merged) delivery
five seconds later; each tag becomes a `deployment_status` delivery at its creation time; each
revert becomes an incident: an `issues` delivery opened two hours before the revert and one
closed at the revert. The gap checks read only who sent a delivery, its repository, event type
and time, so the payloads keep the builders' real shapes minus their bulky parts (sender, the
repository's URLs); silver is not built from them.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dora_assets_tests.builders import FIXTURES, deployment_status, envelope, iso, issue, push, write_landing_file

HISTORIES = FIXTURES / "real-histories"
WEEK = timedelta(weeks=1)
# The organisation's last moment: uv's last commit (16:54 UTC on its last day) moved back 104 weeks.
END = datetime(2024, 8, 23, 16, 55, tzinfo=UTC)
DAYS_KEPT = 160  # enough for a 91-day baseline and 60 judged days (plus the volume lookback)


@dataclass(frozen=True)
class Repo:
    name: str  # the made-up repository
    history: str  # the fixture it is built from
    weeks_back: int  # how far its real times are moved back


REPOS = (
    Repo("acme/uv", "uv", 104),
    Repo("acme/resolver", "uv", 52),
    Repo("acme/sqlalchemy", "sqlalchemy", 104),
    Repo("acme/orm", "sqlalchemy", 52),
    Repo("acme/click", "click", 104),
    Repo("acme/starlette", "starlette", 52),
)
PULL_REQUEST = re.compile(r"\(#(\d+)\)")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _slim(payload: dict) -> dict:
    for bulky in ("sender", "organization", "enterprise", "installation"):
        payload.pop(bulky, None)
    repository = payload["repository"]
    payload["repository"] = {
        key: repository[key]
        for key in ("id", "name", "full_name", "owner", "html_url", "pushed_at")
        if key in repository
    }
    payload["repository"]["owner"] = {"login": repository["owner"]["login"]}
    return payload


def repo_deliveries(repo: Repo, start: datetime = END - timedelta(days=DAYS_KEPT), end: datetime = END) -> list[dict]:
    """The deliveries of one made-up repo received in [start, end), oldest first."""
    shift = repo.weeks_back * WEEK
    with (HISTORIES / f"{repo.history}.tsv").open(encoding="utf-8") as handle:
        commits = list(csv.DictReader(handle, delimiter="\t"))
    deliveries = []
    for commit in commits:
        at = _utc(commit["commit_time"]) - shift
        if not start <= at < end:
            continue
        sha, parent = commit["sha"], commit["parents"].split(" ")[0]
        authored = iso(_utc(commit["author_time"]) - shift)
        payload = _slim(push(repo.name, "main", parent, [(sha, authored)], iso(at)))
        deliveries.append(envelope("push", payload, f"push:{repo.name}:{sha}", iso(at)))
        if number := PULL_REQUEST.search(commit["subject"]):
            merged = at + timedelta(seconds=5)
            pull = {
                "action": "closed",
                "number": int(number.group(1)),
                "pull_request": {
                    "number": int(number.group(1)),
                    "state": "closed",
                    "merged": True,
                    "merged_at": iso(merged),
                    "merge_commit_sha": sha,
                    "base": {"ref": "main"},
                },
                "repository": payload["repository"],
            }
            deliveries.append(envelope("pull_request", pull, f"pull:{repo.name}:{number.group(1)}", iso(merged)))
        if commit["reverts"]:
            number = 100_000 + len(deliveries)
            opened = at - timedelta(hours=2)
            for action, moment, closed in (("opened", opened, None), ("closed", at, iso(at))):
                body = f"Root cause: {commit['reverts']}"
                incident = _slim(
                    issue(
                        repo.name,
                        number,
                        action,
                        labels=["incident"],
                        created_at=iso(opened),
                        updated_at=iso(moment),
                        closed_at=closed,
                        body=body,
                    )
                )
                if start <= moment < end:
                    deliveries.append(envelope("issues", incident, f"issue:{repo.name}:{number}:{action}", iso(moment)))
    with (HISTORIES / f"{repo.history}.tags.tsv").open(encoding="utf-8") as handle:
        for number, (tag_object, peeled, created, _name) in enumerate(csv.reader(handle, delimiter="\t")):
            at = _utc(created) - shift
            if start <= at < end:
                payload = _slim(deployment_status(repo.name, 1_000 + number, peeled or tag_object, iso(at)))
                deliveries.append(envelope("deployment_status", payload, f"deploy:{repo.name}:{number}", iso(at)))
    return sorted(deliveries, key=lambda delivery: delivery["received_at"])


def organisation(start: datetime = END - timedelta(days=DAYS_KEPT), end: datetime = END) -> list[dict]:
    """Every delivery of the six repos received in [start, end), oldest first."""
    return sorted(
        (delivery for repo in REPOS for delivery in repo_deliveries(repo, start, end)),
        key=lambda delivery: delivery["received_at"],
    )


def received(delivery: dict) -> datetime:
    return _utc(delivery["received_at"])


def land(folder: Path, deliveries: list[dict], name: str) -> Path:
    """Write deliveries as one NDJSON landing file (atomically) under ``folder``."""
    return write_landing_file(folder / f"{name}.ndjson", deliveries)
