"""One measured stage of the benchmark, run by ``bench/run.py`` in its own process so that its
wall time and peak RSS are its own.

``stage.py refresh --now ISO --out FILE``: what ``dora-assets refresh`` does, on the data home of
``$DORA_HOME``: one ``dora_ingest`` run, then one ``dora_transform`` run over the months the new
deliveries can change, through ``dora_assets.runs.run_job`` on the shared Dagster instance. The
only difference from the CLI: the checks' clock and "today" are frozen at ``--now`` (the end of
the benchmark's history), so the cached history is judged as fresh as the day it ends.
Writes the run timings, the slowest steps and the failed checks to ``--out``.

``stage.py bare --script bare.sql --landing DIR --out FILE``: a bare DuckDB script over the
landing folder (``--script`` reads the files, ``bare_figures.sql`` computes the figures) with
DuckDB alone (2 threads, 1.5 GB memory limit, spilling to the data home); writes its timings
and gold figures to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path

STARTED = time.perf_counter()
BENCH_DIR = Path(__file__).resolve().parent


def refresh(now: datetime, out: Path) -> None:
    from dagster import DagsterEventType

    from dora_assets.definitions import defs  # imported here so that its cost is measured apart
    from dora_assets.defs.bronze.sensors import INGEST_JOB_NAME
    from dora_assets.defs.silver.sensors import TRANSFORM_JOB_NAME, ingest_transform_range
    from dora_assets.instance import dagster_instance
    from dora_assets.runs import run_job
    from dora_assets.settings import DoraPaths
    from dora_assets.windows import partition_range_tags

    imported = time.perf_counter()
    instance = dagster_instance(DoraPaths.from_env())
    ready = time.perf_counter()
    clock = {"resources": {"clock": {"config": {"frozen_at": now.isoformat()}}}}
    ingest = run_job(defs.resolve_job_def(INGEST_JOB_NAME), instance, run_config=clock)
    ingested = time.perf_counter()
    first, last = ingest_transform_range([ingest.materialized.get("bronze/raw_events", {})], now.date())
    transform = run_job(
        defs.resolve_job_def(TRANSFORM_JOB_NAME), instance, tags=partition_range_tags(first, last), run_config=clock
    )
    finished = time.perf_counter()

    def steps(run_id: str) -> dict[str, float]:
        """Seconds per step (asset or check) of a run, from its event log."""
        started: dict[str, float] = {}
        durations: dict[str, float] = {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                started[event.step_key] = entry.timestamp
            elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                durations[event.step_key] = round(entry.timestamp - started.get(event.step_key, entry.timestamp), 3)
        return durations

    ingest_steps, transform_steps = steps(ingest.run_id), steps(transform.run_id)
    result = {
        "ok": ingest.success and transform.success,
        "import_s": round(imported - STARTED, 3),
        "instance_s": round(ready - imported, 3),
        "ingest_run_s": round(ingested - ready, 3),
        "transform_run_s": round(finished - ingested, 3),
        "ingest_steps_s": round(sum(ingest_steps.values()), 3),
        "transform_steps_s": round(sum(transform_steps.values()), 3),
        "steps": dict(sorted({**ingest_steps, **transform_steps}.items(), key=lambda item: -item[1])),
        "months": [first.isoformat(), last.isoformat()],
        "ingest": {
            key: value
            for key, value in ingest.materialized.get("bronze/raw_events", {}).items()
            if key in ("files_ingested", "records_seen", "records_landed", "records_duplicate", "records_quarantined")
        },
        "step_errors": ingest.step_errors + transform.step_errors,
        "failed_checks": [
            f"{check.severity} {check.asset} {check.check}: {check.description}"
            for check in [*ingest.checks, *transform.checks]
            if not check.passed
        ],
    }
    out.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")


def bare(script_name: str, landing: Path, out: Path) -> None:
    import duckdb

    reading = (BENCH_DIR / script_name).read_text(encoding="utf-8").replace("{landing}", landing.as_posix())
    script = reading + "\n" + (BENCH_DIR / "bare_figures.sql").read_text(encoding="utf-8")
    statements = [part for part in script.split(";\n") if part.strip() and not _only_comments(part)]
    spill = landing.parent / "bare.tmp"
    connection = duckdb.connect(config={"threads": 2, "memory_limit": "1.5GB", "temp_directory": str(spill)})
    connection.execute("SET TimeZone = 'UTC'")
    timings = {}
    for statement in statements:
        began = time.perf_counter()
        connection.execute(statement)
        name = statement.split("CREATE TEMP TABLE", 1)[-1].split()[0] if "CREATE TEMP TABLE" in statement else "?"
        timings[name] = round(time.perf_counter() - began, 3)
    [(deliveries,)] = connection.execute("SELECT count(*) FROM deliveries").fetchall()
    cursor = connection.execute("SELECT * FROM gold ORDER BY month, repo")
    names = [column[0] for column in cursor.description]
    gold = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    out.write_text(
        json.dumps({"ok": True, "deliveries": deliveries, "statements_s": timings, "gold": gold}, default=str),
        encoding="utf-8",
    )


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stage", choices=("refresh", "bare"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--now", type=datetime.fromisoformat)
    parser.add_argument("--landing", type=Path)
    parser.add_argument("--script", default="bare.sql")
    args = parser.parse_args()
    if args.stage == "refresh":
        refresh(args.now, args.out)
    else:
        bare(args.script, args.landing, args.out)


if __name__ == "__main__":
    main()
