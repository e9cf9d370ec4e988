"""The demo history told as GitHub webhook deliveries.

``GitHubTeller`` is the ``model.Teller`` of every history: as each event happens it builds the
payload GitHub would send (``push``, ``deployment``, ``deployment_status``, ``issues``,
``pull_request``), from a
real GitHub webhook example (``templates/github``, from octokit/webhooks) with the fields that
must vary overwritten, and delivers it a few seconds later as an envelope with a GitHub-style
delivery id, unless that is after the history's cut-off (``received_before``).
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from dora_assets.demo.model import (
    LABELS,
    ZERO_SHA,
    Commit,
    Delivery,
    Deployment,
    History,
    Issue,
    MergeFact,
    Person,
    Repo,
)
from dora_assets.demo.payloads import iso, template_text
from dora_assets.ingestion.envelope import Envelope

TEMPLATE_NAMES = (
    "push", "deployment", "deployment_status", "issues.opened", "issues.labeled", "issues.edited", "issues.closed",
    "pull_request.closed",
)  # fmt: skip
TEMPLATE_REPOSITORY = "Codertocat/Hello-World"
TEMPLATE_LOGIN = "Codertocat"
TEMPLATE_USER_ID = "21031067"
UUID_EPOCH_TICKS = 0x01B21DD213814000  # 100 ns ticks from 1582-10-15 (UUID v1 epoch) to 1970-01-01
WEB_FLOW = {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"}
STATUS_DESCRIPTIONS = {
    "in_progress": "Deployment started",
    "success": "Deployment finished successfully.",
    "failure": "Deployment failed: health checks did not pass.",
    "error": "Deployment errored: the runner lost contact.",
}


class GitHubTeller:
    """Tells a history's events as GitHub deliveries, in the order they happen; ``envelopes``
    gives what was delivered."""

    def __init__(self, history: History[Any]) -> None:
        self.history = history
        self.rng = history.rng
        self.templates = {name: template_text(name) for name in TEMPLATE_NAMES}
        self.envelopes_told: list[Envelope] = []
        self.used_delivery_ids: set[str] = set()
        self.hookshot_nodes = [self.rng.getrandbits(48) | (1 << 40) for _ in range(6)]
        self.texts: dict[tuple[str, str], str] = {}  # (repo, template) -> the template rebranded for it
        self.label_ids: dict[tuple[str, str], int] = {}  # (repo, label name) -> its id

    def envelopes(self) -> list[Envelope]:
        """The deliveries, in received order, without the closing of the incidents the history
        leaves open (``History.left_open``)."""
        withheld = {issue.close_delivery.delivery_id for issue in self.history.left_open if issue.close_delivery}
        delivered = [envelope for envelope in self.envelopes_told if envelope.delivery_id not in withheld]
        return sorted(delivered, key=lambda envelope: (envelope.received_at, envelope.delivery_id))

    # -- pushes -----------------------------------------------------------------------------

    def push(
        self,
        repo: Repo,
        branch: str,
        before: str,
        after: str,
        commits: Sequence[Commit],
        at: datetime,
        pusher: Person,
        repeated: set[str],
    ) -> Delivery | None:
        """A ``push`` event moving ``branch`` from ``before`` to ``after``."""
        payload = self._payload(repo, "push")
        payload["repository"]["pushed_at"] = _epoch(at)
        commit_template = payload["commits"][0]
        payload["commits"] = [
            self._commit_payload(repo, commit_template, commit, commit.sha not in repeated) for commit in commits
        ]
        payload["head_commit"] = copy.deepcopy(payload["commits"][-1])
        compare = f"compare/{before[:12]}...{after[:12]}" if before != ZERO_SHA else f"commit/{after}"
        payload.update(
            ref=f"refs/heads/{branch}",
            before=before,
            after=after,
            created=before == ZERO_SHA,
            deleted=False,
            forced=False,
            base_ref=None,
            compare=f"https://github.com/{repo.full_name}/{compare}",
            pusher={"name": pusher.login, "email": pusher.email},
            sender=self._account(payload["sender"], pusher),
        )
        return self._emit("push", payload, at)

    def _commit_payload(self, repo: Repo, template: dict[str, Any], commit: Commit, distinct: bool) -> dict[str, Any]:
        body = copy.deepcopy(template)
        author = {"name": commit.author.name, "email": commit.author.email, "username": commit.author.login}
        offset = timezone(timedelta(minutes=commit.author.utc_offset_minutes))
        body.update(
            id=commit.sha,
            tree_id=commit.tree_id,
            distinct=distinct,
            message=commit.message,
            timestamp=commit.at.astimezone(offset).isoformat().replace("+00:00", "Z"),
            url=f"https://github.com/{repo.full_name}/commit/{commit.sha}",
            author=author,
            committer=dict(WEB_FLOW) if commit.kind != "code" else dict(author),
            added=[],
            removed=[],
            modified=list(commit.modified),
        )
        return body

    # -- pull requests ----------------------------------------------------------------------

    def pull_request_merged(self, fact: MergeFact) -> Delivery | None:
        """The ``pull_request`` event (``closed``, ``merged: true``) of a merge to main, two seconds
        after its push, with a delivery id derived from its merge commit: no draw from the random stream
        (``Teller.pull_request_merged``). Opened five minutes after its branch's first push."""
        repo, merged_at = fact.repo, fact.push.at
        opened = max(min(fact.opened_at + timedelta(minutes=5), merged_at - timedelta(seconds=30)), fact.opened_at)
        payload = self._payload(repo, "pull_request.closed")
        pull = payload["pull_request"]
        url = f"https://github.com/{repo.full_name}/pull/{fact.number}"
        pull.update(
            number=fact.number,
            title=fact.title,
            body=f"{fact.title}.",
            html_url=url,
            state="closed",
            created_at=iso(opened.replace(microsecond=0)),
            updated_at=iso(merged_at),
            closed_at=iso(merged_at),
            merged_at=iso(merged_at),
            merge_commit_sha=fact.push.after,
            merged=True,
            user=self._account(pull["user"], fact.author),
            merged_by=self._account(pull["user"], fact.merger),
        )
        pull.update(assignee=None, assignees=[], requested_reviewers=[], requested_teams=[], labels=[], milestone=None)
        owner = self._account(pull["head"]["user"], repo.owner)
        pull["head"].update(
            ref=fact.branch,
            sha=fact.head.sha,
            label=f"{repo.owner.login}:{fact.branch}",
            user=owner,
            repo=copy.deepcopy(payload["repository"]),
        )
        pull["base"].update(
            ref="main", label=f"{repo.owner.login}:main", user=owner, repo=copy.deepcopy(payload["repository"])
        )
        payload.update(number=fact.number, sender=self._account(payload["sender"], fact.merger))
        received = merged_at + timedelta(seconds=2)
        if received >= self.history.received_before:
            return None
        delivery_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"https://github.com/{repo.full_name}/commit/{fact.push.after}")
        )
        self.envelopes_told.append(
            Envelope(
                source="github",
                event_type="pull_request",
                delivery_id=delivery_id,
                received_at=received,
                payload=payload,
            )
        )
        return Delivery(received, delivery_id)

    # -- deployments ------------------------------------------------------------------------

    def deployment(self, repo: Repo, deployment: Deployment, at: datetime) -> Delivery | None:
        """A ``deployment`` event."""
        payload = self._payload(repo, "deployment")
        self._fill_deployment(repo, payload["deployment"], deployment, at)
        payload["sender"] = self._account(payload["sender"], deployment.creator)
        return self._emit("deployment", payload, at)

    def deployment_status(self, repo: Repo, deployment: Deployment, state: str, at: datetime) -> Delivery | None:
        """A ``deployment_status`` event."""
        payload = self._payload(repo, "deployment_status")
        status_id = self.history.id_at("deployment_status", at)
        deployment_url = f"https://api.github.com/repos/{repo.full_name}/deployments/{deployment.deployment_id}"
        status = payload["deployment_status"]
        status.update(
            url=f"{deployment_url}/statuses/{status_id}",
            id=status_id,
            node_id=_node_id("DeploymentStatus", status_id),
            state=state,
            creator=self._account(status["creator"], deployment.creator),
            description=STATUS_DESCRIPTIONS[state],
            environment=deployment.environment,
            target_url=f"https://github.com/{repo.full_name}/actions/runs/{deployment.run_id}",
            created_at=iso(at),
            updated_at=iso(at),
            deployment_url=deployment_url,
            repository_url=f"https://api.github.com/repos/{repo.full_name}",
        )
        self._fill_deployment(repo, payload["deployment"], deployment, at)
        payload["sender"] = self._account(payload["sender"], deployment.creator)
        return self._emit("deployment_status", payload, at)

    def _fill_deployment(self, repo: Repo, body: dict[str, Any], deployment: Deployment, updated: datetime) -> None:
        url = f"https://api.github.com/repos/{repo.full_name}/deployments/{deployment.deployment_id}"
        body.update(
            url=url,
            id=deployment.deployment_id,
            node_id=_node_id("Deployment", deployment.deployment_id),
            sha=deployment.sha,
            ref="main",
            task="deploy",
            payload={},
            original_environment=deployment.environment,
            environment=deployment.environment,
            description=f"Deploy {deployment.sha[:7]} to {deployment.environment}",
            creator=self._account(body["creator"], deployment.creator),
            created_at=iso(deployment.created_at),
            updated_at=iso(updated),
            statuses_url=f"{url}/statuses",
            repository_url=f"https://api.github.com/repos/{repo.full_name}",
        )

    # -- issues -----------------------------------------------------------------------------

    def issue(
        self,
        issue: Issue,
        action: str,
        at: datetime,
        actor: Person,
        *,
        label: str | None = None,
        previous_body: str | None = None,
    ) -> Delivery | None:
        """An ``issues`` event showing the issue as it is after ``action``."""
        repo = issue.repo
        payload = self._payload(repo, f"issues.{action}")
        body = payload["issue"]
        label_template = body["labels"][0]
        api = f"https://api.github.com/repos/{repo.full_name}/issues/{issue.number}"
        body.update(
            url=api,
            repository_url=f"https://api.github.com/repos/{repo.full_name}",
            labels_url=api + "/labels{/name}",
            comments_url=f"{api}/comments",
            events_url=f"{api}/events",
            html_url=f"https://github.com/{repo.full_name}/issues/{issue.number}",
            id=issue.issue_id,
            node_id=_node_id("Issue", issue.issue_id),
            number=issue.number,
            title=issue.title,
            user=self._account(body["user"], issue.author),
            labels=[self._label(repo, label_template, name) for name in issue.labels],
            state="closed" if issue.closed_at else "open",
            locked=False,
            assignee=self._account(payload["sender"], issue.assignee),
            assignees=[self._account(payload["sender"], issue.assignee)],
            milestone=None,
            comments=issue.comments,
            created_at=iso(issue.created_at),
            updated_at=iso(at),
            closed_at=iso(issue.closed_at) if issue.closed_at else None,
            author_association="MEMBER",
            body=issue.body,
        )
        body["reactions"]["url"] = f"{api}/reactions"
        if "timeline_url" in body:
            body["timeline_url"] = f"{api}/timeline"
        payload["action"] = action
        if label is not None:
            payload["label"] = self._label(repo, payload["label"], label)
        if previous_body is not None:
            payload["changes"] = {"body": {"from": previous_body}}
        payload["sender"] = self._account(payload["sender"], actor)
        return self._emit("issues", payload, at)

    def _label(self, repo: Repo, template: dict[str, Any], name: str) -> dict[str, Any]:
        color, default, description = LABELS[name.lower()]
        key = (repo.full_name, name)
        if key not in self.label_ids:
            self.label_ids[key] = self.rng.randrange(1_000_000_000, 7_000_000_000)
        label = copy.deepcopy(template)
        label.update(
            id=self.label_ids[key],
            node_id=_node_id("Label", self.label_ids[key]),
            url=f"https://api.github.com/repos/{repo.full_name}/labels/{quote(name)}",
            name=name,
            color=color,
            default=default,
            description=description,
        )
        return label

    # -- payload building -------------------------------------------------------------------

    def _payload(self, repo: Repo, template: str) -> dict[str, Any]:
        """A fresh copy of a template, rebranded for ``repo``, with its ``repository`` filled."""
        key = (repo.full_name, template)
        if key not in self.texts:
            self.texts[key] = self.templates[template].replace(TEMPLATE_REPOSITORY, repo.full_name)
        payload: dict[str, Any] = json.loads(self.texts[key])
        repository = payload["repository"]
        repository.update(
            id=repo.repo_id,
            node_id=_node_id("Repository", repo.repo_id),
            name=repo.name,
            full_name=repo.full_name,
            private=True,
            visibility="private",
            owner=self._account(repository["owner"], repo.owner),
            description=f"The {repo.name} service",
            language=repo.language,
            default_branch="main",
            open_issues_count=repo.open_issues,
            open_issues=repo.open_issues,
        )
        if "master_branch" in repository:
            repository["master_branch"] = "main"
        for key, value in (
            ("created_at", repo.created_at),
            ("updated_at", repo.pushed_at),
            ("pushed_at", repo.pushed_at),
        ):
            repository[key] = _epoch(value) if isinstance(repository[key], int) else iso(value)
        return payload

    def _account(self, template: dict[str, Any], person: Person) -> dict[str, Any]:
        """A GitHub user or organisation object shaped like ``template``."""
        account = _swap(_swap(template, TEMPLATE_LOGIN, person.login), TEMPLATE_USER_ID, str(person.user_id))
        account["id"] = person.user_id
        account["node_id"] = _node_id(person.kind, person.user_id)
        if "type" in account:
            account["type"] = person.kind
        if "email" in account and person.kind == "Organization":
            account["email"] = None
        return account

    # -- delivery ---------------------------------------------------------------------------

    def _delivery_id(self, at: datetime) -> str:
        """A time-based (version 1) GUID, like GitHub's ``X-GitHub-Delivery``."""
        while True:
            ticks = int(at.timestamp()) * 10_000_000 - self.rng.randrange(10_000_000) + UUID_EPOCH_TICKS
            clock_seq = self.rng.getrandbits(14)
            fields = (
                ticks & 0xFFFFFFFF,
                (ticks >> 32) & 0xFFFF,
                ((ticks >> 48) & 0x0FFF) | 0x1000,
                0x80 | (clock_seq >> 8),
                clock_seq & 0xFF,
                self.rng.choice(self.hookshot_nodes),
            )
            delivery_id = str(uuid.UUID(fields=fields))
            if delivery_id not in self.used_delivery_ids:
                self.used_delivery_ids.add(delivery_id)
                return delivery_id

    def _emit(self, event_type: str, payload: dict[str, Any], at: datetime) -> Delivery | None:
        """Deliver an event a few seconds after it happened, unless that is after the cut-off."""
        received = at + timedelta(seconds=self.rng.randint(1, 4))
        if received >= self.history.received_before:
            return None
        envelope = Envelope(
            source="github",
            event_type=event_type,
            delivery_id=self._delivery_id(received),
            received_at=received,
            payload=payload,
        )
        self.envelopes_told.append(envelope)
        return Delivery(envelope.received_at, envelope.delivery_id)


def _swap(value: Any, old: str, new: str) -> Any:
    """``value`` with ``old`` replaced by ``new`` in every string it holds."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {key: _swap(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_swap(item, old, new) for item in value]
    return value


def _node_id(kind: str, number: int) -> str:
    """GitHub's legacy global node id, e.g. ``MDEwOlJlcG9zaXRvcnkx...`` for a repository."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())
