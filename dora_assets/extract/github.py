"""GitHub history through the REST API, landed as envelopes (ELT: land raw, transform later).

What is extracted, per repo and window ``[since, until)``:

- commits of the default branch, each as an ``api:push`` envelope shaped like a one-commit push
  webhook (``before`` = its parent, ``after`` = its sha, ``repository.pushed_at`` = its committer
  date), so silver's push, change and deployment-change logic applies unchanged. Which commits:
  what the branch gained since the head recorded by the last run that reached the present
  (``GET /repos/{repo}/compare/{old head}...{head}``, paginated), whatever the commits' own dates
  (a merged long-lived branch or a rebase keeps old dates); plus, when the run does not continue
  from the cursor (a first extraction, or an explicit older ``--since``), the commits dated in the
  window (``GET /repos/{repo}/commits?sha=<head>&since&until``). A run whose window reaches the
  present records the branch's head (``head_sha`` of the commits cursor) for the next one. When
  the old head is gone (a force push, then garbage collection: compare answers 404) the run
  falls back to the dated listing of its window and says so in a warning;
- deployments created in the window (``GET /repos/{repo}/deployments``, newest first) and every
  status of each (``.../deployments/{id}/statuses``), each status an ``api:deployment_status``
  envelope shaped like the webhook (``deployment``, ``deployment_status``, ``repository``). A
  deployment without a final status (success, failure, error, inactive) is remembered in
  ``extract.pending_deployments``; every run that reaches the present re-reads the statuses of
  those (``GET .../deployments/{id}``) until one is final, so a success reported days after the
  deployment was created still lands. After PENDING_HORIZON without a final status, or when the
  deployment was deleted, it is given up (a warning, and a count in the run's metadata);
- pull requests merged in the window (``GET /repos/{repo}/pulls?state=closed&sort=updated``), as
  ``api:pull_request`` envelopes shaped like the ``closed`` webhook with ``merged: true``;
- issues carrying an incident label updated in the window (``GET /repos/{repo}/issues?labels=...``),
  as ``api:issues`` envelopes (``issue``, ``repository``).

Delivery ids are derived from the object (``api:commit:<repo>:<sha>``, ``api:deployment_status:<id>``,
``api:pull_request:<repo>:<number>``, ``api:issue:<repo>:<number>:<updated_at>``), so extracting the
same object again deduplicates. An object landed before is not landed again at all: neither one
an earlier extraction landed (``extract.landed_deliveries``, even before its file is ingested)
nor one bronze already holds.

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
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb

from dora_assets.extract.github_client import GitHubApiError, GitHubSession
from dora_assets.ingestion.envelope import Envelope
from dora_assets.receiver.store import write_landing_file
from dora_assets.sql import fetch_dicts, run_sql

logger = logging.getLogger(__name__)

SOURCE = "github"
LANDING_FOLDER = "github-api"  # landing/<this>/YYYY/MM/DD/<time>-<uuid>.ndjson
RESOURCES = ("commits", "deployments", "pull_requests", "incident_issues")
BATCH_SIZE = 1000  # envelopes per landing file
# An incremental run starts this long before the cursor, so that objects stamped just before the
# previous run ended (clock skew, eventual consistency of listings) are not missed; what it
# re-reads is already landed and is not landed again.
CURSOR_OVERLAP = timedelta(days=1)
# Deployment states after which GitHub reports nothing more (``inactive``: superseded by a newer
# deployment to the environment).
FINAL_STATES = frozenset({"success", "failure", "error", "inactive"})
# A deployment still without a final status this long after it was created is no longer re-read
# (a pipeline that never reports back should not cost API requests forever).
PENDING_HORIZON = timedelta(days=30)


@dataclass
class RepoExtraction:
    """What one repo's extraction did: objects seen and landed per resource, listings that were
    unchanged (304), and the landing files written."""

    repo: str
    since: datetime
    until: datetime
    seen: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESOURCES, 0))
    landed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESOURCES, 0))
    already_landed: int = 0
    unchanged: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    # How the commits were selected: "compare" (what the branch gained since the recorded head),
    # "dates" (the commits dated in the window), or both.
    commit_selection: list[str] = field(default_factory=list)
    head: str | None = None  # the branch head this run saw
    pending_deployments: int = 0  # still without a final status after this run
    given_up_deployments: list[int] = field(default_factory=list)  # past PENDING_HORIZON, or deleted
    warnings: list[str] = field(default_factory=list)

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
    """Extract ``repo``'s history in ``[since, until)`` into landing files, then move its cursors.
    A window that reaches the present (``until >= now``) also brings what arrived late: commits
    the branch gained since the recorded head, and statuses of deployments still pending."""
    result = RepoExtraction(repo, since, until)
    keys = {"source": SOURCE, "repo": repo}
    cursors = {row["resource"]: row for row in fetch_dicts(connection, "extract", "load_cursors", keys)}
    repository = session.get(f"/repos/{repo}")
    summary = _repository_summary(repository)
    branch = repository.get("default_branch") or "main"
    result.head = _branch_head(session, repo, branch)
    reaches_now = until >= now
    etags: dict[str, str | None] = {}
    tracked_since = _tracked_since(repository, since)
    branch_shas: set[str] = set()  # the commits the branch listing brought

    def continues(resource: str) -> bool:
        """Whether this run continues from the resource's cursor. Windows are whole days: it
        does when it starts no earlier than the day an incremental run would start from."""
        cursor = cursors.get(resource)
        return cursor is not None and since.date() >= (cursor["extracted_to"] - CURSOR_OVERLAP).date()

    def listing(resource: str, path: str, params: dict[str, Any], *, conditional: bool) -> Iterator[dict]:
        """A listing's items. Listings without a time filter are conditional (If-None-Match with
        the stored ETag), but only when this run continues from the resource's cursor: an
        unchanged listing then means nothing new. A backfill of an older window asks afresh."""
        etag = (cursors.get(resource) or {}).get("etag") if conditional and continues(resource) else None
        pages = session.list(path, params, etag=etag)
        etags[resource] = pages.etag if conditional else None
        if pages.not_modified:
            result.unchanged.append(resource)
        yield from pages

    def commits() -> Iterator[dict]:
        """The branch's commits to extract, each once (see the module docstring)."""
        if result.head is None:
            return  # an empty repository, or no default branch yet
        recorded = (cursors.get("commits") or {}).get("head_sha")
        by_dates = not (recorded and reaches_now and continues("commits"))
        if recorded and reaches_now and recorded != result.head:
            result.commit_selection.append("compare")
            try:
                yield from session.list(f"/repos/{repo}/compare/{recorded}...{result.head}", {}, items_key="commits")
            except GitHubApiError as error:
                if error.status != 404:
                    raise
                warning = (
                    f"the branch head extracted last ({recorded[:12]}) is gone from {repo} (force-pushed "
                    f"away?): commits selected by date in [{_iso(since)}, {_iso(until)}) instead"
                )
                logger.warning("github api %s: %s", repo, warning)
                result.warnings.append(warning)
                by_dates = True
        if by_dates:
            result.commit_selection.append("dates")
            yield from listing(
                "commits",
                f"/repos/{repo}/commits",
                {"sha": result.head, "since": _iso(since), "until": _iso(until)},
                conditional=False,
            )

    def merged_pulls() -> Iterator[Envelope]:
        """The requests merged in the window, each with its commits (asked only for a request
        not landed before)."""
        for pull in _updated_since(
            listing(
                "pull_requests",
                f"/repos/{repo}/pulls",
                {"state": "closed", "sort": "updated", "direction": "desc"},
                conditional=True,
            ),
            since,
        ):
            if not _within(parse_time(pull.get("merged_at")), since, until):
                continue
            landed = _landed(connection, _pull_request_delivery_id(summary, pull))
            pull_commits = [] if landed else list(session.list(f"/repos/{repo}/pulls/{pull['number']}/commits", {}))
            yield _pull_request_envelope(summary, pull, pull_commits, now)

    def deployment_commits() -> Iterator[dict]:
        """What a deployment of a commit the branch listing did not bring (a release branch, a tag
        off the default branch) shipped: GitHub's compare of the environment's previous
        deployment with it, as GitHub lists a deployment's commits."""
        by_environment: dict[str, list[dict]] = {}
        for deployment in sorted(pending.listed, key=lambda item: (item.get("created_at") or "", item["id"])):
            by_environment.setdefault(deployment.get("environment") or "", []).append(deployment)
        for deployments in by_environment.values():
            for previous, current in pairwise(deployments):
                base, head = (previous.get("sha") or "").lower(), (current.get("sha") or "").lower()
                if not base or not head or base == head or head in branch_shas:
                    continue
                if _landed(connection, f"api:commit:{summary['full_name']}:{head}"):
                    continue
                try:
                    yield from session.list(f"/repos/{repo}/compare/{base}...{head}", {}, items_key="commits")
                except GitHubApiError as error:
                    if error.status != 404:
                        raise
                    warning = (
                        f"deployment {current['id']} of {repo}: GitHub cannot compare {base[:12]}...{head[:12]} "
                        "(a commit is gone): its commits are unknown unless pushes bring them"
                    )
                    logger.warning("github api %s", warning)
                    result.warnings.append(warning)

    def branch_commit_envelopes() -> Iterator[Envelope]:
        for commit in _unique(commits(), "sha"):
            branch_shas.add(commit["sha"].lower())
            yield _commit_envelope(summary, branch, commit, now, tracked_since)

    pending = _PendingDeployments(session, connection, repo, now)
    envelopes = {
        "commits": branch_commit_envelopes(),
        "deployments": pending.envelopes(
            summary,
            # Not conditional: the listing is sorted by creation, so a late status on a deployment
            # past its first page would not change the ETag it is asked with.
            listing("deployments", f"/repos/{repo}/deployments", {}, conditional=False),
            since,
            until,
            recheck=reaches_now,
        ),
        "pull_requests": merged_pulls(),
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

    def land(resource: str, stream: Iterable[Envelope]) -> None:
        for batch in _batches(stream, BATCH_SIZE):
            result.seen[resource] += len(batch)
            new = _not_landed_before(connection, batch)
            result.already_landed += len(batch) - len(new)
            if new:
                result.files.append(_land(connection, landing_dir, new, now))
                result.landed[resource] += len(new)

    for resource, stream in envelopes.items():
        land(resource, stream)
        # What a resource's state records is saved only once everything it covers has landed.
        if resource == "deployments":
            pending.save()
            result.pending_deployments = pending.still_pending
            result.given_up_deployments = pending.given_up
            result.warnings += pending.warnings
        run_sql(
            connection,
            "extract",
            "save_cursor",
            {
                **keys,
                "resource": resource,
                "extracted_to": until,
                "etag": etags.get(resource),
                "updated_at": now,
                # Every commit reachable from the head has landed (or is older than the first window).
                "head_sha": result.head if resource == "commits" and reaches_now else None,
            },
        )
    # After the deployments (it compares them); counted with the commits, under no cursor of its
    # own: a run that stops before it compares again next time (what landed is not landed twice).
    land(
        "commits",
        (
            _commit_envelope(summary, branch, commit, now, tracked_since)
            for commit in _unique(deployment_commits(), "sha")
        ),
    )
    logger.info(
        "github api %s [%s, %s): %s seen, %s landed in %s files, %s already landed, unchanged: %s",
        repo,
        _iso(since),
        _iso(until),
        sum(result.seen.values()),
        result.landed_total,
        len(result.files),
        result.already_landed,
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


class _PendingDeployments:
    """The deployments of one repo's extraction and their statuses: those created in the window,
    then (``recheck``) those remembered in ``extract.pending_deployments`` by earlier runs.
    ``save()`` records, once their envelopes have landed, which are still waiting for a final
    status and which are settled or given up."""

    def __init__(self, session: GitHubSession, connection: duckdb.DuckDBPyConnection, repo: str, now: datetime) -> None:
        self.session, self.connection, self.repo, self.now = session, connection, repo, now
        self.waiting: dict[int, datetime] = {}  # deployment id -> created_at
        self.settled: set[int] = set()
        self.given_up: list[int] = []
        self.warnings: list[str] = []
        self.still_pending = 0
        # The deployments created in the window, and the last one before it (each one's
        # predecessor in its environment is what GitHub compares it with).
        self.listed: list[dict] = []

    def envelopes(
        self,
        summary: dict,
        deployments: Iterator[dict],
        since: datetime,
        until: datetime,
        *,
        recheck: bool,
    ) -> Iterator[Envelope]:
        """Every status of the deployments created in the window (the listing is newest first,
        so it stops at the first one created before the window), then of the pending ones."""
        for deployment in deployments:
            created = parse_time(deployment.get("created_at"))
            if created is not None and created < since:
                self.listed.append(deployment)
                break
            if _within(created, since, until):
                self.listed.append(deployment)
                yield from self._statuses(summary, deployment)
        if not recheck:
            return
        keys = {"source": SOURCE, "repo": self.repo}
        for row in fetch_dicts(self.connection, "extract", "load_pending_deployments", keys):
            deployment_id = row["deployment_id"]
            if deployment_id in self.waiting or deployment_id in self.settled:
                continue
            if row["created_at"] < self.now - PENDING_HORIZON:
                self._give_up(deployment_id, f"no final status {PENDING_HORIZON.days} days after it was created")
                continue
            try:
                deployment = self.session.get(f"/repos/{self.repo}/deployments/{deployment_id}")
            except GitHubApiError as error:
                if error.status != 404:
                    raise
                self._give_up(deployment_id, "deleted from GitHub (404)")
                continue
            yield from self._statuses(summary, deployment)

    def _statuses(self, summary: dict, deployment: dict) -> Iterator[Envelope]:
        deployment_id = deployment["id"]
        final = False
        for status in self.session.list(f"/repos/{self.repo}/deployments/{deployment_id}/statuses", {}):
            final = final or status.get("state") in FINAL_STATES
            payload = {
                "action": "created",
                "deployment_status": status,
                "deployment": deployment,
                "repository": summary,
            }
            yield _envelope("api:deployment_status", f"api:deployment_status:{status['id']}", payload, self.now)
        created = parse_time(deployment.get("created_at")) or self.now
        if final:
            self.settled.add(deployment_id)
        elif created >= self.now - PENDING_HORIZON:
            self.waiting[deployment_id] = created
        else:
            self.settled.add(deployment_id)  # too old to wait for: not remembered

    def _give_up(self, deployment_id: int, why: str) -> None:
        warning = f"deployment {deployment_id} of {self.repo} given up: {why}; its statuses are no longer re-read"
        logger.warning("github api %s", warning)
        self.warnings.append(warning)
        self.given_up.append(deployment_id)

    def save(self) -> None:
        waiting = list(self.waiting.items())
        [row] = fetch_dicts(
            self.connection,
            "extract",
            "save_pending_deployments",
            {
                "source": SOURCE,
                "repo": self.repo,
                "settled_ids": [*self.settled, *self.given_up],
                "waiting_ids": [deployment_id for deployment_id, _ in waiting],
                "waiting_created": [created for _, created in waiting],
                "first_seen_at": self.now,
            },
        )
        self.still_pending = row["pending"]


def _branch_head(session: GitHubSession, repo: str, branch: str) -> str | None:
    """The sha at the tip of ``branch`` now (None when the branch has no commit yet: 404)."""
    try:
        return session.get(f"/repos/{repo}/branches/{quote(branch)}")["commit"]["sha"]
    except GitHubApiError as error:
        if error.status == 404:
            return None
        raise


def _unique(items: Iterable[dict], key: str) -> Iterator[dict]:
    seen: set[Any] = set()
    for item in items:
        if item[key] not in seen:
            seen.add(item[key])
            yield item


def _commit_envelope(summary: dict, branch: str, commit: dict, now: datetime, tracked_since: str | None) -> Envelope:
    """A commit as a one-commit push: ``before`` its first parent, and (not in a webhook push)
    ``parents``, every parent, and ``extraction.tracked_since``, from when the API history of the
    repo was onboarded (None when from the repository's creation: see ``tracked_since``)."""
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
        # As a webhook push names it: the commit's author, with the GitHub login as username.
        "author": {**(details.get("author") or {}), "username": (commit.get("author") or {}).get("login")},
        "committer": details.get("committer"),
        "distinct": True,
        "parents": [parent["sha"] for parent in parents],
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
        "extraction": {"tracked_since": tracked_since},
    }
    return _envelope("api:push", f"api:commit:{summary['full_name']}:{sha}", payload, now)


def _pull_request_envelope(summary: dict, pull: dict, commits: list[dict], now: datetime) -> Envelope:
    """A merged pull request as the ``closed`` webhook, with ``commits``: the request's own commits
    as ``GET .../pulls/{number}/commits`` lists them (where its lead time starts)."""
    payload = {
        "action": "closed",
        "number": pull["number"],
        "pull_request": {**pull, "merged": True},
        "repository": summary,
        "commits": commits,
    }
    return _envelope("api:pull_request", _pull_request_delivery_id(summary, pull), payload, now)


def _pull_request_delivery_id(summary: dict, pull: dict) -> str:
    return f"api:pull_request:{summary['full_name']}:{pull['number']}"


def _tracked_since(repository: dict, since: datetime) -> str | None:
    """From when the repo's history is onboarded, as API commits carry it: ``since``, or None
    when the window starts at the repository's creation (its whole history is known: nothing
    it shipped predates tracking)."""
    created = repository.get("created_at")
    created = parse_time(created) if isinstance(created, str) else None
    return None if created is not None and since <= created else _iso(since)


def _landed(connection: duckdb.DuckDBPyConnection, delivery_id: str) -> bool:
    """Whether an extraction, or bronze, already holds the delivery."""
    return bool(fetch_dicts(connection, "extract", "known_delivery_ids", {"delivery_ids": [delivery_id]}))


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


def _not_landed_before(connection: duckdb.DuckDBPyConnection, batch: list[Envelope]) -> list[Envelope]:
    """The envelopes of ``batch`` never landed before (by an earlier extraction, or into bronze
    by any route), each once."""
    ids = [envelope.delivery_id for envelope in batch]
    known = {
        row["delivery_id"] for row in fetch_dicts(connection, "extract", "known_delivery_ids", {"delivery_ids": ids})
    }
    unique: dict[str, Envelope] = {}
    for envelope in batch:
        if envelope.delivery_id not in known:
            unique.setdefault(envelope.delivery_id, envelope)
    return list(unique.values())


def _land(connection: duckdb.DuckDBPyConnection, landing_dir: Path, envelopes: list[Envelope], now: datetime) -> str:
    """Write one landing file of ``envelopes``, then record their delivery ids as landed (in
    that order: a crash between the two can land an envelope twice, which bronze deduplicates,
    but never record one that was not written)."""
    content = "".join(envelope.to_json() + "\n" for envelope in envelopes).encode("utf-8")
    landed = write_landing_file(landing_dir, LANDING_FOLDER, now.astimezone(UTC), content, suffix=".ndjson")
    run_sql(
        connection,
        "extract",
        "save_landed_deliveries",
        {"delivery_ids": [envelope.delivery_id for envelope in envelopes], "landing_file": landed, "landed_at": now},
    )
    return landed


def describe(extraction: RepoExtraction) -> dict[str, Any]:
    """One repo's extraction as JSON-able metadata."""
    return {
        "repo": extraction.repo,
        "since": _iso(extraction.since),
        "until": _iso(extraction.until),
        "seen": extraction.seen,
        "landed": extraction.landed,
        "already_landed": extraction.already_landed,
        "unchanged_listings": extraction.unchanged,
        "files": extraction.files,
        "commit_selection": extraction.commit_selection,
        "branch_head": extraction.head,
        "pending_deployments": extraction.pending_deployments,
        "given_up_deployments": extraction.given_up_deployments,
        "warnings": extraction.warnings,
    }
