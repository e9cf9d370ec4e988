"""bench/detection_delays.py on a small configuration: the delays it publishes (README, "How gaps
are surfaced") are finite for keys busy enough to judge, and shorter for busier keys."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "detection_delays.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("detection_delays", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_busier_keys_are_flagged_sooner_and_every_silence_is_flagged_within_a_week() -> None:
    bench = load_bench()

    quiet, busy = (bench.measure(rate, starts=2) for rate in (10, 60))

    for result in (quiet, busy):
        assert all(math.isfinite(delay) and delay > 0 for delay in result.repo_silent + result.pushes_lost)
    assert max(busy.repo_silent) < min(quiet.repo_silent)
    assert max(busy.pushes_lost) < min(quiet.pushes_lost)
    # A key of half the rate (the pushes of the same repo) waits longer than the whole repo.
    assert min(quiet.pushes_lost) > max(quiet.repo_silent)
    # Busy enough, even a silent 24 hours is a gap; a whole lost day fails volume_drop.
    assert max(busy.repo_silent) <= 24
    assert busy.day_lost_flagged


def test_the_table_names_every_rate() -> None:
    bench = load_bench()
    results = [bench.Delays(1, [math.inf], [math.inf], False), bench.Delays(20, [20.0, 22.0], [40.0, 44.0], True)]

    lines = bench.table(results).splitlines()

    assert lines[2].startswith("| 1 | never (within a week) | never (within a week) | not flagged |")
    assert lines[3] == "| 20 | 21 h (20-22 h) | 42 h (40-44 h) | ERROR |"
