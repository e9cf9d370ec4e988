"""The metric definitions an organisation may redefine (CONTRACT section 1).

One validated pydantic model, loaded from the YAML or JSON file named by ``DORA_CONFIG`` (else
``$DORA_HOME/dora.yaml`` when that file exists).
Unknown keys and bad values are rejected with a message that names the key. Changing the config
and re-materializing silver and gold (``dora-assets replay``) recomputes all history from bronze.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dora_assets.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK, Benchmark
from dora_assets.settings import DoraPaths

REPO_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
NonEmptyName = Annotated[str, Field(min_length=1)]


def _lowercase_keys(mapping: dict[str, str]) -> dict[str, str]:
    return {key.strip().lower(): value for key, value in mapping.items()}


def _lowercase_list(names: list[str]) -> list[str]:
    return list(dict.fromkeys(name.strip().lower() for name in names))


# Names matched case-insensitively: stored lower-cased, without repeats.
CaseFreeNames = Annotated[list[NonEmptyName], AfterValidator(_lowercase_list)]
# Maps looked up case-insensitively by key.
CaseFreeMap = Annotated[dict[NonEmptyName, NonEmptyName], AfterValidator(_lowercase_keys)]


class ConfigError(ValueError):
    """The metric config could not be loaded; the message says which key and why."""


class CheckThresholds(BaseModel):
    """How the gap checks judge the data (README: "How gaps are surfaced"). Baselines are
    learned per source and per repo from their own hour-of-week rhythm over ``baseline_days``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline_days: int = Field(default=56, ge=7, description="Trailing days that teach each rhythm.")
    min_history_days: int = Field(default=14, ge=1, description="Younger sources/repos are not judged.")
    silence_expected_deliveries: float = Field(
        default=8.0,
        gt=0,
        description="A silence is a gap (ERROR) when the key's own traffic model (hour-of-week activity, negative "
        "binomial days) gives it a chance of at most e^-this (default 8: 0.03%); for a steady key, the number of "
        "active hours the silent hours would normally hold. Each of the N event types event_type_silence judges "
        "needs e^-(this + ln N), so that any of them fails by chance at most e^-this.",
    )
    silence_longest_ratio: float = Field(
        default=1.2,
        ge=1,
        description="...and when it expects at least this many times the active hours of the longest silence of "
        "the key's own baseline: a silence no longer than the key has had before is quiet, within its normal "
        "range (WARN), not a gap. Default 1.2.",
    )
    dispersion_floor: float = Field(
        default=0.1,
        ge=0,
        description="The least overdispersion assumed for any key (alpha of the negative binomial, variance = "
        "mean + alpha * mean^2; 0 is Poisson): traffic that looked steadier over a few weeks is still judged "
        "with this much burstiness. Default 0.1.",
    )
    volume_lookback_days: int = Field(default=14, ge=1, description="Complete days judged for a volume drop.")
    volume_min_expected: float = Field(default=8.0, gt=0, description="Days expecting fewer are not judged.")
    volume_drop_ratio: float = Field(
        default=0.25, gt=0, lt=1, description="A day below this share of its expected volume is a drop."
    )
    volume_drop_max_chance: float = Field(
        default=0.000335,
        gt=0,
        lt=1,
        description="...and only when so few deliveries would happen by chance with at most this "
        "probability (a negative binomial with the weekday's mean and the key's own dispersion); default "
        "e^-8, the bar of a silence.",
    )
    org_quiet_share: float = Field(
        default=0.6,
        gt=0,
        le=1,
        description="A day on which at least this share of judged repos dropped together is an org-wide "
        "quiet day (holiday), reported but not failed.",
    )
    holidays: list[date] = Field(default_factory=list, description="Days never judged for volume.")
    landing_backlog_minutes: float = Field(
        default=60.0, gt=0, description="Landing files waiting longer than this mean ingestion stopped."
    )
    transform_lag_minutes: float = Field(
        default=60.0,
        ge=0,
        description="Ingested deliveries whose days have waited longer than this for silver and gold (a killed or "
        "failed transform: bronze.pending_transforms) fail silver/pushes: transform_lag at ERROR.",
    )
    future_tolerance_minutes: float = Field(default=10.0, ge=0, description="Clock skew tolerated.")
    max_lead_time_days: float = Field(
        default=365.0,
        gt=0,
        description="Longer lead times are outliers (a long-lived branch): reported at WARN by "
        "plausible_lead_times, kept in the figures unless exclude_lead_time_outliers.",
    )
    exclude_lead_time_outliers: bool = Field(
        default=False,
        description="Leave lead times over max_lead_time_days out of the lead time figures "
        "(gold shows how many beside them: lead_times_held_back).",
    )
    max_restore_days: float = Field(
        default=90.0,
        gt=0,
        description="Longer times to restore are outliers (an incident left open): reported at WARN "
        "by plausible_restore_times, kept in the figures unless exclude_restore_time_outliers.",
    )
    exclude_restore_time_outliers: bool = Field(
        default=False,
        description="Leave times to restore over max_restore_days out of the figures "
        "(gold shows how many: restore_times_held_back).",
    )
    max_quarantine_share: float = Field(default=0.01, ge=0, le=1, description="Of recent records.")
    max_file_quarantine_share: float = Field(default=0.10, ge=0, le=1, description="Of any one recent file.")
    max_unknown_event_type_share: float = Field(default=0.05, ge=0, le=1, description="Of recent deliveries.")
    max_rejected_share: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Of recent deliveries feeding a silver table; any reject fails at WARN, above this at ERROR.",
    )
    max_duplicate_share: float = Field(default=0.10, ge=0, le=1, description="Of recent records.")
    max_file_duplicate_share: float = Field(default=0.50, ge=0, le=1, description="Of any one recent file.")
    recent_days: int = Field(default=7, ge=1, description="What 'recent' means for the shares above.")
    max_examples: int = Field(default=10, ge=1, le=100, description="Examples listed in check metadata.")


