"""How long a gap goes unflagged, as a function of the key's normal rate.

Synthetic keys of several rates (deliveries a day), each a repo whose deliveries are half pushes
and half merged pull requests, with real traffic's shape: busy weekday working hours (08-20 UTC),
quiet nights (a fifth of the rate) and weekends (a third), and overdispersed days (each day's rate
is the key's rate times a gamma draw of variance ``DISPERSION``: the daily counts are negative
binomial, as real repos' are). Ten weeks of history, then a gap starting at 14:00 UTC on each
weekday of the last week, and the real check SQL (dora_assets.defs.bronze.checks: judge_silences,
silence_verdicts, judge_volume with the default thresholds) judged hour by hour through a DuckDB
warehouse holding the deliveries received before the judged moment:

- repo silent: every delivery of the repo stops; the hours until repo_silence fails at ERROR;
- pushes lost: the pushes stop, the pull requests go on; the hours until event_type_silence fails
  (the push key's own rate is half the repo's);
- a day lost: every delivery of one complete Wednesday is missing (and the silence after it is not
  judged); whether volume_drop fails at ERROR at 01:00 the next day.

    .venv/bin/python bench/detection_delays.py [--rates 1,5,20,100] [--starts 5] [--seed 7]

prints one row per rate: the median and the range of the delays over the start moments ("never"
when a gap of a week was not flagged)."""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dora_assets.config import CheckThresholds
from dora_assets.defs.bronze.checks import (
    EVENT_TYPE_SILENCE,
    REPO_SILENCE,
    judge_silences,
    judge_volume,
    silence_verdicts,
)
from dora_assets.resources import connect_warehouse

HISTORY_START = datetime(2023, 1, 2, tzinfo=UTC)  # a Monday, long past
HISTORY_WEEKS = 10
DISPERSION = 0.3  # alpha of the daily negative binomial: variance = mean + 0.3 * mean^2
LONGEST_WAIT_HOURS = 7 * 24
REPO = "acme/synthetic"


@dataclass(frozen=True)
class Delays:
    rate: float
    repo_silent: list[float]  # hours until flagged (math.inf: not within a week)
    pushes_lost: list[float]
    day_lost_flagged: bool


def hourly_shape(moment: datetime) -> float:
    day = 1.0 if moment.isoweekday() <= 5 else 1 / 3
    hour = 1.0 if 8 <= moment.hour < 20 else 1 / 5
    return day * hour


