"""One webhook delivery, from raw bytes to a landed envelope, as plain functions.

The HTTP layer (``app.py``) refuses what it can before the body (``check_declared_length``,
``check_sender_before_body``), reads the body within the size limit and hands the bytes, the
headers and the query parameters to ``accept_delivery``, which runs in a worker thread:

1. verify the sender (only for a source whose secret is set): 401 otherwise;
2. parse the body: a UTF-8 JSON object no deeper than the nesting limit whose value the
   envelope keeps as posted (no repeated key, no number a double cannot hold), else 400;
3. find the event type and the delivery id (derived from the body when the sender gave none);
4. answer pings without storing them;
5. build the envelope through ``Envelope`` and write it atomically into the landing folder.

Every refusal is a ``Rejection`` carrying the HTTP status and a message safe to show the
sender: no message ever contains a secret or a presented signature.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError

from dora_assets.ingestion.envelope import MAX_DELIVERY_ID_LENGTH, Envelope
from dora_assets.receiver import signatures
from dora_assets.receiver.settings import DEFAULT_MAX_JSON_DEPTH, SOURCES, ReceiverSettings
from dora_assets.receiver.store import write_landing_file
from dora_assets.sources import SOURCES as REGISTERED_SOURCES

KEPT_HEADERS: tuple[str, ...] = (
    "user-agent",
    "content-type",
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "x-gitlab-instance",
    "idempotency-key",
    "x-atlassian-webhook-identifier",
    "x-atlassian-webhook-flow",
    "x-atlassian-webhook-retry",
    "mock",
)
# The event a source sends to test a new webhook: answered, never stored (the registry, dora_assets/sources.py).
PING_EVENTS: dict[str, str] = {source.name: source.ping_event for source in REGISTERED_SOURCES if source.ping_event}
TOKEN_SOURCES: frozenset[str] = frozenset({"gitlab", "jenkins"})  # the sender presents the secret itself
SIGNATURE_HEADERS: dict[str, tuple[str, ...]] = {
    "github": ("x-hub-signature-256", "x-hub-signature"),
    "pagerduty": ("x-pagerduty-signature",),
    "jira": ("x-hub-signature",),
}
MAX_EVENT_TYPE_LENGTH = 255
DERIVED_DELIVERY_ID_PREFIX = "sha256:"


class Rejection(Exception):
    """A delivery refused with an HTTP status and a message for the sender."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True)
class Ping:
    """A sender's connectivity test: answered, never stored."""

    source: str
    event_type: str


@dataclass(frozen=True)
class Landed:
    """A delivery written to the landing folder."""

    source: str
    event_type: str
    delivery_id: str
    delivery_id_derived: bool
    landing_file: str


async def read_body_within_limit(
    chunks: AsyncIterator[bytes],
    max_body_bytes: int,
    *,
    large_body_bytes: int | None = None,
    on_large: Callable[[], None] | None = None,
) -> bytearray:
    """Collect a streamed body, refusing with 413 as soon as it would exceed ``max_body_bytes``.

    The chunk that would cross the limit is never appended and nothing after it is read, so at
    most ``max_body_bytes`` are ever held, whatever the sender declared or sends. The body is
    gathered in one growing buffer and returned as it is, so it is held once, not copied.
    ``on_large`` is called once, before the chunk that takes the body past ``large_body_bytes``
    is kept; it may raise (a ``Rejection``) to stop reading there.
    """
    body = bytearray()
    for_large = on_large if large_body_bytes is not None else None
    async for chunk in chunks:
        if len(body) + len(chunk) > max_body_bytes:
            raise Rejection(413, f"body exceeds the limit of {max_body_bytes} bytes")
        if for_large is not None and large_body_bytes is not None and len(body) + len(chunk) > large_body_bytes:
            for_large()
            for_large = None
        body += chunk
    return body


def check_declared_length(content_length: str | None, max_body_bytes: int) -> int | None:
    """Refuse before reading a byte when the declared Content-Length is over the limit; the
    declared length, or None when none was declared."""
    if content_length is None:
        return None
    declared = content_length.strip()
    if not (declared.isascii() and declared.isdigit()):
        raise Rejection(400, "Content-Length is not a whole number")
    if int(declared) > max_body_bytes:
        raise Rejection(413, f"body of {int(declared)} bytes exceeds the limit of {max_body_bytes} bytes")
    return int(declared)


