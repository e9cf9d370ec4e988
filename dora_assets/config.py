"""The metric definitions an organisation may redefine (CONTRACT section 1).

One validated pydantic model, loaded from the YAML or JSON file named by ``DORA_CONFIG``.
Unknown keys and bad values are rejected with a message that names the key. Changing the config
and re-materializing silver and gold (``dora-assets replay``) recomputes all history from bronze.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dora_assets.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK, Benchmark

REPO_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
NonEmptyName = Annotated[str, Field(min_length=1)]


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
        description="A silence is a gap when its hours would normally hold this many deliveries "
        "(P(no delivery) = e^-8 = 0.03%).",
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
        "probability (Poisson with the day's expected mean); default e^-8, the bar of a silence.",
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
    future_tolerance_minutes: float = Field(default=10.0, ge=0, description="Clock skew tolerated.")
    max_lead_time_days: float = Field(default=365.0, gt=0, description="Longer lead times are absurd.")
    max_quarantine_share: float = Field(default=0.01, ge=0, le=1, description="Of recent records.")
    max_file_quarantine_share: float = Field(default=0.10, ge=0, le=1, description="Of any one recent file.")
    max_unknown_event_type_share: float = Field(default=0.05, ge=0, le=1, description="Of recent deliveries.")
    max_duplicate_share: float = Field(default=0.10, ge=0, le=1, description="Of recent records.")
    max_file_duplicate_share: float = Field(default=0.50, ge=0, le=1, description="Of any one recent file.")
    recent_days: int = Field(default=7, ge=1, description="What 'recent' means for the shares above.")
    max_examples: int = Field(default=10, ge=1, le=100, description="Examples listed in check metadata.")


class DoraConfig(BaseModel):
    """Metric definitions. Defaults follow CONTRACT section 4."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    production_environments: list[NonEmptyName] = Field(
        default=["production", "prod"],
        min_length=1,
        description="Deployment environments that count as production (case-insensitive exact names).",
    )
    incident_labels: list[NonEmptyName] = Field(
        default=["incident"],
        min_length=1,
        description="Issue labels that make an issue an incident (case-insensitive).",
    )
    teams: dict[NonEmptyName, list[NonEmptyName]] = Field(
        default_factory=dict,
        description="team -> repos (OWNER/NAME); repos without a team roll up under their own name.",
    )
    checks: CheckThresholds = Field(
        default_factory=CheckThresholds, description="Thresholds of the gap and integrity checks."
    )
    benchmark: str = Field(
        default=DEFAULT_BENCHMARK,
        description=f"Which DORA tier table to apply: one of {', '.join(sorted(BENCHMARKS))}.",
    )

    @field_validator("production_environments", "incident_labels")
    @classmethod
    def _lowercase_unique(cls, names: list[str]) -> list[str]:
        return list(dict.fromkeys(name.strip().lower() for name in names))

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
    """Load the config from ``path``, else from ``$DORA_CONFIG``, else the documented defaults."""
    path = path or os.environ.get("DORA_CONFIG")
    if not path:
        return DoraConfig()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror or error}") from None
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
