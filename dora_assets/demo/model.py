"""The demo's simulated organisation and the history it lives through, as plain data.

``History`` simulates a small engineering organisation (``acme/...`` repositories) over a range
of days:

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
- ordinary issues (``bug``, ``enhancement``, ...) add noise.

What happened is kept as facts (``PushFact``, ``MergeFact``, ``DeploymentFact``, ``IssueFact``,
in the order they happened) over the organisation's ``Repo``, ``Person``, ``Commit``,
``Deployment`` and ``Issue`` objects. This module holds no payload: a ``Teller`` tells each
event as it happens (``github.GitHubTeller``: as GitHub webhook deliveries) and says when it was
delivered, and ``senders.retell`` tells the facts again as other senders would.

The teller is called while the history plays, not afterwards, because it draws from the same
random stream (delivery ids and times, label ids, deployment status ids): one stream in one
order is what makes a seed give the same history, byte for byte, as it always has.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

OWNER = "acme"
REPO_NAMES: tuple[str, ...] = (
    "payments", "checkout", "search", "identity", "mobile-api", "notifications", "billing",
    "inventory", "catalog", "shipping", "orders", "accounts", "analytics", "gateway", "ledger",
    "pricing", "recommendations", "reviews", "fraud", "loyalty", "messaging", "onboarding",
    "reporting", "scheduler", "storefront", "warehouse",
)  # fmt: skip
MAX_REPOS = len(REPO_NAMES)

ZERO_SHA = "0" * 40
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
ID_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
ID_SERIES: dict[str, tuple[int, float]] = {  # GitHub ids grow with time: base at ID_EPOCH, ids per second
    "deployment": (1_150_000_000, 1.5),
    "deployment_status": (2_300_000_000, 3.0),
    "issue": (2_050_000_000, 4.0),
    "workflow_run": (7_400_000_000, 25.0),
}
LONG_AGO = datetime.min.replace(tzinfo=UTC)


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

_Action = Callable[[datetime], None]


@dataclass(frozen=True)
class Person:
    """A member of the organisation (or the organisation itself, ``kind`` Organization)."""

    login: str
    name: str
    user_id: int
    utc_offset_minutes: int
    kind: str = "User"

    @property
    def email(self) -> str:
        return f"{self.user_id}+{self.login}@users.noreply.github.com"


@dataclass(frozen=True)
class Commit:
    """A commit as pushed: who wrote it when, and which files it touched."""

    sha: str
    tree_id: str
    message: str
    author: Person
    at: datetime
    modified: tuple[str, ...]
    kind: str = "code"  # code, squash (a squashed pull request) or merge (a merge commit)


@dataclass(frozen=True)
class Deployment:
    """One deployment of a commit to an environment (its id and its workflow run's, as GitHub's grow)."""

    deployment_id: int
    sha: str
    environment: str
    creator: Person
    created_at: datetime
    run_id: int


@dataclass
class Repo:
    """A repository and its state as the history plays: branch heads, the next issue number, the
    commits on main not yet in production, the open issues."""

    full_name: str
    name: str
    owner: Person
    rhythm: Rhythm
    people: list[Person]
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
    pending: list[Commit] = field(default_factory=list)  # on main, not yet in production
    busy_until: datetime = LONG_AGO  # while a deploy pipeline runs, later windows are skipped
    main_pushed_at: datetime = LONG_AGO
    last_merger: Person | None = None
    open_issues: int = 0

    def take_number(self) -> int:
        """The next issue or pull-request number (GitHub numbers them from one sequence)."""
        self.next_number += 1
        return self.next_number


@dataclass(frozen=True)
class Delivery:
    """When a teller delivered one event, and under which delivery id (unique in the history)."""

    received_at: datetime
    delivery_id: str


@dataclass
class Issue:
    """An issue (an incident or noise) as it is now; its ``IssueFact`` s say how it was."""

    repo: Repo
    number: int
    issue_id: int
    title: str
    body: str
    labels: list[str]
    author: Person
    assignee: Person
    created_at: datetime
    closed_at: datetime | None = None
    comments: int = 0
    close_delivery: Delivery | None = None
    incident: bool = False
    triaged_at: datetime | None = None  # incidents: when the responder took it on


# What happened, as the history played it, for the other senders (``senders.py``) to retell.
# Each fact keeps the teller's delivery (or deliveries) of it (None when cut off by ``until``).


@dataclass(frozen=True)
class PushFact:
    """A push moving ``branch`` from ``before`` to ``after``."""

    repo: Repo
    branch: str
    before: str
    after: str
    commits: tuple[Commit, ...]
    at: datetime
    pusher: Person
    delivery: Delivery | None


@dataclass(frozen=True)
class MergeFact:
    """A pull request merged into main (merge or squash style), after its main push."""

    repo: Repo
    number: int
    branch: str
    title: str
    author: Person
    merger: Person
    opened_at: datetime  # the branch's first push
    head: Commit  # the branch's last commit
    push: PushFact  # the push to main that merged it
    delivery: Delivery | None = None  # its GitHub ``pull_request`` (closed, merged) delivery


@dataclass(frozen=True)
class DeploymentFact:
    """A deployment, from its creation to its final state."""

    repo: Repo
    deployment: Deployment
    started: datetime
    finished: datetime
    state: str  # success, failure or error
    created: Delivery | None
    in_progress: Delivery | None
    final: Delivery | None


@dataclass(frozen=True)
class IssueFact:
    """One event of an issue (opened, labeled, edited, closed), with the issue as it was right after it."""

    issue: Issue
    action: str  # opened, labeled, edited, closed
    at: datetime
    actor: Person
    title: str
    body: str
    previous_body: str | None  # edited: the body before
    labels: tuple[str, ...]
    closed: bool
    delivery: Delivery | None


Fact = PushFact | MergeFact | DeploymentFact | IssueFact


class Teller(Protocol):
    """What tells each event of a history as it happens, drawing from the history's random
    stream, and says when it was delivered: None when that is at or after the history's
    ``received_before`` (it is then never delivered)."""

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
        """A push of ``commits`` (those in ``repeated`` were pushed before, to their branch)."""

    def deployment(self, repo: Repo, deployment: Deployment, at: datetime) -> Delivery | None:
        """A deployment created."""

    def deployment_status(self, repo: Repo, deployment: Deployment, state: str, at: datetime) -> Delivery | None:
        """A deployment's state: in_progress, then success, failure or error."""

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
        """An issue event showing ``issue`` as it is after ``action`` (the ``label`` added, the
        body edited from ``previous_body``)."""

    def pull_request_merged(self, fact: MergeFact) -> Delivery | None:
        """A pull request merged. Told without drawing from the random stream (it was added after
        the demo's histories were fixed: the same seed keeps giving the same history)."""


