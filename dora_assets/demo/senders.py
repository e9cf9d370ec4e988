"""The demo history told by other senders: GitLab, Jenkins, PagerDuty and Jira.

``retell`` takes a played history (``model.History``, its facts) and its GitHub deliveries
(``github.GitHubTeller``) and, for the repositories that ``generator.assign_senders`` gives to
another sender, replaces the GitHub deliveries of the events that sender reports with its own,
built from real payload examples (``templates/<source>``, see ``templates/README.md``):

- **GitLab** hosts the code: ``push`` (received at the push time, since GitLab sends no push
  time and silver takes received_at), ``merge_request`` (open, then merge, with
  ``merge_commit_sha``), ``deployment`` (running, then success or failed, at the GitHub
  statuses' times, ``status_changed_at`` as GitLab writes it) and ``issue`` (open, update,
  close; incidents are of type Incident and keep their incident label).
- **Jenkins** deploys: Notification-plugin builds of ``<name>-deploy`` (production) and
  ``<name>-staging``, phases STARTED, COMPLETED and FINALIZED, with ``timestamp + duration`` =
  the time of the GitHub final status; delivery ids as the receiver derives them.
- **PagerDuty** pages: ``incident.triggered`` at the issue's creation, ``incident.acknowledged``
  at triage, ``incident.reassigned`` when the responder edits the report, ``incident.resolved``
  at the close; the title names the root cause once the GitHub body does; the service's name is
  the repository, so no config is needed. Every third triggered event arrives after its
  resolved event (a retried delivery).
- **Jira** tracks incidents: ``jira:issue_created``, then ``jira:issue_updated`` (labels, an
  edited description, and the resolution with ``resolutiondate``), issue type Incident, in a
  project whose key is the repository's ticket prefix (``jira.projects`` in the config).

Every time a metric reads is the history's own (commit times, push times, deployment finish
times, incident creation and resolution times), so a history told by every sender gives the
same DORA metrics as the GitHub-only one. A retold event is delivered exactly when its GitHub
counterpart would have been (same ``received_at``, except GitLab pushes), so the ``until``
cut-off and the incidents left open apply alike. The extra events that GitHub has no
counterpart for (a merge request's opening, a page's acknowledgement, Jenkins' FINALIZED phase)
arrive a few seconds after they happen, when that is before the cut-off. The other senders draw
from their own random stream, so the history itself never changes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import string
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dora_assets.demo.model import (
    LABELS,
    OWNER,
    Commit,
    Delivery,
    DeploymentFact,
    History,
    Issue,
    IssueFact,
    MergeFact,
    Person,
    PushFact,
    Repo,
)
from dora_assets.demo.payloads import iso, template_text
from dora_assets.ingestion.envelope import Envelope

ROOT_CAUSE = re.compile(r"(?i)root cause:\s*([0-9a-f]{7,40})\b")  # as silver reads it
GITLAB = "https://gitlab.com"
JENKINS = "https://ci.acme.example"
PAGERDUTY = "https://acme.pagerduty.com"
PAGERDUTY_API = "https://api.pagerduty.com"
JIRA = "https://acme.atlassian.net"
REDACTED = "[REDACTED]"  # GitLab.com writes user e-mail addresses so in webhooks
SEVERITIES = {"sev1": "critical", "sev2": "high", "sev3": "medium"}  # GitLab incident severity
JIRA_PRIORITIES = {"sev1": ("Highest", "1"), "sev2": ("High", "2"), "sev3": ("Medium", "3")}
JIRA_STATUSES = {  # name -> (status id, category id, category key, colour, category name)
    "To Do": ("10000", 2, "new", "blue-gray", "To Do"),
    "In Progress": ("3", 4, "indeterminate", "yellow", "In Progress"),
    "Done": ("10001", 3, "done", "green", "Done"),
}
TIME_ZONES = {  # the demo's fixed UTC offsets (minutes) -> a zone name for Jira user profiles
    0: "Europe/London", 60: "Europe/Berlin", 120: "Europe/Athens", -300: "America/New_York",
    -480: "America/Los_Angeles", 330: "Asia/Kolkata", 540: "Asia/Tokyo", -240: "America/Halifax",
}  # fmt: skip
JENKINS_RESULTS = {"success": "SUCCESS", "failure": "FAILURE", "error": "ABORTED"}
GITLAB_DEPLOYMENT_STATUS = {"success": "success", "failure": "failed", "error": "failed"}
PAGERDUTY_DELAYED_EVERY = 3  # every third page's triggered event arrives after its resolved one
TEMPLATE_HOSTS = {"jira": ("some-instance-test.atlassian.net", "acme.atlassian.net"),
                  "pagerduty": ("pig208.pagerduty.com", "acme.pagerduty.com")}  # fmt: skip


def retell(
    history: History[Any], envelopes: list[Envelope], senders: dict[str, dict[str, str]], seed: int
) -> list[Envelope]:
    """The history's GitHub ``envelopes`` with each repository's events told by its senders, in
    received order."""
    return _Retelling(history, envelopes, senders, seed).run()


class _Retelling:
    def __init__(
        self, history: History[Any], github: list[Envelope], senders: dict[str, dict[str, str]], seed: int
    ) -> None:
        self.history = history
        self.github = github
        self.senders = senders
        self.rng = random.Random(f"dora-assets demo senders {seed}")
        self.delivered = {envelope.delivery_id for envelope in github}
        self.received_before = history.received_before
        self.replaced: set[str] = set()  # delivery ids of GitHub envelopes
        self.envelopes: list[Envelope] = []
        self.templates: dict[tuple[str, str], str] = {}
        self.numbers: dict[tuple[str, Any], Any] = {}  # (kind, key) -> a stable id, or a counter
        self.used: set[tuple[str, Any]] = set()
        self.issue_state: dict[int, dict[str, Any]] = {}  # id(issue) -> what a sender remembers
        self.closes = {id(fact.issue): fact for fact in history.facts if isinstance(fact, IssueFact) and fact.closed}
        self.pages = 0

    def run(self) -> list[Envelope]:
        for fact in self.history.facts:
            if isinstance(fact, PushFact):
                if self._code(fact.repo) == "gitlab":
                    self._gitlab_push(fact)
            elif isinstance(fact, MergeFact):
                if self._code(fact.repo) == "gitlab":
                    self._replace(fact.delivery)
                    self._gitlab_merge_request(fact)
            elif isinstance(fact, DeploymentFact):
                sender = self.senders[fact.repo.full_name]["deployments"]
                if sender == "gitlab":
                    self._gitlab_deployment(fact)
                elif sender == "jenkins":
                    self._jenkins_build(fact)
            else:
                sender = self._issue_sender(fact.issue)
                if sender == "gitlab":
                    self._gitlab_issue(fact)
                elif sender == "pagerduty":
                    self._pagerduty_incident(fact)
                elif sender == "jira":
                    self._jira_issue(fact)
        kept = [envelope for envelope in self.github if envelope.delivery_id not in self.replaced]
        return sorted([*kept, *self.envelopes], key=lambda envelope: (envelope.received_at, envelope.delivery_id))

    # -- who tells what, and when it arrives -----------------------------------------------

    def _code(self, repo: Repo) -> str:
        return self.senders[repo.full_name]["code"]

    def _issue_sender(self, issue: Issue) -> str:
        return self.senders[issue.repo.full_name]["incidents" if issue.incident else "code"]

    def _replace(self, delivery: Delivery | None) -> datetime | None:
        """Take a GitHub delivery out; when the retold event arrives (None: it never does)."""
        if delivery is None:
            return None
        self.replaced.add(delivery.delivery_id)
        return delivery.received_at if delivery.delivery_id in self.delivered else None

    def _arrival(self, at: datetime) -> datetime | None:
        """An event GitHub has no counterpart for arrives seconds later, if before the cut-off."""
        received = at + timedelta(seconds=self.rng.randint(1, 4))
        return received if received < self.received_before else None

    def _emit(self, source: str, event_type: str, delivery_id: str, received: datetime, payload: dict) -> None:
        self.envelopes.append(
            Envelope(
                source=source, event_type=event_type, delivery_id=delivery_id, received_at=received, payload=payload
            )
        )

    def _template(self, source: str, name: str) -> dict[str, Any]:
        if (source, name) not in self.templates:
            text = template_text(name, source)
            if source in TEMPLATE_HOSTS:
                text = text.replace(*TEMPLATE_HOSTS[source])
            self.templates[source, name] = text
        return json.loads(self.templates[source, name])

    def _stable(self, kind: str, key: Any, low: int, high: int) -> int:
        """A random id of ``kind`` for ``key``, the same each time it is asked for, unique."""
        if (kind, key) not in self.numbers:
            value = self.rng.randrange(low, high)
            while (kind, value) in self.used:
                value += 1
            self.used.add((kind, value))
            self.numbers[kind, key] = value
        return self.numbers[kind, key]

    def _next(self, kind: str, key: Any, start: tuple[int, int], step: tuple[int, int]) -> int:
        """The next value of a counter that grows with time (GitLab ids, build numbers)."""
        previous = self.numbers.get((kind, key))
        value = self.rng.randint(*start) if previous is None else previous + self.rng.randint(*step)
        self.numbers[kind, key] = value
        return value

    def _numbered(self, kind: str, key: Any, start: tuple[int, int], step: tuple[int, int]) -> int:
        """The number ``key`` got from a growing counter when first asked for (issue numbers)."""
        if (kind, key) not in self.numbers:
            self.numbers[kind, key] = self._next(f"{kind} counter", None, start, step)
        return self.numbers[kind, key]

    def _arrived(self, delivery: Delivery | None) -> datetime | None:
        """When a GitHub delivery arrived (None: it never did), leaving it in place."""
        return delivery.received_at if delivery is not None and delivery.delivery_id in self.delivered else None

    def _code_id(self, kind: str, length: int, prefix: str = "") -> str:
        """An upper-case alphanumeric id (PagerDuty's ``PFQZPSY``, its event ids), unique."""
        alphabet = string.ascii_uppercase + string.digits
        while True:
            value = prefix + "".join(self.rng.choice(alphabet) for _ in range(length - len(prefix)))
            if (kind, value) not in self.used:
                self.used.add((kind, value))
                return value

    def _uuid4(self) -> str:
        while True:
            value = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            if ("uuid", value) not in self.used:
                self.used.add(("uuid", value))
                return value

    # -- GitLab ----------------------------------------------------------------------------

    def _gitlab_user_id(self, person: Person) -> int:
        return self._stable("gitlab-user", person.login, 1_000_000, 30_000_000)

    def _gitlab_user(self, template: dict[str, Any], person: Person) -> dict[str, Any]:
        return _fill(
            template,
            id=self._gitlab_user_id(person),
            name=person.name,
            username=person.login,
            avatar_url=_gravatar(person),
            email=REDACTED,
        )

    def _gitlab_project(self, template: dict[str, Any], repo: Repo) -> dict[str, Any]:
        web = f"{GITLAB}/{repo.full_name}"
        ssh = f"git@gitlab.com:{repo.full_name}.git"
        return _fill(
            template,
            id=self._gitlab_project_id(repo),
            name=repo.name,
            description=f"The {repo.name} service",
            web_url=web,
            avatar_url=None,
            git_ssh_url=ssh,
            git_http_url=f"{web}.git",
            namespace=OWNER,
            visibility_level=0,
            path_with_namespace=repo.full_name,
            default_branch="main",
            ci_config_path="",
            homepage=web,
            url=ssh,
            ssh_url=ssh,
            http_url=f"{web}.git",
        )

    def _gitlab_project_id(self, repo: Repo) -> int:
        return self._stable("gitlab-project", repo.full_name, 40_000_000, 80_000_000)

    def _gitlab_commit(self, template: dict[str, Any], repo: Repo, commit: Commit) -> dict[str, Any]:
        offset = timezone(timedelta(minutes=commit.author.utc_offset_minutes))
        return _fill(
            template,
            id=commit.sha,
            message=commit.message,
            title=commit.message.splitlines()[0],
            timestamp=commit.at.astimezone(offset).isoformat(),
            url=f"{GITLAB}/{repo.full_name}/-/commit/{commit.sha}",
            author={"name": commit.author.name, "email": f"{commit.author.login}@acme.example"},
            added=[],
            modified=list(commit.modified),
            removed=[],
        )

    def _gitlab_push(self, fact: PushFact) -> None:
        if self._replace(fact.delivery) is None:
            return
        repo = fact.repo
        payload = self._template("gitlab", "push")
        commit_template = payload["commits"][0]
        payload.update(
            before=fact.before,
            after=fact.after,
            ref=f"refs/heads/{fact.branch}",
            checkout_sha=fact.after,
            user_id=self._gitlab_user_id(fact.pusher),
            user_name=fact.pusher.name,
            user_username=fact.pusher.login,
            user_email=REDACTED,
            user_avatar=_gravatar(fact.pusher),
            project_id=self._gitlab_project_id(repo),
            project=self._gitlab_project(payload["project"], repo),
            repository=self._gitlab_project(payload["repository"], repo),
            commits=[self._gitlab_commit(commit_template, repo, commit) for commit in fact.commits],
            total_commits_count=len(fact.commits),
        )
        # GitLab sends no push time: silver takes received_at, so the hook lands when the push happens.
        pushed = datetime.fromtimestamp(int(fact.at.timestamp()), UTC)
        self._emit("gitlab", "push", self._uuid4(), pushed, payload)

    def _gitlab_merge_request(self, fact: MergeFact) -> None:
        opened = min(
            fact.opened_at + timedelta(seconds=self.rng.randint(60, 900)), fact.push.at - timedelta(seconds=30)
        )
        opened = max(opened, fact.opened_at).replace(microsecond=0)
        received = self._arrival(opened)
        if received is not None:
            self._emit("gitlab", "merge_request", self._uuid4(), received, self._merge_request(fact, "open", opened))
        merged = self._arrived(fact.push.delivery)  # the merge hook comes with the push to main
        if merged is not None:
            self._emit("gitlab", "merge_request", self._uuid4(), merged, self._merge_request(fact, "merge", opened))

    def _merge_request(self, fact: MergeFact, action: str, opened: datetime) -> dict[str, Any]:
        repo = fact.repo
        payload = self._template("gitlab", "merge_request")
        attributes = payload["object_attributes"]
        merged = action == "merge"
        at = fact.push.at if merged else opened
        merger = self._gitlab_user_id(fact.merger)
        attributes.update(
            id=self._stable("gitlab-merge-request", (repo.full_name, fact.number), 300_000_000, 400_000_000),
            iid=fact.number,
            target_branch="main",
            source_branch=fact.branch,
            source_project_id=self._gitlab_project_id(repo),
            author_id=self._gitlab_user_id(fact.author),
            assignee_ids=[merger],
            assignee_id=merger,
            reviewer_ids=[merger],
            title=fact.title,
            created_at=iso(opened),
            updated_at=iso(at),
            state="merged" if merged else "opened",
            first_contribution=False,
            merge_status="can_be_merged",
            target_project_id=self._gitlab_project_id(repo),
            description=f"{fact.title}.",
            url=f"{GITLAB}/{repo.full_name}/-/merge_requests/{fact.number}",
            source=self._gitlab_project(attributes["source"], repo),
            target=self._gitlab_project(attributes["target"], repo),
            last_edited_at=None,
            last_edited_by_id=None,
            state_id=3 if merged else 1,
            last_commit=self._gitlab_commit(attributes["last_commit"], repo, fact.head),
            human_total_time_spent=None,
            human_time_change=None,
            human_time_estimate=None,
            labels=[],
            action=action,
            detailed_merge_status="not_open" if merged else "mergeable",
            # Not in this example; in GitLab's merge request hooks (service_merge_request.json has it).
            merge_commit_sha=fact.push.after if merged else None,
        )
        actor = fact.merger if merged else fact.author
        changes = (
            {"state_id": {"previous": 1, "current": 3}, "updated_at": {"previous": iso(opened), "current": iso(at)}}
            if merged
            else {}
        )
        assignee = self._gitlab_user(payload["assignees"][0], fact.merger)
        payload.update(
            user=self._gitlab_user(payload["user"], actor),
            project=self._gitlab_project(payload["project"], repo),
            repository=self._gitlab_project(payload["repository"], repo),
            labels=[],
            changes=changes,
            assignees=[assignee],
            reviewers=[assignee],
        )
        return payload

    def _gitlab_deployment(self, fact: DeploymentFact) -> None:
        self._replace(fact.created)  # GitLab has no "created" hook: running comes first
        repo, deployment = fact.repo, fact.deployment
        gitlab_id = self._next("gitlab-deployment", None, (900_000_000, 910_000_000), (20, 900))
        job_id = self._next("gitlab-job", None, (9_800_000_000, 9_810_000_000), (100, 9_000))
        for status, at, counterpart in (
            ("running", fact.started, fact.in_progress),
            (GITLAB_DEPLOYMENT_STATUS[fact.state], fact.finished, fact.final),
        ):
            received = self._replace(counterpart)
            if received is None:
                continue
            payload = self._template("gitlab", "deployment")
            commit = self.history.commits.get(deployment.sha)
            environment = deployment.environment
            host = (
                f"{repo.name}.acme.example"
                if environment == "production"
                else f"{repo.name}.{environment}.acme.example"
            )
            payload.update(
                status=status,
                status_changed_at=at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000"),
                deployment_id=gitlab_id,
                deployable_id=job_id,
                deployable_url=f"{GITLAB}/{repo.full_name}/-/jobs/{job_id}",
                environment=environment,
                environment_tier=environment,
                environment_slug=environment,
                environment_external_url=f"https://{host}",
                project=self._gitlab_project(payload["project"], repo),
                short_sha=deployment.sha[:8],
                user=self._gitlab_user(payload["user"], deployment.creator),
                user_url=f"{GITLAB}/{deployment.creator.login}",
                commit_url=f"{GITLAB}/{repo.full_name}/-/commit/{deployment.sha}",
                commit_title=commit.message.splitlines()[0] if commit else f"Deploy {deployment.sha[:7]}",
                ref="main",
            )
            self._emit("gitlab", "deployment", self._uuid4(), received, payload)

    def _gitlab_issue(self, fact: IssueFact) -> None:
        received = self._replace(fact.delivery)
        issue, repo = fact.issue, fact.issue.repo
        state = self.issue_state.setdefault(id(issue), {"labels": (), "updated": None, "edited": None})
        previous_labels, previous_updated = state["labels"], state["updated"]
        state.update(labels=fact.labels, updated=_iso_ms(fact.at))
        if fact.action == "edited":
            state["edited"] = (fact.at, fact.actor)
        if received is None:
            return
        payload = self._template("gitlab", "issue")
        attributes = payload["object_attributes"]
        label_template = self._template("gitlab", "merge_request")["labels"][0]  # GitLab's label shape
        labels = [self._gitlab_label(label_template, repo, name) for name in fact.labels]
        severity = next((SEVERITIES[name] for name in fact.labels if name in SEVERITIES), "unknown")
        edited = state["edited"]
        attributes.update(
            author_id=self._gitlab_user_id(issue.author),
            closed_at=_iso_ms(fact.at) if fact.closed else None,
            created_at=_iso_ms(issue.created_at),
            description=fact.body,
            id=self._numbered("gitlab-issue", id(issue), (150_000_000, 160_000_000), (1, 400)),
            iid=issue.number,
            last_edited_at=_iso_ms(edited[0]) if edited else None,
            last_edited_by_id=self._gitlab_user_id(edited[1]) if edited else None,
            project_id=self._gitlab_project_id(repo),
            relative_position=self._stable("gitlab-position", id(issue), 1, 20_000),
            state_id=2 if fact.closed else 1,
            title=fact.title,
            updated_at=_iso_ms(fact.at),
            updated_by_id=self._gitlab_user_id(fact.actor),
            type="Incident" if issue.incident else "Issue",
            url=f"{GITLAB}/{repo.full_name}/-/issues/{issue.number}",
            assignee_ids=[self._gitlab_user_id(issue.assignee)],
            assignee_id=self._gitlab_user_id(issue.assignee),
            labels=labels,
            state="closed" if fact.closed else "opened",
            severity=severity,
            escalation_status=("resolved" if fact.closed else "triggered") if issue.incident else None,
            action={"opened": "open", "closed": "close"}.get(fact.action, "update"),
        )
        changes: dict[str, Any] = {"updated_at": {"previous": previous_updated, "current": _iso_ms(fact.at)}}
        if fact.action == "opened":
            changes = {"title": {"previous": None, "current": fact.title}, **changes}
        elif fact.action == "closed":
            changes = {"closed_at": {"previous": None, "current": _iso_ms(fact.at)},
                       "state_id": {"previous": 1, "current": 2}, **changes}  # fmt: skip
        elif fact.action == "labeled":
            before = [self._gitlab_label(label_template, repo, name) for name in previous_labels]
            changes = {"labels": {"previous": before, "current": labels}, **changes}
        else:
            changes = {"description": {"previous": fact.previous_body, "current": fact.body}, **changes}
        payload.update(
            user=self._gitlab_user(payload["user"], fact.actor),
            project=self._gitlab_project(payload["project"], repo),
            labels=labels,
            changes=changes,
            repository=self._gitlab_project(payload["repository"], repo),
            assignees=[self._gitlab_user(payload["assignees"][0], issue.assignee)],
        )
        self._emit("gitlab", "issue", self._uuid4(), received, payload)

    def _gitlab_label(self, template: dict[str, Any], repo: Repo, name: str) -> dict[str, Any]:
        color, _, description = LABELS[name.lower()]
        created = iso(repo.created_at)
        return _fill(
            template,
            id=self._stable("gitlab-label", (repo.full_name, name), 20_000_000, 40_000_000),
            title=name,
            color=f"#{color}",
            project_id=self._gitlab_project_id(repo),
            created_at=created,
            updated_at=created,
            template=False,
            description=description,
            type="ProjectLabel",
            group_id=None,
        )

    # -- Jenkins ---------------------------------------------------------------------------

    def _jenkins_build(self, fact: DeploymentFact) -> None:
        self._replace(fact.created)
        repo, deployment = fact.repo, fact.deployment
        job = (
            f"{repo.name}-deploy" if deployment.environment == "production" else f"{repo.name}-{deployment.environment}"
        )
        number = self._next("jenkins-build", job, (20, 400), (1, 1))
        queue_id = self._next("jenkins-queue", None, (10_000, 90_000), (1, 40))
        started_ms = int(fact.started.timestamp() * 1000) + self.rng.randrange(1000)
        finished_ms = int(fact.finished.timestamp()) * 1000  # timestamp + duration = the GitHub final status
        host = "gitlab.com" if self._code(repo) == "gitlab" else "github.com"
        completed = self._replace(fact.final)
        finalized = completed + timedelta(seconds=self.rng.randint(1, 5)) if completed else None
        for phase, received in (
            ("STARTED", self._replace(fact.in_progress)),
            ("COMPLETED", completed),
            ("FINALIZED", finalized if finalized and finalized < self.received_before else None),
        ):
            if received is None:
                continue
            payload = self._template("jenkins", "build")
            build = payload["build"]
            build.update(
                full_url=f"{JENKINS}/job/{job}/{number}/",
                number=number,
                queue_id=queue_id,  # from here on, fields the plugin sends that the example lacks
                timestamp=started_ms,
                duration=0 if phase == "STARTED" else finished_ms - started_ms,
                phase=phase,
                status=JENKINS_RESULTS[fact.state],
                url=f"job/{job}/{number}/",
                scm={"url": f"https://{host}/{repo.full_name}.git", "branch": "origin/main", "commit": deployment.sha},
                artifacts={},
            )
            if phase == "STARTED":
                del build["status"]  # no result yet: the plugin leaves it out
            payload.update(name=job, url=f"job/{job}/", build=build)
            self._emit("jenkins", f"build.{phase.lower()}", f"{job}#{number}#{phase}", received, payload)

    # -- PagerDuty -------------------------------------------------------------------------

    def _pagerduty_incident(self, fact: IssueFact) -> None:
        received = self._replace(fact.delivery)
        issue = fact.issue
        if fact.action == "labeled" or received is None:
            return
        if fact.action == "opened":
            close = self.closes.get(id(issue))
            resolved = self._arrived(close.delivery) if close else None
            self.pages += 1
            if resolved is not None and self.pages % PAGERDUTY_DELAYED_EVERY == 1:
                # The triggered delivery failed and PagerDuty retried it after the resolution.
                retried = resolved + timedelta(seconds=self.rng.randint(60, 1800))
                received = retried if retried < self.received_before else received
            self._pagerduty_event(fact, "incident.triggered", fact.at, received, [issue.author], issue.author)
            triaged = issue.triaged_at
            if triaged is not None and (issue.closed_at is None or triaged < issue.closed_at):
                acknowledged = self._arrival(triaged)
                if acknowledged is not None:
                    self._pagerduty_event(
                        fact, "incident.acknowledged", triaged, acknowledged, [issue.author], issue.author
                    )
        elif fact.action == "edited":
            self._pagerduty_event(fact, "incident.reassigned", fact.at, received, [issue.assignee], issue.author)
        else:
            self._pagerduty_event(fact, "incident.resolved", fact.at, received, [], issue.assignee)

    def _pagerduty_event(
        self,
        fact: IssueFact,
        event_type: str,
        at: datetime,
        received: datetime,
        assignees: list[Person],
        agent: Person,
    ) -> None:
        issue, repo = fact.issue, fact.issue.repo
        payload = self._template("pagerduty", event_type)
        event, data = payload["event"], payload["event"]["data"]
        incident_id = self._pagerduty_id("incident", id(issue))
        service_id = self._pagerduty_id("service", repo.full_name)
        policy_id = self._pagerduty_id("escalation_policy", repo.full_name)
        cause = ROOT_CAUSE.search(fact.body)
        status = {"incident.triggered": "triggered", "incident.resolved": "resolved"}.get(event_type, "acknowledged")
        user_template = data["assignees"][0] if data["assignees"] else event["agent"]
        event.update(
            id=self._code_id("pagerduty-event", 26, "01"),
            event_type=event_type,
            resource_type="incident",
            occurred_at=_iso_ms(at),
            agent=self._pagerduty_user(event["agent"], agent),
            client=None,
        )
        data.update(
            id=incident_id,
            type="incident",
            self=f"{PAGERDUTY_API}/incidents/{incident_id}",
            html_url=f"{PAGERDUTY}/incidents/{incident_id}",
            number=self._numbered("pagerduty-number", id(issue), (400, 900), (1, 3)),
            status=status,
            title=f"{fact.title} (root cause: {cause.group(1)})" if cause else fact.title,
            service=_fill(
                data["service"],
                html_url=f"{PAGERDUTY}/service-directory/{service_id}",
                id=service_id,
                self=f"{PAGERDUTY_API}/services/{service_id}",
                summary=repo.full_name,  # silver names the repo after the service: no config needed
            ),
            assignees=[self._pagerduty_user(user_template, person) for person in assignees],
            escalation_policy=_fill(
                data["escalation_policy"],
                html_url=f"{PAGERDUTY}/escalation_policies/{policy_id}",
                id=policy_id,
                self=f"{PAGERDUTY_API}/escalation_policies/{policy_id}",
                summary=f"{repo.name} on-call",
            ),
            urgency="high" if {"sev1", "sev2"} & set(fact.labels) else "low",
            # Not in these examples; in PagerDuty's v3 incident data: when the incident was opened.
            created_at=iso(issue.created_at),
        )
        self._emit("pagerduty", event_type, event["id"], received, payload)

    def _pagerduty_id(self, kind: str, key: Any) -> str:
        if (f"pagerduty-{kind}", key) not in self.numbers:
            self.numbers[f"pagerduty-{kind}", key] = self._code_id("pagerduty", 7, "P")
        return self.numbers[f"pagerduty-{kind}", key]

    def _pagerduty_user(self, template: dict[str, Any], person: Person) -> dict[str, Any]:
        user_id = self._pagerduty_id("user", person.login)
        return _fill(
            template,
            html_url=f"{PAGERDUTY}/users/{user_id}",
            id=user_id,
            self=f"{PAGERDUTY_API}/users/{user_id}",
            summary=person.name,
            type="user_reference",
        )

    # -- Jira ------------------------------------------------------------------------------

    def _jira_issue(self, fact: IssueFact) -> None:
        received = self._replace(fact.delivery)
        issue, repo = fact.issue, fact.issue.repo
        project_key = repo.ticket_prefix  # jira.projects maps it to the repository (DemoSummary.config)
        state = self.issue_state.get(id(issue))
        if state is None:
            number = self._next("jira-key", project_key, (40, 400), (1, 6))
            state = {
                "key": f"{project_key}-{number}",
                "id": str(self._next("jira-id", None, (10_000, 60_000), (1, 30))),
                "labels": (),
                "status": "To Do",
                "description": None,
                "timestamp": 0,
            }
            self.issue_state[id(issue)] = state
        labels = tuple(name for name in fact.labels if name.lower() != "incident")
        previous = dict(state)
        status = "Done" if fact.closed else ("To Do" if fact.action == "opened" else "In Progress")
        state.update(labels=labels, status=status, description=fact.body)
        timestamp = max(int(fact.at.timestamp()) * 1000 + self.rng.randrange(400), state["timestamp"] + 1)
        state["timestamp"] = timestamp
        if received is None:
            return
        created = fact.action == "opened"
        payload = self._template("jira", "jira_issue_created" if created else "jira_issue_updated")
        zone = timezone(timedelta(minutes=issue.author.utc_offset_minutes))
        fields = payload["issue"]["fields"]
        key, issue_id = state["key"], state["id"]
        severity = next((name for name in fact.labels if name in JIRA_PRIORITIES), "sev3")
        priority_name, priority_id = JIRA_PRIORITIES[severity]
        status_id, category_id, category_key, colour, category_name = JIRA_STATUSES[status]
        project_id = str(self._stable("jira-project", project_key, 10_000, 10_100))
        fields.update(
            issuetype=_fill(
                fields["issuetype"],
                self=f"{JIRA}/rest/api/2/issuetype/10004",
                id="10004",
                description="A problem or error that affects customers or a service.",
                iconUrl=f"{JIRA}/secure/viewavatar?size=xsmall&avatarId=10303&avatarType=issuetype",
                name="Incident",
                subtask=False,
                avatarId=10303,
            ),
            project=_fill(
                fields["project"],
                self=f"{JIRA}/rest/api/2/project/{project_id}",
                id=project_id,
                key=project_key,
                name=repo.name,
                projectTypeKey="software",
            ),
            resolution=_fill(
                self._template("jira", "jira_issue_updated")["issue"]["fields"]["resolution"],
                self=f"{JIRA}/rest/api/2/resolution/10000",
            )
            if fact.closed
            else None,
            resolutiondate=_jira_time(fact.at, zone) if fact.closed else None,
            lastViewed=None,
            watches=_fill(fields["watches"], self=f"{JIRA}/rest/api/2/issue/{key}/watchers", watchCount=1),
            created=_jira_time(issue.created_at, zone),
            priority=_fill(
                fields["priority"],
                self=f"{JIRA}/rest/api/2/priority/{priority_id}",
                iconUrl=f"{JIRA}/images/icons/priorities/{priority_name.lower()}.svg",
                name=priority_name,
                id=priority_id,
            ),
            labels=list(labels),
            assignee=None if created else self._jira_user(payload["user"], issue.assignee),
            updated=_jira_time(fact.at, zone),
            status=_fill(
                fields["status"],
                self=f"{JIRA}/rest/api/2/status/{status_id}",
                name=status,
                id=status_id,
                statusCategory=_fill(
                    fields["status"]["statusCategory"],
                    self=f"{JIRA}/rest/api/2/statuscategory/{category_id}",
                    id=category_id,
                    key=category_key,
                    colorName=colour,
                    name=category_name,
                ),
            ),
            components=[],
            description=fact.body,
            summary=fact.title,
            creator=self._jira_user(fields["creator"], issue.author),
            reporter=self._jira_user(fields["reporter"], issue.author),
            votes=_fill(fields["votes"], self=f"{JIRA}/rest/api/2/issue/{key}/votes"),
        )
        payload["issue"].update(id=issue_id, self=f"{JIRA}/rest/api/2/issue/{issue_id}", key=key)
        items = self._jira_changelog(
            payload["changelog"]["items"][0], fact, previous, status, (priority_name, priority_id)
        )
        payload.update(
            timestamp=timestamp,
            webhookEvent="jira:issue_created" if created else "jira:issue_updated",
            issue_event_type_name="issue_created" if created else "issue_generic" if fact.closed else "issue_updated",
            user=self._jira_user(payload["user"], fact.actor),
            changelog={"id": str(self._next("jira-changelog", None, (10_000, 20_000), (1, 40))), "items": items},
        )
        self._emit("jira", payload["webhookEvent"], self._uuid4(), received, payload)

    def _jira_changelog(
        self,
        template: dict[str, Any],
        fact: IssueFact,
        previous: dict[str, Any],
        status: str,
        priority: tuple[str, str],
    ) -> list[dict[str, Any]]:
        """The changelog of one event: what it changed, as Jira lists it."""

        def item(field: str, before: str | None, after: str | None, to: str | None = None, start: str | None = None):
            return _fill(
                template, field=field, fieldtype="jira", fieldId=field.lower(), **{"from": start},
                fromString=before, to=to, toString=after,
            )  # fmt: skip

        items = []
        if fact.action == "opened":
            items = [
                item("description", None, fact.body),
                item("priority", None, priority[0], priority[1]),
                item("summary", None, fact.title),
            ]
        elif fact.action == "labeled":
            labels = " ".join(name for name in fact.labels if name.lower() != "incident")
            items = [item("labels", " ".join(previous["labels"]), labels)]
        elif fact.action == "edited":
            items = [item("description", previous["description"], fact.body)]
        else:
            items = [item("resolution", None, "Done", "10000")]
        if previous["status"] != status:
            items.append(
                item(
                    "Status", previous["status"], status, JIRA_STATUSES[status][0], JIRA_STATUSES[previous["status"]][0]
                )
            )
        return items

    def _jira_user(self, template: dict[str, Any], person: Person) -> dict[str, Any]:
        account = f"{self._stable('jira-account', person.login, 1 << 92, 1 << 95):024x}"
        avatar = hashlib.md5(f"{person.login}@acme.example".encode(), usedforsecurity=False).hexdigest()
        return _fill(
            template,
            self=f"{JIRA}/rest/api/2/user?accountId={account}",
            name=person.login,
            key=person.login,
            accountId=account,
            emailAddress=f"{person.login}@acme.example",
            avatarUrls={
                size: f"https://secure.gravatar.com/avatar/{avatar}?d=mm&s={size.split('x')[0]}"
                for size in template.get("avatarUrls", {})
            },
            displayName=person.name,
            active=True,
            timeZone=TIME_ZONES.get(person.utc_offset_minutes, "Etc/UTC"),
            accountType="atlassian",
        )


def _fill(template: dict[str, Any], /, **values: Any) -> dict[str, Any]:
    """``template`` (a copy) with the keys it has set from ``values``; its other keys kept."""
    filled = copy.deepcopy(template)
    for key in filled:
        if key in values:
            filled[key] = values[key]
    return filled


def _gravatar(person: Person) -> str:
    digest = hashlib.sha256(f"{person.login}@acme.example".encode()).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?s=80&d=identicon"


def _iso_ms(moment: datetime) -> str:
    """Milliseconds, as GitLab issues and PagerDuty write times; whole seconds here, so that
    durations equal the GitHub history's."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _jira_time(moment: datetime, zone: timezone) -> str:
    """Jira's ``2019-02-15T19:01:52.971-0800``, in the reporter's offset."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S.000%z")
