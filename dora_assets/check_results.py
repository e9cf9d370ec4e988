"""How every check reports: a pass/fail, a one-line description, and metadata an engineer can
act on (counts, the first examples, the affected repos and days)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from dora_assets.metadata import markdown_table


def check_result(
    *,
    passed: bool,
    severity: AssetCheckSeverity,
    description: str,
    counts: Mapping[str, int | float] | None = None,
    lists: Mapping[str, Sequence[Any] | None] | None = None,
    rows: Sequence[Mapping[str, Any]] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    check_name: str | None = None,
) -> AssetCheckResult:
    """An ``AssetCheckResult`` with uniform metadata: numbers as numbers, lists (examples, repos,
    days) as JSON, detail rows as a markdown table, and the thresholds that were applied.
    ``check_name`` is needed only when one function evaluates several checks."""
    metadata: dict[str, Any] = dict(counts or {})
    for name, values in (lists or {}).items():
        metadata[name] = MetadataValue.json([_plain(value) for value in values or []])
    if rows is not None:
        metadata["details"] = markdown_table([{key: _plain(value) for key, value in row.items()} for row in rows])
    if thresholds:
        metadata["thresholds"] = MetadataValue.json({key: _plain(value) for key, value in thresholds.items()})
    return AssetCheckResult(
        passed=passed, severity=severity, description=description, metadata=metadata, check_name=check_name
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
