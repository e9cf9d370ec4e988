"""A fake GitHub REST API for tests: a Starlette app served by uvicorn on 127.0.0.1 (a free port,
in a background thread), so clients talk real HTTP to it.

```python
with FakeGitHub(clock=clock.time) as github:
    github.add_repo("acme/app")
    deployment = github.add_deployment("acme/app", sha="abc", statuses=["in_progress", "success"])
    github.fail_next("/repos/acme/app/deployments", statuses=[502, 502])
    ... GitHubClient(token=github.token, base_url=github.url) ...
    github.requests  # what was asked, in order (the Authorization value is never recorded)
```

What it serves, with GitHub's REST semantics (the 2022-11-28 API):

- ``GET /repos/{owner}/{repo}`` (with ``default_branch``);
- ``GET /repos/{o}/{r}/deployments`` (``sha``, ``ref``, ``task``, ``environment``; newest first),
  ``/deployments/{id}/statuses`` (newest first);
- ``GET /repos/{o}/{r}/deployments/{id}`` (one deployment);
- ``GET /repos/{o}/{r}/commits`` (``sha`` = a branch or a commit, default the default branch;
  ``since``/``until`` on the committer date, both inclusive; newest first; 409 for an empty
  repository, 422 for an unknown sha);
- ``GET /repos/{o}/{r}/branches/{branch}`` (``name``, ``commit`` = the head in the commits
  listing's shape; 404 "Branch not found" for a branch without commits);
- ``GET /repos/{o}/{r}/compare/{base}...{head}`` (branch names or shas; an object with
  ``status`` ahead|behind|diverged|identical, ``ahead_by``, ``behind_by``, ``total_commits``,
  ``base_commit``, ``merge_base_commit`` and ``commits``: those reachable from head and not from
  base, oldest first, paginated by ``per_page``/``page`` with a ``Link`` header; 404 for an
  unknown base or head);
- ``GET /repos/{o}/{r}/pulls`` (``state`` open|closed|all, default open; ``sort``
  created|updated; ``direction``, default desc for created, asc otherwise; ``base``, ``head``),
  in the list shape (no ``merged``, ``mergeable``, ``commits``, ... which only the single-PR
  endpoint has: use ``merged_at``);
- ``GET /repos/{o}/{r}/pulls/{number}/commits`` (the request's commits, oldest first);
- ``GET /repos/{o}/{r}/issues`` (``labels`` comma-separated, all required; ``state`` default
  open; ``since`` on ``updated_at``; ``sort``, ``direction``), pull requests included as issues
  with a ``pull_request`` key, as GitHub does.

Documents are GitHub's recorded shapes: each is a copy of a real webhook body's object from
``fixtures/github`` (``deployment``, ``deployment_status``, ``issue``, ``pull_request`` and its
``base.repo``) with ids, numbers, times and URLs (pointing at this server) filled in; commits
have the REST commit shape (``sha``, ``commit.author/committer.date``, ``parents``) with names
and emails as in the push sample.

Around every request, as GitHub does: ``Authorization: Bearer <token>`` (or ``token <token>``)
else 401, an unknown repo 404 (JSON ``{"message": "Not Found"}``), pagination (``per_page``,
default 30, at most 100; ``page``) with a ``Link`` header whose URLs use the
``/repositories/{id}/...`` form GitHub uses, a weak ``ETag`` on every 200 and ``304`` for a
matching ``If-None-Match`` (not counted against the rate limit), and ``X-RateLimit-*`` headers
from a primary limit that is enforced (403 with ``X-RateLimit-Remaining: 0`` once used up, until
the reset time by ``clock``). Faults are programmed per path prefix and consumed in order:
``fail_next``, ``rate_limit_next``, ``delay_next``, ``malformed_next``. A prefix matches the
request's path relative to ``path_prefix``, in either the ``/repos/OWNER/NAME/...`` form or the
``/repositories/ID/...`` form of pagination links.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FIXTURES = Path(__file__).parent / "fixtures" / "github"
DEFAULT_TOKEN = "ghp_fAkE0token0that0must0never0be0logged0x"
DOCS = "https://docs.github.com/rest"
API_VERSION = "2022-11-28"
FIRST_TIME = datetime(2023, 1, 5, 9, 0, tzinfo=UTC)
RATE_LIMIT_WINDOW_SECONDS = 3600
PRIMARY_MESSAGE = "API rate limit exceeded for user ID 21031067."
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out "
    "to GitHub Support for help, please include the request ID 9C4A:3E2B:1A2B3C:4D5E6F:6789ABCD."
)
STATUS_MESSAGES = {
    400: "Bad Request",
    401: "Bad credentials",
    403: "Resource not accessible by personal access token",
    404: "Not Found",
    409: "Conflict",
    422: "Validation Failed",
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
    504: "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request.",
}
# Keys only the single-pull-request endpoint returns; the list endpoint leaves them out.
PULL_DETAIL_KEYS = (
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)


def _sample(relative: str) -> dict:
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


_DEPLOYMENT_SAMPLE = _sample("deployment/payload.json")
_STATUS_SAMPLE = _sample("deployment_status/payload.json")
_ISSUE_SAMPLE = _sample("issues/labeled.payload.json")
_PULL_SAMPLE = _sample("pull_request/closed.payload.json")
_PUSH_SAMPLE = _sample("push/with-new-branch.payload.json")
TEMPLATES = {
    "user": _DEPLOYMENT_SAMPLE["deployment"]["creator"],
    "repo": _PULL_SAMPLE["pull_request"]["base"]["repo"],
    "deployment": _DEPLOYMENT_SAMPLE["deployment"],
    "status": _STATUS_SAMPLE["deployment_status"],
    "issue": _ISSUE_SAMPLE["issue"],
    "label": _ISSUE_SAMPLE["issue"]["labels"][0],
    "pull": _PULL_SAMPLE["pull_request"],
    "push_commit": _PUSH_SAMPLE["commits"][0],
}
SAMPLE_LOGIN = TEMPLATES["user"]["login"]
SAMPLE_REPO = TEMPLATES["repo"]["full_name"]


@dataclass
class RecordedRequest:
    """One request as the fake saw it. ``headers`` have lower-case names and never the
    ``Authorization`` value; ``token_ok`` says whether it presented the expected token and
    ``auth_scheme`` how ("Bearer", "token", or None without the header). ``status`` is the
    answer's (None while it is being answered)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    token_ok: bool
    auth_scheme: str | None
    status: int | None = None


