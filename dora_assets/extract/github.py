"""GitHub history through the REST API, landed as envelopes (ELT: land raw, transform later).

What is extracted, per repo and window ``[since, until)``:

- commits of the default branch (``GET /repos/{repo}/commits?sha=<branch>&since&until``), each
  as an ``api:push`` envelope shaped like a one-commit push webhook (``before`` = its parent,
  ``after`` = its sha, ``repository.pushed_at`` = its committer date), so silver's push, change
  and deployment-change logic applies unchanged;
- deployments created in the window (``GET /repos/{repo}/deployments``, newest first) and every
  status of each (``.../deployments/{id}/statuses``), each status an ``api:deployment_status``
  envelope shaped like the webhook (``deployment``, ``deployment_status``, ``repository``);
- pull requests merged in the window (``GET /repos/{repo}/pulls?state=closed&sort=updated``), as
  ``api:pull_request`` envelopes shaped like the ``closed`` webhook with ``merged: true``;
- issues carrying an incident label updated in the window (``GET /repos/{repo}/issues?labels=...``),
  as ``api:issues`` envelopes (``issue``, ``repository``).

Delivery ids are derived from the object (``api:commit:<repo>:<sha>``, ``api:deployment_status:<id>``,
``api:pull_request:<repo>:<number>``, ``api:issue:<repo>:<number>:<updated_at>``), so extracting the
same object again deduplicates; objects bronze already holds are not landed again at all.

How API objects and webhook deliveries of the same fact reconcile (no double counting): silver
keys every fact by the object's own identity, not by the delivery: a deployment by
``deployment.id`` (earliest success), a change by (repo, sha) at its earliest time, an incident
by (repo, issue number) at its latest state, a merged pull request by (repo, number). A commit
seen in a webhook push and as an API commit is one change, shipped once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from dora_assets.bronze.envelope import Envelope
from dora_assets.extract.github_client import GitHubSession
from dora_assets.receiver.store import write_landing_file
from dora_assets.sql import fetch_dicts, run_sql

logger = logging.getLogger(__name__)

SOURCE = "github"
LANDING_FOLDER = "github-api"  # landing/<this>/YYYY/MM/DD/<time>-<uuid>.ndjson
RESOURCES = ("commits", "deployments", "pull_requests", "incident_issues")
BATCH_SIZE = 1000  # envelopes per landing file
# An incremental run starts this long before the cursor, so that objects stamped just before the
# previous run ended (clock skew, eventual consistency of listings) are not missed; what it
# re-reads is already in bronze and is not landed again.
CURSOR_OVERLAP = timedelta(days=1)


@dataclass
class RepoExtraction:
    """What one repo's extraction did: objects seen and landed per resource, listings that were
    unchanged (304), and the landing files written."""

    repo: str
    since: datetime
    until: datetime
    seen: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESOURCES, 0))
    landed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESOURCES, 0))
    already_in_bronze: int = 0
    unchanged: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def landed_total(self) -> int:
        return sum(self.landed.values())


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def extract_repo(
    session: GitHubSession,
    connection: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    repo: str,
    since: datetime,
    until: datetime,
    *,
    incident_labels: Iterable[str],
    now: datetime,
) -> RepoExtraction:
    """Extract ``repo``'s history in ``[since, until)`` into landing files, then move its cursors."""
    result = RepoExtraction(repo, since, until)
    cursors = {
        row["resource"]: row
        for row in fetch_dicts(connection, "extract", "load_cursors", {"source": SOURCE, "repo": repo})
    }
    repository = session.get(f"/repos/{repo}")
    summary = _repository_summary(repository)
    branch = repository.get("default_branch") or "main"
    etags: dict[str, str | None] = {}

    def listing(resource: str, path: str, params: dict[str, Any], *, conditional: bool) -> Iterator[dict]:
        """A listing's items. Listings without a time filter are conditional (If-None-Match with
        the stored ETag), but only when this run continues from the resource's cursor: an
        unchanged listing then means nothing new. A backfill of an older window asks afresh."""
        cursor = cursors.get(resource) or {}
        # Windows are whole days: a run continues the cursor when it starts no earlier than the
        # day an incremental run would start from.
        continues = bool(cursor) and since.date() >= (cursor["extracted_to"] - CURSOR_OVERLAP).date()
        pages = session.list(path, params, etag=cursor.get("etag") if conditional and continues else None)
        etags[resource] = pages.etag if conditional else None
        if pages.not_modified:
            result.unchanged.append(resource)
        yield from pages

    envelopes = {
        "commits": (
            _commit_envelope(summary, branch, commit, now)
            for commit in listing(
                "commits",
                f"/repos/{repo}/commits",
                {"sha": branch, "since": _iso(since), "until": _iso(until)},
                conditional=False,
            )
        ),
        "deployments": _deployment_envelopes(
            session,
            summary,
            # Not conditional: the listing is sorted by creation, so a late status on a deployment
            # past its first page would not change the ETag it is asked with.
            listing("deployments", f"/repos/{repo}/deployments", {}, conditional=False),
            since,
            until,
            now,
        ),
        "pull_requests": (
            _pull_request_envelope(summary, pull, now)
            for pull in _updated_since(
                listing(
                    "pull_requests",
                    f"/repos/{repo}/pulls",
                    {"state": "closed", "sort": "updated", "direction": "desc"},
                    conditional=True,
                ),
                since,
            )
            if _within(parse_time(pull.get("merged_at")), since, until)
        ),
        "incident_issues": (
            _issue_envelope(summary, issue, now)
            for label in incident_labels
            for issue in listing(
                "incident_issues",
                f"/repos/{repo}/issues",
                {"labels": label, "state": "all", "since": _iso(since), "sort": "updated", "direction": "desc"},
                conditional=False,
            )
            if "pull_request" not in issue and (parse_time(issue.get("updated_at")) or since) < until
        ),
    }
    for resource, stream in envelopes.items():
        for batch in _batches(stream, BATCH_SIZE):
            result.seen[resource] += len(batch)
            new = _not_in_bronze(connection, batch)
            result.already_in_bronze += len(batch) - len(new)
            if new:
                result.files.append(_land(landing_dir, new, now))
                result.landed[resource] += len(new)
        run_sql(
            connection,
            "extract",
            "save_cursor",
            {
                "source": SOURCE,
                "repo": repo,
                "resource": resource,
                "extracted_to": until,
                "etag": etags.get(resource),
                "updated_at": now,
            },
        )
    logger.info(
        "github api %s [%s, %s): %s seen, %s landed in %s files, %s already in bronze, unchanged: %s",
        repo,
        _iso(since),
        _iso(until),
        sum(result.seen.values()),
        result.landed_total,
        len(result.files),
        result.already_in_bronze,
        ", ".join(result.unchanged) or "none",
    )
    return result


