"""The demo's entry points: ``generate_demo`` writes a deterministic, realistic history of
webhook deliveries as landing files.

The history is simulated by ``model.History`` (a small engineering organisation, ``acme/...``
repositories: pushes, merges, deployments, incidents and noise issues) and told as GitHub
webhook deliveries by ``github.GitHubTeller``, built from real GitHub webhook examples. The
output is one NDJSON file of envelopes per source and UTC day (``github/YYYY/MM/DD/deliveries.ndjson``,
in received order) plus one single-envelope file per redelivery (a few percent,
``github/YYYY/MM/DD/redeliveries/<delivery_id>.json``), byte-identical for identical arguments.

With ``sources`` naming more than GitHub, the same history (same seed: same repositories,
commits, merges, deployments, incidents and times) is told by other senders for a fixed subset
of the repositories (``senders.retell``): GitLab hosts every second repository, Jenkins deploys
two repositories in four, PagerDuty and Jira report the incidents of every third repository (see
``assign_senders``). Each source gets its own ``<source>/YYYY/MM/DD/`` folders.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from dora_assets.config import DoraConfig
from dora_assets.demo.github import GitHubTeller
from dora_assets.demo.model import MAX_REPOS, History, Repo
from dora_assets.demo.senders import retell
from dora_assets.ingestion.envelope import Envelope

SOURCES: tuple[str, ...] = ("github", "gitlab", "pagerduty", "jira", "jenkins")
DEFAULT_SOURCES: tuple[str, ...] = ("github",)
CODE_HOSTS: tuple[str, ...] = ("github", "gitlab")
JENKINS_DEPLOY_JOBS: tuple[str, ...] = ("*-deploy",)

REDELIVERY_RATE = 0.03


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo`` wrote."""

    files: int  # landing files written
    deliveries: int  # envelopes written, including redeliveries
    redeliveries: int  # envelopes that repeat an earlier delivery_id
    repos: list[str]
    start: date
    end: date
    sources: tuple[str, ...] = DEFAULT_SOURCES
    # repo -> who reports what: {"code": github|gitlab, "deployments": github|gitlab|jenkins,
    # "incidents": github|gitlab|pagerduty|jira}
    senders: dict[str, dict[str, str]] = field(default_factory=dict)
    # The metric config the history needs (jira.projects, jenkins.deploy_jobs); {} for none.
    config: dict[str, Any] = field(default_factory=dict)


def parse_sources(value: str | Iterable[str]) -> tuple[str, ...]:
    """The sources named by a comma-separated list (or an iterable of names), in the canonical
    order of ``SOURCES``. Raises ``ValueError`` for an unknown or missing name, or a list
    without a code host (github or gitlab): pushes need one."""
    names = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(name, str) for name in names):
        raise ValueError(f"sources must be names, not {value!r}")
    chosen = [name.strip().lower() for name in names]
    unknown = [name for name in chosen if name not in SOURCES]
    if unknown:
        shown = ", ".join(repr(name) for name in unknown)
        raise ValueError(f"unknown source {shown}; choose from {', '.join(SOURCES)}")
    if not chosen:
        raise ValueError(f"no source named; choose from {', '.join(SOURCES)}")
    if not any(name in CODE_HOSTS for name in chosen):
        raise ValueError("sources must include a code host, github or gitlab: the history's pushes need one")
    return tuple(name for name in SOURCES if name in chosen)


def describe_senders(senders: dict[str, dict[str, str]]) -> str:
    """One line saying which repositories each non-GitHub sender speaks for."""
    roles = (("code", "gitlab", "hosts"), ("deployments", "jenkins", "deploys"),
             ("incidents", "pagerduty", "pages for"), ("incidents", "jira", "tracks incidents of"))  # fmt: skip
    parts = []
    for role, sender, verb in roles:
        repos = [repo for repo, assigned in senders.items() if assigned[role] == sender]
        if repos:
            parts.append(f"{sender} {verb} {', '.join(repos)}")
    return "; ".join(parts) + ("; github the rest" if parts else "github all")


def demo_config_yaml(config: dict[str, Any]) -> str:
    """The config a demo history needs (``DemoSummary.config``) as a YAML file's text."""
    header = "# The metric config of the dora-assets demo history: Jira projects and Jenkins deploy jobs.\n"
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def config_covers(existing: DoraConfig, needed: dict[str, Any]) -> bool:
    """Whether ``existing`` already maps what ``needed`` (``DemoSummary.config``) asks for."""
    projects = needed.get("jira", {}).get("projects", {})
    if any(existing.jira.projects.get(key.lower()) != repo for key, repo in projects.items()):
        return False
    jobs = needed.get("jenkins", {}).get("deploy_jobs", [])
    return all(pattern.lower() in existing.jenkins.deploy_jobs for pattern in jobs)


