"""Time windows and partitions: the slice of a derived table that one materialization replaces.

Silver tables are partitioned by calendar month in UTC (``MONTHLY``), the grain of
gold.dora_monthly. Their SQL takes a half-open window ``[start, end)`` (a month, or a range of
months in one run) and deletes then inserts exactly the rows whose time column falls in it, in
one transaction. Why months and not days: Dagster records a planned and a materialized event per
partition and asset (about 3 ms each on SQLite), so a backfill or replay of a year of days costs
~10x more bookkeeping than the SQL itself, while the SQL costs the same either way; days are
still the unit of `dora-assets backfill` and of the volume checks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dagster import AssetExecutionContext, BackfillPolicy, MonthlyPartitionsDefinition
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

# The first day silver can hold. Earlier events stay in bronze (and are counted by the checks)
# but fall outside every partition.
PARTITIONS_START = date(2015, 1, 1)
MONTHLY = MonthlyPartitionsDefinition(start_date=PARTITIONS_START.isoformat(), timezone="UTC", end_offset=1)
# Any range of months is materialized in one run, each asset in one transaction. The
# backfill_policy parameter is "beta" in Dagster 1.13; single-run backfills are what make a
# range one run and one transaction per table, so we use it deliberately and silence the notice.
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`")
SINGLE_RUN = BackfillPolicy.single_run()


@dataclass(frozen=True)
class TimeWindow:
    start: datetime
    end: datetime

    @classmethod
    def all_time(cls) -> TimeWindow:
        return cls(datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC))

    @classmethod
    def for_run(cls, context: AssetExecutionContext) -> TimeWindow:
        """The run's partition range as a window (all of time when the run is not partitioned)."""
        if not (context.has_partition_key or context.has_partition_key_range):
            return cls.all_time()
        window = context.partition_time_window
        return cls(window.start.astimezone(UTC), window.end.astimezone(UTC))

    def params(self) -> dict[str, datetime]:
        """The window as the SQL files' ``$window_start`` / ``$window_end``."""
        return {"window_start": self.start, "window_end": self.end}

    def month_params(self) -> dict[str, date]:
        """The calendar months touched by the window, as ``$month_start`` / ``$month_end``."""
        first = date(self.start.year, self.start.month, 1)
        last = self.end.astimezone(UTC)
        end = date(last.year, last.month, 1)
        if datetime(end.year, end.month, 1, tzinfo=UTC) < last:
            end = date(end.year + (end.month == 12), end.month % 12 + 1, 1) if end.year < 9999 else date(9999, 12, 1)
        return {"month_start": first, "month_end": end}


def partition_range_tags(first: date, last: date) -> dict[str, str]:
    """Run tags that make one run materialize the monthly partitions holding days ``first`` to
    ``last`` (inclusive)."""
    return {
        ASSET_PARTITION_RANGE_START_TAG: first.replace(day=1).isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: last.replace(day=1).isoformat(),
    }