def cursor_start(connection: duckdb.DuckDBPyConnection, repo: str) -> datetime | None:
    """Where an incremental extraction of ``repo`` resumes: the oldest of its resources' cursors
    minus CURSOR_OVERLAP (None when the repo was never extracted, or a resource is missing)."""
    rows = fetch_dicts(connection, "extract", "load_cursors", {"source": SOURCE, "repo": repo})
    if {row["resource"] for row in rows} != set(RESOURCES):
        return None
    return min(row["extracted_to"] for row in rows).astimezone(UTC) - CURSOR_OVERLAP


def _deployment_envelopes(
    session: GitHubSession, summary: dict, deployments: Iterator[dict], since: datetime, until: datetime, now: datetime
) -> Iterator[Envelope]:
    """Every status of the deployments created in the window. The listing is newest first, so
    it stops at the first deployment created before the window."""
    for deployment in deployments:
        created = parse_time(deployment.get("created_at"))
        if created is not None and created < since:
            return
        if not _within(created, since, until):
            continue
        repo = summary["full_name"]
        for status in session.list(f"/repos/{repo}/deployments/{deployment['id']}/statuses", {}):
            payload = {
                "action": "created",
                "deployment_status": status,
                "deployment": deployment,
                "repository": summary,
            }
            yield _envelope("api:deployment_status", f"api:deployment_status:{status['id']}", payload, now)