class GitHubSignals(BaseModel):
    """Which GitHub events count as deployments (README: "Sources")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    deployments_from: list[Literal["deployment_status", "workflow_run", "release"]] = Field(
        default=["deployment_status"],
        min_length=1,
        description="deployment_status: the Deployments API (CONTRACT 4); workflow_run: a successful run of a "
        "deploy workflow on the default branch; release: a published, non-draft, non-prerelease release.",
    )
    deploy_workflows: CaseFreeNames = Field(
        default=["deploy"],
        min_length=1,
        description="Workflow names or file names (deploy.yml) whose runs deploy (case-insensitive).",
    )
    extract_repos: list[NonEmptyName] = Field(
        default_factory=list,
        description="Repos (OWNER/NAME) whose history the API extractor pulls (landing/github_api, "
        "`dora-assets extract github`); the command's --repo overrides it.",
    )

    @field_validator("extract_repos")
    @classmethod
    def _repo_names(cls, repos: list[str]) -> list[str]:
        for repo in repos:
            if not REPO_NAME.match(repo):
                raise ValueError(f"{repo!r} is not a repository name like OWNER/NAME")
        return repos


class PagerDutySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    services: CaseFreeMap = Field(
        default_factory=dict,
        description="PagerDuty service id or name -> repo (OWNER/NAME); unmapped services keep their own name.",
    )


class JiraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    incident_issue_types: CaseFreeNames = Field(
        default=["incident"], description="Issue types that are incidents (case-insensitive), besides incident_labels."
    )
    projects: CaseFreeMap = Field(
        default_factory=dict, description="Jira project key -> repo (OWNER/NAME); unmapped projects keep their key."
    )
    root_cause_field: str | None = Field(
        default=None,
        description="A field (e.g. customfield_10050) holding the root-cause sha; "
        "else the sha after 'root cause:' in the description.",
    )


class JenkinsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    deploy_jobs: CaseFreeNames = Field(
        default_factory=list,
        description="Job name patterns (shell globs, case-insensitive) whose successful builds deploy to production.",
    )
    environment_parameter: str | None = Field(
        default=None,
        description="A build parameter naming the environment: a build deploys when it names a production environment.",
    )
    jobs: CaseFreeMap = Field(
        default_factory=dict, description="Job name -> repo (OWNER/NAME); else the repo of build.scm.url."
    )


# The sources that feed silver.incidents (dora_assets/sources.py; test_source_registry.py holds the
# two together), in the default order of incident_correlation.source_priority.
INCIDENT_SOURCES = ("pagerduty", "jira", "github", "gitlab")


class LeadTimeSettings(BaseModel):
    """Which shipped changes count in lead time (README: "Lead time")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bot_authors: CaseFreeNames = Field(
        default=["*[bot]", "dependabot*", "renovate*"],
        description="Authors (GitHub logins, else names) that are bots; `*` matches any text, case-insensitive. "
        "A change whose pull request's author, or else whose commit's author, matches is a bot change.",
    )
    include_bots: bool = Field(
        default=False,
        description="Count bot changes in lead time too (they are always counted apart, in bot_changes).",
    )

    def author_like_patterns(self) -> list[str]:
        """The bot patterns as SQL LIKE patterns (escape ``\\``): ``*`` -> ``%``, the rest literal."""
        return [
            pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
            for pattern in self.bot_authors
        ]


