"""Where the data lives: the data home and the paths derived from it (CONTRACT section 1).

Every path is resolved when it is asked for, from the environment at that moment, never at
import time, so tests and commands can point the same code at different data homes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DoraPaths:
    """The resolved locations of one data home."""

    home: Path
    duckdb_path: Path
    landing_dir: Path
    dagster_home: Path
    reports_dir: Path
    default_config: Path

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> DoraPaths:
        """Resolve DORA_HOME, DORA_DUCKDB_PATH, DORA_LANDING_DIR and DAGSTER_HOME, and the config
        file used when DORA_CONFIG is unset ($DORA_HOME/dora.yaml, if it exists).

        Relative paths are taken relative to the current working directory and made absolute,
        because Dagster requires an absolute DAGSTER_HOME and runs may change directory.
        """
        env = os.environ if environ is None else environ
        home = _absolute(env.get("DORA_HOME") or "data")
        return cls(
            home=home,
            duckdb_path=_absolute(env.get("DORA_DUCKDB_PATH") or home / "warehouse.duckdb"),
            landing_dir=_absolute(env.get("DORA_LANDING_DIR") or home / "landing"),
            dagster_home=_absolute(env.get("DAGSTER_HOME") or home / "dagster"),
            reports_dir=home / "reports",
            default_config=home / "dora.yaml",
        )


def _absolute(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()
