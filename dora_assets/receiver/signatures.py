"""Webhook authenticity checks: pure functions of the secret, the raw body bytes and what the
sender presented. No I/O, no logging; every comparison is constant time
(``hmac.compare_digest``), so the time taken never tells an attacker how much of a forged
signature was right.

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``, or, from senders that
  only know the legacy header (Four Keys' generator), ``X-Hub-Signature: sha1=<hex HMAC-SHA1>``.
- GitLab: ``X-Gitlab-Token`` equals the configured token (GitLab sends the token itself).
- PagerDuty v3: ``X-PagerDuty-Signature`` holds one or more comma-separated ``v1=<hex HMAC-SHA256>``
  values (several while a secret is being rotated); one of them must match.
- Jira (a webhook registered with a secret): ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the
  body>`` (WebSub's ``method=signature`` form; only SHA-256 is accepted).
- Jenkins: the Notification plugin cannot sign, so the token itself is presented, as
  ``X-Jenkins-Token: <token>`` or ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hashlib
import hmac

MAX_PAGERDUTY_SIGNATURES = 32


def github_sha256_signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + _hmac_sha256_hex(secret, body)


def github_sha1_signature(secret: str, body: bytes) -> str:
    """The legacy ``X-Hub-Signature`` value (HMAC-SHA1) for ``body``."""
    return "sha1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def pagerduty_signature(secret: str, body: bytes) -> str:
    """One ``v1=`` value of ``X-PagerDuty-Signature`` for ``body``."""
    return "v1=" + _hmac_sha256_hex(secret, body)


def jira_signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` value Jira sends for ``body`` when the webhook has a secret."""
    return "sha256=" + _hmac_sha256_hex(secret, body)


def verify_github(secret: str, body: bytes, signature_256: str | None, signature_sha1: str | None) -> bool:
    """True when the SHA-256 signature matches; the legacy SHA-1 one is consulted only when no
    SHA-256 signature was sent at all."""
    if signature_256:
        return _same(github_sha256_signature(secret, body), _normalized_hex_signature(signature_256))
    if signature_sha1:
        return _same(github_sha1_signature(secret, body), _normalized_hex_signature(signature_sha1))
    return False


def verify_gitlab(token: str, presented: str | None) -> bool:
    """True when the ``X-Gitlab-Token`` presented is exactly the configured token."""
    return presented is not None and _same(token, presented)


def verify_pagerduty(secret: str, body: bytes, signature_header: str | None) -> bool:
    """True when any of the comma-separated signatures matches. Every value is compared (no
    early exit), so the position of the right one does not show in the timing."""
    if not signature_header:
        return False
    candidates = signature_header.split(",")
    if len(candidates) > MAX_PAGERDUTY_SIGNATURES:
        return False
    expected = pagerduty_signature(secret, body)
    matched = False
    for candidate in candidates:
        matched |= _same(expected, _normalized_hex_signature(candidate))
    return matched


def verify_jira(secret: str, body: bytes, signature: str | None) -> bool:
    """True when ``X-Hub-Signature`` is the ``sha256=`` HMAC of ``body`` (any other method fails)."""
    return signature is not None and _same(jira_signature(secret, body), _normalized_hex_signature(signature))


def verify_jenkins(token: str, jenkins_token: str | None, authorization: str | None) -> bool:
    """True when ``X-Jenkins-Token`` or the ``Authorization: Bearer`` token is exactly the
    configured token. Both are compared when both are sent (no early exit)."""
    matched = False
    for presented in (jenkins_token, bearer_token(authorization)):
        if presented is not None:
            matched |= _same(token, presented)
    return matched


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive), else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _normalized_hex_signature(presented: str) -> str:
    """Surrounding spaces dropped, hex digits compared case-insensitively."""
    return presented.strip().lower()


def _same(expected: str, presented: str) -> bool:
    """Constant-time equality of two strings of any characters (headers arrive as Latin-1 text)."""
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8", "surrogatepass"))