class IncidentCorrelation(BaseModel):
    """The same outage reported by two sources (a PagerDuty page and a GitHub issue) is one
    incident: reports of different sources in the same repo opened within ``window_minutes``
    of each other merge into the report of the source listed first in ``source_priority``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_minutes: float = Field(default=30.0, ge=0, description="0 turns correlation off.")
    source_priority: list[Literal[INCIDENT_SOURCES]] = Field(
        default=list(INCIDENT_SOURCES),
        description="Whose report a merged incident keeps (id, resolution time); earlier wins.",
    )

    @model_validator(mode="after")
    def _every_source_once(self) -> IncidentCorrelation:
        if sorted(self.source_priority) != sorted(INCIDENT_SOURCES):
            raise ValueError(f"source_priority must list each of {', '.join(INCIDENT_SOURCES)} exactly once")
        return self


class DoraConfig(BaseModel):
    """Metric definitions. Defaults follow CONTRACT section 4."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    production_environments: CaseFreeNames = Field(
        default=["production", "prod"],
        min_length=1,
        description="Deployment environments that count as production (case-insensitive exact names).",
    )
    incident_labels: CaseFreeNames = Field(
        default=["incident"],
        min_length=1,
        description="Issue labels that make an issue an incident (case-insensitive).",
    )
    teams: dict[NonEmptyName, list[NonEmptyName]] = Field(
        default_factory=dict,
        description="team -> repos (OWNER/NAME); repos without a team roll up under their own name.",
    )
    repo_aliases: CaseFreeMap = Field(
        default_factory=dict,
        description="A repo's name in some source (a GitLab path, a Jenkins scm URL's repo, ...) -> "
        "its canonical OWNER/NAME.",
    )
    github: GitHubSignals = Field(default_factory=GitHubSignals)
    pagerduty: PagerDutySettings = Field(default_factory=PagerDutySettings)
    jira: JiraSettings = Field(default_factory=JiraSettings)
    jenkins: JenkinsSettings = Field(default_factory=JenkinsSettings)
    incident_correlation: IncidentCorrelation = Field(default_factory=IncidentCorrelation)
    lead_time: LeadTimeSettings = Field(default_factory=LeadTimeSettings)
    checks: CheckThresholds = Field(
        default_factory=CheckThresholds, description="Thresholds of the gap and integrity checks."
    )
    benchmark: str = Field(
        default=DEFAULT_BENCHMARK,
        description=f"Which DORA tier table to apply: one of {', '.join(sorted(BENCHMARKS))}.",
    )

    @field_validator("benchmark", mode="before")
    @classmethod
    def _known_benchmark(cls, value: object) -> str:
        version = str(value)
        if version not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {value!r}; choose one of {', '.join(sorted(BENCHMARKS))}")
        return version

    @model_validator(mode="after")
    def _repos_belong_to_one_team(self) -> DoraConfig:
        owner: dict[str, str] = {}
        for team, repos in self.teams.items():
            for repo in repos:
                if not REPO_NAME.match(repo):
                    raise ValueError(f"teams.{team}: {repo!r} is not a repository name like OWNER/NAME")
                if repo.lower() in owner:
                    raise ValueError(f"repo {repo!r} is in two teams: {owner[repo.lower()]!r} and {team!r}")
                owner[repo.lower()] = team
        return self

    def silver_params(self) -> dict[str, Any]:
        """The definitions the silver SQL binds, by parameter name. Maps travel as two lists
        (lower-cased keys, values) looked up with ``silver.lookup``; each SQL statement takes the
        parameters it names."""

        def mapping(name: str, entries: dict[str, str]) -> dict[str, list[str]]:
            return {f"{name}_keys": list(entries), f"{name}_values": list(entries.values())}

        return {
            "production_environments": self.production_environments,
            "incident_labels": self.incident_labels,
            **mapping("repo_aliases", self.repo_aliases),
            "github_deployments_from": list(self.github.deployments_from),
            "github_deploy_workflows": self.github.deploy_workflows,
            **mapping("pagerduty_services", self.pagerduty.services),
            "jira_incident_issue_types": self.jira.incident_issue_types,
            **mapping("jira_projects", self.jira.projects),
            "jira_root_cause_field": self.jira.root_cause_field or "",
            "jenkins_deploy_jobs": self.jenkins.deploy_jobs,
            "jenkins_environment_parameter": self.jenkins.environment_parameter or "",
            **mapping("jenkins_jobs", self.jenkins.jobs),
            "correlation_window_minutes": self.incident_correlation.window_minutes,
            "correlation_priority": list(self.incident_correlation.source_priority),
            "bot_author_patterns": self.lead_time.author_like_patterns(),
            "include_bots": self.lead_time.include_bots,
        }

    @property
    def tier_benchmark(self) -> Benchmark:
        return BENCHMARKS[self.benchmark]

    def team_of(self, repo: str) -> str:
        """The team a repo rolls up to: its configured team, or the repo's own name."""
        for team, repos in self.teams.items():
            if repo.lower() in (r.lower() for r in repos):
                return team
        return repo


def load_config(path: str | Path | None = None) -> DoraConfig:
    """Load the config from ``path``, else from ``$DORA_CONFIG``, else from the data home's
    ``dora.yaml`` when it exists, else the documented defaults."""
    path = path or os.environ.get("DORA_CONFIG")
    if not path:
        home_config = DoraPaths.from_env().default_config
        if not home_config.is_file():
            return DoraConfig()
        path = home_config
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"config {path} is not UTF-8 text (byte {error.start} is 0x{error.object[error.start]:02x}): "
            "a YAML or JSON config file is expected"
        ) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"config {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must hold a mapping of keys, not {type(data).__name__}")
    try:
        return DoraConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or '(top level)'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise ConfigError(f"config {path} is invalid: {problems}") from None
