"""Versioned DORA performance-tier tables (CONTRACT section 3).

The State of DevOps reports publish their clusters as typical values or ranges, not as cut-offs,
and they change from year to year. Each table here turns one report's clusters into cut-offs by
one rule, written down so that anyone can check it against the report:

- A tier's bound is the worse edge of the tier's published range
  ("less than one day" -> 24 h), or the tier's typical value where the report gives a single
  number (change failure rate).
- Bounds are made monotone: a tier's bound is never better than the tier above it. Where a report
  publishes a lower tier as better than a higher one (2024: medium CFR 10% < high CFR 20%;
  2021/2024 medium restore "< 1 day", the same as high), the lower tier's bound is set equal to
  the higher tier's, so that metric never earns the lower tier under that report.
- A figure that misses the medium bound is ``low``; a missing figure (NULL) has no tier.

Deployment frequency is measured as deployments per week over the month
(``deployments * 7 / days_in_month``): "on demand / multiple per day" -> at least 7 per week,
"between once per day and once per week" -> at least 1, "between once per week and once per
month" -> at least 0.22 (one deployment in a 31-day month is 0.226).
"""

from __future__ import annotations

from dataclasses import dataclass

TIERS = ("elite", "high", "medium", "low")


@dataclass(frozen=True)
class TierBounds:
    """Cut-offs of one metric: a figure at or better than a bound earns that tier."""

    elite: float
    high: float
    medium: float
    higher_is_better: bool
    unit: str

    def tier(self, value: float | None) -> str | None:
        """The tier of one figure (the same rule the gold SQL applies)."""
        if value is None:
            return None
        for name, bound in (("elite", self.elite), ("high", self.high), ("medium", self.medium)):
            if (value >= bound) if self.higher_is_better else (value <= bound):
                return name
        return "low"


@dataclass(frozen=True)
class Benchmark:
    """One report's cut-offs for the four key metrics."""

    version: str
    source: str
    deployment_frequency: TierBounds
    lead_time: TierBounds
    change_failure_rate: TierBounds
    time_to_restore: TierBounds


def _per_week(elite: float, high: float, medium: float) -> TierBounds:
    return TierBounds(elite, high, medium, higher_is_better=True, unit="deployments per week")


def _hours(elite: float, high: float, medium: float) -> TierBounds:
    return TierBounds(elite, high, medium, higher_is_better=False, unit="hours")


def _rate(elite: float, high: float, medium: float) -> TierBounds:
    return TierBounds(elite, high, medium, higher_is_better=False, unit="fraction of deployments")


BENCHMARKS: dict[str, Benchmark] = {
    "2021": Benchmark(
        version="2021",
        source="Accelerate State of DevOps Report 2021 (DORA), table 'Software delivery performance'",
        deployment_frequency=_per_week(7, 0.22, 0.22),
        lead_time=_hours(1, 168, 4380),
        change_failure_rate=_rate(0.15, 0.30, 0.30),
        time_to_restore=_hours(1, 24, 24),
    ),
    "2023": Benchmark(
        version="2023",
        source="Accelerate State of DevOps Report 2023 (DORA), 'Software delivery performance' clusters",
        deployment_frequency=_per_week(7, 1, 0.22),
        lead_time=_hours(24, 168, 720),
        change_failure_rate=_rate(0.05, 0.10, 0.15),
        time_to_restore=_hours(1, 24, 168),
    ),
    "2024": Benchmark(
        version="2024",
        source="Accelerate State of DevOps Report 2024 (DORA), 'Software delivery performance levels'",
        deployment_frequency=_per_week(7, 1, 0.22),
        lead_time=_hours(24, 168, 720),
        change_failure_rate=_rate(0.05, 0.20, 0.20),
        time_to_restore=_hours(1, 24, 24),
    ),
}
DEFAULT_BENCHMARK = "2024"
