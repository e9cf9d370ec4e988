"""A deterministic, realistic history of GitHub webhook deliveries, written as landing files.

``generate_demo`` simulates a small engineering organisation (``acme/...`` repositories) over a
range of days:

- developers push 1-5 commits at a time to ``feature/...`` branches and merge them into ``main``
  (as merge commits that carry the branch's commits again, as squash commits, or as direct
  pushes), mostly on weekdays;
- each repository deploys the head of ``main`` at its own rhythm (several times a day, daily,
  twice a week or weekly), first to ``staging`` and then to ``production``, shipping whatever
  pushes accumulated since the last successful production deployment; some deployments fail or
  error and are retried;
- some successful production deployments cause an incident: an issue labelled ``incident`` (or
  ``Incident``) whose body names a commit of that deployment in a ``Root cause: <sha>`` line,
  labelled and edited later, and closed hours later; the latest one or two stay open;
- ordinary issues (``bug``, ``enhancement``, ...) add noise, and a few percent of deliveries are
  delivered a second time.

Every payload is a real GitHub webhook example (``templates/github``, from octokit/webhooks)
with the fields that must vary overwritten. The output is one NDJSON file of envelopes per UTC
day (``github/YYYY/MM/DD/deliveries.ndjson``, in received order) plus one single-envelope file
per redelivery (``github/YYYY/MM/DD/redeliveries/<delivery_id>.json``), byte-identical for
identical arguments.

With ``sources`` naming more than GitHub, the same history (same seed: same repositories,
commits, merges, deployments, incidents and times) is told by other senders for a fixed subset
of the repositories (``senders.py``): GitLab hosts every second repository, Jenkins deploys two
repositories in four, PagerDuty and Jira report the incidents of every third repository (see
``assign_senders``). Each source gets its own ``<source>/YYYY/MM/DD/`` folders.
"""

from __future__ import annotations

import base64
import copy
import heapq
import itertools
import json
import math
import os
import random
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from dora_assets.config import DoraConfig
from dora_assets.ingestion.envelope import Envelope

OWNER = "acme"
REPO_NAMES: tuple[str, ...] = (
    "payments", "checkout", "search", "identity", "mobile-api", "notifications", "billing",
    "inventory", "catalog", "shipping", "orders", "accounts", "analytics", "gateway", "ledger",
    "pricing", "recommendations", "reviews", "fraud", "loyalty", "messaging", "onboarding",
    "reporting", "scheduler", "storefront", "warehouse",
)  # fmt: skip
MAX_REPOS = len(REPO_NAMES)

SOURCES: tuple[str, ...] = ("github", "gitlab", "pagerduty", "jira", "jenkins")
DEFAULT_SOURCES: tuple[str, ...] = ("github",)
CODE_HOSTS: tuple[str, ...] = ("github", "gitlab")
JENKINS_DEPLOY_JOBS: tuple[str, ...] = ("*-deploy",)

TEMPLATE_PACKAGE = "dora_assets.demo"
TEMPLATE_NAMES = (
    "push", "deployment", "deployment_status", "issues.opened", "issues.labeled", "issues.edited", "issues.closed",
)  # fmt: skip
TEMPLATE_REPOSITORY = "Codertocat/Hello-World"
TEMPLATE_LOGIN = "Codertocat"
TEMPLATE_USER_ID = "21031067"

ZERO_SHA = "0" * 40
REDELIVERY_RATE = 0.03
MAX_COMMITS_PER_PUSH = 5
WEEKEND_ACTIVITY = 0.08  # weekend merges as a share of a weekday's
SKIPPED_DEPLOY_WINDOW = 0.1  # release freezes, nobody around
STAGING_FAILURE_RATE = 0.08
PRODUCTION_ATTEMPTS = 3
# Feature branches are pushed up to 72 h before their merge, and a merge's pushes are made when
# the merge is played: the history is played this far past its end, so that its last days hold
# the branch pushes (and everything else) of what happens just after. Nothing received after the
# end (or `until`) is delivered; without this the last days before the end would be thinner than
# any other, and a gap check would rightly find them quiet.
LOOKAHEAD = timedelta(days=4)
MIN_MAIN_PUSH_GAP = timedelta(minutes=2)  # merges to main queue up; pushes to one branch never share a second
UUID_EPOCH_TICKS = 0x01B21DD213814000  # 100 ns ticks from 1582-10-15 (UUID v1 epoch) to 1970-01-01
ID_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
ID_SERIES: dict[str, tuple[int, float]] = {  # GitHub ids grow with time: base at ID_EPOCH, ids per second
    "deployment": (1_150_000_000, 1.5),
    "deployment_status": (2_300_000_000, 3.0),
    "issue": (2_050_000_000, 4.0),
    "workflow_run": (7_400_000_000, 25.0),
}
LONG_AGO = datetime.min.replace(tzinfo=UTC)
WEB_FLOW = {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"}


@dataclass(frozen=True)
class Rhythm:
    """How a repository works: how much it merges, when it deploys, and how often things break."""

    name: str
    merges_per_weekday: float
    deploy_weekdays: frozenset[int]  # Monday = 0
    deploy_hours: tuple[float, ...]  # UTC hours of the deploy windows on those days
    approval_minutes: tuple[int, int]  # wait between a good staging deployment and production
    production_failure_rate: float
    incident_rate: float  # chance that a successful production deployment causes an incident


RHYTHMS: tuple[Rhythm, ...] = (
    Rhythm("several a day", 4.5, frozenset(range(5)), (10.0, 12.0, 14.0, 16.0, 17.5), (2, 10), 0.06, 0.04),
    Rhythm("daily", 3.0, frozenset(range(5)), (15.0,), (5, 30), 0.08, 0.08),
    Rhythm("twice a week", 2.0, frozenset({1, 3}), (11.0,), (15, 60), 0.1, 0.15),
    Rhythm("weekly", 1.3, frozenset({2}), (14.0,), (30, 120), 0.12, 0.25),
)

PEOPLE: tuple[tuple[str, str], ...] = (
    ("Mei Chen", "meichen"), ("Arjun Patel", "apatel"), ("Sofia Rossi", "srossi"), ("Liam O'Brien", "lobrien"),
    ("Amara Okafor", "aokafor"), ("Jonas Weber", "jweber"), ("Yuki Tanaka", "ytanaka"), ("Lucas Silva", "lsilva"),
    ("Nadia Haddad", "nhaddad"), ("Ethan Brooks", "ebrooks"), ("Priya Nair", "pnair"), ("Mateo Garcia", "mgarcia"),
    ("Chloe Martin", "cmartin"), ("Oskar Nilsson", "onilsson"), ("Zanele Dlamini", "zdlamini"), ("Hana Kim", "hkim"),
    ("Diego Fernandez", "dfernandez"), ("Emma Dubois", "edubois"), ("Ravi Kumar", "rkumar"), ("Sara Cohen", "scohen"),
    ("Tomasz Nowak", "tnowak"), ("Aisha Bello", "abello"), ("Noah Fischer", "nfischer"), ("Ingrid Larsen", "ilarsen"),
    ("Kwame Mensah", "kmensah"), ("Lea Moreau", "lmoreau"), ("Omar Farouk", "ofarouk"), ("Julia Novak", "jnovak"),
)  # fmt: skip
UTC_OFFSETS_MINUTES = (0, 60, 60, 120, -300, -300, -480, 330, 540, -240)
LANGUAGES = ("Go", "Python", "TypeScript", "Kotlin")
FILES_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "Go": ("cmd/{pkg}/main.go", "internal/{pkg}/handler.go", "internal/{pkg}/service.go", "internal/{pkg}/store.go",
           "internal/{pkg}/handler_test.go", "internal/config/config.go", "go.mod", "deploy/values.yaml"),
    "Python": ("src/{pkg}/api.py", "src/{pkg}/service.py", "src/{pkg}/models.py", "src/{pkg}/settings.py",
               "tests/test_api.py", "tests/test_service.py", "pyproject.toml", "deploy/values.yaml"),
    "TypeScript": ("src/routes/{pkg}.ts", "src/services/{pkg}Service.ts", "src/db/queries.ts", "src/config.ts",
                   "test/{pkg}.test.ts", "package.json", "README.md", "deploy/values.yaml"),
    "Kotlin": ("src/main/kotlin/{pkg}/Application.kt", "src/main/kotlin/{pkg}/Routes.kt",
               "src/main/kotlin/{pkg}/Repository.kt", "src/test/kotlin/{pkg}/RoutesTest.kt",
               "build.gradle.kts", "src/main/resources/application.yaml", "deploy/values.yaml"),
}  # fmt: skip

