"""Time windows: the slice of a derived table that one materialization replaces.

Silver and gold SQL take a half-open window ``[start, end)`` and delete-then-insert exactly the
rows whose time column falls in it, in one transaction. A full refresh uses all of history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime


@dataclass(frozen=True)
class TimeWindow:
    start: datetime
    end: datetime

    @classmethod
    def all_time(cls) -> TimeWindow:
        return cls(datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC))

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
