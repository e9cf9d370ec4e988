"""SQL lives in files, in a ``sql/`` folder next to the module that runs it. A SQL file is named
by its *home* and its name: ``run_sql(connection, "silver", "pushes")`` runs
``dora_assets/defs/silver/sql/pushes.sql``. The homes (``SQL_HOMES``): each layer's tables and
checks beside their asset definitions (``defs/<layer>/sql``), the ingest's writes beside the
ingestion code, the extractor's state beside the extractor.

A file may hold several statements (each ending with ``;`` at the end of a line). DuckDB binds
prepared parameters to one statement at a time, so ``run_sql`` gives each statement exactly
the ``$named`` parameters it uses. Values are always bound, never formatted into the text.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

import duckdb

SQL_HOMES = {
    "bronze": "defs/bronze/sql",  # bronze DDL and the bronze checks
    "ingestion": "ingestion/sql",  # the ingest's staging, classification and writes; the ledger
    "silver": "defs/silver/sql",
    "gold": "defs/gold/sql",
    "extract": "extract/sql",  # the GitHub extractor's cursors
}
# The homes whose schema.sql makes the warehouse's tables, in order.
LAYERS = ("bronze", "silver", "gold", "extract")
_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_STATEMENT_END = re.compile(r";[ \t]*(?:--[^\n]*)?$", re.MULTILINE)


@cache
def sql_file(home: str, name: str) -> str:
    """The text of ``dora_assets/<SQL_HOMES[home]>/<name>.sql``. ``name`` may name a file in a
    folder with ``/`` (``deployments/jenkins``): each part is joined on its own, so that a resource
    reader that does not split paths (a zipped package) finds it too."""
    return (
        files("dora_assets")
        .joinpath(*SQL_HOMES[home].split("/"), *f"{name}.sql".split("/"))
        .read_text(encoding="utf-8")
    )


@cache
def sql_statements(home: str, name: str) -> tuple[str, ...]:
    """The statements of one SQL file, split where a line ends with ``;``, without comment lines."""
    parts = _STATEMENT_END.split(sql_file(home, name))
    statements = ("\n".join(line for line in part.splitlines() if not line.strip().startswith("--")) for part in parts)
    return tuple(statement.strip() for statement in statements if statement.strip())


def run_sql(
    connection: duckdb.DuckDBPyConnection, home: str, name: str, params: Mapping[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """Execute every statement of a SQL file; returns the connection after the last one."""
    params = params or {}
    for statement in sql_statements(home, name):
        used = dict.fromkeys(_PARAMETER.findall(statement))
        missing = [name for name in used if name not in params]
        if missing:
            raise KeyError(f"{SQL_HOMES[home]}/{name}.sql needs parameters {missing}")
        connection.execute(statement, {key: params[key] for key in used} or None)
    return connection


def schema_ddl() -> list[str]:
    """The idempotent DDL statements of every layer (``CREATE ... IF NOT EXISTS``), in order."""
    return [statement for layer in LAYERS for statement in sql_statements(layer, "schema")]


def fetch_dicts(
    connection: duckdb.DuckDBPyConnection, home: str, name: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run a SQL file and return the last statement's rows as dicts keyed by column name."""
    cursor = run_sql(connection, home, name, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@dataclass(frozen=True)
class SchemaMigration:
    """A change to a table that ``CREATE ... IF NOT EXISTS`` cannot make in an existing file:
    ``statement`` runs only when ``needed`` (a query) returns a row."""

    why: str
    needed: str
    statement: str
    params: tuple[tuple[str, str], ...] = ()  # bound into ``needed``


def _raw_events_rebuilt_with_zstd_payloads() -> str:
    """Copy bronze.raw_events, row for row and in order, into a table declared as schema.sql
    declares it now (payload stored with zstd, keyed by (source, delivery_id)), and put it in its
    place, in one transaction. DuckDB cannot change a column's compression or drop a constraint in
    place; the rows are not changed (bronze stays append-only: nothing is updated or deleted, the
    same rows move to new storage once)."""
    [create] = [
        statement
        for statement in sql_statements("bronze", "schema")
        if statement.startswith("CREATE TABLE IF NOT EXISTS bronze.raw_events (")
    ]
    create = create.replace(
        "CREATE TABLE IF NOT EXISTS bronze.raw_events (", "CREATE TABLE bronze.raw_events_rebuilt ("
    )
    return ";\n".join(
        [
            "BEGIN TRANSACTION",
            create,
            "INSERT INTO bronze.raw_events_rebuilt SELECT * FROM bronze.raw_events",
            "DROP TABLE bronze.raw_events",
            "ALTER TABLE bronze.raw_events_rebuilt RENAME TO raw_events",
            "COMMIT",
        ]
    )


COLUMN_MISSING = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM information_schema.columns "
    "WHERE table_schema = $schema AND table_name = $table AND column_name = $column)"
)

# The counts gold keeps beside the lead time figure (defs/gold/sql/period_figures.sql).
LEAD_TIME_COVERAGE = (
    "changes_with_pull_request",
    "lead_time_starts_branch_pushes",
    "lead_time_starts_api",
    "lead_time_starts_pr_opened",
    "bot_changes",
    "changes_before_tracking",
)

