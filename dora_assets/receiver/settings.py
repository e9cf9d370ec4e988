"""The receiver's settings: where deliveries land, the verification secrets, the body limit.

Built by ``ReceiverSettings.from_env()`` when the server starts, never at import time. The
secrets are kept out of ``repr`` so that they never reach a log line or a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dora_assets.settings import DoraPaths

DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MiB
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

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be at least 1, got {self.max_body_bytes}")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    ) -> ReceiverSettings:
        """Read DORA_HOME/DORA_LANDING_DIR and the secret env vars (``SECRET_ENV_VARS``). An empty
        secret counts as unset: an empty HMAC key or token would verify nothing."""
        env = os.environ if environ is None else environ
        return cls(
            landing_dir=DoraPaths.from_env(dict(env)).landing_dir,
            github_secret=env.get(SECRET_ENV_VARS["github"]) or None,
            gitlab_token=env.get(SECRET_ENV_VARS["gitlab"]) or None,
            pagerduty_secret=env.get(SECRET_ENV_VARS["pagerduty"]) or None,
            jira_secret=env.get(SECRET_ENV_VARS["jira"]) or None,
            jenkins_token=env.get(SECRET_ENV_VARS["jenkins"]) or None,
            max_body_bytes=max_body_bytes,
        )

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