def fourkeys_source(headers: Mapping[str, str]) -> str:
    """The source of a delivery posted to ``/``, detected as Four Keys' event handler did:
    ``X-GitHub-Event`` with ``GitHub-Hookshot`` in the User-Agent, else ``X-Gitlab-Event``, else
    ``X-PagerDuty-Signature``."""
    if "x-github-event" in headers and "GitHub-Hookshot" in headers.get("user-agent", ""):
        return "github"
    if "x-gitlab-event" in headers:
        return "gitlab"
    if "x-pagerduty-signature" in headers:
        return "pagerduty"
    raise Rejection(
        400,
        "unknown source: expected X-GitHub-Event with a GitHub-Hookshot User-Agent, X-Gitlab-Event or "
        f"X-PagerDuty-Signature (or post to /webhooks/<source>, for a source among {', '.join(SOURCES)})",
    )


def verify_sender(
    settings: ReceiverSettings,
    source: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes | bytearray,
) -> None:
    """Raise 401 unless the delivery proves the source's secret; no-op when it is not set.

    As in Four Keys, a signature may also come as a query parameter named like its header.
    """
    secret = settings.secret_for(source)
    if secret is None:
        return

    def presented(name: str) -> str | None:
        return headers.get(name) or _query_value(query, name)

    if source == "github":
        signature_256, signature_sha1 = presented("x-hub-signature-256"), presented("x-hub-signature")
        if not (signature_256 or signature_sha1):
            raise Rejection(401, "missing signature: X-Hub-Signature-256 (or X-Hub-Signature) is required")
        verified = signatures.verify_github(secret, body, signature_256, signature_sha1)
    elif source == "gitlab":
        token = presented("x-gitlab-token")
        if not token:
            raise Rejection(401, "missing token: X-Gitlab-Token is required")
        verified = signatures.verify_gitlab(secret, token)
    elif source == "pagerduty":
        signature = presented("x-pagerduty-signature")
        if not signature:
            raise Rejection(401, "missing signature: X-PagerDuty-Signature is required")
        verified = signatures.verify_pagerduty(secret, body, signature)
    elif source == "jira":
        signature = presented("x-hub-signature")
        if not signature:
            raise Rejection(401, "missing signature: X-Hub-Signature (sha256=...) is required")
        verified = signatures.verify_jira(secret, body, signature)
    elif source == "jenkins":
        token, authorization = presented("x-jenkins-token"), headers.get("authorization")
        if not (token or signatures.bearer_token(authorization)):
            raise Rejection(401, "missing token: X-Jenkins-Token or Authorization: Bearer is required")
        verified = signatures.verify_jenkins(secret, token, authorization)
    else:
        raise ValueError(f"unknown source {source!r}")
    if not verified:
        raise Rejection(401, "token does not match" if source in TOKEN_SOURCES else "signature does not match")


def check_sender_before_body(
    settings: ReceiverSettings, source: str, headers: Mapping[str, str], query: Mapping[str, str]
) -> None:
    """What can be verified before a byte of the body is read, so that a sender without the
    secret never gets a body buffered: 401 when the source's secret is set and no signature or
    token is presented at all, or when a token (GitLab, Jenkins) does not match. Signatures over
    the body are verified by ``verify_sender`` once the body is complete."""
    if settings.secret_for(source) is None:
        return
    if source in TOKEN_SOURCES:
        verify_sender(settings, source, headers, query, b"")
        return
    names = SIGNATURE_HEADERS[source]
    if not any(headers.get(name) or _query_value(query, name) for name in names):
        verify_sender(settings, source, headers, query, b"")  # raises the missing-signature 401


