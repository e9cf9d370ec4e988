"""SQL lives in files: ``<layer>/sql/<name>.sql`` next to the module that runs it."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

LAYERS = ("bronze", "silver", "gold")


@cache
def sql_file(layer: str, name: str) -> str:
    """The text of ``dora_assets/<layer>/sql/<name>.sql``."""
    return files("dora_assets").joinpath(layer, "sql", f"{name}.sql").read_text(encoding="utf-8")


def schema_ddl() -> list[str]:
    """The idempotent DDL of every layer (``CREATE ... IF NOT EXISTS``), in dependency order."""
    return [sql_file(layer, "schema") for layer in LAYERS]
