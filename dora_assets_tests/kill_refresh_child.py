"""Run `dora-assets refresh --quiet` and SIGKILL this very process right after a chosen event of
its runs (test helper for test_refresh_heals.py).

Usage: python -m dora_assets_tests.kill_refresh_child EVENTS_FILE [JOB:EVENT_TYPE:STEP_KEY]

Every Dagster event the refresh's two runs record on the instance is appended to EVENTS_FILE as a
JSON line ``[job, event_type, step_key]`` (step_key ``-`` for run-level events), once the instance
has stored it. With a kill point, the process kills itself with SIGKILL right after the first
event matching it is stored: the runs' own events choose the moment, not a sleep. Without one, the
refresh runs to the end (the uninterrupted baseline that enumerates the boundaries). The
production code knows nothing about this: the instance's event handling is wrapped here, in the
child only.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from dagster import DagsterInstance


def main() -> int:
    events_file = sys.argv[1]
    target = tuple(sys.argv[2].split(":")) if len(sys.argv) > 2 else None
    real_handle_new_event = DagsterInstance.handle_new_event

    def handle_new_event(self, event, **kwargs):
        real_handle_new_event(self, event, **kwargs)
        dagster_event = event.dagster_event
        if dagster_event is None:
            return
        seen = (dagster_event.job_name, dagster_event.event_type_value, dagster_event.step_key or "-")
        with open(events_file, "a", encoding="utf-8") as written:
            written.write(json.dumps(seen) + "\n")
        if seen == target:
            os.kill(os.getpid(), signal.SIGKILL)

    DagsterInstance.handle_new_event = handle_new_event
    from dora_assets.cli import main as cli_main

    code = cli_main(["refresh", "--quiet"])
    print(f"finished without being killed (exit {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