def parse_json_object(
    body: bytes | bytearray, content_type: str | None = None, *, max_depth: int = DEFAULT_MAX_JSON_DEPTH
) -> dict[str, Any]:
    """The body as a JSON object whose value the envelope keeps as posted; 400 for anything else:
    not UTF-8, not JSON, NaN/Infinity, a top-level array or scalar, nesting deeper than
    ``max_depth`` arrays and objects, a key twice in one object (which value was meant?), or a
    number a double cannot hold (``1e99999`` would become infinity, then null; ``1e-400`` zero)."""
    if content_type and content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        raise Rejection(400, "form-encoded bodies are not accepted: set the webhook's content type to application/json")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Rejection(400, f"body is not valid UTF-8 (byte {error.start})") from None
    too_deep = f"body nests arrays and objects deeper than {max_depth} levels"
    try:
        payload = json.loads(
            text, parse_constant=_reject_constant, parse_float=_finite_float, object_pairs_hook=_object_without_repeats
        )
    except json.JSONDecodeError as error:
        raise Rejection(
            400, f"body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except _NotKeptAsPosted as error:
        raise Rejection(400, f"body cannot be kept as posted: {error}") from None
    except RecursionError:
        raise Rejection(400, too_deep) from None
    except ValueError as error:
        raise Rejection(400, f"body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise Rejection(400, f"body must be a JSON object, not a JSON {_json_kind(payload)}")
    if json_depth_exceeds(payload, max_depth):
        raise Rejection(400, too_deep)
    return payload


def json_depth_exceeds(value: object, max_depth: int) -> bool:
    """True when ``value`` nests arrays and objects more than ``max_depth`` levels deep (``{}`` is
    one level, ``{"a": []}`` two). Iterative, so any depth is measured without recursion."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def event_type_for(source: str, headers: Mapping[str, str], payload: dict[str, Any]) -> str:
    """GitHub: ``X-GitHub-Event``; GitLab: the body's ``object_kind``, else ``X-Gitlab-Event``;
    PagerDuty: the body's ``event.event_type``; Jira: the body's ``webhookEvent``; Jenkins:
    ``build.`` and the body's ``build.phase``, lower-cased (``build.completed``)."""
    if source == "github":
        event_type = headers.get("x-github-event")
        missing = "missing X-GitHub-Event header"
    elif source == "gitlab":
        event_type = _text(payload.get("object_kind")) or headers.get("x-gitlab-event")
        missing = "missing event type: neither object_kind in the body nor an X-Gitlab-Event header"
    elif source == "pagerduty":
        event = payload.get("event")
        event_type = _text(event.get("event_type")) if isinstance(event, dict) else None
        missing = "missing event type: the body has no event.event_type"
    elif source == "jira":
        event_type = _text(payload.get("webhookEvent"))
        missing = "missing event type: the body has no webhookEvent"
    elif source == "jenkins":
        build = payload.get("build")
        if not isinstance(build, dict):
            raise Rejection(400, "missing event type: the body has no build object (Notification plugin JSON expected)")
        phase = _text(build.get("phase"))
        event_type = f"build.{phase.lower()}" if phase else None
        missing = "missing event type: the body has no build.phase"
    else:
        raise ValueError(f"unknown source {source!r}")
    event_type = (event_type or "").strip()
    if not event_type:
        raise Rejection(400, missing)
    if len(event_type) > MAX_EVENT_TYPE_LENGTH or not event_type.isprintable():
        raise Rejection(400, f"event type is not a printable name of at most {MAX_EVENT_TYPE_LENGTH} characters")
    return event_type


def delivery_id_for(
    source: str, event_type: str, headers: Mapping[str, str], payload: dict[str, Any], body: bytes | bytearray
) -> tuple[str, bool]:
    """The sender's delivery id and False, or, when it gave none, a derived one and True.

    GitHub: ``X-GitHub-Delivery``; GitLab: ``X-Gitlab-Event-UUID``, else ``Idempotency-Key``;
    PagerDuty: the body's ``event.id``; Jira: ``X-Atlassian-Webhook-Identifier`` (Jira Cloud;
    the same across retries); Jenkins: ``<job>#<build.number>#<PHASE>`` (``jenkins_delivery_id``).
    """
    if source == "github":
        given = headers.get("x-github-delivery")
    elif source == "gitlab":
        given = headers.get("x-gitlab-event-uuid") or headers.get("idempotency-key")
    elif source == "pagerduty":
        event = payload.get("event")
        given = _text(event.get("id")) if isinstance(event, dict) else None
    elif source == "jira":
        given = headers.get("x-atlassian-webhook-identifier")
    elif source == "jenkins":
        given = jenkins_delivery_id(payload)
    else:
        raise ValueError(f"unknown source {source!r}")
    given = (given or "").strip()
    if not given:
        return derived_delivery_id(source, event_type, body), True
    if len(given) > MAX_DELIVERY_ID_LENGTH or not given.isprintable():
        raise Rejection(400, f"delivery id is not printable text of at most {MAX_DELIVERY_ID_LENGTH} characters")
    return given, False


def jenkins_delivery_id(payload: dict[str, Any]) -> str | None:
    """``<job>#<build.number>#<PHASE>`` for a Notification plugin body, or None when it lacks one
    of them (the id is then derived from the body).

    The plugin sends each phase once per build, so a re-sent notification gets the same id and
    counts once. ``<job>`` is the job's full name, read from its ``url`` (``job/team/job/app/`` is
    ``team/app``), because ``name`` alone is ambiguous for jobs in folders (every multibranch
    project has a job named ``main``); for a top-level job the two are the same. A ``url`` of
    another shape falls back to ``name``.
    """
    build = payload.get("build")
    if not isinstance(build, dict):
        return None
    job = _jenkins_full_name(payload.get("url")) or _text(payload.get("name"))
    number = build.get("number")
    if isinstance(number, str) and number.strip().isascii() and number.strip().isdigit():
        number = int(number)
    phase = _text(build.get("phase"))
    if job is None or phase is None or not isinstance(number, int) or isinstance(number, bool):
        return None
    return f"{job}#{number}#{phase.upper()}"


def _jenkins_full_name(url: object) -> str | None:
    """``team/app`` from a job URL ``job/team/job/app/`` (relative, as the plugin sends it)."""
    if not isinstance(url, str):
        return None
    parts = url.strip().strip("/").split("/")
    if len(parts) < 2 or len(parts) % 2 or any(part != "job" for part in parts[0::2]) or not all(parts[1::2]):
        return None
    return "/".join(unquote(name) for name in parts[1::2])


def derived_delivery_id(source: str, event_type: str, body: bytes | bytearray) -> str:
    """A stable id for a sender that gives none (Four Keys' generator): ``sha256:`` and the hex
    SHA-256 of the source, the event type and the raw body. An identical re-post gets the same
    id, so ingestion counts it once."""
    digest = hashlib.sha256(json.dumps([source, event_type]).encode("utf-8") + b"\n")
    digest.update(body)  # not concatenated: a large body is not copied
    return DERIVED_DELIVERY_ID_PREFIX + digest.hexdigest()


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The allowlisted, non-secret headers stored with the envelope (never Authorization,
    signatures or tokens)."""
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}


def accept_delivery(
    settings: ReceiverSettings,
    source: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes | bytearray,
    received_at: datetime | None = None,
) -> Ping | Landed:
    """Verify, parse and land one delivery (blocking: file I/O). ``headers`` is looked up by
    lower-case names: Starlette's ``Headers``, or a dict with lower-case keys."""
    verify_sender(settings, source, headers, query, body)
    payload = parse_json_object(body, headers.get("content-type"), max_depth=settings.max_json_depth)
    event_type = event_type_for(source, headers, payload)
    if PING_EVENTS.get(source) == event_type:
        return Ping(source, event_type)
    delivery_id, derived = delivery_id_for(source, event_type, headers, payload, body)
    received_at = (received_at or datetime.now(UTC)).astimezone(UTC)
    extras: dict[str, Any] = {"headers": kept_headers(headers)}
    if derived:
        extras["delivery_id_derived"] = True
    try:
        envelope = Envelope(
            source=source,
            event_type=event_type,
            delivery_id=delivery_id,
            received_at=received_at,
            payload=payload,
            **extras,
        )
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
        raise Rejection(400, f"delivery does not make a valid envelope: {problems}") from None
    try:
        content = (envelope.to_json() + "\n").encode("utf-8")
    except UnicodeEncodeError:
        raise Rejection(400, "body holds \\u escapes of unpaired surrogates, which are not valid Unicode") from None
    landing_file = write_landing_file(Path(settings.landing_dir), source, received_at, content)
    return Landed(source, event_type, delivery_id, derived, landing_file)


def _text(value: object) -> str | None:
    """``value`` stripped when it is a non-blank string, else None."""
    return (value.strip() or None) if isinstance(value, str) else None


def _query_value(query: Mapping[str, str], name: str) -> str | None:
    """A query parameter by name, case-insensitively (header names are case-insensitive)."""
    wanted = name.lower()
    return next((value for key, value in query.items() if key.lower() == wanted), None)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


class _NotKeptAsPosted(ValueError):
    """Valid JSON whose value would not survive being written back: the message says why."""


def _finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent, refused when a double cannot hold it: one that
    overflows (it would land as null) or a non-zero one that underflows to zero."""
    number = float(text)
    if math.isinf(number):
        raise _NotKeptAsPosted(f"the number {_excerpt(text)} is beyond the range of a double")
    if number == 0 and any(digit in "123456789" for digit in text.lower().partition("e")[0]):
        raise _NotKeptAsPosted(f"the number {_excerpt(text)} is too small for a double (it would become 0)")
    return number


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refused when a key repeats (only its last value would be kept)."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _NotKeptAsPosted(f"the key {_excerpt(json.dumps(repeated))} appears twice in one object")
    return document


def _excerpt(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"
