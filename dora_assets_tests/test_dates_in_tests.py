"""No test names a day near the present, so none can pass only around the day it was written.

A moment in test data is computed from the clock (or from a frozen ``now``), or it is a fixed day
before CUTOFF: more than a year before this rule was written (2026-12-02), so it is in the past
with the clock a year back too, which `make test-time-travel` checks for the whole suite. This
test reads the test sources only, never the clock, so it gives the same answer on every date.
A day written as a number (epoch seconds or milliseconds) is not recognised: write days as
``YYYY-MM-DD`` text or ``date(Y, M, D)`` / ``datetime(Y, M, D, ...)``."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

TESTS = Path(__file__).parent
CUTOFF = (2025, 12, 1)
ISO_DAY = re.compile(r"(?<![0-9])(20[0-9]{2})-([01][0-9])-([0-3][0-9])(?![0-9])")
DAY_CALL = re.compile(r"\b(?:date|datetime)\(\s*(20[0-9]{2}),\s*([0-9]{1,2}),\s*([0-9]{1,2})\b")


def days_named(text: str) -> list[tuple[int, date]]:
    """(line number, day) of every valid day the text names."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in [*ISO_DAY.finditer(line), *DAY_CALL.finditer(line)]:
            try:
                found.append((number, date(*(int(part) for part in match.groups()))))
            except ValueError:  # "2026-13-02": a deliberately invalid stamp, not a day
                continue
    return found


def test_the_scanner_finds_days_in_both_spellings() -> None:
    text = 'at = "2027-03-04T10:00:00Z"\nend = date(2027, 3, 5)\nbad = "2027-13-02"\nsha = "12027-03-04"\n'
    assert days_named(text) == [(1, date(2027, 3, 4)), (2, date(2027, 3, 5))]


def test_no_test_names_a_day_near_the_present() -> None:
    cutoff = date(*CUTOFF)
    near = [
        f"{path.name}:{number}: {day}"
        for path in sorted(TESTS.glob("*.py"))
        if path.name != Path(__file__).name  # its own examples are days on purpose
        for number, day in days_named(path.read_text(encoding="utf-8"))
        if day >= cutoff
    ]
    assert not near, (
        f"days on or after {cutoff} in tests: compute them from the clock or a frozen now, or use a day long "
        "past:\n" + "\n".join(near)
    )