def assign_senders(repo_count: int, sources: Iterable[str]) -> list[dict[str, str]]:
    """Who reports what for each repository (by position), fixed for a set of sources:
    the code host alternates between the chosen hosts (GitLab: every second repository);
    Jenkins deploys the third and fourth of every four; PagerDuty and Jira take turns with the
    code host at reporting incidents (every third repository each when both are chosen)."""
    chosen = set(sources)
    hosts = [host for host in CODE_HOSTS if host in chosen]
    incident_senders = ["code", *(name for name in ("pagerduty", "jira") if name in chosen)]
    plan = []
    for index in range(repo_count):
        code = hosts[index % len(hosts)]
        deployments = "jenkins" if "jenkins" in chosen and index // 2 % 2 == 1 else code
        incidents = incident_senders[index % len(incident_senders)]
        plan.append({"code": code, "deployments": deployments, "incidents": code if incidents == "code" else incidents})
    return plan


def generate_demo(
    landing_dir: Path,
    *,
    days: int = 90,
    repos: int = 4,
    seed: int = 7,
    end: date | None = None,
    until: datetime | None = None,
    sources: str | Iterable[str] = DEFAULT_SOURCES,
    number_offset: int = 0,
) -> DemoSummary:
    """Write ``days`` days of GitHub deliveries (ending at ``end``, inclusive; default today in
    UTC) for ``repos`` repositories into ``landing_dir``. Only deliveries received before
    ``until`` (default: now) are written, so a history that ends today holds nothing from the
    future. The same arguments (and a past ``end``) write the same bytes to the same files.
    ``sources`` (names or a comma-separated list from ``SOURCES``; default GitHub only) chooses
    the senders: the history is the same whatever they are, only who reports each event changes
    (see ``assign_senders``), and the summary's ``config`` holds the metric config that Jira and
    Jenkins deliveries need. ``number_offset`` is added to each repository's first issue and
    pull-request number (the benchmark's histories, generated in pieces, never reuse a number).
    Raises ``ValueError`` for days < 1, repos outside 1..26 or bad sources.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number of at least 1, not {days!r}")
    if isinstance(repos, bool) or not isinstance(repos, int) or not 1 <= repos <= MAX_REPOS:
        raise ValueError(f"repos must be a whole number from 1 to {MAX_REPOS}, not {repos!r}")
    sources = parse_sources(sources)
    if isinstance(end, datetime):
        end = end.date()
    end = end or datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    rng = random.Random(seed)
    history = History(rng, start, end, repos, until or datetime.now(UTC), GitHubTeller, number_offset=number_offset)
    history.run()
    envelopes = history.teller.envelopes()
    plan = assign_senders(repos, sources)
    senders = {repo.full_name: assigned for repo, assigned in zip(history.repos, plan, strict=True)}
    if sources != DEFAULT_SOURCES:
        envelopes = retell(history, envelopes, senders, seed)
    files, redeliveries = _write_landing(Path(landing_dir), envelopes, rng)
    return DemoSummary(
        files=files,
        deliveries=len(envelopes) + redeliveries,
        redeliveries=redeliveries,
        repos=[repo.full_name for repo in history.repos],
        start=start,
        end=end,
        sources=sources,
        senders=senders,
        config=_needed_config(history.repos, senders),
    )


def _needed_config(repos: list[Repo], senders: dict[str, dict[str, str]]) -> dict[str, Any]:
    """What the metric config must say for the history's Jira and Jenkins deliveries: each Jira
    project's repository (its key is the repository's ticket prefix) and the deploy jobs."""
    config: dict[str, Any] = {}
    projects = {repo.ticket_prefix: repo.full_name for repo in repos if senders[repo.full_name]["incidents"] == "jira"}
    if projects:
        config["jira"] = {"projects": projects}
    if any(assigned["deployments"] == "jenkins" for assigned in senders.values()):
        config["jenkins"] = {"deploy_jobs": list(JENKINS_DEPLOY_JOBS)}
    return config


def _write_landing(landing_dir: Path, envelopes: list[Envelope], rng: random.Random) -> tuple[int, int]:
    """One NDJSON file per source and UTC day plus one JSON file per redelivery; (files, redeliveries)."""
    days: dict[Path, list[str]] = {}  # day folder -> its lines
    redeliveries: list[tuple[Path, str]] = []
    for envelope in envelopes:
        line = envelope.to_json()
        folder = _day_dir(landing_dir, envelope.source, envelope.received_at.astimezone(UTC).date())
        days.setdefault(folder, []).append(line)
        if rng.random() < REDELIVERY_RATE:
            redeliveries.append((folder / "redeliveries" / f"{_file_stem(envelope.delivery_id)}.json", line))
    for folder, lines in sorted(days.items()):
        _write_atomically(folder / "deliveries.ndjson", "\n".join(lines) + "\n")
    for path, line in redeliveries:
        _write_atomically(path, line + "\n")
    return len(days) + len(redeliveries), len(redeliveries)


def _day_dir(landing_dir: Path, source: str, day: date) -> Path:
    return landing_dir / source / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"


def _file_stem(delivery_id: str) -> str:
    """A delivery id as a file name: Jenkins ids (``job#12#COMPLETED``) may name folders."""
    return delivery_id.replace("/", "_")


def _write_atomically(path: Path, text: str) -> None:
    """Write to a dot-prefixed temporary name in the same folder, fsync, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
