"""The types of the `dora-assets` options: each turns the text given on the command line into the
value a command uses, or stops the command with click's usage error (exit status 2) naming the
option and what is wrong with the value."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from dora_assets.config import REPO_NAME


class WholeNumber(click.IntRange):
    """A whole number within a range: text that is not one is "not a valid whole number"."""

    name = "whole number"


class Seconds(click.FloatRange):
    """A duration in seconds within a range: text that is not a number is "not a valid number of seconds"."""

    name = "number of seconds"


POSITIVE_INT = WholeNumber(min=1)
"""A whole number of at least 1 (days, repos, months, bytes, connections)."""

TCP_PORT = WholeNumber(1, 65535)
"""A TCP port to listen on."""

SECONDS = Seconds(0, 3600, min_open=True)
"""A duration in seconds, more than 0 and at most an hour (the receiver's timeouts)."""


class IsoDate(click.ParamType):
    """A calendar day written as ISO 8601, ``YYYY-MM-DD``; the value is a ``datetime.date``."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a date like YYYY-MM-DD", param, ctx)


class RepoName(click.ParamType):
    """A repository's full name, ``OWNER/NAME`` (GitLab's ``GROUP/SUBGROUP/NAME`` too)."""

    name = "repo"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not isinstance(value, str) or not REPO_NAME.match(value):
            self.fail(f"{value!r} is not a repository name like OWNER/NAME", param, ctx)
        return value


class DemoSources(click.ParamType):
    """A comma-separated list of the demo's senders (github, gitlab, pagerduty, jira, jenkins); the
    value is the tuple of their names in the demo's canonical order."""

    name = "sources"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, ...]:
        from dora_assets.demo.generator import parse_sources

        try:
            return parse_sources(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)