# silver.pushed_commits rebuilt from silver.pushes (an upgraded warehouse): as pushes.sql writes it,
# but only from what silver.pushes keeps (the order of each push's commits and its before sha).
PUSHED_COMMITS_FROM_PUSHES = (
    "INSERT INTO silver.pushed_commits BY NAME SELECT pushes.delivery_id, pushes.source, pushes.repo, "
    "pushes.branch, pushes.pushed_at, pushes.commits[position].change_id AS change_id, "
    "pushes.commits[position].time_created AS time_created, CASE WHEN position > 1 "
    "THEN [pushes.commits[position - 1].change_id] WHEN NOT regexp_full_match(coalesce(pushes.before_sha, '0'), '0+') "
    "THEN [lower(pushes.before_sha)] END AS parent_ids "
    "FROM (SELECT *, generate_subscripts(commits, 1) AS position FROM silver.pushes) AS pushes"
)

SCHEMA_MIGRATIONS = (
    SchemaMigration(
        why="silver.pushes.ref became nullable: minimal senders (Four Keys) post pushes without a ref",
        needed="SELECT 1 FROM information_schema.columns WHERE table_schema = 'silver' "
        "AND table_name = 'pushes' AND column_name = 'ref' AND is_nullable = 'NO'",
        statement="ALTER TABLE silver.pushes ALTER COLUMN ref DROP NOT NULL",
    ),
    SchemaMigration(
        why="silver.incidents.reports: the source reports merged into one incident (incident_correlation)",
        needed="SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'silver' "
        "AND table_name = 'incidents' AND column_name = 'reports')",
        statement="ALTER TABLE silver.incidents ADD COLUMN reports VARCHAR[]",
    ),
    # Columns added to gold.dora_monthly for the dashboard (p90s, the rework rate).
    *(
        SchemaMigration(
            why=f"gold.dora_monthly.{column}: added for the dashboard's figures",
            needed=COLUMN_MISSING,
            params=(("schema", "gold"), ("table", "dora_monthly"), ("column", column)),
            statement=f"ALTER TABLE gold.dora_monthly ADD COLUMN {column} {column_type}",
        )
        for column, column_type in (
            ("lead_time_p90_hours", "DOUBLE"),
            ("time_to_restore_p90_hours", "DOUBLE"),
            ("rework_deployments", "BIGINT"),
            ("rework_rate", "DOUBLE"),
        )
    ),
    SchemaMigration(
        why="extract.cursors.head_sha: the branch head the next incremental extraction compares from",
        needed=COLUMN_MISSING,
        params=(("schema", "extract"), ("table", "cursors"), ("column", "head_sha")),
        statement="ALTER TABLE extract.cursors ADD COLUMN head_sha VARCHAR",
    ),
    SchemaMigration(
        why="bronze.raw_events.payload stored with zstd: the rows are copied once, unchanged and in order, into a "
        "table declared so (9x smaller, and checkpoints no longer spend minutes compressing payloads)",
        needed="SELECT 1 FROM duckdb_tables() WHERE schema_name = 'bronze' AND table_name = 'raw_events' "
        "AND sql NOT ILIKE '%payload JSON USING COMPRESSION ZSTD%'",
        statement=_raw_events_rebuilt_with_zstd_payloads(),
    ),
    SchemaMigration(
        why="bronze.raw_events_index: the index silver finds a window's deliveries by, filled for the rows landed "
        "before it existed (each of their payloads parsed once)",
        needed="SELECT 1 WHERE (SELECT count(*) FROM bronze.raw_events) "
        "> (SELECT count(*) FROM bronze.raw_events_index)",
        # EXCEPT ALL, not an anti-join on delivery_id: ids are unique only within a source, and the
        # index rows of rows already indexed are computed exactly as they were.
        statement="INSERT INTO bronze.raw_events_index SELECT * FROM bronze.raw_events_index_rows('bronze.raw_events') "
        "EXCEPT ALL SELECT * FROM bronze.raw_events_index",
    ),
    SchemaMigration(
        why="silver.pushed_commits: the commits of silver.pushes, flattened, which changes and deployment_changes "
        "read; filled from silver.pushes once",
        needed="SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM silver.pushed_commits) "
        "AND EXISTS (SELECT 1 FROM silver.pushes WHERE len(commits) > 0)",
        statement=PUSHED_COMMITS_FROM_PUSHES,
    ),
    SchemaMigration(
        why="silver.pushed_commits.parent_ids: the commit graph deployment_changes walks (lineage by ancestry), "
        "rebuilt from silver.pushes (before sha and order within each push; replay adds the API's parents)",
        needed=COLUMN_MISSING,
        params=(("schema", "silver"), ("table", "pushed_commits"), ("column", "parent_ids")),
        statement="; ".join(
            (
                "ALTER TABLE silver.pushed_commits ADD COLUMN parent_ids VARCHAR[]",
                "DELETE FROM silver.pushed_commits",
                PUSHED_COMMITS_FROM_PUSHES,
            )
        ),
    ),
    # Lineage by ancestry and pull requests (README: "Lead time"); a replay fills them for history.
    *(
        SchemaMigration(
            why=f"silver.{table}.{column}: lineage by ancestry, pull requests, bots and onboarding (README: Lead time)",
            needed=COLUMN_MISSING,
            params=(("schema", "silver"), ("table", table), ("column", column)),
            statement=f"ALTER TABLE silver.{table} ADD COLUMN {column} {column_type}",
        )
        for table, column, column_type in (
            ("pushed_commits", "tracked_since", "TIMESTAMPTZ"),
            ("pushed_commits", "author", "VARCHAR"),
            ("pull_requests", "squash_commit_sha", "VARCHAR"),
            ("pull_requests", "source_branch", "VARCHAR"),
            ("pull_requests", "commit_ids", "VARCHAR[]"),
            ("pull_requests", "first_commit_at", "TIMESTAMPTZ"),
            ("pull_requests", "author", "VARCHAR"),
            ("deployment_changes", "lead_time_start", "TIMESTAMPTZ"),
            ("deployment_changes", "start_source", "VARCHAR"),
            ("deployment_changes", "pull_request_id", "VARCHAR"),
            ("deployment_changes", "excluded_reason", "VARCHAR"),
            ("deployment_changes", "author", "VARCHAR"),
            ("deployment_changes", "is_bot", "BOOLEAN"),
            ("deployment_changes", "time_opened", "TIMESTAMPTZ"),
            ("deployment_changes", "time_first_review", "TIMESTAMPTZ"),
            ("deployment_changes", "time_merged", "TIMESTAMPTZ"),
        )
    ),
    # Counts shown beside the figures: the rows held back from them (gold.published_* in
    # defs/gold/sql/schema.sql), and where lead time starts and what it leaves out (README: "Lead time").
    *(
        SchemaMigration(
            why=f"gold.{table}.{column}: {why}",
            needed=COLUMN_MISSING,
            params=(("schema", "gold"), ("table", table), ("column", column)),
            statement=f"ALTER TABLE gold.{table} ADD COLUMN {column} BIGINT",
        )
        for table in ("dora_monthly", "dora_weekly")
        for columns, why in (
            (
                ("lead_times_held_back", "restore_times_held_back"),
                "rows held back from the figures, counted beside them",
            ),
            (LEAD_TIME_COVERAGE, "the coverage of the lead time figure"),
        )
        for column in columns
    ),
    SchemaMigration(
        why="bronze.raw_events keyed by (source, delivery_id): a delivery id is unique only within its source (a "
        "GitLab id header equal to a Jenkins build's id made the build a duplicate); the rows are copied once, "
        "unchanged and in order, into a table declared so (DuckDB cannot drop a constraint in place)",
        needed="SELECT 1 FROM duckdb_constraints() WHERE schema_name = 'bronze' AND table_name = 'raw_events' "
        "AND constraint_type = 'PRIMARY KEY' AND constraint_column_names = ['delivery_id']",
        statement=_raw_events_rebuilt_with_zstd_payloads(),
    ),
    SchemaMigration(
        why="bronze.duplicates.source: a duplicate is a (source, delivery_id) that landed before",
        needed=COLUMN_MISSING,
        params=(("schema", "bronze"), ("table", "duplicates"), ("column", "source")),
        statement="ALTER TABLE bronze.duplicates ADD COLUMN source VARCHAR",
    ),
    # A file renamed over with the same size and modification time has another inode or ctime.
    *(
        SchemaMigration(
            why=f"bronze.landing_files.{column}: the file's stamp when it was read, so that a file replaced with "
            "the same size and modification time is hashed again, not skipped",
            needed=COLUMN_MISSING,
            params=(("schema", "bronze"), ("table", "landing_files"), ("column", column)),
            statement=f"ALTER TABLE bronze.landing_files ADD COLUMN {column} BIGINT",
        )
        for column in ("inode", "changed_ns")
    ),
)


def migrate_schema(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations an existing warehouse still needs; returns why each one ran."""
    applied = []
    for migration in SCHEMA_MIGRATIONS:
        if connection.execute(migration.needed, dict(migration.params) or None).fetchall():
            connection.execute(migration.statement)
            applied.append(migration.why)
    return applied


def run_sql_in_transaction(
    connection: duckdb.DuckDBPyConnection,
    home: str,
    names: str | Sequence[str],
    params: Mapping[str, Any] | None = None,
) -> None:
    """Execute one SQL file, or several in order, atomically: all of their statements commit
    together or none does."""
    with transaction(connection):
        for name in [names] if isinstance(names, str) else names:
            run_sql(connection, home, name, params)


@contextlib.contextmanager
def transaction(connection: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction around the block: committed when it ends, rolled back when it raises. The
    error that ends the transaction is the one raised: a COMMIT that failed (no space for the
    WAL, say) has already ended it, and the ROLLBACK DuckDB then refuses ("no transaction is
    active") must not hide it."""
    connection.execute("BEGIN TRANSACTION")
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            connection.execute("ROLLBACK")
        raise
