"""The webhook receiver (`dora-assets serve`): verified GitHub, GitLab, PagerDuty, Jira and Jenkins
deliveries written as envelope files into the landing folder (CONTRACT sections 1, 2 and 5)."""

from dora_assets.receiver.app import create_app
from dora_assets.receiver.settings import DEFAULT_MAX_BODY_BYTES, ReceiverSettings

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ReceiverSettings", "create_app"]
