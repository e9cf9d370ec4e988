"""The receiver's settings: where deliveries land, the verification secrets and the limits.

Built by ``ReceiverSettings.from_env()`` when the server starts, never at import time. Each limit
comes from its ``dora-assets serve`` flag when given, else from its environment variable
(``LIMIT_ENV_VARS``), else from its default. The secrets are kept out of ``repr`` so that they
never reach a log line or a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dora_assets.settings import DoraPaths

DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MiB
DEFAULT_MAX_JSON_DEPTH = 128
# The envelope is serialized by pydantic, which stops at 255 levels; the payload sits one level down.
MAX_JSON_DEPTH_CEILING = 250
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
DEFAULT_BODY_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_LARGE_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_LARGE_BODIES = 4
LIMIT_ENV_VARS: dict[str, str] = {
    "max_body_bytes": "DORA_RECEIVER_MAX_BODY_BYTES",
    "max_json_depth": "DORA_RECEIVER_MAX_JSON_DEPTH",
    "max_header_bytes": "DORA_RECEIVER_MAX_HEADER_BYTES",
    "header_timeout": "DORA_RECEIVER_HEADER_TIMEOUT",
    "body_timeout": "DORA_RECEIVER_BODY_TIMEOUT",
    "max_connections": "DORA_RECEIVER_MAX_CONNECTIONS",
    "large_body_bytes": "DORA_RECEIVER_LARGE_BODY_BYTES",
    "max_large_bodies": "DORA_RECEIVER_MAX_LARGE_BODIES",
}
SECRET_ENV_VARS: dict[str, str] = {
    "github": "GITHUB_WEBHOOK_SECRET",
    "gitlab": "GITLAB_WEBHOOK_TOKEN",
    "pagerduty": "PAGERDUTY_WEBHOOK_SECRET",
    "jira": "JIRA_WEBHOOK_SECRET",
    "jenkins": "JENKINS_WEBHOOK_TOKEN",
}
SOURCES: tuple[str, ...] = tuple(SECRET_ENV_VARS)


@dataclass(frozen=True)
class ReceiverSettings:
    """Everything the webhook receiver needs to know.

    A source whose secret is ``None`` accepts unsigned deliveries; once it is set, unsigned or
    wrongly signed deliveries of that source are rejected (CONTRACT section 1).
    """

    landing_dir: Path
    github_secret: str | None = field(default=None, repr=False)
    gitlab_token: str | None = field(default=None, repr=False)
    pagerduty_secret: str | None = field(default=None, repr=False)
    jira_secret: str | None = field(default=None, repr=False)
    jenkins_token: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    header_timeout: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    body_timeout: float = DEFAULT_BODY_TIMEOUT_SECONDS
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    large_body_bytes: int = DEFAULT_LARGE_BODY_BYTES
    max_large_bodies: int = DEFAULT_MAX_LARGE_BODIES

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_header_bytes", "max_connections", "large_body_bytes", "max_large_bodies"):
            if getattr(self, name) < 1:
                raise ValueError(f"{_named(name)} must be at least 1, got {getattr(self, name)}")
        if not 1 <= self.max_json_depth <= MAX_JSON_DEPTH_CEILING:
            raise ValueError(
                f"{_named('max_json_depth')} must be from 1 to {MAX_JSON_DEPTH_CEILING}, got {self.max_json_depth}"
            )
        for name in ("header_timeout", "body_timeout"):
            if not 0 < getattr(self, name) <= 3600:
                raise ValueError(
                    f"{_named(name)} must be more than 0 and at most 3600 seconds, got {getattr(self, name)}"
                )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, max_body_bytes: int | None = None, **limits: float | None
    ) -> ReceiverSettings:
        """Read DORA_HOME/DORA_LANDING_DIR, the secret env vars (``SECRET_ENV_VARS``) and the
        limits. A limit given here (a ``dora-assets serve`` flag; None when not given) wins over
        its env var (``LIMIT_ENV_VARS``), which wins over the default. An empty secret counts as
        unset: an empty HMAC key or token would verify nothing. A bad limit raises ValueError
        naming the variable."""
        env = os.environ if environ is None else environ
        unknown = set(limits) - set(LIMIT_ENV_VARS)
        if unknown:
            raise TypeError(f"unknown receiver limits: {', '.join(sorted(unknown))}")
        given: dict[str, float | None] = {**limits, "max_body_bytes": max_body_bytes}
        chosen: dict[str, Any] = {}
        for name, variable in LIMIT_ENV_VARS.items():
            if given.get(name) is not None:
                chosen[name] = given[name]
            elif env.get(variable, "").strip():
                chosen[name] = _limit_from_env(variable, env[variable], seconds=name.endswith("_timeout"))
        return cls(
            landing_dir=DoraPaths.from_env(dict(env)).landing_dir,
            github_secret=env.get(SECRET_ENV_VARS["github"]) or None,
            gitlab_token=env.get(SECRET_ENV_VARS["gitlab"]) or None,
            pagerduty_secret=env.get(SECRET_ENV_VARS["pagerduty"]) or None,
            jira_secret=env.get(SECRET_ENV_VARS["jira"]) or None,
            jenkins_token=env.get(SECRET_ENV_VARS["jenkins"]) or None,
            **chosen,
        )

    def limits(self) -> dict[str, float]:
        """The limits by name (never a secret), for the startup log."""
        return {name: getattr(self, name) for name in LIMIT_ENV_VARS}

    def secret_for(self, source: str) -> str | None:
        """The HMAC secret (GitHub, PagerDuty, Jira) or token (GitLab, Jenkins) that deliveries of
        ``source`` must prove."""
        return {
            "github": self.github_secret,
            "gitlab": self.gitlab_token,
            "pagerduty": self.pagerduty_secret,
            "jira": self.jira_secret,
            "jenkins": self.jenkins_token,
        }[source]

    @property
    def verified_sources(self) -> tuple[str, ...]:
        return tuple(source for source in SOURCES if self.secret_for(source) is not None)

    @property
    def unverified_sources(self) -> tuple[str, ...]:
        return tuple(source for source in SOURCES if self.secret_for(source) is None)


def _limit_from_env(variable: str, text: str, *, seconds: bool) -> float:
    """A limit's env var as a whole number (or, for a timeout, a number of seconds)."""
    value = text.strip()
    try:
        number = float(value) if seconds else int(value)
    except ValueError:
        kind = "a number of seconds" if seconds else "a whole number"
        raise ValueError(f"{variable} must be {kind}, got {text!r}") from None
    if number <= 0 or number != number:
        raise ValueError(f"{variable} must be more than 0, got {text!r}")
    return number


def _named(limit: str) -> str:
    """A limit as the user sets it: its flag and its env var."""
    return f"--{limit.replace('_', '-')} ({LIMIT_ENV_VARS[limit]})"
