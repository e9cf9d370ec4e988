"""Shared Dagster metadata helpers: column schemas declared beside each asset, row counts."""

from __future__ import annotations

import duckdb
from dagster import MetadataValue, TableColumn, TableSchema

ColumnSpec = tuple[str, str, str]


def column_schema(columns: list[ColumnSpec]) -> dict[str, TableSchema]:
    """``dagster/column_schema`` metadata from (name, DuckDB type, description) triples."""
    return {
        "dagster/column_schema": TableSchema(
            columns=[TableColumn(name=name, type=type_, description=text) for name, type_, text in columns]
        )
    }


def table_row_count(connection: duckdb.DuckDBPyConnection, qualified_table: str) -> int:
    """Rows in one of our tables; the name is bound as a value (``query_table``), never formatted."""
    return int(connection.execute("SELECT count(*) FROM query_table($table)", {"table": qualified_table}).fetchone()[0])


def markdown_table(rows: list[dict[str, object]]) -> MetadataValue:
    """A small markdown table for the Dagster UI."""
    if not rows:
        return MetadataValue.md("_no rows_")
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(row[h]) for h in headers) + " |" for row in rows]
    return MetadataValue.md("\n".join(lines))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
