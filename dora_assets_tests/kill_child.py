"""Run bronze ingestion and SIGKILL this very process at a chosen point (test helper).

Usage: python -m dora_assets_tests.kill_child WAREHOUSE LANDING BATCH_BYTES POINT

POINT is ``<statement>:<n>`` to die just before the n-th execution of that SQL file
(``land_raw_events``, ``land_ledger``, ``read_ndjson_lines``, ...), or ``COMMIT:<n>:before`` /
``COMMIT:<n>:after`` around the n-th commit. The production code knows nothing about this: the
connection is wrapped here.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from pathlib import Path

from dora_assets.ingestion import ingest
from dora_assets.resources import connect_warehouse


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillingConnection:
    """Delegates to a DuckDB connection; kills the process at the chosen point."""

    def __init__(self, connection, point: str) -> None:
        self._connection = connection
        self._point = point.split(":")
        self._seen: Counter[str] = Counter()

    def execute(self, statement, *args, **kwargs):
        if self._point[0] == "COMMIT" and statement.strip() == "COMMIT":
            self._seen["COMMIT"] += 1
            is_target = self._seen["COMMIT"] == int(self._point[1])
            if is_target and self._point[2] == "before":
                die()
            result = self._connection.execute(statement, *args, **kwargs)
            if is_target and self._point[2] == "after":
                die()
            return result
        return self._connection.execute(statement, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._connection, name)


def main() -> None:
    warehouse, landing, batch_bytes, point = sys.argv[1:5]
    connection = connect_warehouse(warehouse)
    statement, _, count = point.partition(":")
    if statement != "COMMIT":
        real_run_sql = ingest.run_sql
        calls: Counter[str] = Counter()

        def run_sql(conn, layer, name, params=None):
            calls[name] += 1
            if name == statement and calls[name] == int(count):
                die()
            return real_run_sql(conn, layer, name, params)

        ingest.run_sql = run_sql
    ingest.ingest_landing(KillingConnection(connection, point), Path(landing), batch_bytes=int(batch_bytes))
    print("finished without being killed")


if __name__ == "__main__":
    main()