COMMIT_VERBS = ("Add", "Fix", "Refactor", "Update", "Remove", "Improve", "Handle", "Simplify", "Harden", "Speed up")
COMMIT_SUBJECTS = (
    "retry logic for webhook delivery", "pagination in list endpoint", "null values in serializer",
    "request timeout config", "metrics for queue depth", "feature flag for new flow", "flaky integration test",
    "logging around auth failures", "cache invalidation on update", "database connection pool size",
    "input validation for create requests", "error messages returned to clients", "rate limiter",
    "health check endpoint", "migration for audit columns", "dependency pins", "CI workflow caching",
    "graceful shutdown", "idempotency keys", "currency rounding", "search ranking weights", "token refresh",
    "batch size for background jobs", "tracing spans for outbound calls", "dead letter queue consumer",
)  # fmt: skip
FOLLOW_UPS = (
    "Address review comments", "Fix lint", "Add tests", "Tidy up naming", "Handle empty input",
    "Update docs", "Fix failing test", "Remove debug logging", "Adjust defaults after review",
)  # fmt: skip
INCIDENT_TITLES = (
    "Elevated 5xx rate on {service} after deploy", "{service}: p99 latency above SLO",
    "{service} pods crash-looping in production", "Errors spiking in {service} for EU customers",
    "{service} queue backlog growing", "Customers report failures in {service}",
    "{service}: database CPU at 100%", "Timeouts calling {service} from the edge",
)  # fmt: skip
INCIDENT_IMPACTS = (
    "About {share}% of requests to {service} failed with HTTP 500.",
    "p99 latency of {service} rose above 2 s for {share}% of traffic.",
    "{share}% of {service} jobs were retried or dropped.",
    "Customers saw intermittent errors; {share}% of sessions affected.",
)
ALERTS = ("PagerDuty (error-rate SLO burn)", "Grafana latency alert", "customer support", "synthetic checks")
ISSUE_TITLES = (
    "{service}: {subject} is missing", "Flaky test in {service} CI", "Document {subject}",
    "{service} returns 500 on malformed input", "Support {subject} in {service}", "Log noise from {subject}",
    "Upgrade dependencies of {service}", "{service}: confusing error message",
)  # fmt: skip
LABELS: dict[str, tuple[str, bool, str]] = {  # lower-case name -> color, default, description
    "bug": ("d73a4a", True, "Something isn't working"),
    "enhancement": ("a2eeef", True, "New feature or request"),
    "documentation": ("0075ca", True, "Improvements or additions to documentation"),
    "question": ("d876e3", True, "Further information is requested"),
    "good first issue": ("7057ff", True, "Good for newcomers"),
    "incident": ("b60205", False, "Production incident"),
    "sev1": ("e11d21", False, "Severity 1: major outage"),
    "sev2": ("eb6420", False, "Severity 2: partial outage"),
    "sev3": ("fbca04", False, "Severity 3: minor impact"),
    "customer-impact": ("5319e7", False, "Customers noticed"),
    "needs-triage": ("ededed", False, "Not looked at yet"),
}
STATUS_DESCRIPTIONS = {
    "in_progress": "Deployment started",
    "success": "Deployment finished successfully.",
    "failure": "Deployment failed: health checks did not pass.",
    "error": "Deployment errored: the runner lost contact.",
}

