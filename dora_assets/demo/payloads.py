"""What the demo's renderers share: the real payload examples they start from
(``templates/<source>/<name>.json``) and the time format most senders write."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

TEMPLATE_PACKAGE = "dora_assets.demo"


def template_text(name: str, source: str = "github") -> str:
    """The text of the payload example ``name`` of ``source``."""
    return resources.files(TEMPLATE_PACKAGE).joinpath("templates", source, f"{name}.json").read_text("utf-8")


def iso(moment: datetime) -> str:
    """``moment`` in UTC to the second: ``2024-05-01T13:07:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