@dataclass
class _Fault:
    prefix: str
    kind: str  # "status", "primary", "secondary", "malformed", "delay"
    status: int = 0
    message: str | None = None
    retry_after: int | None = None
    reset_in: float = 0.0
    seconds: float = 0.0


@dataclass
class _Repo:
    id: int
    full_name: str
    document: dict
    branches: dict[str, list[dict]] = field(default_factory=dict)  # oldest first
    deployments: list[dict] = field(default_factory=list)
    statuses: dict[int, list[dict]] = field(default_factory=dict)  # deployment id -> oldest first
    pulls: list[dict] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)  # issues and the issue twin of every pull
    pull_commits: dict[int, list[str]] = field(default_factory=dict)  # pull number -> its commits' shas
    last_number: int = 0


class FakeGitHub:
    """The fake API. The port is bound at construction (``url`` is known at once); ``start()``
    or ``with`` serves it, ``stop()`` shuts it down. ``clock`` (epoch seconds) drives the rate
    limit window, so a test can share its fake clock with the client's injected ``sleep``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        clock: Callable[[], float] = time.time,
        path_prefix: str = "",
        rate_limit: int = 5000,
    ) -> None:
        self.token = token
        self.path_prefix = path_prefix.rstrip("/")
        self.requests: list[RecordedRequest] = []
        self.link_base: str | None = None  # another origin for Link URLs (tests of a client's refusal)
        self._clock = clock
        self._lock = threading.Lock()
        self._repos: dict[str, _Repo] = {}
        self._faults: list[_Fault] = []
        self._ids = iter(range(1_000_001, 10**9))
        self._times = iter(FIRST_TIME + timedelta(minutes=n) for n in range(10**6))
        self._limit = rate_limit
        self._remaining = rate_limit
        self._reset = int(clock()) + RATE_LIMIT_WINDOW_SECONDS
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = self.url + self.path_prefix
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PATCH", "DELETE"])])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="fake-github", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake GitHub did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- data ---------------------------------------------------------------------------------

    def add_repo(
        self,
        full_name: str,
        *,
        default_branch: str = "main",
        private: bool = True,
        created_at: datetime | str | None = None,
    ) -> dict:
        """A repository (its ``GET /repos/{owner}/{repo}`` document; ``created_at`` as the sample's
        unless given)."""
        owner, name = full_name.split("/")
        repo_id = self._next_id()
        document = self._rebase(TEMPLATES["repo"], full_name)
        document.update(
            id=repo_id,
            node_id=_node_id("010:Repository", repo_id),
            name=name,
            full_name=full_name,
            private=private,
            visibility="private" if private else "public",
            owner=self._user(owner),
            default_branch=default_branch,
            url=f"{self.api_url}/repos/{full_name}",
            html_url=f"{self.url}/{full_name}",
        )
        if created_at is not None:
            document["created_at"] = _stamp_or_none(created_at)
        self._repos[full_name.lower()] = _Repo(repo_id, full_name, document, branches={default_branch: []})
        return document

    def add_commit(
        self,
        repo: str,
        *,
        branch: str | None = None,
        sha: str | None = None,
        message: str = "Update README.md",
        at: datetime | str | None = None,
        author: str = SAMPLE_LOGIN,
        parents: Sequence[str] | None = None,
        committed_at: datetime | str | None = None,
    ) -> dict:
        """A commit on top of ``branch`` (default: the default branch); ``at`` is its author date
        and (unless ``committed_at``) its committer date. ``parents`` (shas of commits on any
        branch) makes a merge commit; by default its parent is the branch's head. Returns the
        ``GET /commits`` item."""
        data = self._repo(repo)
        branch = branch or data.document["default_branch"]
        commits = data.branches.setdefault(branch, [])
        sha = sha or hashlib.sha1(f"{data.full_name}:{branch}:{len(commits)}:{message}".encode()).hexdigest()
        stamp = self._stamp(at)
        person = TEMPLATES["push_commit"]["author"]
        signature = {
            "name": author if author != SAMPLE_LOGIN else person["name"],
            "email": person["email"].replace(SAMPLE_LOGIN, author),
            "date": stamp,
        }
        api = f"{self.api_url}/repos/{data.full_name}"
        by_sha = {commit["sha"]: commit for listed in data.branches.values() for commit in listed}
        parent_commits = commits[-1:] if parents is None else [by_sha[parent] for parent in parents]
        parent_links = [
            {"sha": parent["sha"], "url": parent["url"], "html_url": parent["html_url"]} for parent in parent_commits
        ]
        tree = hashlib.sha1(f"tree:{sha}".encode()).hexdigest()
        commit = {
            "sha": sha,
            "node_id": _node_id("06:Commit", data.id, sha),
            "commit": {
                "author": dict(signature),
                "committer": dict(signature, date=self._stamp(committed_at) if committed_at else stamp),
                "message": message,
                "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
                "url": f"{api}/git/commits/{sha}",
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "url": f"{api}/commits/{sha}",
            "html_url": f"{self.url}/{data.full_name}/commit/{sha}",
            "comments_url": f"{api}/commits/{sha}/comments",
            "author": self._user(author),
            "committer": self._user(author),
            "parents": parent_links,
        }
        commits.append(commit)
        return commit

    def add_deployment(
        self,
        repo: str,
        *,
        sha: str | None = None,
        ref: str | None = None,
        environment: str = "production",
        at: datetime | str | None = None,
        statuses: Iterable[str | tuple[str, datetime | str]] = ("success",),
        creator: str = SAMPLE_LOGIN,
    ) -> dict:
        """A deployment of ``sha`` (default: the default branch's head) created ``at``, with
        ``statuses`` (states, or (state, time) pairs; untimed ones a minute apart after it)."""
        data = self._repo(repo)
        branch = data.document["default_branch"]
        if sha is None:
            head = data.branches.get(branch) or []
            sha = head[-1]["sha"] if head else hashlib.sha1(f"{repo}:{len(data.deployments)}".encode()).hexdigest()
        deployment_id = self._next_id()
        stamp = self._stamp(at)
        api = f"{self.api_url}/repos/{data.full_name}"
        deployment = self._rebase(TEMPLATES["deployment"], data.full_name)
        deployment.update(
            url=f"{api}/deployments/{deployment_id}",
            id=deployment_id,
            node_id=_node_id("010:Deployment", deployment_id),
            sha=sha,
            ref=ref or branch,
            task="deploy",
            payload={},
            original_environment=environment,
            environment=environment,
            description=None,
            creator=self._user(creator),
            created_at=stamp,
            updated_at=stamp,
            statuses_url=f"{api}/deployments/{deployment_id}/statuses",
            repository_url=api,
        )
        data.deployments.append(deployment)
        data.statuses[deployment_id] = []
        start = _parse_time(stamp)
        for offset, status in enumerate(statuses, start=1):
            state, when = (status, start + timedelta(minutes=offset)) if isinstance(status, str) else status
            self.add_deployment_status(repo, deployment_id, state, at=when, creator=creator)
        return deployment

    def add_deployment_status(
        self,
        repo: str,
        deployment_id: int,
        state: str,
        *,
        at: datetime | str | None = None,
        description: str = "",
        creator: str = SAMPLE_LOGIN,
    ) -> dict:
        """A status (``success``, ``failure``, ``error``, ``in_progress``, ...) of a deployment;
        the deployment's ``updated_at`` follows it, as on GitHub."""
        data = self._repo(repo)
        deployment = next(item for item in data.deployments if item["id"] == deployment_id)
        status_id = self._next_id()
        stamp = self._stamp(at)
        status = self._rebase(TEMPLATES["status"], data.full_name)
        status.update(
            url=f"{deployment['url']}/statuses/{status_id}",
            id=status_id,
            node_id=_node_id("016:DeploymentStatus", status_id),
            state=state,
            creator=self._user(creator),
            description=description,
            environment=deployment["environment"],
            target_url="",
            log_url="",
            environment_url="",
            created_at=stamp,
            updated_at=stamp,
            deployment_url=deployment["url"],
            repository_url=deployment["repository_url"],
        )
        data.statuses[deployment_id].append(status)
        deployment["updated_at"] = max(deployment["updated_at"], stamp)
        return status

    def add_pull(
        self,
        repo: str,
        *,
        title: str = "Update the README with new information.",
        head: str = "feature",
        head_sha: str | None = None,
        base: str | None = None,
        at: datetime | str | None = None,
        merged_at: datetime | str | None = None,
        closed_at: datetime | str | None = None,
        merge_commit_sha: str | None = None,
        labels: Sequence[str] = (),
        author: str = SAMPLE_LOGIN,
        commits: Sequence[str] | None = None,
    ) -> dict:
        """A pull request opened ``at``; merged (``merged_at``, closed then too) or closed unmerged
        (``closed_at``), else open. It also appears in ``/issues``, as on GitHub. Its commits
        (``GET .../pulls/{number}/commits``): the shas ``commits`` names, by default those of
        the branch ``head`` when it exists."""
        data = self._repo(repo)
        number = self._next_number(data)
        base = base or data.document["default_branch"]
        created = self._stamp(at)
        merged = _stamp_or_none(merged_at)
        closed = _stamp_or_none(closed_at) or merged
        head_sha = head_sha or hashlib.sha1(f"{repo}:pull:{number}".encode()).hexdigest()
        if merged and merge_commit_sha is None:
            merge_commit_sha = hashlib.sha1(f"{repo}:merge:{number}".encode()).hexdigest()
        api, web = f"{self.api_url}/repos/{data.full_name}", f"{self.url}/{data.full_name}"
        pull = self._rebase(TEMPLATES["pull"], data.full_name)
        for key in PULL_DETAIL_KEYS:
            pull.pop(key, None)
        owner = data.document["owner"]["login"]
        pull_id = self._next_id()
        pull.update(
            url=f"{api}/pulls/{number}",
            id=pull_id,
            node_id=_node_id("011:PullRequest", pull_id),
            html_url=f"{web}/pull/{number}",
            diff_url=f"{web}/pull/{number}.diff",
            patch_url=f"{web}/pull/{number}.patch",
            issue_url=f"{api}/issues/{number}",
            number=number,
            state="closed" if closed else "open",
            title=title,
            user=self._user(author),
            body=f"{title}\n",
            created_at=created,
            updated_at=max(filter(None, (created, closed, merged))),
            closed_at=closed,
            merged_at=merged,
            merge_commit_sha=merge_commit_sha,
            assignee=None,
            assignees=[],
            requested_reviewers=[],
            labels=[self._label(data, name) for name in labels],
            commits_url=f"{api}/pulls/{number}/commits",
            review_comments_url=f"{api}/pulls/{number}/comments",
            comments_url=f"{api}/issues/{number}/comments",
            statuses_url=f"{api}/statuses/{head_sha}",
            head={
                "label": f"{owner}:{head}",
                "ref": head,
                "sha": head_sha,
                "user": data.document["owner"],
                "repo": data.document,
            },
            base={
                "label": f"{owner}:{base}",
                "ref": base,
                "sha": self._head_sha(data, base),
                "user": data.document["owner"],
                "repo": data.document,
            },
            _links={
                "self": {"href": f"{api}/pulls/{number}"},
                "html": {"href": f"{web}/pull/{number}"},
                "issue": {"href": f"{api}/issues/{number}"},
                "comments": {"href": f"{api}/issues/{number}/comments"},
                "review_comments": {"href": f"{api}/pulls/{number}/comments"},
                "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
                "commits": {"href": f"{api}/pulls/{number}/commits"},
                "statuses": {"href": f"{api}/statuses/{head_sha}"},
            },
        )
        data.pulls.append(pull)
        own = data.branches.get(head, []) if commits is None else commits
        data.pull_commits[number] = [item if isinstance(item, str) else item["sha"] for item in own]
        twin = self._issue_document(data, number, title, labels, created, closed, author, body=pull["body"])
        twin["pull_request"] = {
            "url": pull["url"],
            "html_url": pull["html_url"],
            "diff_url": pull["diff_url"],
            "patch_url": pull["patch_url"],
            "merged_at": merged,
        }
        twin["updated_at"] = pull["updated_at"]
        data.issues.append(twin)
        return pull

    def add_issue(
        self,
        repo: str,
        *,
        title: str = "Spelling error in the README file",
        labels: Sequence[str] = (),
        at: datetime | str | None = None,
        closed_at: datetime | str | None = None,
        updated_at: datetime | str | None = None,
        body: str = "",
        author: str = SAMPLE_LOGIN,
    ) -> dict:
        """An issue opened ``at`` with ``labels``; closed at ``closed_at`` when given."""
        data = self._repo(repo)
        created, closed = self._stamp(at), _stamp_or_none(closed_at)
        issue = self._issue_document(data, self._next_number(data), title, labels, created, closed, author, body=body)
        if updated_at is not None:
            issue["updated_at"] = self._stamp(updated_at)
        data.issues.append(issue)
        return issue

    # --- behaviour ----------------------------------------------------------------------------

    def fail_next(self, path_prefix: str, statuses: Sequence[int] = (502, 502), *, message: str | None = None) -> None:
        """The next ``len(statuses)`` requests under ``path_prefix`` get these statuses (a JSON
        error body; a 403 here carries no rate-limit sign: a permission refusal)."""
        with self._lock:
            self._faults.extend(_Fault(path_prefix, "status", status=status, message=message) for status in statuses)

    def rate_limit_next(
        self,
        path_prefix: str,
        kind: str = "primary",
        *,
        status: int = 403,
        reset_in: float = 60,
        retry_after: int | None = 60,
        times: int = 1,
    ) -> None:
        """Rate-limit the next ``times`` requests under ``path_prefix``. ``primary``: the limit is
        used up now and resets ``reset_in`` seconds later by the clock (``status`` with
        ``X-RateLimit-Remaining: 0``; every request gets 403 until then). ``secondary``:
        ``status`` with ``Retry-After: retry_after`` (no header when None) and GitHub's
        secondary-limit message; the primary limit is untouched."""
        if kind not in ("primary", "secondary"):
            raise ValueError(f"kind must be 'primary' or 'secondary', not {kind!r}")
        with self._lock:
            self._faults.extend(
                _Fault(path_prefix, kind, status=status, reset_in=reset_in, retry_after=retry_after)
                for _ in range(times)
            )

    def delay_next(self, path_prefix: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` requests under ``path_prefix`` are answered ``seconds`` late."""
        with self._lock:
            self._faults.extend(_Fault(path_prefix, "delay", seconds=seconds) for _ in range(times))

    def malformed_next(self, path_prefix: str, *, status: int = 200) -> None:
        """The next request under ``path_prefix`` gets a truncated JSON body."""
        with self._lock:
            self._faults.append(_Fault(path_prefix, "malformed", status=status))

    def set_rate_limit(
        self, *, remaining: int | None = None, reset_in: float | None = None, limit: int | None = None
    ) -> None:
        """Program the primary limit: ``remaining`` requests until ``reset_in`` seconds from now."""
        with self._lock:
            if limit is not None:
                self._limit = limit
            if remaining is not None:
                self._remaining = remaining
            if reset_in is not None:
                self._reset = int(self._clock() + reset_in)

    def repo(self, full_name: str) -> dict:
        """A repo's ``GET /repos/{owner}/{repo}`` document (its ``id`` names it in Link URLs)."""
        return self._repo(full_name).document

    def deployment_statuses(self, repo: str, deployment_id: int) -> list[dict]:
        """A deployment's statuses, oldest first (the API lists them newest first)."""
        return list(self._repo(repo).statuses[deployment_id])

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path.startswith(self.path_prefix + path_prefix)]

    # --- serving ------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        authorization = request.headers.get("authorization")
        scheme, _, presented = (authorization or "").partition(" ")
        record = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={name: value for name, value in request.headers.items() if name != "authorization"},
            token_ok=scheme.lower() in ("bearer", "token") and presented == self.token,
            auth_scheme=scheme or None,
        )
        with self._lock:
            self.requests.append(record)
        response = await self._answer(request, record)
        record.status = response.status_code
        return response

    async def _answer(self, request: Request, record: RecordedRequest) -> Response:
        if not record.path.startswith(self.path_prefix + "/"):
            return self._error(404, "Not Found")
        local = record.path[len(self.path_prefix) :]
        canonical = self._canonical(local)
        delay = self._take_fault((local, canonical), kinds=("delay",))
        if delay is not None:
            await asyncio.sleep(delay.seconds)
        if not record.token_ok:
            return self._error(401, "Bad credentials" if record.auth_scheme else "Requires authentication")
        fault = self._take_fault((local, canonical), kinds=("status", "primary", "secondary", "malformed"))
        if fault is not None:
            return self._fault_response(fault)
        with self._lock:
            now = self._clock()
            if now >= self._reset:
                self._remaining, self._reset = self._limit, int(now) + RATE_LIMIT_WINDOW_SECONDS
            if self._remaining <= 0:
                return self._error(403, PRIMARY_MESSAGE, counted=False)
        if request.method != "GET":
            return self._error(404, "Not Found")
        status, document, pagination = self._route(canonical, record.query)
        if status != 200:
            return self._error(status, document)
        headers: dict[str, str] = {}
        if pagination is not None and isinstance(document, dict):  # compare: its commits are paged
            document["commits"], headers["link"] = self._paginate(document["commits"], pagination, record.query)
        elif pagination is not None:
            document, headers["link"] = self._paginate(document, pagination, record.query)
            if not headers["link"]:
                del headers["link"]
        body = json.dumps(document).encode()
        etag = 'W/"' + hashlib.sha256(body).hexdigest()[:40] + '"'
        headers["etag"] = etag
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=self._headers(headers, counted=False))
        return Response(body, status_code=200, headers=self._headers(headers, counted=True))

    def _route(self, path: str, query: dict[str, str]) -> tuple[int, Any, tuple[int, str] | None]:
        """(status, document or error message, (repo id, link path) for a listing)."""
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if match is None:
            return 404, "Not Found", None
        data = self._repos.get(f"{match[1]}/{match[2]}".lower())
        if data is None:
            return 404, "Not Found", None
        rest = match[3] or ""
        if rest == "":
            return 200, data.document, None
        listing = (data.id, rest)
        if rest == "/deployments":
            items = [
                item
                for item in data.deployments
                if all(query.get(key) in (None, item[key]) for key in ("sha", "ref", "task", "environment"))
            ]
            return 200, _newest_first(items, "created_at"), listing
        single = re.fullmatch(r"/deployments/(\d+)", rest)
        if single is not None:
            found = [item for item in data.deployments if item["id"] == int(single[1])]
            return (200, found[0], None) if found else (404, "Not Found", None)
        branch = re.fullmatch(r"/branches/(.+)", rest)
        if branch is not None:
            commits = data.branches.get(unquote(branch[1])) or []
            return (
                (200, self._branch_document(data, unquote(branch[1]), commits[-1]), None)
                if commits
                else (
                    404,
                    "Branch not found",
                    None,
                )
            )
        compare = re.fullmatch(r"/compare/(.+)\.\.\.(.+)", rest)
        if compare is not None:
            return self._compare(data, unquote(compare[1]), unquote(compare[2]), listing)
        statuses = re.fullmatch(r"/deployments/(\d+)/statuses", rest)
        if statuses is not None:
            if int(statuses[1]) not in data.statuses:
                return 404, "Not Found", None
            return 200, _newest_first(data.statuses[int(statuses[1])], "created_at"), listing
        if rest == "/commits":
            return self._commits(data, query, listing)
        if rest == "/pulls":
            return 200, self._pulls(data, query), listing
        pull_commits = re.fullmatch(r"/pulls/(\d+)/commits", rest)
        if pull_commits is not None:
            if int(pull_commits[1]) not in data.pull_commits:
                return 404, "Not Found", None
            by_sha = {commit["sha"]: commit for listed in data.branches.values() for commit in listed}
            return 200, [by_sha[sha] for sha in data.pull_commits[int(pull_commits[1])]], listing
        if rest == "/issues":
            return 200, self._issues(data, query), listing
        return 404, "Not Found", None

    def _commits(
        self, data: _Repo, query: dict[str, str], listing: tuple[int, str]
    ) -> tuple[int, Any, tuple[int, str] | None]:
        if not any(data.branches.values()):
            return 409, "Git Repository is empty.", None
        wanted = query.get("sha") or data.document["default_branch"]
        head = self._resolve(data, wanted)
        if head is None:
            return 422, f"No commit found for SHA: {wanted}", None
        history = self._ancestry(data, head)
        since, until = _parse_time(query.get("since")), _parse_time(query.get("until"))
        chosen = [
            commit
            for commit in history
            if (since is None or _parse_time(commit["commit"]["committer"]["date"]) >= since)
            and (until is None or _parse_time(commit["commit"]["committer"]["date"]) <= until)
        ]
        return 200, chosen[::-1], listing

    def _branch_document(self, data: _Repo, name: str, head: dict) -> dict:
        api = f"{self.api_url}/repos/{data.full_name}"
        return {
            "name": name,
            "commit": head,
            "_links": {"self": f"{api}/branches/{quote(name)}", "html": f"{self.url}/{data.full_name}/tree/{name}"},
            "protected": False,
            "protection": {"enabled": False, "required_status_checks": {"enforcement_level": "off", "contexts": []}},
            "protection_url": f"{api}/branches/{quote(name)}/protection",
        }

    def _resolve(self, data: _Repo, ref: str) -> dict | None:
        """A branch name's head, or the commit whose sha starts with ``ref`` (7 characters at least)."""
        if data.branches.get(ref):
            return data.branches[ref][-1]
        if len(ref) < 7:
            return None
        return next(
            (commit for commits in data.branches.values() for commit in commits if commit["sha"].startswith(ref)),
            None,
        )

    def _ancestry(self, data: _Repo, head: dict) -> list[dict]:
        """``head`` and every commit reachable from it by parents, oldest first."""
        by_sha = {commit["sha"]: commit for commits in data.branches.values() for commit in commits}
        order: list[dict] = []
        seen: set[str] = set()
        stack = [head["sha"]]
        while stack:
            sha = stack.pop()
            if sha in seen or sha not in by_sha:
                continue
            seen.add(sha)
            order.append(by_sha[sha])
            stack.extend(parent["sha"] for parent in by_sha[sha]["parents"])
        return order[::-1]

    def _compare(
        self, data: _Repo, base_ref: str, head_ref: str, listing: tuple[int, str]
    ) -> tuple[int, Any, tuple[int, str] | None]:
        base, head = self._resolve(data, base_ref), self._resolve(data, head_ref)
        if base is None or head is None:
            return 404, "Not Found", None
        base_line, head_line = self._ancestry(data, base), self._ancestry(data, head)
        base_shas, head_shas = {c["sha"] for c in base_line}, {c["sha"] for c in head_line}
        ahead = [commit for commit in head_line if commit["sha"] not in base_shas]
        behind = [commit for commit in base_line if commit["sha"] not in head_shas]
        merge_base = next((commit for commit in reversed(head_line) if commit["sha"] in base_shas), None)
        status = {(False, False): "identical", (True, False): "ahead", (False, True): "behind"}.get(
            (bool(ahead), bool(behind)), "diverged"
        )
        document = {
            "url": f"{self.api_url}/repos/{data.full_name}/compare/{base_ref}...{head_ref}",
            "html_url": f"{self.url}/{data.full_name}/compare/{base_ref}...{head_ref}",
            "base_commit": base,
            "merge_base_commit": merge_base,
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "commits": ahead,
            "files": [],
        }
        return 200, document, listing

    def _pulls(self, data: _Repo, query: dict[str, str]) -> list[dict]:
        state = query.get("state", "open")
        items = [
            pull
            for pull in data.pulls
            if state in ("all", pull["state"])
            and query.get("base") in (None, pull["base"]["ref"])
            and query.get("head") in (None, pull["head"]["label"])
        ]
        return _sorted(items, query, default_direction="desc" if query.get("sort", "created") == "created" else "asc")

    def _issues(self, data: _Repo, query: dict[str, str]) -> list[dict]:
        state = query.get("state", "open")
        wanted = {name.strip().lower() for name in query.get("labels", "").split(",") if name.strip()}
        since = _parse_time(query.get("since"))
        items = [
            issue
            for issue in data.issues
            if state in ("all", issue["state"])
            and wanted <= {label["name"].lower() for label in issue["labels"]}
            and (since is None or _parse_time(issue["updated_at"]) >= since)
        ]
        return _sorted(items, query, default_direction="desc")

    def _paginate(self, items: list, listing: tuple[int, str], query: dict[str, str]) -> tuple[list, str]:
        per_page = min(max(_int(query.get("per_page"), 30), 1), 100)
        page = max(_int(query.get("page"), 1), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        repo_id, rest = listing

        def link(number: int, rel: str) -> str:
            params = {**query, "page": str(number)}
            base = self.link_base or self.url
            return f'<{base}{self.path_prefix}/repositories/{repo_id}{rest}?{urlencode(params)}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(min(page - 1, last), "prev"))
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links.append(link(1, "first"))
        return items[(page - 1) * per_page : page * per_page], ", ".join(links)

    def _fault_response(self, fault: _Fault) -> Response:
        if fault.kind == "status":
            return self._error(fault.status, fault.message or STATUS_MESSAGES.get(fault.status, "Error"))
        if fault.kind == "malformed":
            body = b'[{"id": 1, "sha": "6113728f27ae82c7b1a1'
            return Response(body, status_code=fault.status, headers=self._headers({}, counted=True))
        if fault.kind == "primary":
            with self._lock:
                self._remaining, self._reset = 0, int(self._clock() + fault.reset_in)
            return self._error(fault.status, PRIMARY_MESSAGE, counted=False)
        extra = {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
        return self._error(fault.status, SECONDARY_MESSAGE, extra=extra, counted=False)

    def _error(self, status: int, message: str, *, extra: dict | None = None, counted: bool = True) -> Response:
        body = json.dumps({"message": message, "documentation_url": DOCS, "status": str(status)}).encode()
        return Response(body, status_code=status, headers=self._headers(extra or {}, counted=counted))

    def _headers(self, extra: dict[str, str], *, counted: bool) -> dict[str, str]:
        with self._lock:
            if counted and self._remaining > 0:
                self._remaining -= 1
            remaining, limit, reset = self._remaining, self._limit, self._reset
        return {
            "content-type": "application/json; charset=utf-8",
            "cache-control": "private, max-age=60, s-maxage=60",
            "vary": "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding",
            "x-github-media-type": "github.v3; format=json",
            "x-github-api-version-selected": API_VERSION,
            "x-github-request-id": f"9C4A:{len(self.requests):06X}",
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-used": str(limit - remaining),
            "x-ratelimit-resource": "core",
            **extra,
        }

    def _take_fault(self, paths: tuple[str, str], *, kinds: tuple[str, ...]) -> _Fault | None:
        with self._lock:
            for position, fault in enumerate(self._faults):
                if fault.kind in kinds and any(path.startswith(fault.prefix) for path in paths):
                    return self._faults.pop(position)
        return None

    def _canonical(self, path: str) -> str:
        """``/repositories/ID/rest`` (the form of GitHub's Link URLs) as ``/repos/OWNER/NAME/rest``."""
        match = re.fullmatch(r"/repositories/(\d+)(/.*)?", path)
        if match is not None:
            for data in self._repos.values():
                if data.id == int(match[1]):
                    return f"/repos/{data.full_name}{match[2] or ''}"
        return path

    # --- documents ----------------------------------------------------------------------------

    def _repo(self, full_name: str) -> _Repo:
        try:
            return self._repos[full_name.lower()]
        except KeyError:
            raise KeyError(f"no repo {full_name!r} in the fake GitHub: add_repo() it first") from None

    def _next_id(self) -> int:
        return next(self._ids)

    def _next_number(self, data: _Repo) -> int:
        data.last_number += 1
        return data.last_number

    def _stamp(self, value: datetime | str | None) -> str:
        return _stamp_or_none(value) or _stamp_or_none(next(self._times))  # type: ignore[return-value]

    def _head_sha(self, data: _Repo, branch: str) -> str:
        commits = data.branches.get(branch) or []
        return commits[-1]["sha"] if commits else "0" * 40

    def _rebase(self, template: dict, full_name: str) -> dict:
        """A deep copy of a sample object with its repo and hosts replaced by ours."""
        return _replace_strings(
            copy.deepcopy(template),
            [(SAMPLE_REPO, full_name), ("https://api.github.com", self.api_url), ("https://github.com", self.url)],
        )

    def _user(self, login: str) -> dict:
        user = _replace_strings(
            copy.deepcopy(TEMPLATES["user"]),
            [("https://api.github.com", self.api_url), ("https://github.com", self.url), (SAMPLE_LOGIN, login)],
        )
        if login != SAMPLE_LOGIN:
            user["id"] = int(hashlib.sha1(login.encode()).hexdigest()[:7], 16)
            user["node_id"] = _node_id("04:User", user["id"])
        return user

    def _label(self, data: _Repo, name: str) -> dict:
        label = copy.deepcopy(TEMPLATES["label"])
        label_id = int(hashlib.sha1(f"{data.full_name}:{name.lower()}".encode()).hexdigest()[:9], 16)
        label.update(
            id=label_id,
            node_id=_node_id("010:Label", label_id),
            url=f"{self.api_url}/repos/{data.full_name}/labels/{quote(name)}",
            name=name,
            default=False,
            description=None,
        )
        return label

    def _issue_document(
        self,
        data: _Repo,
        number: int,
        title: str,
        labels: Sequence[str],
        created: str,
        closed: str | None,
        author: str,
        *,
        body: str,
    ) -> dict:
        api = f"{self.api_url}/repos/{data.full_name}"
        issue = self._rebase(TEMPLATES["issue"], data.full_name)
        issue_id = self._next_id()
        issue.update(
            url=f"{api}/issues/{number}",
            repository_url=api,
            labels_url=f"{api}/issues/{number}/labels{{/name}}",
            comments_url=f"{api}/issues/{number}/comments",
            events_url=f"{api}/issues/{number}/events",
            html_url=f"{self.url}/{data.full_name}/issues/{number}",
            id=issue_id,
            node_id=_node_id("05:Issue", issue_id),
            number=number,
            title=title,
            user=self._user(author),
            labels=[self._label(data, name) for name in labels],
            state="closed" if closed else "open",
            state_reason="completed" if closed else None,
            assignee=None,
            assignees=[],
            milestone=None,
            comments=0,
            created_at=created,
            updated_at=max(created, closed or created),
            closed_at=closed,
            body=body,
        )
        issue["reactions"]["url"] = f"{api}/issues/{number}/reactions"
        return issue


# --- helpers ----------------------------------------------------------------------------------


def _node_id(kind: str, *parts: object) -> str:
    return base64.b64encode((kind + ":".join(str(part) for part in parts)).encode()).decode()


def _stamp_or_none(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _newest_first(items: list[dict], key: str) -> list[dict]:
    return sorted(items, key=lambda item: (item[key], item["id"]), reverse=True)


def _sorted(items: list[dict], query: dict[str, str], *, default_direction: str) -> list[dict]:
    key = {"updated": "updated_at", "comments": "comments"}.get(query.get("sort", "created"), "created_at")
    direction = query.get("direction", default_direction)
    return sorted(items, key=lambda item: (item.get(key) or "", item["id"]), reverse=direction == "desc")


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    bare = etag.removeprefix("W/")
    return any(
        candidate.strip() == "*" or candidate.strip().removeprefix("W/") == bare for candidate in header.split(",")
    )


def _replace_strings(value: Any, pairs: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {key: _replace_strings(item, pairs) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_strings(item, pairs) for item in value]
    return value