Action = Callable[[datetime], None]


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo`` wrote."""

    files: int  # landing files written
    deliveries: int  # envelopes written, including redeliveries
    redeliveries: int  # envelopes that repeat an earlier delivery_id
    repos: list[str]
    start: date
    end: date
    sources: tuple[str, ...] = DEFAULT_SOURCES
    # repo -> who reports what: {"code": github|gitlab, "deployments": github|gitlab|jenkins,
    # "incidents": github|gitlab|pagerduty|jira}
    senders: dict[str, dict[str, str]] = field(default_factory=dict)
    # The metric config the history needs (jira.projects, jenkins.deploy_jobs); {} for none.
    config: dict[str, Any] = field(default_factory=dict)


def parse_sources(value: str | Iterable[str]) -> tuple[str, ...]:
    """The sources named by a comma-separated list (or an iterable of names), in the canonical
    order of ``SOURCES``. Raises ``ValueError`` for an unknown or missing name, or a list
    without a code host (github or gitlab): pushes need one."""
    names = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"sources must be names, not {value!r}")
    chosen = [name.strip().lower() for name in names]
    unknown = [name for name in chosen if name not in SOURCES]
    if unknown:
        shown = ", ".join(repr(name) for name in unknown)
        raise ValueError(f"unknown source {shown}; choose from {', '.join(SOURCES)}")
    if not chosen:
        raise ValueError(f"no source named; choose from {', '.join(SOURCES)}")
    if not any(name in CODE_HOSTS for name in chosen):
        raise ValueError("sources must include a code host, github or gitlab: the history's pushes need one")
    return tuple(name for name in SOURCES if name in chosen)


def describe_senders(senders: dict[str, dict[str, str]]) -> str:
    """One line saying which repositories each non-GitHub sender speaks for."""
    roles = (("code", "gitlab", "hosts"), ("deployments", "jenkins", "deploys"),
             ("incidents", "pagerduty", "pages for"), ("incidents", "jira", "tracks incidents of"))  # fmt: skip
    parts = []
    for role, sender, verb in roles:
        repos = [repo for repo, assigned in senders.items() if assigned[role] == sender]
        if repos:
            parts.append(f"{sender} {verb} {', '.join(repos)}")
    return "; ".join(parts) + ("; github the rest" if parts else "github all")


def demo_config_yaml(config: dict[str, Any]) -> str:
    """The config a demo history needs (``DemoSummary.config``) as a YAML file's text."""
    header = "# The metric config of the dora-assets demo history: Jira projects and Jenkins deploy jobs.\n"
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def config_covers(existing: DoraConfig, needed: dict[str, Any]) -> bool:
    """Whether ``existing`` already maps what ``needed`` (``DemoSummary.config``) asks for."""
    projects = needed.get("jira", {}).get("projects", {})
    if any(existing.jira.projects.get(key.lower()) != repo for key, repo in projects.items()):
        return False
    jobs = needed.get("jenkins", {}).get("deploy_jobs", [])
    return all(pattern.lower() in existing.jenkins.deploy_jobs for pattern in jobs)


def assign_senders(repo_count: int, sources: Iterable[str]) -> list[dict[str, str]]:
    """Who reports what for each repository (by position), fixed for a set of sources:
    the code host alternates between the chosen hosts (GitLab: every second repository);
    Jenkins deploys the third and fourth of every four; PagerDuty and Jira take turns with the
    code host at reporting incidents (every third repository each when both are chosen)."""
    chosen = set(sources)
    hosts = [host for host in CODE_HOSTS if host in chosen]
    incident_senders = ["code", *(name for name in ("pagerduty", "jira") if name in chosen)]
    plan = []
    for index in range(repo_count):
        code = hosts[index % len(hosts)]
        deployments = "jenkins" if "jenkins" in chosen and index // 2 % 2 == 1 else code
        incidents = incident_senders[index % len(incident_senders)]
        plan.append({"code": code, "deployments": deployments, "incidents": code if incidents == "code" else incidents})
    return plan


