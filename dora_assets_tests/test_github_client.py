"""The GitHub REST client (``dora_assets.extract.github_client``) against ``FakeGitHub``, a real
HTTP server on 127.0.0.1: pagination, ETags, retries, timeouts, rate limits, errors, where the
API root comes from, and the token's secrecy. Sleep, jitter and the clock are injected (a fake
clock that the fake server shares), so nothing really sleeps except the timeout test's server.
Log assertions use a root handler of their own, so they hold under ``-p no:logging``."""

from __future__ import annotations

import logging
import pickle
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dagster import EnvVar, asset, materialize
from pydantic import ValidationError

from dora_assets.extract.github_client import (
    DEFAULT_API_URL,
    GitHubApiError,
    GitHubClient,
    GitHubSession,
    Listing,
)
from dora_assets_tests.fake_github import DEFAULT_TOKEN, FakeGitHub

REPO = "acme/app"
DEPLOYMENTS = f"/repos/{REPO}/deployments"
START = 1_672_911_600.0  # 2023-01-05T09:40:00Z


class FakeClock:
    """Epoch seconds that move only when something sleeps."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def github(clock: FakeClock) -> Iterator[FakeGitHub]:
    with FakeGitHub(clock=clock.time) as fake:
        fake.add_repo(REPO)
        yield fake


@pytest.fixture
def open_session(github: FakeGitHub, clock: FakeClock) -> Iterator[Callable[..., GitHubSession]]:
    """``open_session(jitter=..., **resource fields)``: a session on ``github`` with the fake clock."""
    sessions: list[GitHubSession] = []

    def open_(*, jitter: Callable[[], float] = lambda: 0.5, **fields: Any) -> GitHubSession:
        resource = GitHubClient(**{"token": github.token, "base_url": github.url, **fields})
        session = resource.session(sleep=clock.sleep, jitter=jitter, clock=clock.time)
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        session.close()


def add_deployments(github: FakeGitHub, count: int, environment: str = "production") -> list[int]:
    """``count`` deployments an hour apart; their ids newest first (the API's order)."""
    ids = [
        github.add_deployment(REPO, environment=environment, at=f"2023-01-05T{10 + n:02d}:00:00Z")["id"]
        for n in range(count)
    ]
    return ids[::-1]


def statuses(github: FakeGitHub) -> list[int | None]:
    return [request.status for request in github.requests]


# --- pagination and conditional requests --------------------------------------------------------


def test_a_listing_follows_link_next_across_three_pages_lazily_in_order(
    github: FakeGitHub, open_session: Callable[..., GitHubSession]
) -> None:
    newest_first = add_deployments(github, 5)
    add_deployments(github, 2, environment="staging")
    session = open_session(per_page=2)

    listing = session.list(DEPLOYMENTS, {"environment": "production"})
    assert isinstance(listing, Listing) and not listing.not_modified
    assert len(github.requests) == 1, "list() fetches the first page only"
    items = iter(listing)
    first_two = [next(items)["id"], next(items)["id"]]
    assert len(github.requests) == 1, "page 2 is not fetched before page 1 is consumed"
    rest = [item["id"] for item in items]

    assert first_two + rest == newest_first
    by_id = f"/repositories/{github.repo(REPO)['id']}/deployments"
    assert [(request.path, request.query) for request in github.requests] == [
        (DEPLOYMENTS, {"per_page": "2", "environment": "production"}),
        (by_id, {"per_page": "2", "environment": "production", "page": "2"}),
        (by_id, {"per_page": "2", "environment": "production", "page": "3"}),
    ], "pages 2 and 3 are GitHub's own next links, followed verbatim"
    for request in github.requests:
        assert request.token_ok and request.auth_scheme == "Bearer"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"] == "dora-assets"
    assert session.stats.requests == 3 and session.stats.remaining == 4997
    with pytest.raises(RuntimeError, match="only once"):
        list(listing)
    assert list(session.list(f"/repos/{REPO}/deployments", {"environment": "qa"})) == []


def test_an_etag_gives_304_on_the_first_page_only_and_a_change_gives_items(
    github: FakeGitHub, open_session: Callable[..., GitHubSession]
) -> None:
    ids = add_deployments(github, 3)
    session = open_session(per_page=2)
    first = session.list(DEPLOYMENTS)
    assert [item["id"] for item in first] == ids
    assert first.etag and first.etag.startswith('W/"')
    remaining = session.stats.remaining

    unchanged = session.list(DEPLOYMENTS, etag=first.etag)
    assert unchanged.not_modified and unchanged.etag == first.etag
    assert list(unchanged) == []
    assert github.requests[-1].headers["if-none-match"] == first.etag and github.requests[-1].status == 304
    assert session.stats.not_modified == 1
    assert session.stats.remaining == remaining, "a 304 does not count against the rate limit"

    newest = github.add_deployment(REPO, at="2023-01-06T09:00:00Z")["id"]
    changed = session.list(DEPLOYMENTS, etag=first.etag)
    assert not changed.not_modified and changed.etag not in (None, first.etag)
    assert [item["id"] for item in changed] == [newest, *ids]
    changed_first, changed_second = github.requests[-2:]
    assert changed_first.headers["if-none-match"] == first.etag and changed_first.status == 200
    assert changed_second.query["page"] == "2"
    assert "if-none-match" not in changed_second.headers, "only the first page is conditional"
    assert session.stats.requests == 2 + 1 + 2 and session.stats.not_modified == 1


# --- retries ---------------------------------------------------------------------------------------


def test_a_5xx_burst_is_retried_with_jittered_exponential_backoff(
    github: FakeGitHub, clock: FakeClock, open_session: Callable[..., GitHubSession]
) -> None:
    github.fail_next(f"/repos/{REPO}", statuses=[500, 502, 503, 504])
    jitters = iter([0.0, 1.0, 0.5, 0.25])
    session = open_session(jitter=lambda: next(jitters), backoff_seconds=1.0, max_backoff_seconds=60.0)

    assert session.get(f"/repos/{REPO}")["full_name"] == REPO
    # min(60, 1 * 2**n) * (0.5 + jitter / 2)
    assert session.stats.backoff_waits == [0.5, 2.0, 3.0, 5.0]
    assert clock.sleeps == [0.5, 2.0, 3.0, 5.0]
    assert session.stats.retries == 4 and session.stats.requests == 5
    assert session.stats.rate_limit_waits == []
    assert statuses(github) == [500, 502, 503, 504, 200]


def test_retries_exhausted_raise_naming_the_last_status_and_the_path(
    github: FakeGitHub, open_session: Callable[..., GitHubSession]
) -> None:
    github.fail_next(DEPLOYMENTS, statuses=[502, 502, 502, 503, 502])
    session = open_session(max_retries=3, backoff_seconds=1.0, max_backoff_seconds=1.5)
    with pytest.raises(GitHubApiError) as raised:
        session.list(DEPLOYMENTS)
    assert raised.value.status == 503
    assert "503" in str(raised.value) and DEPLOYMENTS in str(raised.value) and "last of 4 attempts" in str(raised.value)
    assert session.stats.backoff_waits == [0.75, 1.125, 1.125], "capped at max_backoff_seconds, then jittered"
    assert len(github.requests) == 4, "1 attempt + max_retries"


def test_timeouts_are_retried_then_exhausted(github: FakeGitHub, open_session: Callable[..., GitHubSession]) -> None:
    github.delay_next(f"/repos/{REPO}", seconds=0.6, times=2)
    session = open_session(timeout_seconds=0.15)
    assert session.get(f"/repos/{REPO}")["default_branch"] == "main"
    assert session.stats.retries == 2 and session.stats.backoff_waits == [0.75, 1.5]
    assert len(github.requests) == 3

    github.delay_next(f"/repos/{REPO}", seconds=0.6, times=2)
    session = open_session(timeout_seconds=0.15, max_retries=1)
    with pytest.raises(GitHubApiError, match="ReadTimeout") as raised:
        session.get(f"/repos/{REPO}")
    assert raised.value.status is None and f"/repos/{REPO}" in str(raised.value)
    assert len(github.requests) == 5


@pytest.mark.parametrize("status", [422, 409])
def test_other_4xx_are_not_retried(github: FakeGitHub, open_session: Callable[..., GitHubSession], status: int) -> None:
    if status == 409:
        params = {}  # the repo has no commits yet: GitHub answers 409 "Git Repository is empty."
    else:
        github.add_commit(REPO)
        params = {"sha": "no-such-branch"}
    session = open_session()
    with pytest.raises(GitHubApiError) as raised:
        list(session.list(f"/repos/{REPO}/commits", params))
    assert raised.value.status == status and f"/repos/{REPO}/commits" in str(raised.value)
    assert len(github.requests) == 1 and session.stats.backoff_waits == []


def test_a_body_that_is_not_json_is_an_error(github: FakeGitHub, open_session: Callable[..., GitHubSession]) -> None:
    github.malformed_next(DEPLOYMENTS)
    session = open_session()
    with pytest.raises(GitHubApiError, match="not valid JSON") as raised:
        session.list(DEPLOYMENTS)
    assert raised.value.status == 200 and DEPLOYMENTS in str(raised.value)
    assert len(github.requests) == 1
    with pytest.raises(GitHubApiError, match="not the array of a listing"):
        session.list(f"/repos/{REPO}")


# --- rate limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 429])
def test_a_primary_rate_limit_waits_until_reset_plus_one_second(
    github: FakeGitHub, clock: FakeClock, open_session: Callable[..., GitHubSession], status: int
) -> None:
    github.rate_limit_next(f"/repos/{REPO}", kind="primary", status=status, reset_in=120)
    session = open_session(max_retries=0)  # rate-limit waits do not consume retries
    assert session.get(f"/repos/{REPO}")["full_name"] == REPO
    assert session.stats.rate_limit_waits == [121.0], "X-RateLimit-Reset (now + 120) + 1 s, by the injected clock"
    assert clock.now == START + 121
    assert session.stats.backoff_waits == [] and session.stats.retries == 0
    assert statuses(github) == [status, 200]


@pytest.mark.parametrize(("status", "retry_after"), [(403, 30), (429, 7)])
def test_a_secondary_rate_limit_waits_retry_after(
    github: FakeGitHub, open_session: Callable[..., GitHubSession], status: int, retry_after: int
) -> None:
    github.rate_limit_next(DEPLOYMENTS, kind="secondary", status=status, retry_after=retry_after)
    session = open_session(max_retries=0)
    assert list(session.list(DEPLOYMENTS)) == []
    assert session.stats.rate_limit_waits == [float(retry_after)]
    assert session.stats.backoff_waits == []
    assert statuses(github) == [status, 200]


def test_a_secondary_limit_without_retry_after_waits_a_minute_then_doubles(
    github: FakeGitHub, open_session: Callable[..., GitHubSession]
) -> None:
    github.rate_limit_next(DEPLOYMENTS, kind="secondary", status=403, retry_after=None, times=2)
    session = open_session()
    assert list(session.list(DEPLOYMENTS)) == []
    assert session.stats.rate_limit_waits == [60.0, 120.0]
    assert statuses(github) == [403, 403, 200]


def test_rate_limit_waits_stop_at_the_wait_budget(
    github: FakeGitHub, open_session: Callable[..., GitHubSession]
) -> None:
    github.rate_limit_next(DEPLOYMENTS, kind="secondary", retry_after=60, times=3)
    session = open_session(max_rate_limit_wait_seconds=100)
    with pytest.raises(GitHubApiError, match="budget") as raised:
        session.list(DEPLOYMENTS)
    assert raised.value.status == 403 and DEPLOYMENTS in str(raised.value)
    assert session.stats.rate_limit_waits == [60.0], "the second wait would pass 100 s: not slept at all"
    assert len(github.requests) == 2


def test_a_used_up_limit_is_waited_out_before_the_next_request_not_hit(
    github: FakeGitHub, clock: FakeClock, open_session: Callable[..., GitHubSession]
) -> None:
    ids = add_deployments(github, 4)
    github.set_rate_limit(remaining=1, reset_in=50)
    session = open_session(per_page=2)
    listing = session.list(DEPLOYMENTS)
    assert session.stats.remaining == 0 and session.stats.rate_limit_waits == [], "no wait until a request is due"

    assert [item["id"] for item in listing] == ids
    assert session.stats.rate_limit_waits == [51.0]
    assert clock.now == START + 51
    # The fake enforces the limit: without the wait, page 2 would have been a 403.
    assert statuses(github) == [200, 200]


# --- refusals ---------------------------------------------------------------------------------------


def test_a_rejected_token_is_an_immediate_error(github: FakeGitHub, open_session: Callable[..., GitHubSession]) -> None:
    session = open_session(token="ghp_wrongwrongwrongwrongwrongwrongwrong00")
    with pytest.raises(GitHubApiError) as raised:
        session.get(f"/repos/{REPO}")
    assert raised.value.status == 401
    assert str(raised.value) == (
        f"GitHub rejected the token (401) for GET /repos/{REPO}: check GITHUB_TOKEN (mistyped, expired or revoked)"
    )
    assert len(github.requests) == 1 and not github.requests[0].token_ok
    assert session.stats.backoff_waits == [] and session.stats.rate_limit_waits == []


def test_a_permission_403_names_the_scopes_and_is_not_retried(
    github: FakeGitHub, open_session: Callable[..., GitHubSession]
) -> None:
    github.fail_next(DEPLOYMENTS, statuses=[403])
    session = open_session()
    with pytest.raises(GitHubApiError) as raised:
        session.list(DEPLOYMENTS)
    message = str(raised.value)
    assert raised.value.status == 403 and DEPLOYMENTS in message
    assert "Resource not accessible by personal access token" in message
    assert "`repo` scope" in message and '"Contents, Deployments, Issues, Pull requests"' in message
    assert len(github.requests) == 1 and session.stats.rate_limit_waits == []


def test_an_unknown_repo_is_a_clear_404(github: FakeGitHub, open_session: Callable[..., GitHubSession]) -> None:
    session = open_session()
    with pytest.raises(GitHubApiError) as raised:
        session.get("/repos/acme/nope")
    assert raised.value.status == 404 and raised.value.path == "/repos/acme/nope"
    assert "/repos/acme/nope" in str(raised.value) and "cannot see it" in str(raised.value)
    assert len(github.requests) == 1


def test_a_next_link_to_another_origin_is_refused(
    github: FakeGitHub, clock: FakeClock, open_session: Callable[..., GitHubSession]
) -> None:
    add_deployments(github, 3)
    with FakeGitHub(clock=clock.time) as elsewhere:
        elsewhere.add_repo(REPO)
        github.link_base = elsewhere.url  # same address, another port: another origin
        session = open_session(per_page=1)
        with pytest.raises(GitHubApiError, match="another origin") as raised:
            list(session.list(DEPLOYMENTS))
        assert elsewhere.requests == [], "the token was never sent to the other origin"
        with pytest.raises(GitHubApiError, match="refusing"):
            session.get(f"{elsewhere.url}/repos/{REPO}")
        assert elsewhere.requests == []
    assert raised.value.status is None
    assert len(github.requests) == 1


# --- the token's secrecy -------------------------------------------------------------------------


def all_text(error: BaseException) -> str:
    """Everything an exception shows: its message, repr, traceback and chained exceptions."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


def test_the_token_is_in_no_log_record_exception_or_repr(
    github: FakeGitHub,
    clock: FakeClock,
    open_session: Callable[..., GitHubSession],
    log_records: list[logging.LogRecord],
) -> None:
    secret = github.token
    add_deployments(github, 3)
    github.fail_next(DEPLOYMENTS, statuses=[502])
    github.rate_limit_next("/repositories/", kind="secondary", retry_after=5)
    session = open_session(per_page=2, timeout_seconds=0.15)
    listing = session.list(DEPLOYMENTS)
    assert len(list(listing)) == 3
    github.delay_next(f"/repos/{REPO}", seconds=0.5)
    assert session.get(f"/repos/{REPO}")["full_name"] == REPO
    errors: list[GitHubApiError] = []
    github.fail_next(DEPLOYMENTS, statuses=[403])
    github.malformed_next(f"/repos/{REPO}")
    for call in (
        lambda: session.get("/repos/acme/nope"),
        lambda: session.list(DEPLOYMENTS),
        lambda: session.get(f"/repos/{REPO}"),
        lambda: session.get("https://elsewhere.example/repos/acme/app"),
        lambda: open_session(token=secret + "x").get(f"/repos/{REPO}"),
        lambda: open_session(token=f" {secret}\x00 ").get(f"/repos/{REPO}"),
    ):
        with pytest.raises(GitHubApiError) as raised:
            call()
        errors.append(raised.value)
    assert [error.status for error in errors] == [404, 403, 200, None, 401, None]
    assert all(request.token_ok for request in github.requests[:-1]), "the token was really sent"
    assert session.stats.backoff_waits and session.stats.rate_limit_waits

    log_lines = [record.getMessage() for record in log_records]
    log_lines += [logging.Formatter().format(record) for record in log_records]
    ours = [record.getMessage() for record in log_records if record.name.startswith("dora_assets.extract")]
    assert any(f"GET {DEPLOYMENTS}: 502; retry 1 of 5" in line for line in ours), ours
    assert any(f"GET /repos/{REPO}: ReadTimeout" in line for line in ours), ours
    by_id = f"/repositories/{github.repo(REPO)['id']}/deployments"
    assert any(f"secondary rate limit on GET {by_id} (403): waiting 5 s" in line for line in ours), ours
    assert not any("per_page" in line for line in ours), "our log lines name the path, not the query"
    for text in log_lines:
        assert secret not in text
    for error in errors:
        assert secret not in all_text(error)
        assert pickle.loads(pickle.dumps(error)).status == error.status
    resource = GitHubClient(token=secret, base_url=github.url)
    for shown in (resource, session, session.stats, listing):
        assert secret not in repr(shown) and secret not in str(shown)
    assert GitHubClient.to_config_schema().as_field().config_type.fields["token"].is_secret


def test_a_token_that_cannot_be_a_header_is_refused_unquoted_and_whitespace_is_trimmed(
    github: FakeGitHub, open_session: Callable[..., GitHubSession]
) -> None:
    for bad in ("", "   ", "ghp_abc def", "ghp_abc\nX-Injected: 1", "ghp_\u00e9t\u00e9"):
        with pytest.raises(GitHubApiError, match="GITHUB_TOKEN") as raised:
            open_session(token=bad)
        assert raised.value.status is None and (not bad.strip() or bad.strip() not in str(raised.value))
    session = open_session(token=github.token + "\n")
    assert session.get(f"/repos/{REPO}")["full_name"] == REPO
    assert len(github.requests) == 1 and github.requests[0].token_ok
    with pytest.raises(ValidationError):
        GitHubClient(token="t", per_page=101)


# --- where the API is ----------------------------------------------------------------------------


def test_github_api_url_is_read_when_a_session_opens_and_base_url_wins(
    github: FakeGitHub, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource = GitHubClient(token=github.token)
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    with resource.session() as session:
        assert session.base_url == DEFAULT_API_URL
    with FakeGitHub(clock=clock.time) as other:
        other.add_repo(REPO)
        monkeypatch.setenv("GITHUB_API_URL", github.url + "/")
        with resource.session() as session:
            assert session.base_url == github.url
            session.get(f"/repos/{REPO}")
        monkeypatch.setenv("GITHUB_API_URL", other.url)
        with resource.session() as session:  # the same resource, the environment of now
            session.get(f"/repos/{REPO}")
        assert (len(github.requests), len(other.requests)) == (1, 1)

        with GitHubClient(token=github.token, base_url=github.url).session() as session:
            session.get(f"/repos/{REPO}")
        assert (len(github.requests), len(other.requests)) == (2, 1), "base_url wins over GITHUB_API_URL"

    monkeypatch.setenv("GITHUB_API_URL", "ftp://github.example.com")
    with pytest.raises(GitHubApiError, match="not an http"):
        resource.session()


def test_github_enterprise_server_paths_keep_the_api_v3_prefix(clock: FakeClock) -> None:
    with FakeGitHub(clock=clock.time, path_prefix="/api/v3") as enterprise:
        enterprise.add_repo(REPO, default_branch="trunk")
        ids = add_deployments(enterprise, 3)
        resource = GitHubClient(token=enterprise.token, base_url=enterprise.url + "/api/v3/", per_page=2)
        with resource.session(sleep=clock.sleep, clock=clock.time) as session:
            assert session.get(f"/repos/{REPO}")["default_branch"] == "trunk"
            assert [item["id"] for item in session.list(DEPLOYMENTS)] == ids
        assert [request.path for request in enterprise.requests] == [
            f"/api/v3/repos/{REPO}",
            f"/api/v3{DEPLOYMENTS}",
            f"/api/v3/repositories/{enterprise.repo(REPO)['id']}/deployments",
        ]
        assert all(request.status == 200 for request in enterprise.requests)


# --- in Dagster, and the fake's GitHub semantics -------------------------------------------------------


def test_the_resource_works_in_a_dagster_run_with_the_token_from_the_environment(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", github.token)

    @asset
    def default_branch(github_api: GitHubClient) -> str:
        with github_api.session() as session:
            return session.get(f"/repos/{REPO}")["default_branch"]

    result = materialize(
        [default_branch], resources={"github_api": GitHubClient(token=EnvVar("GITHUB_TOKEN"), base_url=github.url)}
    )
    assert result.success and result.output_for_node("default_branch") == "main"
    assert [request.token_ok for request in github.requests] == [True]


def test_the_fake_serves_githubs_list_semantics(github: FakeGitHub, open_session: Callable[..., GitHubSession]) -> None:
    """What the extractor relies on: commits of a branch in a window, newest first; statuses
    newest first; closed pulls by update; issues by label, pull requests among them."""
    for hour in range(4):
        github.add_commit(REPO, message=f"change {hour}", at=f"2023-01-05T{10 + hour:02d}:00:00Z")
    github.add_commit(REPO, branch="feature", message="elsewhere", at="2023-01-05T11:30:00Z")
    deployment = github.add_deployment(REPO, at="2023-01-05T15:00:00Z", statuses=["in_progress", "failure", "success"])
    merged = github.add_pull(REPO, at="2023-01-04T09:00:00Z", merged_at="2023-01-05T12:00:00Z", labels=["bug"])
    closed = github.add_pull(REPO, at="2023-01-04T10:00:00Z", closed_at="2023-01-05T13:00:00Z")
    github.add_pull(REPO, at="2023-01-04T11:00:00Z")
    incident = github.add_issue(REPO, labels=["Incident", "sev1"], at="2023-01-05T16:00:00Z")
    github.add_issue(REPO, labels=["bug"], at="2023-01-05T16:30:00Z")
    session = open_session()

    window = {"sha": "main", "since": "2023-01-05T11:00:00Z", "until": "2023-01-05T12:00:00Z"}
    commits = list(session.list(f"/repos/{REPO}/commits", window))
    assert [commit["commit"]["message"] for commit in commits] == ["change 2", "change 1"]
    assert commits[0]["parents"][0]["sha"] == commits[1]["sha"]
    assert commits[0]["commit"]["committer"]["date"] == "2023-01-05T12:00:00Z"

    states = [status["state"] for status in session.list(f"/repos/{REPO}/deployments/{deployment['id']}/statuses")]
    assert states == ["success", "failure", "in_progress"]

    pulls = list(session.list(f"/repos/{REPO}/pulls", {"state": "closed", "sort": "updated", "direction": "desc"}))
    assert [pull["number"] for pull in pulls] == [closed["number"], merged["number"]]
    assert pulls[1]["merged_at"] == "2023-01-05T12:00:00Z" and pulls[0]["merged_at"] is None
    assert "merged" not in pulls[0], "the list endpoint has no `merged`: use merged_at"
    assert pulls[1]["head"]["sha"] and pulls[1]["base"]["ref"] == "main"

    issues = list(session.list(f"/repos/{REPO}/issues", {"labels": "incident", "state": "all"}))
    assert [issue["number"] for issue in issues] == [incident["number"]]
    everything = list(session.list(f"/repos/{REPO}/issues", {"state": "all", "since": "2023-01-05T00:00:00Z"}))
    assert {issue["number"]: "pull_request" in issue for issue in everything} == {
        1: True,
        2: True,
        4: False,
        5: False,
    }
    assert [request.status for request in github.requests] == [200] * len(github.requests)
    assert DEFAULT_TOKEN not in str(github.requests)


def test_a_comparison_pages_the_commits_a_branch_gained_oldest_first(
    github: FakeGitHub, open_session: Callable[..., GitHubSession]
) -> None:
    """``list(..., items_key="commits")`` pages the ``commits`` array of an object (GET /compare),
    following GitHub's next links; the fake answers with what head has and base has not, whatever
    the commits' dates (the third is dated a week before the others)."""
    base = github.add_commit(REPO, message="base", at="2023-01-05T10:00:00Z")
    dates = ["2023-01-05T11:00:00Z", "2023-01-05T12:00:00Z", "2022-12-29T09:00:00Z", "2023-01-05T13:00:00Z"]
    gained = [github.add_commit(REPO, message=f"gained {n}", at=at)["sha"] for n, at in enumerate(dates)]
    session = open_session(per_page=3)

    assert session.get(f"/repos/{REPO}/branches/main")["commit"]["sha"] == gained[-1]
    compare = f"/repos/{REPO}/compare/{base['sha']}...{gained[-1]}"
    commits = [commit["sha"] for commit in session.list(compare, items_key="commits")]

    assert commits == gained
    assert [request.query.get("page") for request in github.requests[1:]] == [None, "2"]
    assert session.get(compare)["status"] == "ahead"
    assert list(session.list(f"/repos/{REPO}/compare/{gained[-1]}...main", items_key="commits")) == []
    with pytest.raises(GitHubApiError, match="not an object with a 'commits' array"):
        list(session.list(DEPLOYMENTS, items_key="commits"))
    with pytest.raises(GitHubApiError) as unknown:
        session.list(f"/repos/{REPO}/compare/{'f' * 40}...main", items_key="commits")
    assert unknown.value.status == 404
    with pytest.raises(GitHubApiError) as empty:
        session.get(f"/repos/{REPO}/branches/nothing-here")
    assert empty.value.status == 404