def _commit_envelope(summary: dict, branch: str, commit: dict, now: datetime) -> Envelope:
    sha = commit["sha"]
    details = commit.get("commit") or {}
    authored = (details.get("author") or {}).get("date")
    committed = (details.get("committer") or {}).get("date") or authored
    parents = commit.get("parents") or []
    pushed = {
        "id": sha,
        "tree_id": (details.get("tree") or {}).get("sha"),
        "message": details.get("message"),
        "timestamp": authored or committed,
        "url": commit.get("html_url"),
        "author": details.get("author"),
        "committer": details.get("committer"),
        "distinct": True,
    }
    payload = {
        "ref": f"refs/heads/{branch}",
        "before": parents[0]["sha"] if parents else "0" * 40,
        "after": sha,
        "created": False,
        "deleted": False,
        "forced": False,
        "commits": [pushed],
        "head_commit": pushed,
        "repository": {**summary, "pushed_at": int(parse_time(committed).timestamp()) if committed else None},
    }
    return _envelope("api:push", f"api:commit:{summary['full_name']}:{sha}", payload, now)


def _pull_request_envelope(summary: dict, pull: dict, now: datetime) -> Envelope:
    payload = {
        "action": "closed",
        "number": pull["number"],
        "pull_request": {**pull, "merged": True},
        "repository": summary,
    }
    return _envelope("api:pull_request", f"api:pull_request:{summary['full_name']}:{pull['number']}", payload, now)


def _issue_envelope(summary: dict, issue: dict, now: datetime) -> Envelope:
    delivery_id = f"api:issue:{summary['full_name']}:{issue['number']}:{issue.get('updated_at')}"
    return _envelope("api:issues", delivery_id, {"action": "extracted", "issue": issue, "repository": summary}, now)


def _envelope(event_type: str, delivery_id: str, payload: dict, now: datetime) -> Envelope:
    return Envelope(source=SOURCE, event_type=event_type, delivery_id=delivery_id, received_at=now, payload=payload)


def _repository_summary(repository: dict) -> dict:
    keys = ("id", "name", "full_name", "html_url", "default_branch", "private")
    return {key: repository.get(key) for key in keys} | {
        "owner": {"login": (repository.get("owner") or {}).get("login")}
    }


def _updated_since(items: Iterator[dict], since: datetime) -> Iterator[dict]:
    """Items of a listing sorted by updated_at descending, up to the first one older than ``since``."""
    for item in items:
        updated = parse_time(item.get("updated_at"))
        if updated is not None and updated < since:
            return
        yield item


def _within(moment: datetime | None, since: datetime, until: datetime) -> bool:
    return moment is not None and since <= moment < until


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _batches(items: Iterable[Envelope], size: int) -> Iterator[list[Envelope]]:
    batch: list[Envelope] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _not_in_bronze(connection: duckdb.DuckDBPyConnection, batch: list[Envelope]) -> list[Envelope]:
    ids = [envelope.delivery_id for envelope in batch]
    known = {
        row["delivery_id"] for row in fetch_dicts(connection, "extract", "known_delivery_ids", {"delivery_ids": ids})
    }
    unique: dict[str, Envelope] = {}
    for envelope in batch:
        if envelope.delivery_id not in known:
            unique.setdefault(envelope.delivery_id, envelope)
    return list(unique.values())


def _land(landing_dir: Path, envelopes: list[Envelope], now: datetime) -> str:
    content = "".join(envelope.to_json() + "\n" for envelope in envelopes).encode("utf-8")
    return write_landing_file(landing_dir, LANDING_FOLDER, now.astimezone(UTC), content, suffix=".ndjson")


def describe(extraction: RepoExtraction) -> dict[str, Any]:
    """One repo's extraction as JSON-able metadata."""
    return {
        "repo": extraction.repo,
        "since": _iso(extraction.since),
        "until": _iso(extraction.until),
        "seen": extraction.seen,
        "landed": extraction.landed,
        "already_in_bronze": extraction.already_in_bronze,
        "unchanged_listings": extraction.unchanged,
        "files": extraction.files,
    }