def generate_demo(
    landing_dir: Path,
    *,
    days: int = 90,
    repos: int = 4,
    seed: int = 7,
    end: date | None = None,
    until: datetime | None = None,
    sources: str | Iterable[str] = DEFAULT_SOURCES,
) -> DemoSummary:
    """Write ``days`` days of GitHub deliveries (ending at ``end``, inclusive; default today in
    UTC) for ``repos`` repositories into ``landing_dir``. Only deliveries received before
    ``until`` (default: now) are written, so a history that ends today holds nothing from the
    future. The same arguments (and a past ``end``) write the same bytes to the same files.
    ``sources`` (names or a comma-separated list from ``SOURCES``; default GitHub only) chooses
    the senders: the history is the same whatever they are, only who reports each event changes
    (see ``assign_senders``), and the summary's ``config`` holds the metric config that Jira and
    Jenkins deliveries need. Raises ``ValueError`` for days < 1, repos outside 1..26 or bad
    sources.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number of at least 1, not {days!r}")
    if isinstance(repos, bool) or not isinstance(repos, int) or not 1 <= repos <= MAX_REPOS:
        raise ValueError(f"repos must be a whole number from 1 to {MAX_REPOS}, not {repos!r}")
    sources = parse_sources(sources)
    if isinstance(end, datetime):
        end = end.date()
    end = end or datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    rng = random.Random(seed)
    history = _DemoHistory(rng, start, end, repos, until or datetime.now(UTC))
    envelopes = history.run()
    plan = assign_senders(repos, sources)
    senders = {repo.full_name: assigned for repo, assigned in zip(history.repos, plan, strict=True)}
    if sources != DEFAULT_SOURCES:
        from dora_assets.demo.senders import retell  # the other senders build on this module

        envelopes = retell(history, senders, seed)
    files, redeliveries = _write_landing(Path(landing_dir), envelopes, rng)
    return DemoSummary(
        files=files,
        deliveries=len(envelopes) + redeliveries,
        redeliveries=redeliveries,
        repos=[repo.full_name for repo in history.repos],
        start=start,
        end=end,
        sources=sources,
        senders=senders,
        config=_needed_config(history.repos, senders),
    )


def _needed_config(repos: list[_Repo], senders: dict[str, dict[str, str]]) -> dict[str, Any]:
    """What the metric config must say for the history's Jira and Jenkins deliveries: each Jira
    project's repository (its key is the repository's ticket prefix) and the deploy jobs."""
    config: dict[str, Any] = {}
    projects = {repo.ticket_prefix: repo.full_name for repo in repos if senders[repo.full_name]["incidents"] == "jira"}
    if projects:
        config["jira"] = {"projects": projects}
    if any(assigned["deployments"] == "jenkins" for assigned in senders.values()):
        config["jenkins"] = {"deploy_jobs": list(JENKINS_DEPLOY_JOBS)}
    return config


@dataclass(frozen=True)
class _Person:
    login: str
    name: str
    user_id: int
    utc_offset_minutes: int
    kind: str = "User"

    @property
    def email(self) -> str:
        return f"{self.user_id}+{self.login}@users.noreply.github.com"


@dataclass(frozen=True)
class _Commit:
    sha: str
    tree_id: str
    message: str
    author: _Person
    at: datetime
    modified: tuple[str, ...]
    kind: str = "code"  # code, squash (a squashed pull request) or merge (a merge commit)


@dataclass(frozen=True)
class _Deployment:
    deployment_id: int
    sha: str
    environment: str
    creator: _Person
    created_at: datetime
    run_id: int


@dataclass
class _Repo:
    full_name: str
    name: str
    rhythm: Rhythm
    people: list[_Person]
    repo_id: int
    language: str
    files: tuple[str, ...]
    incident_label: str
    ticket_prefix: str
    created_at: datetime
    pushed_at: datetime
    heads: dict[str, str]
    next_number: int
    next_ticket: int
    pending: list[_Commit] = field(default_factory=list)  # on main, not yet in production
    busy_until: datetime = LONG_AGO  # while a deploy pipeline runs, later windows are skipped
    main_pushed_at: datetime = LONG_AGO
    last_merger: _Person | None = None
    open_issues: int = 0
    label_ids: dict[str, int] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # templates rebranded for this repository

    def take_number(self) -> int:
        """The next issue or pull-request number (GitHub numbers them from one sequence)."""
        self.next_number += 1
        return self.next_number


@dataclass
class _Issue:
    repo: _Repo
    number: int
    issue_id: int
    title: str
    body: str
    labels: list[str]
    author: _Person
    assignee: _Person
    created_at: datetime
    closed_at: datetime | None = None
    comments: int = 0
    close_envelope: Envelope | None = None
    incident: bool = False
    triaged_at: datetime | None = None  # incidents: when the responder took it on


# What happened, as the history played it, for the other senders (``senders.py``) to retell.
# Each fact keeps the GitHub envelope(s) it produced (None when cut off by ``until``).


@dataclass(frozen=True)
class _PushFact:
    repo: _Repo
    branch: str
    before: str
    after: str
    commits: tuple[_Commit, ...]
    at: datetime
    pusher: _Person
    envelope: Envelope | None


@dataclass(frozen=True)
class _MergeFact:
    """A pull request merged into main (merge or squash style), after its main push."""

    repo: _Repo
    number: int
    branch: str
    title: str
    author: _Person
    merger: _Person
    opened_at: datetime  # the branch's first push
    head: _Commit  # the branch's last commit
    push: _PushFact  # the push to main that merged it


@dataclass(frozen=True)
class _DeploymentFact:
    repo: _Repo
    deployment: _Deployment
    started: datetime
    finished: datetime
    state: str  # success, failure or error
    created: Envelope | None
    in_progress: Envelope | None
    final: Envelope | None


@dataclass(frozen=True)
class _IssueFact:
    """One ``issues`` event, with the issue as it was right after it."""

    issue: _Issue
    action: str  # opened, labeled, edited, closed
    at: datetime
    actor: _Person
    title: str
    body: str
    previous_body: str | None  # edited: the body before
    labels: tuple[str, ...]
    closed: bool
    envelope: Envelope | None


_Fact = _PushFact | _MergeFact | _DeploymentFact | _IssueFact


class _DemoHistory:
    """Holds the RNG, the per-repository state and a time-ordered queue of actions; running it
    plays the actions in time order and collects the envelopes they produce."""

    def __init__(self, rng: random.Random, start: date, end: date, repo_count: int, until: datetime) -> None:
        self.rng = rng
        self.start_at = datetime.combine(start, time(), UTC)
        self.end_at = datetime.combine(end + timedelta(days=1), time(), UTC)  # exclusive
        self.received_before = min(self.end_at, until)
        self.templates = {name: _template_text(name) for name in TEMPLATE_NAMES}
        self.envelopes: list[Envelope] = []
        self.facts: list[_Fact] = []  # in the order they happened
        self.commits: dict[str, _Commit] = {}  # sha -> commit, every pushed commit
        self.branch_opened: dict[tuple[str, str], datetime] = {}  # (repo, branch) -> first push
        self.incidents: list[_Issue] = []
        self.used_ids: set[int] = set()
        self.used_delivery_ids: set[str] = set()
        self.hookshot_nodes = [rng.getrandbits(48) | (1 << 40) for _ in range(6)]
        self.queue: list[tuple[datetime, int, Action]] = []
        self.sequence = itertools.count()
        self.org = _Person(OWNER, OWNER, rng.randrange(20_000_000, 90_000_000), 0, "Organization")
        self.people = [
            _Person(login, name, rng.randrange(1_000_000, 120_000_000), rng.choice(UTC_OFFSETS_MINUTES))
            for name, login in PEOPLE
        ]
        self.repos = [self._make_repo(index) for index in range(repo_count)]

    def run(self) -> list[Envelope]:
        """Play every action until LOOKAHEAD after the end of the last day; the envelopes
        received before the cut-off, in received order."""
        played_until = self.end_at + LOOKAHEAD
        day = self.start_at
        while day < played_until:
            self._at(day, self._plan_day)
            day += timedelta(days=1)
        while self.queue and self.queue[0][0] < played_until:
            at, _, action = heapq.heappop(self.queue)
            action(at)
        self._leave_latest_incidents_open()
        return sorted(self.envelopes, key=lambda envelope: (envelope.received_at, envelope.delivery_id))

    # -- setup and scheduling ---------------------------------------------------------------

    def _make_repo(self, index: int) -> _Repo:
        rng = self.rng
        name = REPO_NAMES[index]
        base = RHYTHMS[index % len(RHYTHMS)]
        rhythm = replace(base, merges_per_weekday=round(base.merges_per_weekday * rng.uniform(0.85, 1.15), 2))
        language = LANGUAGES[(index + rng.randrange(len(LANGUAGES))) % len(LANGUAGES)]
        package = name.replace("-", "_") if language == "Python" else name.replace("-", "")
        created_at = self.start_at - timedelta(days=rng.randint(400, 2500), seconds=rng.randrange(86_400))
        return _Repo(
            full_name=f"{OWNER}/{name}",
            name=name,
            rhythm=rhythm,
            people=rng.sample(self.people, rng.randint(4, 7)),
            repo_id=rng.randrange(300_000_000, 800_000_000),
            language=language,
            files=tuple(path.format(pkg=package) for path in FILES_BY_LANGUAGE[language]),
            incident_label="Incident" if index % 3 == 1 else "incident",
            ticket_prefix=name.replace("-", "")[:3].upper(),
            created_at=created_at,
            pushed_at=self.start_at - timedelta(hours=rng.randint(2, 60)),
            heads={"main": self._sha()},
            next_number=rng.randint(120, 2400),
            next_ticket=rng.randint(100, 900),
        )

    def _at(self, at: datetime, action: Action) -> None:
        heapq.heappush(self.queue, (at, next(self.sequence), action))

    def _plan_day(self, day: datetime) -> None:
        """Schedule each repository's merges, stray branches, issues and deploy windows of a day."""
        rng = self.rng
        weekday = day.weekday() < 5
        for repo in self.repos:
            rhythm = repo.rhythm
            merges = rhythm.merges_per_weekday * (1.0 if weekday else WEEKEND_ACTIVITY)
            for _ in range(_poisson(rng, merges)):
                self._at(day + self._working_time(), partial(self._merge, repo))
            for _ in range(_poisson(rng, 0.25 if weekday else 0.03)):
                self._at(day + self._working_time(), partial(self._abandoned_branch, repo))
            for _ in range(_poisson(rng, 0.4 if weekday else 0.08)):
                self._at(day + self._working_time(), partial(self._open_issue, repo))
            if day.weekday() not in rhythm.deploy_weekdays:
                continue
            for hour in rhythm.deploy_hours:
                if rng.random() < SKIPPED_DEPLOY_WINDOW:
                    continue
                at = day + timedelta(seconds=int(hour * 3600) + rng.randint(-900, 900))
                self._at(at, partial(self._deploy_window, repo))

    def _working_time(self) -> timedelta:
        """A time of day (UTC) when someone in a team spread over several time zones works."""
        return timedelta(seconds=int(self.rng.triangular(7.0, 20.5, 13.5) * 3600))

    # -- pushes -----------------------------------------------------------------------------

    def _merge(self, repo: _Repo, at: datetime) -> None:
        """A change reaches main: a pull request merged with a merge commit (the branch's commits
        are pushed to main again), squashed into one commit, or a small direct push."""
        rng = self.rng
        if at < repo.main_pushed_at + MIN_MAIN_PUSH_GAP:
            self._at(
                repo.main_pushed_at + MIN_MAIN_PUSH_GAP + timedelta(seconds=rng.randint(0, 600)),
                partial(self._merge, repo),
            )
            return
        author = rng.choice(repo.people)
        merger = rng.choice(repo.people)
        subject = self._subject()
        style = rng.choices(("merge", "squash", "direct"), weights=(55, 30, 15))[0]
        if at - self.start_at < timedelta(hours=1):
            style = "direct"
        repeated: set[str] = set()
        if style == "direct":
            first = at - timedelta(minutes=rng.randint(10, 240))
            commits = self._commits(repo, author, rng.randint(1, 3), first, at - timedelta(seconds=40), subject)
        else:
            number = repo.take_number()
            branch = self._branch_name(repo, subject)
            branch_commits = self._feature_branch(repo, branch, author, subject, at)
            files = tuple(sorted({path for commit in branch_commits for path in commit.modified}))
            if style == "merge":
                message = f"Merge pull request #{number} from {OWNER}/{branch}\n\n{subject}"
                merge_commit = _Commit(
                    self._sha(), self._sha(), message, merger, at - timedelta(seconds=3), files, "merge"
                )
                commits = [*branch_commits, merge_commit]
                repeated = {commit.sha for commit in branch_commits}
            else:
                message = f"{subject} (#{number})"
                commits = [
                    _Commit(self._sha(), self._sha(), message, author, at - timedelta(seconds=3), files, "squash")
                ]
        push = self._push(repo, "main", commits, at, merger, repeated)
        if style != "direct":
            opened = self.branch_opened.get((repo.full_name, branch), at)
            self.facts.append(
                _MergeFact(repo, number, branch, subject, author, merger, opened, branch_commits[-1], push)
            )
        repo.main_pushed_at = at
        repo.pending.extend(commits)
        repo.last_merger = merger

    def _abandoned_branch(self, repo: _Repo, at: datetime) -> None:
        """Work pushed to a feature branch that is never merged: noise that never deploys."""
        author = self.rng.choice(repo.people)
        subject = self._subject()
        self._feature_branch(repo, self._branch_name(repo, subject), author, subject, at)

    def _feature_branch(self, repo: _Repo, branch: str, author: _Person, subject: str, done: datetime) -> list[_Commit]:
        """1-3 pushes to a new feature branch before ``done``, 1-4 commits in all; the commits."""
        rng = self.rng
        started = max(self.start_at + timedelta(minutes=5), done - timedelta(seconds=int(rng.uniform(2, 72) * 3600)))
        span = (done - timedelta(minutes=10)) - started
        pushes = rng.choices((1, 2, 3), weights=(50, 35, 15))[0] if span > timedelta(minutes=30) else 1
        counts = [1] * pushes
        for _ in range(rng.randint(0, MAX_COMMITS_PER_PUSH - 1 - pushes)):
            counts[rng.randrange(pushes)] += 1
        previous = started - timedelta(minutes=rng.randint(20, 600))
        branch_commits: list[_Commit] = []
        for position, count in enumerate(counts):
            pushed = started + timedelta(
                seconds=int(span.total_seconds() * (position + rng.uniform(0.1, 0.9)) / pushes)
            )
            message = subject if position == 0 else rng.choice(FOLLOW_UPS)
            commits = self._commits(repo, author, count, previous, pushed - timedelta(seconds=30), message)
            self._push(repo, branch, commits, pushed, author, set())
            branch_commits.extend(commits)
            previous = pushed
        return branch_commits

    def _commits(
        self, repo: _Repo, author: _Person, count: int, earliest: datetime, latest: datetime, first_message: str
    ) -> list[_Commit]:
        """``count`` commits authored between two times, in chronological order."""
        rng = self.rng
        seconds = max(int((latest - earliest).total_seconds()), count)
        offsets = sorted(rng.sample(range(seconds), count))
        return [
            _Commit(
                sha=self._sha(),
                tree_id=self._sha(),
                message=first_message if position == 0 else rng.choice(FOLLOW_UPS),
                author=author,
                at=earliest + timedelta(seconds=offset),
                modified=tuple(sorted(rng.sample(repo.files, rng.randint(1, 3)))),
            )
            for position, offset in enumerate(offsets)
        ]

    def _push(
        self, repo: _Repo, branch: str, commits: list[_Commit], at: datetime, pusher: _Person, repeated: set[str]
    ) -> _PushFact:
        """A ``push`` event moving ``branch`` from its previous head to the last commit."""
        before = repo.heads.get(branch, ZERO_SHA)
        after = commits[-1].sha
        repo.pushed_at = max(repo.pushed_at, at)
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
        repo.heads[branch] = after
        envelope = self._emit("push", payload, at)
        fact = _PushFact(repo, branch, before, after, tuple(commits), at, pusher, envelope)
        self.facts.append(fact)
        self.commits.update((commit.sha, commit) for commit in commits)
        self.branch_opened.setdefault((repo.full_name, branch), at)
        return fact

    def _commit_payload(self, repo: _Repo, template: dict[str, Any], commit: _Commit, distinct: bool) -> dict[str, Any]:
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

    # -- deployments ------------------------------------------------------------------------

    def _deploy_window(self, repo: _Repo, at: datetime) -> None:
        """Deploy the head of main to staging, then to production (retrying failures), when main
        has pushes that production does not have yet."""
        rng = self.rng
        if not repo.pending or at < repo.busy_until or repo.last_merger is None:
            return
        sha = repo.heads["main"]
        shipped = repo.pending
        state, finished = self._deployment(repo, sha, "staging", at, repo.last_merger, STAGING_FAILURE_RATE)
        repo.busy_until = finished
        if state != "success":
            return
        attempt_at = finished + timedelta(minutes=rng.randint(*repo.rhythm.approval_minutes))
        for _ in range(PRODUCTION_ATTEMPTS):
            state, finished = self._deployment(
                repo, sha, "production", attempt_at, repo.last_merger, repo.rhythm.production_failure_rate
            )
            repo.busy_until = finished
            if state == "success":
                repo.pending = []
                if rng.random() < repo.rhythm.incident_rate:
                    opened = finished + timedelta(minutes=int(min(rng.lognormvariate(math.log(90), 1.2), 2880)) + 5)
                    self._at(opened, partial(self._open_incident, repo, sha, shipped))
                return
            attempt_at = finished + timedelta(minutes=rng.randint(15, 60))

    def _deployment(
        self, repo: _Repo, sha: str, environment: str, at: datetime, creator: _Person, failure_rate: float
    ) -> tuple[str, datetime]:
        """A ``deployment`` event and its ``in_progress`` and final ``deployment_status`` events;
        the final state and when it was reached."""
        rng = self.rng
        deployment = _Deployment(
            self._id_at("deployment", at), sha, environment, creator, at, self._id_at("workflow_run", at)
        )
        payload = self._payload(repo, "deployment")
        self._fill_deployment(repo, payload["deployment"], deployment, at)
        payload["sender"] = self._account(payload["sender"], creator)
        created = self._emit("deployment", payload, at)
        started = at + timedelta(seconds=rng.randint(12, 90))
        in_progress = self._deployment_status(repo, deployment, "in_progress", started)
        duration = rng.randint(180, 900) if environment == "production" else rng.randint(120, 480)
        finished = started + timedelta(seconds=duration)
        roll = rng.random()
        state = "success" if roll >= failure_rate else ("failure" if roll < failure_rate * 0.7 else "error")
        final = self._deployment_status(repo, deployment, state, finished)
        self.facts.append(_DeploymentFact(repo, deployment, started, finished, state, created, in_progress, final))
        return state, finished

    def _deployment_status(self, repo: _Repo, deployment: _Deployment, state: str, at: datetime) -> Envelope | None:
        payload = self._payload(repo, "deployment_status")
        status_id = self._id_at("deployment_status", at)
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
            created_at=_iso(at),
            updated_at=_iso(at),
            deployment_url=deployment_url,
            repository_url=f"https://api.github.com/repos/{repo.full_name}",
        )
        self._fill_deployment(repo, payload["deployment"], deployment, at)
        payload["sender"] = self._account(payload["sender"], deployment.creator)
        return self._emit("deployment_status", payload, at)

    def _fill_deployment(self, repo: _Repo, body: dict[str, Any], deployment: _Deployment, updated: datetime) -> None:
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
            created_at=_iso(deployment.created_at),
            updated_at=_iso(updated),
            statuses_url=f"{url}/statuses",
            repository_url=f"https://api.github.com/repos/{repo.full_name}",
        )

    # -- issues -----------------------------------------------------------------------------

    def _open_incident(self, repo: _Repo, deployed_sha: str, shipped: list[_Commit], at: datetime) -> None:
        """An incident caused by a deployment: opened, triaged (labelled), usually edited to name
        the root-cause commit (full sha or a 7-12 character prefix), and closed hours later."""
        rng = self.rng
        culprit = rng.choice([commit for commit in shipped if commit.kind != "merge"] or shipped)
        roll = rng.random()
        cause = None if roll < 0.15 else (culprit.sha if roll < 0.6 else culprit.sha[: rng.randint(7, 12)])
        cause_line = f"{rng.choice(('Root cause', 'Root cause', 'Root Cause'))}: {cause}" if cause else None
        summary = (
            f"**Impact:** {rng.choice(INCIDENT_IMPACTS).format(service=repo.name, share=rng.randint(2, 40))}\n"
            f"**Detected:** {at:%H:%M} UTC by {rng.choice(ALERTS)}\n"
            f"**Suspected change:** production deploy of {deployed_sha[:7]}"
        )
        known_at_open = cause_line is not None and rng.random() < 0.35
        severity = rng.choice(("sev1", "sev2", "sev2", "sev3", "sev3"))
        labels = [repo.incident_label, severity] if rng.random() < 0.5 else [repo.incident_label]
        issue = self._new_issue(
            repo, rng.choice(INCIDENT_TITLES).format(service=repo.name), summary, labels, at, incident=True
        )
        if known_at_open:
            issue.body = f"{summary}\n\n{cause_line}"
        self._issue_event(issue, "opened", at, issue.author)
        restore = timedelta(minutes=int(min(rng.lognormvariate(math.log(150), 1.0), 5760)) + 20)
        triage = timedelta(minutes=rng.randint(2, 20))
        issue.triaged_at = at + triage
        if severity not in labels:
            self._at(at + triage, partial(self._label_issue, issue, severity))
        if rng.random() < 0.3:
            self._at(
                at + triage + timedelta(minutes=rng.randint(1, 30)),
                partial(self._label_issue, issue, "customer-impact"),
            )
        if not known_at_open:
            update = cause_line or "Root cause still under investigation; see the postmortem."
            edited_at = at + triage + (restore - triage) * rng.uniform(0.5, 0.95)
            self._at(edited_at.replace(microsecond=0), partial(self._edit_issue, issue, f"{summary}\n\n{update}"))
        self._at(at + restore, partial(self._close_issue, issue))

    def _open_issue(self, repo: _Repo, at: datetime) -> None:
        """An ordinary issue (noise): opened, sometimes labelled, often closed days later."""
        rng = self.rng
        label = rng.choices(("bug", "enhancement", "documentation", "question"), weights=(45, 35, 10, 10))[0]
        subject = rng.choice(COMMIT_SUBJECTS)
        title = rng.choice(ISSUE_TITLES).format(service=repo.name, subject=subject)
        body = f"Noticed while working on {subject}.\n\nSteps and context are in the linked thread."
        issue = self._new_issue(repo, title, body, [label], at, incident=False)
        self._issue_event(issue, "opened", at, issue.author)
        if rng.random() < 0.35:
            extra = rng.choice(("needs-triage", "good first issue"))
            self._at(at + timedelta(minutes=rng.randint(5, 3000)), partial(self._label_issue, issue, extra))
        if rng.random() < 0.65:
            self._at(
                at + timedelta(minutes=int(rng.lognormvariate(math.log(1800), 1.1)) + 30),
                partial(self._close_issue, issue),
            )

    def _new_issue(
        self, repo: _Repo, title: str, body: str, labels: list[str], at: datetime, *, incident: bool
    ) -> _Issue:
        rng = self.rng
        issue = _Issue(
            repo=repo,
            number=repo.take_number(),
            issue_id=self._id_at("issue", at),
            title=title,
            body=body,
            labels=labels,
            author=rng.choice(repo.people),
            assignee=rng.choice(repo.people),
            created_at=at,
        )
        repo.open_issues += 1
        if incident:
            issue.incident = True
            self.incidents.append(issue)
        return issue

    def _label_issue(self, issue: _Issue, label: str, at: datetime) -> None:
        if issue.closed_at is not None or label in issue.labels:
            return
        issue.labels.append(label)
        self._issue_event(issue, "labeled", at, issue.assignee, label=label)

    def _edit_issue(self, issue: _Issue, body: str, at: datetime) -> None:
        previous, issue.body = issue.body, body
        issue.comments += self.rng.randint(0, 3)
        self._issue_event(issue, "edited", at, issue.assignee, changes={"body": {"from": previous}})

    def _close_issue(self, issue: _Issue, at: datetime) -> None:
        issue.closed_at = at
        issue.comments += self.rng.randint(0, 4)
        issue.repo.open_issues -= 1
        issue.close_envelope = self._issue_event(issue, "closed", at, issue.assignee)

    def _issue_event(
        self,
        issue: _Issue,
        action: str,
        at: datetime,
        actor: _Person,
        *,
        label: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> Envelope | None:
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
            created_at=_iso(issue.created_at),
            updated_at=_iso(at),
            closed_at=_iso(issue.closed_at) if issue.closed_at else None,
            author_association="MEMBER",
            body=issue.body,
        )
        body["reactions"]["url"] = f"{api}/reactions"
        if "timeline_url" in body:
            body["timeline_url"] = f"{api}/timeline"
        payload["action"] = action
        if label is not None:
            payload["label"] = self._label(repo, payload["label"], label)
        if changes is not None:
            payload["changes"] = changes
        payload["sender"] = self._account(payload["sender"], actor)
        envelope = self._emit("issues", payload, at)
        previous = changes["body"]["from"] if changes and "body" in changes else None
        closed = issue.closed_at is not None
        self.facts.append(
            _IssueFact(
                issue, action, at, actor, issue.title, issue.body, previous, tuple(issue.labels), closed, envelope
            )
        )
        return envelope

    def _label(self, repo: _Repo, template: dict[str, Any], name: str) -> dict[str, Any]:
        color, default, description = LABELS[name.lower()]
        if name not in repo.label_ids:
            repo.label_ids[name] = self.rng.randrange(1_000_000_000, 7_000_000_000)
        label = copy.deepcopy(template)
        label.update(
            id=repo.label_ids[name],
            node_id=_node_id("Label", repo.label_ids[name]),
            url=f"https://api.github.com/repos/{repo.full_name}/labels/{quote(name)}",
            name=name,
            color=color,
            default=default,
            description=description,
        )
        return label

    def _leave_latest_incidents_open(self) -> None:
        """The one or two latest incidents are still open when the history ends."""
        opened = [issue for issue in self.incidents if issue.created_at < self.received_before]
        latest = sorted(opened, key=lambda issue: (issue.created_at, issue.repo.full_name, issue.number))
        still_open = latest[-self.rng.randint(1, 2) :] if latest else []
        dropped = {id(issue.close_envelope) for issue in still_open if issue.close_envelope is not None}
        self.envelopes = [envelope for envelope in self.envelopes if id(envelope) not in dropped]

    # -- payload building -------------------------------------------------------------------

    def _payload(self, repo: _Repo, template: str) -> dict[str, Any]:
        """A fresh copy of a template, rebranded for ``repo``, with its ``repository`` filled."""
        if template not in repo.texts:
            repo.texts[template] = self.templates[template].replace(TEMPLATE_REPOSITORY, repo.full_name)
        payload: dict[str, Any] = json.loads(repo.texts[template])
        repository = payload["repository"]
        repository.update(
            id=repo.repo_id,
            node_id=_node_id("Repository", repo.repo_id),
            name=repo.name,
            full_name=repo.full_name,
            private=True,
            visibility="private",
            owner=self._account(repository["owner"], self.org),
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
            repository[key] = _epoch(value) if isinstance(repository[key], int) else _iso(value)
        return payload

    def _account(self, template: dict[str, Any], person: _Person) -> dict[str, Any]:
        """A GitHub user or organisation object shaped like ``template``."""
        account = _swap(_swap(template, TEMPLATE_LOGIN, person.login), TEMPLATE_USER_ID, str(person.user_id))
        account["id"] = person.user_id
        account["node_id"] = _node_id(person.kind, person.user_id)
        if "type" in account:
            account["type"] = person.kind
        if "email" in account and person.kind == "Organization":
            account["email"] = None
        return account

    def _branch_name(self, repo: _Repo, subject: str) -> str:
        repo.next_ticket += self.rng.randint(1, 4)
        slug = "-".join(re.sub(r"[^a-z0-9]+", " ", subject.lower()).split()[1:4])
        return f"feature/{repo.ticket_prefix}-{repo.next_ticket}-{slug}"

    def _subject(self) -> str:
        return f"{self.rng.choice(COMMIT_VERBS)} {self.rng.choice(COMMIT_SUBJECTS)}"

    # -- ids and delivery -------------------------------------------------------------------

    def _sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def _id_at(self, kind: str, at: datetime) -> int:
        """A unique GitHub-style id of ``kind`` that grows with time, like GitHub's."""
        base, per_second = ID_SERIES[kind]
        value = base + int((at - ID_EPOCH).total_seconds() * per_second) + self.rng.randrange(int(per_second) + 1)
        while value in self.used_ids:
            value += 1
        self.used_ids.add(value)
        return value

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

    def _emit(self, event_type: str, payload: dict[str, Any], at: datetime) -> Envelope | None:
        """Deliver an event a few seconds after it happened, unless that is after the cut-off."""
        received = at + timedelta(seconds=self.rng.randint(1, 4))
        if received >= self.received_before:
            return None
        envelope = Envelope(
            source="github",
            event_type=event_type,
            delivery_id=self._delivery_id(received),
            received_at=received,
            payload=payload,
        )
        self.envelopes.append(envelope)
        return envelope


def _write_landing(landing_dir: Path, envelopes: list[Envelope], rng: random.Random) -> tuple[int, int]:
    """One NDJSON file per source and UTC day plus one JSON file per redelivery; (files, redeliveries)."""
    days: dict[Path, list[str]] = {}  # day folder -> its lines
    redeliveries: list[tuple[Path, str]] = []
    for envelope in envelopes:
        line = envelope.to_json()
        folder = _day_dir(landing_dir, envelope.source, envelope.received_at.astimezone(UTC).date())
        days.setdefault(folder, []).append(line)
        if rng.random() < REDELIVERY_RATE:
            redeliveries.append((folder / "redeliveries" / f"{_file_stem(envelope.delivery_id)}.json", line))
    for folder, lines in sorted(days.items()):
        _write_atomically(folder / "deliveries.ndjson", "\n".join(lines) + "\n")
    for path, line in redeliveries:
        _write_atomically(path, line + "\n")
    return len(days) + len(redeliveries), len(redeliveries)


def _day_dir(landing_dir: Path, source: str, day: date) -> Path:
    return landing_dir / source / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"


def _file_stem(delivery_id: str) -> str:
    """A delivery id as a file name: Jenkins ids (``job#12#COMPLETED``) may name folders."""
    return delivery_id.replace("/", "_")


def _write_atomically(path: Path, text: str) -> None:
    """Write to a dot-prefixed temporary name in the same folder, fsync, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _template_text(name: str, source: str = "github") -> str:
    return resources.files(TEMPLATE_PACKAGE).joinpath("templates", source, f"{name}.json").read_text("utf-8")


def _swap(value: Any, old: str, new: str) -> Any:
    """``value`` with ``old`` replaced by ``new`` in every string it holds."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {key: _swap(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_swap(item, old, new) for item in value]
    return value


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method; the means here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _node_id(kind: str, number: int) -> str:
    """GitHub's legacy global node id, e.g. ``MDEwOlJlcG9zaXRvcnkx...`` for a repository."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())