TellerT = TypeVar("TellerT", bound=Teller)


class History(Generic[TellerT]):
    """Holds the RNG, the organisation and its per-repository state and a time-ordered queue of
    actions; running it plays the actions in time order, and its teller tells them.

    ``teller`` makes the history's teller from the history itself (``github.GitHubTeller``); it
    is made before the organisation is drawn, so that its own first draws (the GitHub teller's
    delivery-id node numbers) open the random stream.
    ``number_offset`` is added to each repository's first issue and pull-request number.
    """

    def __init__(
        self,
        rng: random.Random,
        start: date,
        end: date,
        repo_count: int,
        until: datetime,
        teller: Callable[[History[Any]], TellerT],
        *,
        number_offset: int = 0,
    ) -> None:
        self.rng = rng
        self.start_at = datetime.combine(start, time(), UTC)
        self.end_at = datetime.combine(end + timedelta(days=1), time(), UTC)  # exclusive
        self.received_before = min(self.end_at, until)
        self.number_offset = number_offset
        self.facts: list[Fact] = []  # in the order they happened
        self.commits: dict[str, Commit] = {}  # sha -> commit, every pushed commit
        self.branch_opened: dict[tuple[str, str], datetime] = {}  # (repo, branch) -> first push
        self.incidents: list[Issue] = []
        self.left_open: list[Issue] = []  # the latest incidents, whose closing is never delivered
        self.used_ids: set[int] = set()
        self.teller: TellerT = teller(self)
        self.queue: list[tuple[datetime, int, _Action]] = []
        self.sequence = itertools.count()
        self.org = Person(OWNER, OWNER, rng.randrange(20_000_000, 90_000_000), 0, "Organization")
        self.people = [
            Person(login, name, rng.randrange(1_000_000, 120_000_000), rng.choice(UTC_OFFSETS_MINUTES))
            for name, login in PEOPLE
        ]
        self.repos = [self._make_repo(index) for index in range(repo_count)]

    def run(self) -> None:
        """Play every action until LOOKAHEAD after the end of the last day, then leave the
        latest incidents open."""
        played_until = self.end_at + LOOKAHEAD
        day = self.start_at
        while day < played_until:
            self._at(day, self._plan_day)
            day += timedelta(days=1)
        while self.queue and self.queue[0][0] < played_until:
            at, _, action = heapq.heappop(self.queue)
            action(at)
        self._leave_latest_incidents_open()

    def id_at(self, kind: str, at: datetime) -> int:
        """A unique GitHub-style id of ``kind`` (``ID_SERIES``) that grows with time, like GitHub's."""
        base, per_second = ID_SERIES[kind]
        value = base + int((at - ID_EPOCH).total_seconds() * per_second) + self.rng.randrange(int(per_second) + 1)
        while value in self.used_ids:
            value += 1
        self.used_ids.add(value)
        return value

    def _make_repo(self, index: int) -> Repo:
        rng = self.rng
        name = REPO_NAMES[index]
        base = RHYTHMS[index % len(RHYTHMS)]
        rhythm = replace(base, merges_per_weekday=round(base.merges_per_weekday * rng.uniform(0.85, 1.15), 2))
        language = LANGUAGES[(index + rng.randrange(len(LANGUAGES))) % len(LANGUAGES)]
        package = name.replace("-", "_") if language == "Python" else name.replace("-", "")
        created_at = self.start_at - timedelta(days=rng.randint(400, 2500), seconds=rng.randrange(86_400))
        return Repo(
            full_name=f"{OWNER}/{name}",
            name=name,
            owner=self.org,
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
            next_number=rng.randint(120, 2400) + self.number_offset,
            next_ticket=rng.randint(100, 900),
        )

    def _at(self, at: datetime, action: _Action) -> None:
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

    def _merge(self, repo: Repo, at: datetime) -> None:
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
                merge_commit = Commit(
                    self._sha(), self._sha(), message, merger, at - timedelta(seconds=3), files, "merge"
                )
                commits = [*branch_commits, merge_commit]
                repeated = {commit.sha for commit in branch_commits}
            else:
                message = f"{subject} (#{number})"
                commits = [
                    Commit(self._sha(), self._sha(), message, author, at - timedelta(seconds=3), files, "squash")
                ]
        push = self._push(repo, "main", commits, at, merger, repeated)
        if style != "direct":
            opened = self.branch_opened.get((repo.full_name, branch), at)
            merge = MergeFact(repo, number, branch, subject, author, merger, opened, branch_commits[-1], push)
            self.facts.append(dataclasses.replace(merge, delivery=self.teller.pull_request_merged(merge)))
        repo.main_pushed_at = at
        repo.pending.extend(commits)
        repo.last_merger = merger

    def _abandoned_branch(self, repo: Repo, at: datetime) -> None:
        """Work pushed to a feature branch that is never merged: noise that never deploys."""
        author = self.rng.choice(repo.people)
        subject = self._subject()
        self._feature_branch(repo, self._branch_name(repo, subject), author, subject, at)

    def _feature_branch(self, repo: Repo, branch: str, author: Person, subject: str, done: datetime) -> list[Commit]:
        """1-3 pushes to a new feature branch before ``done``, 1-4 commits in all; the commits."""
        rng = self.rng
        started = max(self.start_at + timedelta(minutes=5), done - timedelta(seconds=int(rng.uniform(2, 72) * 3600)))
        span = (done - timedelta(minutes=10)) - started
        pushes = rng.choices((1, 2, 3), weights=(50, 35, 15))[0] if span > timedelta(minutes=30) else 1
        counts = [1] * pushes
        for _ in range(rng.randint(0, MAX_COMMITS_PER_PUSH - 1 - pushes)):
            counts[rng.randrange(pushes)] += 1
        previous = started - timedelta(minutes=rng.randint(20, 600))
        branch_commits: list[Commit] = []
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
        self, repo: Repo, author: Person, count: int, earliest: datetime, latest: datetime, first_message: str
    ) -> list[Commit]:
        """``count`` commits authored between two times, in chronological order."""
        rng = self.rng
        seconds = max(int((latest - earliest).total_seconds()), count)
        offsets = sorted(rng.sample(range(seconds), count))
        return [
            Commit(
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
        self, repo: Repo, branch: str, commits: list[Commit], at: datetime, pusher: Person, repeated: set[str]
    ) -> PushFact:
        """A push moving ``branch`` from its previous head to the last commit."""
        before = repo.heads.get(branch, ZERO_SHA)
        after = commits[-1].sha
        repo.pushed_at = max(repo.pushed_at, at)
        delivery = self.teller.push(repo, branch, before, after, commits, at, pusher, repeated)
        repo.heads[branch] = after
        fact = PushFact(repo, branch, before, after, tuple(commits), at, pusher, delivery)
        self.facts.append(fact)
        self.commits.update((commit.sha, commit) for commit in commits)
        self.branch_opened.setdefault((repo.full_name, branch), at)
        return fact

    # -- deployments ------------------------------------------------------------------------

    def _deploy_window(self, repo: Repo, at: datetime) -> None:
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
        self, repo: Repo, sha: str, environment: str, at: datetime, creator: Person, failure_rate: float
    ) -> tuple[str, datetime]:
        """A ``deployment`` event and its ``in_progress`` and final ``deployment_status`` events;
        the final state and when it was reached."""
        rng = self.rng
        deployment = Deployment(
            self.id_at("deployment", at), sha, environment, creator, at, self.id_at("workflow_run", at)
        )
        created = self.teller.deployment(repo, deployment, at)
        started = at + timedelta(seconds=rng.randint(12, 90))
        in_progress = self.teller.deployment_status(repo, deployment, "in_progress", started)
        duration = rng.randint(180, 900) if environment == "production" else rng.randint(120, 480)
        finished = started + timedelta(seconds=duration)
        roll = rng.random()
        state = "success" if roll >= failure_rate else ("failure" if roll < failure_rate * 0.7 else "error")
        final = self.teller.deployment_status(repo, deployment, state, finished)
        self.facts.append(DeploymentFact(repo, deployment, started, finished, state, created, in_progress, final))
        return state, finished

    # -- issues -----------------------------------------------------------------------------

    def _open_incident(self, repo: Repo, deployed_sha: str, shipped: list[Commit], at: datetime) -> None:
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

    def _open_issue(self, repo: Repo, at: datetime) -> None:
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
        self, repo: Repo, title: str, body: str, labels: list[str], at: datetime, *, incident: bool
    ) -> Issue:
        rng = self.rng
        issue = Issue(
            repo=repo,
            number=repo.take_number(),
            issue_id=self.id_at("issue", at),
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

    def _label_issue(self, issue: Issue, label: str, at: datetime) -> None:
        if issue.closed_at is not None or label in issue.labels:
            return
        issue.labels.append(label)
        self._issue_event(issue, "labeled", at, issue.assignee, label=label)

    def _edit_issue(self, issue: Issue, body: str, at: datetime) -> None:
        previous, issue.body = issue.body, body
        issue.comments += self.rng.randint(0, 3)
        self._issue_event(issue, "edited", at, issue.assignee, previous_body=previous)

    def _close_issue(self, issue: Issue, at: datetime) -> None:
        issue.closed_at = at
        issue.comments += self.rng.randint(0, 4)
        issue.repo.open_issues -= 1
        issue.close_delivery = self._issue_event(issue, "closed", at, issue.assignee)

    def _issue_event(
        self,
        issue: Issue,
        action: str,
        at: datetime,
        actor: Person,
        *,
        label: str | None = None,
        previous_body: str | None = None,
    ) -> Delivery | None:
        """An issue event, told and recorded with the issue as it is after ``action``."""
        delivery = self.teller.issue(issue, action, at, actor, label=label, previous_body=previous_body)
        closed = issue.closed_at is not None
        self.facts.append(
            IssueFact(
                issue, action, at, actor, issue.title, issue.body, previous_body, tuple(issue.labels), closed, delivery
            )
        )
        return delivery

    def _leave_latest_incidents_open(self) -> None:
        """The one or two latest incidents are still open when the history ends: their closing
        is never delivered, by any sender."""
        opened = [issue for issue in self.incidents if issue.created_at < self.received_before]
        latest = sorted(opened, key=lambda issue: (issue.created_at, issue.repo.full_name, issue.number))
        self.left_open = latest[-self.rng.randint(1, 2) :] if latest else []

    # -- names and ids ----------------------------------------------------------------------

    def _branch_name(self, repo: Repo, subject: str) -> str:
        repo.next_ticket += self.rng.randint(1, 4)
        slug = "-".join(re.sub(r"[^a-z0-9]+", " ", subject.lower()).split()[1:4])
        return f"feature/{repo.ticket_prefix}-{repo.next_ticket}-{slug}"

    def _subject(self) -> str:
        return f"{self.rng.choice(COMMIT_VERBS)} {self.rng.choice(COMMIT_SUBJECTS)}"

    def _sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method; the means here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
