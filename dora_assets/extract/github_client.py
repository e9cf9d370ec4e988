"""A GitHub REST API client on httpx: pagination, conditional requests, rate limits and retries.

``GitHubClient`` is the Dagster resource (``token=EnvVar("GITHUB_TOKEN")``); ``client.session()``
opens a ``GitHubSession`` (one ``httpx.Client``; use it as a context manager) that answers
``get(path)`` with one JSON document and ``list(path)`` with a ``Listing`` of every page's items.

How a session behaves:

- **Where.** ``base_url``, else ``$GITHUB_API_URL`` (read when the session opens, never at import),
  else ``https://api.github.com``. GitHub Enterprise Server is ``https://HOST/api/v3``. A path is
  relative to it (``/repos/OWNER/NAME/deployments``).
- **Pages.** ``list()`` adds ``per_page`` and follows ``Link: rel="next"`` exactly as GitHub gives
  it (often ``/repositories/ID/...``), lazily: the next page is requested when the items of the
  one before have been consumed. A next link to another origin (scheme, host or port) is refused,
  so the token is never sent anywhere but ``base_url``.
- **Conditional requests.** ``list(..., etag=E)`` sends ``If-None-Match: E`` with the first page
  only; a ``304`` means the first page is unchanged: ``Listing.not_modified`` and no items. 304s
  do not count against GitHub's rate limit. Only changes that reach the first page change its
  ETag: use it for listings sorted newest (or most recently updated) first.
- **Rate limits.** A ``403``/``429`` with ``Retry-After`` (a secondary limit) waits that many
  seconds (at least 1); with ``X-RateLimit-Remaining: 0`` (the primary limit) it waits until
  ``X-RateLimit-Reset`` + 1 s by the session's clock; a ``429``, or a ``403`` whose message says
  "rate limit", with neither header waits 60 s, doubling each time for the same request (GitHub's
  advice for secondary limits). After a successful answer that used up the limit the session
  waits for the reset before its next request, instead of provoking a 403. Rate-limit waits do
  not consume ``max_retries``; their total per session is capped by
  ``max_rate_limit_wait_seconds`` (default 65 minutes: one full primary window fits).
- **Retries.** ``500``/``502``/``503``/``504``, timeouts and network errors are retried up to
  ``max_retries`` times after ``min(max_backoff_seconds, backoff_seconds * 2**n) * (0.5 +
  jitter / 2)`` seconds ("equal jitter": at least half the exponential delay, so a burst of
  clients spreads out without anyone retrying immediately), n = 0, 1, ...
- **Errors.** Everything else that cannot succeed by retrying (``401``, a ``403`` that is not a
  rate limit, ``404``, ``422``, other 4xx, retries or the wait budget exhausted, a body that is
  not JSON, a bad ``base_url`` or token) raises ``GitHubApiError``: one message that names the
  method and URL path and says what to do, with ``.status`` (``None`` without an HTTP status).
- **Secrecy.** The token goes only into the ``Authorization`` header sent to ``base_url``'s
  origin (httpx drops it on a redirect to another origin). It is not in the resource's or the
  session's repr, in any log line (retries and waits are logged with method, path and status)
  or in any exception message, and Dagster masks it as a secret config field.

A session is not thread-safe; open one per thread.

Why our own client, not a maintained one (issue 19 item 6, decided after reading githubkit 0.16.1
and dlt's requests helper). The extractor uses two calls: ``get`` and ``list``. It makes GETs on
nine endpoints, and lands GitHub's JSON unchanged, so a typed SDK's models would go unused.
- githubkit (on httpx) follows Link pagination and recognises GitHub's rate-limit answers, but its
  defaults differ from what the fake-server tests pin (``test_github_client.py``,
  ``test_github_extract.py``):
  - A rate limit is retried once. This client waits within a budget, and it waits out a used-up
    limit before the next request.
  - A Retry-After that is not whole seconds (an HTTP date) raises ValueError.
  - A 429, or a 403 that says "rate limit", with neither Retry-After nor X-RateLimit-Remaining
    is not seen as a rate limit.
  - 5xx is retried three times, after (n+1)^2 s with no jitter. Timeouts and network errors are
    not retried.
  - It sleeps with ``time.sleep`` and reads ``datetime.now``: no injected clock.
  - Its paginator sends the first request's headers (``If-None-Match`` too) with every page.
  - Its token auth puts ``Authorization`` on any URL, including a next link to another origin.
  So our retry policy, ETag handling, origin check and actionable messages would sit on top of it
  anyway, and the install would gain githubkit, githubkit-schemas and hishel.
- dlt's retrying client retries 429, 5xx and network errors, with Retry-After. It is built on
  requests, a second HTTP stack beside httpx. By default it does not handle GitHub's 403 limits
  or X-RateLimit-Reset, and it has no conditional requests. It would also pull all of dlt in for
  one helper.
Neither is installed. Revisit this if the extractor needs GitHub App auth, writes or GraphQL.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from dagster import ConfigurableResource
from pydantic import Field

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
API_URL_ENV = "GITHUB_API_URL"
API_VERSION = "2022-11-28"
USER_AGENT = "dora-assets"
RETRY_STATUSES = frozenset({500, 502, 503, 504})
SECONDARY_FALLBACK_WAIT_SECONDS = 60.0
MESSAGE_LIMIT = 300  # characters of GitHub's error message quoted in ours
TOKEN_SCOPES = (
    "a classic token needs the `repo` scope for private repositories (none for public ones); a "
    'fine-grained token needs read access to "Contents, Deployments, Issues, Pull requests" '
    "(and Metadata) on the repository"
)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class GitHubApiError(RuntimeError):
    """A request that will not succeed by retrying (401, 403 without rate limit, 404, 422, retries
    or the rate-limit wait budget exhausted, a body that is not JSON, a bad base_url or token).

    The message says what to do and names the URL path, never the token or headers. ``status`` is
    the HTTP status (``None`` when there was none: network errors, configuration); ``path`` is the
    URL path of the request (``None`` for configuration errors)."""

    def __init__(self, message: str, status: int | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.status, self.path))


@dataclass
class SessionStats:
    """What a session did. ``requests`` counts every HTTP request sent (retries and 304s
    included); ``retries`` the re-sends after a 5xx, timeout or network error (one per entry of
    ``backoff_waits``); ``rate_limit_waits`` the seconds slept for rate limits (after a 403/429,
    or before a request once the limit was used up); ``not_modified`` the 304 answers;
    ``remaining`` the last ``X-RateLimit-Remaining`` seen."""

    requests: int = 0
    retries: int = 0
    rate_limit_waits: list[float] = field(default_factory=list)
    backoff_waits: list[float] = field(default_factory=list)
    not_modified: int = 0
    remaining: int | None = None


class GitHubClient(ConfigurableResource):
    """The GitHub REST API (github.com or GitHub Enterprise Server), authenticated with ``token``.

    Open a session per run (``with github.session() as session:``); see this module's docstring
    for pagination, conditional requests, rate limits and retries."""

    token: str = Field(
        description="A GitHub token (classic: `repo` scope for private repos; fine-grained: read access to "
        "Contents, Deployments, Issues, Pull requests). Pass EnvVar('GITHUB_TOKEN').",
        repr=False,
        json_schema_extra={"dagster__is_secret": True},
    )
    base_url: str = Field(
        default="",
        description="API root; empty = $GITHUB_API_URL, else https://api.github.com. "
        "GitHub Enterprise Server: https://HOST/api/v3.",
    )
    max_retries: int = Field(default=5, ge=0, description="Retries of a request after a 5xx, timeout or network error.")
    backoff_seconds: float = Field(default=1.0, ge=0, description="First retry delay, doubled per retry (jittered).")
    max_backoff_seconds: float = Field(default=60.0, ge=0, description="Cap of one retry delay.")
    timeout_seconds: float = Field(default=30.0, gt=0, description="Connect/read/write timeout of one request.")
    per_page: int = Field(default=100, ge=1, le=100, description="Items per page of a listing (GitHub allows 100).")
    max_rate_limit_wait_seconds: float = Field(
        default=3900.0, ge=0, description="Total seconds a session may wait for rate limits before it gives up."
    )

    def session(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> GitHubSession:
        """An open session (close it, or use it as a context manager). ``sleep``, ``jitter``
        (a float in [0, 1)) and ``clock`` (epoch seconds) are injectable for tests."""
        base_url = _resolve_base_url(self.base_url)
        token = _checked_token(self.token)
        client = httpx.Client(
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": USER_AGENT,
            },
            timeout=httpx.Timeout(self.timeout_seconds),
            follow_redirects=True,  # renamed repos answer 301; httpx drops Authorization off-origin
        )
        return GitHubSession(
            client,
            base_url,
            token=token,
            per_page=self.per_page,
            max_retries=self.max_retries,
            backoff_seconds=self.backoff_seconds,
            max_backoff_seconds=self.max_backoff_seconds,
            max_rate_limit_wait_seconds=self.max_rate_limit_wait_seconds,
            sleep=sleep,
            jitter=jitter,
            clock=clock,
        )


class Listing:
    """The result of ``GitHubSession.list``: the first page is already fetched (hence
    ``not_modified`` and ``etag``); iterating yields the items of every page, fetching each next
    page only when the items before it have been consumed. A listing can be iterated once."""

    def __init__(
        self,
        session: GitHubSession,
        items: list[dict],
        next_url: str | None,
        *,
        etag: str | None,
        not_modified: bool,
        items_key: str | None = None,
    ) -> None:
        self.not_modified = not_modified
        self.etag = etag
        self._items_key = items_key
        self._session = session
        self._items: list[dict] | None = items
        self._next_url = next_url

    def __iter__(self) -> Iterator[dict]:
        if self._items is None:
            raise RuntimeError("a Listing can be iterated only once: call GitHubSession.list() again")
        items, self._items = self._items, None
        return self._pages(items, self._next_url)

    def _pages(self, items: list[dict], next_url: str | None) -> Iterator[dict]:
        yield from items
        while next_url is not None:
            items, next_url = self._session._page(next_url, self._items_key)
            yield from items

    def __repr__(self) -> str:
        return f"<Listing not_modified={self.not_modified} etag={self.etag!r}>"


class GitHubSession:
    """Requests to one GitHub API root over one ``httpx.Client``; see the module docstring."""

    def __init__(
        self,
        client: httpx.Client,
        base_url: str,
        *,
        token: str,
        per_page: int = 100,
        max_retries: int = 5,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        max_rate_limit_wait_seconds: float = 3900.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url
        self.stats = SessionStats()
        self._client = client
        self._origin = _origin(httpx.URL(base_url))
        self._token = token
        self._per_page = per_page
        self._max_retries = max_retries
        self._backoff_seconds = backoff_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._wait_budget = max_rate_limit_wait_seconds
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self._rate_limit_waited = 0.0
        self._limit_resets_at: float | None = None  # set when an answer said remaining == 0
        self._last_request = ""  # "METHOD /path" of the last answer with rate-limit headers
        self._closed = False

    # --- public -------------------------------------------------------------------------------

    def get(self, path: str, params: dict | None = None) -> Any:
        """One JSON document (``None`` for a ``204 No Content``). ``path`` is relative to
        ``base_url``, or an absolute URL on its origin (a ``url`` field of a document)."""
        response = self._send(self._url(path), params, None)
        return None if response.status_code == 204 else self._json(response)

    def list(
        self,
        path: str,
        params: dict[str, str | int] | None = None,
        *,
        etag: str | None = None,
        items_key: str | None = None,
    ) -> Listing:
        """Every item of a paginated listing, following ``Link: next``. A page is a JSON array,
        or with ``items_key`` an object whose ``items_key`` member is the page's array (as
        ``commits`` in ``GET /compare/{base}...{head}``). With ``etag``, a first page that GitHub
        answers ``304 Not Modified`` gives an empty ``Listing`` with ``not_modified=True``."""
        query: dict[str, Any] = {"per_page": self._per_page, **(params or {})}
        headers = {"If-None-Match": etag} if etag else None
        url = self._url(path)
        response = self._send(url, query, headers)
        if response.status_code == 304:
            self.stats.not_modified += 1
            return Listing(self, [], None, etag=etag, not_modified=True, items_key=items_key)
        items, next_url = self._items_and_next(response, items_key)
        return Listing(
            self, items, next_url, etag=response.headers.get("ETag"), not_modified=False, items_key=items_key
        )

    def close(self) -> None:
        self._closed = True
        self._client.close()

    def __enter__(self) -> GitHubSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<GitHubSession {self.base_url} requests={self.stats.requests}>"

    # --- requests -----------------------------------------------------------------------------

    def _page(self, url: str, items_key: str | None) -> tuple[list[dict], str | None]:
        return self._items_and_next(self._send(url, None, None), items_key)

    def _items_and_next(self, response: httpx.Response, items_key: str | None) -> tuple[list[dict], str | None]:
        document = self._json(response)
        method, path = response.request.method, response.request.url.path
        if items_key is not None and isinstance(document, dict) and isinstance(document.get(items_key), list):
            document = document[items_key]
        elif items_key is not None:
            raise GitHubApiError(
                f"GitHub's answer to {method} {path} is not an object with a {items_key!r} array",
                response.status_code,
                path,
            )
        if not isinstance(document, list):
            raise GitHubApiError(
                f"GitHub's answer to {method} {path} is a JSON {type(document).__name__}, not the array of a "
                "listing: use get() for endpoints that wrap their items in an object",
                response.status_code,
                path,
            )
        next_url = response.links.get("next", {}).get("url")
        if next_url is not None:
            target = response.url.join(next_url)  # GitHub's are absolute; a relative one is resolved
            next_url = str(target)
            if _origin(target) != self._origin:
                raise GitHubApiError(
                    f"GitHub's next-page link for {method} {path} points to another origin "
                    f"({target.scheme}://{target.netloc.decode('ascii', 'replace')}) than {self.base_url}: "
                    "refusing to send the token there; check base_url / GITHUB_API_URL",
                    None,
                    path,
                )
        return document, next_url

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            if _origin(httpx.URL(path)) != self._origin:
                raise GitHubApiError(
                    f"{httpx.URL(path).path} is not on {self.base_url}: refusing to send the token there",
                    None,
                    httpx.URL(path).path,
                )
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def _send(self, url: str, params: dict | None, headers: dict | None) -> httpx.Response:
        """One request with rate-limit waits and retries; returns a 2xx or 304 response, or raises
        ``GitHubApiError``."""
        if self._closed:
            raise RuntimeError("this GitHubSession is closed: iterate listings inside `with client.session()`")
        method, path = "GET", httpx.URL(url).path
        attempt = 0  # retries so far (5xx, timeouts, network errors)
        secondary = 0  # rate-limit waits without a wait time given, for this request
        while True:
            self._wait_for_reset(method, path)
            self.stats.requests += 1
            try:
                response = self._client.request(method, url, params=params, headers=headers)
            except httpx.TransportError as error:
                if isinstance(error, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
                    raise GitHubApiError(
                        f"cannot send {method} {path}: {type(error).__name__}; check base_url / GITHUB_API_URL",
                        None,
                        path,
                    ) from None
                what = type(error).__name__
                if attempt >= self._max_retries:
                    raise GitHubApiError(
                        f"no answer from GitHub for {method} {path} after {attempt + 1} attempts "
                        f"({self._redact(what + ': ' + str(error)).rstrip(': ')}): check the network and "
                        "base_url / GITHUB_API_URL, or try again later",
                        None,
                        path,
                    ) from None
                self._back_off(attempt, method, path, what)
                attempt += 1
                continue
            self._note_rate_limit(response)
            status = response.status_code
            if status in (403, 429):
                wait = self._rate_limit_wait(response, secondary)
                if wait is not None:
                    kind, seconds = wait
                    secondary += kind == "secondary"
                    self._limit_resets_at = None
                    self._wait_rate_limit(seconds, f"{kind} rate limit on {method} {path} ({status})", status, path)
                    continue
            if status in RETRY_STATUSES:
                if attempt >= self._max_retries:
                    raise GitHubApiError(
                        f"GitHub answered {status} to {method} {path}, the last of {attempt + 1} attempts "
                        f"({self._max_retries} retries): GitHub may be having trouble (https://www.githubstatus.com); "
                        "try again later",
                        status,
                        path,
                    )
                self._back_off(attempt, method, path, str(status))
                attempt += 1
                continue
            if 200 <= status < 300 or (status == 304 and headers and "If-None-Match" in headers):
                return response
            raise self._error(response, method, path)

    def _back_off(self, attempt: int, method: str, path: str, what: str) -> None:
        delay = min(self._max_backoff_seconds, self._backoff_seconds * 2**attempt)
        wait = delay * (0.5 + self._jitter() / 2)
        logger.warning(
            "GitHub %s %s: %s; retry %d of %d in %.2f s", method, path, what, attempt + 1, self._max_retries, wait
        )
        self.stats.retries += 1
        self.stats.backoff_waits.append(wait)
        self._sleep(wait)

    # --- rate limits --------------------------------------------------------------------------

    def _note_rate_limit(self, response: httpx.Response) -> None:
        remaining = _int_header(response, "X-RateLimit-Remaining")
        if remaining is None:
            return
        self.stats.remaining = remaining
        reset = _int_header(response, "X-RateLimit-Reset")
        self._limit_resets_at = float(reset) if remaining == 0 and reset is not None else None
        self._last_request = f"{response.request.method} {response.request.url.path}"

    def _rate_limit_wait(self, response: httpx.Response, secondary: int) -> tuple[str, float] | None:
        """("primary"|"secondary", seconds) when a 403/429 is a rate limit, else None."""
        retry_after = response.headers.get("Retry-After")
        if retry_after is not None:
            seconds = _retry_after_seconds(retry_after, self._clock())
            if seconds is not None:
                return "secondary", max(seconds, 1.0)
        if response.headers.get("X-RateLimit-Remaining") == "0":
            reset = _int_header(response, "X-RateLimit-Reset")
            if reset is not None:
                return "primary", max(reset - self._clock(), 0.0) + 1.0
            return "primary", SECONDARY_FALLBACK_WAIT_SECONDS
        if response.status_code == 429 or "rate limit" in _github_message(response).lower():
            return "secondary", SECONDARY_FALLBACK_WAIT_SECONDS * 2**secondary
        return None

    def _wait_for_reset(self, method: str, path: str) -> None:
        """Before a request: when the last answer used up the limit, wait until it resets."""
        if self._limit_resets_at is None:
            return
        seconds = self._limit_resets_at + 1.0 - self._clock()
        self._limit_resets_at = None
        if seconds > 0:
            self._wait_rate_limit(
                seconds, f"rate limit used up (by {self._last_request}); before {method} {path}", None, path
            )

    def _wait_rate_limit(self, seconds: float, reason: str, status: int | None, path: str) -> None:
        if self._rate_limit_waited + seconds > self._wait_budget:
            resume = datetime.fromtimestamp(self._clock() + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            raise GitHubApiError(
                f"GitHub {reason}: waiting {seconds:.0f} s more would exceed the session's rate-limit wait budget "
                f"({self._wait_budget:.0f} s, {self._rate_limit_waited:.0f} s waited): try again after {resume}, "
                "or use a token with a higher limit (a GitHub App installation)",
                status,
                path,
            )
        logger.warning("GitHub %s: waiting %.0f s", reason, seconds)
        self._rate_limit_waited += seconds
        self.stats.rate_limit_waits.append(seconds)
        self._sleep(seconds)

    # --- answers ------------------------------------------------------------------------------

    def _json(self, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except ValueError as error:
            method, path = response.request.method, response.request.url.path
            detail = error.msg if isinstance(error, json.JSONDecodeError) else type(error).__name__
            raise GitHubApiError(
                f"GitHub's answer to {method} {path} ({response.status_code}) is not valid JSON ({detail}): a proxy "
                "in between, or GitHub having trouble; check base_url / GITHUB_API_URL, or try again later",
                response.status_code,
                path,
            ) from None

    def _error(self, response: httpx.Response, method: str, path: str) -> GitHubApiError:
        status = response.status_code
        said = self._redact(_github_message(response))
        quoted = f" ({status}: {said})" if said else f" ({status})"
        if status == 401:
            text = (
                f"GitHub rejected the token (401) for {method} {path}: "
                "check GITHUB_TOKEN (mistyped, expired or revoked)"
            )
        elif status == 403 and response.headers.get("X-GitHub-SSO", "").startswith("required"):
            text = (
                f"GitHub refused {method} {path}{quoted}: the organization enforces SAML single sign-on; "
                "authorize the token for it (GitHub settings, Tokens, Configure SSO)"
            )
        elif status == 403:
            text = f"GitHub refused {method} {path}{quoted}: the token lacks permission; {TOKEN_SCOPES}"
        elif status == 404:
            text = (
                f"GitHub found nothing at {method} {path} (404): the repository or path does not exist, or the token "
                f"cannot see it (GitHub answers 404 for private repositories a token has no access to); {TOKEN_SCOPES}"
            )
        elif status == 422:
            text = f"GitHub refused the parameters of {method} {path}{quoted}: fix the request's parameters"
        elif status == 304:
            text = f"GitHub answered 304 Not Modified to {method} {path}, which sent no If-None-Match"
        else:
            text = f"GitHub answered {method} {path}{quoted}: not retried; check the request and the token"
        return GitHubApiError(text, status, path)

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


# --- helpers ----------------------------------------------------------------------------------


def _resolve_base_url(configured: str) -> str:
    value = (configured or os.environ.get(API_URL_ENV, "") or DEFAULT_API_URL).strip()
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise GitHubApiError(
            "base_url / GITHUB_API_URL is not an http(s) URL: use https://api.github.com, or "
            "https://HOST/api/v3 for GitHub Enterprise Server"
        )
    if url.userinfo:
        raise GitHubApiError("base_url / GITHUB_API_URL must not carry credentials: the token is GITHUB_TOKEN")
    if url.query or url.fragment:
        raise GitHubApiError("base_url / GITHUB_API_URL must not have a query or fragment")
    if url.scheme == "http" and url.host not in LOOPBACK_HOSTS:
        logger.warning("GitHub API at %s is plain HTTP: the token crosses the network unencrypted", url.host)
    return value.rstrip("/")


def _checked_token(token: str) -> str:
    """The token without surrounding whitespace (a trailing newline from a secret file); one that
    could not travel in a header is refused without being quoted."""
    token = (token or "").strip()
    if not token:
        raise GitHubApiError("GITHUB_TOKEN is empty: set it to a GitHub token (classic or fine-grained)")
    if not all("\x21" <= character <= "\x7e" for character in token):
        raise GitHubApiError(
            "GITHUB_TOKEN contains spaces, control or non-ASCII characters, so it cannot be a GitHub token: "
            "check how it is set"
        )
    return token


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host, url.port or default)


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def _retry_after_seconds(value: str, now: float) -> float | None:
    """``Retry-After`` as seconds: a number (GitHub's form) or an HTTP date."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError, IndexError):
        return None


def _github_message(response: httpx.Response) -> str:
    """The ``message`` of GitHub's JSON error body, one line, shortened ("" when there is none)."""
    try:
        message = json.loads(response.content).get("message")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(message, str):
        return ""
    message = " ".join(message.split())
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"
