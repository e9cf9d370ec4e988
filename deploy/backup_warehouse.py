"""Back up the dora-assets warehouse (the DuckDB file) consistently, while the services run.

    .venv/bin/python deploy/backup_warehouse.py /var/backups/dora-assets/$(date -u +%Y%m%dT%H%M%SZ) [--copy]

The warehouse is $DORA_DUCKDB_PATH, else $DORA_HOME/warehouse.duckdb (run it with the services'
environment). The backup opens it read-write, as a run does. DuckDB lets one process at a time hold
a file read-write, and every writer of this project takes that lock: runs from the queue (the
dora_warehouse pool, one at a time) and the CLI's runs, which bypass the queue. Each waits for the
lock with backoff, up to DuckDBWarehouse.lock_timeout_seconds (10 minutes) before failing. So the
backup waits for a run in progress to finish, then works alone, and runs that start meanwhile wait
for it (a backup that takes longer than 10 minutes makes them fail: stop the daemon for those).

It writes ``export/`` (DuckDB's EXPORT DATABASE: schema.sql, load.sql and one Parquet file per
table, which any later DuckDB can IMPORT) and, with ``--copy``, a byte copy of the file taken after
a CHECKPOINT while the lock is held (a faster restore with the same DuckDB version). It prints one
JSON line: where the backup went and the rows per table. Restore: docs/production.md, "Operations".
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from dora_assets.resources import connect_warehouse
from dora_assets.settings import DoraPaths


def backup(database: Path, target: Path, *, copy: bool = False, lock_timeout_seconds: float = 600.0) -> dict:
    if not database.is_file():
        raise FileNotFoundError(f"no warehouse at {database}")
    target.mkdir(parents=True)  # a backup is never written over another
    connection = connect_warehouse(str(database), lock_timeout_seconds=lock_timeout_seconds)
    try:
        connection.execute("CHECKPOINT")
        export = target / "export"
        quoted = str(export).replace("'", "''")
        connection.execute(f"EXPORT DATABASE '{quoted}' (FORMAT parquet)")
        if copy:
            shutil.copy2(database, target / database.name)
        tables = connection.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() ORDER BY ALL"
        ).fetchall()
        rows = {}
        for schema, table in tables:
            # Names from the catalog itself, quoted as identifiers.
            statement = f"SELECT count(*) FROM {_name(schema)}.{_name(table)}"  # noqa: S608
            rows[f"{schema}.{table}"] = connection.execute(statement).fetchone()[0]
    finally:
        connection.close()
    return {"warehouse": str(database), "backup": str(target), "copy": copy, "rows": rows}


def _name(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path, help="a new folder for this backup")
    parser.add_argument("--copy", action="store_true", help="also copy the checkpointed DuckDB file")
    args = parser.parse_args(argv)
    try:
        summary = backup(DoraPaths.from_env().duckdb_path, args.target.resolve(), copy=args.copy)
    except Exception as error:
        print(f"backup_warehouse: error: {type(error).__name__}: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