def _poisson(generator: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(generator.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), generator.random(), 0
    while product > limit:
        product *= generator.random()
        count += 1
    return count


def history(rate: float, seed: int, end: datetime) -> list[tuple[datetime, str]]:
    """(received_at, event_type) of a key of ``rate`` deliveries a day, from HISTORY_START to ``end``."""
    generator = random.Random(f"{seed}:{rate}")
    week_shape = sum(hourly_shape(HISTORY_START + timedelta(hours=hour)) for hour in range(7 * 24))
    per_unit = rate * 7 / week_shape  # deliveries per hour at shape 1, so that a week holds 7 * rate
    deliveries = []
    moment = HISTORY_START
    while moment < end:
        day_factor = generator.gammavariate(1 / DISPERSION, DISPERSION)
        for hour in range(24):
            start = moment + timedelta(hours=hour)
            for _ in range(_poisson(generator, per_unit * day_factor * hourly_shape(start))):
                at = start + timedelta(seconds=generator.randrange(3600))
                deliveries.append((at, "push" if generator.random() < 0.5 else "pull_request"))
        moment += timedelta(days=1)
    return sorted(deliveries)


def warehouse(deliveries: list[tuple[datetime, str]]):
    """An in-memory warehouse whose bronze.raw_events holds these deliveries (of acme/synthetic)."""
    connection = connect_warehouse(":memory:")
    connection.execute(
        """
        INSERT INTO bronze.raw_events
            (delivery_id, source, event_type, received_at, payload, landing_file, line_number,
             known_event_type, ingest_id, ingested_at)
        SELECT 'd' || i, 'github', event_type, received_at, json_object('repository', json_object('full_name', $repo)),
               'synthetic.ndjson', i, TRUE, 1, received_at
        FROM (SELECT unnest($times) AS received_at, unnest($types) AS event_type, unnest(range(len($times))) AS i)
        """,
        {"times": [at for at, _ in deliveries], "types": [kind for _, kind in deliveries], "repo": REPO},
    )
    return connection


def _flagged(connection, thresholds: CheckThresholds, now: datetime, check: str) -> bool:
    _, gaps, _ = silence_verdicts(judge_silences(connection, thresholds, now))[check]
    return any(row["repo"] == REPO for row in gaps)


def first_flag(connection, thresholds: CheckThresholds, start: datetime, check: str) -> float:
    """Hours from ``start`` to the first hourly judgement that fails ``check`` (the verdict only
    grows with the silence, so a binary search finds it); math.inf beyond a week."""
    if not _flagged(connection, thresholds, start + timedelta(hours=LONGEST_WAIT_HOURS), check):
        return math.inf
    low, high = 0, LONGEST_WAIT_HOURS
    while high - low > 1:
        middle = (low + high) // 2
        if _flagged(connection, thresholds, start + timedelta(hours=middle), check):
            high = middle
        else:
            low = middle
    return float(high)


def measure(rate: float, starts: int = 5, seed: int = 7, thresholds: CheckThresholds | None = None) -> Delays:
    thresholds = thresholds or CheckThresholds()
    last_week = HISTORY_START + timedelta(weeks=HISTORY_WEEKS)
    moments = [last_week + timedelta(days=day, hours=14) for day in range(5)][:starts]
    deliveries = history(rate, seed, last_week + timedelta(weeks=2))
    repo_silent, pushes_lost = [], []
    for start in moments:
        with warehouse([(at, kind) for at, kind in deliveries if at < start]) as connection:
            repo_silent.append(first_flag(connection, thresholds, start, REPO_SILENCE))
        kept = [(at, kind) for at, kind in deliveries if at < start or kind != "push"]
        with warehouse(kept) as connection:
            pushes_lost.append(first_flag(connection, thresholds, start, EVENT_TYPE_SILENCE))
    lost_day = (last_week + timedelta(days=2)).date()  # a Wednesday
    judged_at = datetime.combine(lost_day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=1)
    kept = [(at, kind) for at, kind in deliveries if at.date() != lost_day and at < judged_at]
    with warehouse(kept) as connection:
        verdict = judge_volume(connection, thresholds, judged_at)
    day_lost_flagged = any(row["repo"] == REPO and row["day"] == lost_day for row in verdict["gaps"])
    return Delays(rate, repo_silent, pushes_lost, day_lost_flagged)


def _hours(delays: list[float]) -> str:
    finite = [delay for delay in delays if math.isfinite(delay)]
    if not finite:
        return "never (within a week)"
    low, high = min(finite), max(finite)
    spread = "" if len(delays) == 1 else f" ({low:g} h)" if low == high else f" ({low:g}-{high:g} h)"
    if len(finite) < len(delays):
        return f"{len(finite)} of {len(delays)} within a week{spread}"
    return f"{statistics.median(delays):g} h{spread}"


def table(results: list[Delays]) -> str:
    lines = [
        "| deliveries a day | repo silent: flagged after | its pushes (half the rate) lost: flagged after "
        "| a whole weekday lost: volume_drop the next morning |",
        "|---|---|---|---|",
    ]
    for result in results:
        lines.append(
            f"| {result.rate:g} | {_hours(result.repo_silent)} | {_hours(result.pushes_lost)} | "
            f"{'ERROR' if result.day_lost_flagged else 'not flagged'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="1,5,20,100", help="deliveries a day, comma-separated")
    parser.add_argument("--starts", type=int, default=5, help="gap start moments (weekdays of the last week)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rates = [float(rate) for rate in args.rates.split(",")]
    print(
        f"Detection delays: synthetic repos, half pushes and half pull requests, overdispersed days "
        f"(alpha {DISPERSION}), {HISTORY_WEEKS} weeks of history, gaps starting 14:00 UTC on "
        f"{args.starts} weekday(s); default thresholds."
    )
    print(table([measure(rate, args.starts, args.seed) for rate in rates]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
