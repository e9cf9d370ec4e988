"""Shared fixtures: every test gets its own data home (DuckDB file, landing folder, instance).
Helper functions the tests import live in helpers.py."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

from dora_assets.instance import apply_run_creation_env
from dora_assets.settings import DoraPaths
from dora_assets_tests.helpers import DORA_ENV_VARS, copy_data_home, refreshed_data_home, run_cli
from dora_assets_tests.scheduling import SharedSetupScheduling

PG_SERVER_URL = pytest.StashKey[str | None]()


def pytest_configure(config: pytest.Config) -> None:
    """The PostgreSQL server that .ci/run starts (DAGSTER_PG_URL) is for test_production.py, which
    makes a database of its own for each test (fixture ``pg_server_url``). Every other test keeps its
    own SQLite instance in its data home, so the variable is taken out of this process's environment
    (and every subprocess's) at startup."""
    config.stash[PG_SERVER_URL] = os.environ.pop("DAGSTER_PG_URL", None) or None
    # The Dagster settings of every process that creates runs in production (the dora-assets commands
    # set them in main): the runs these workers create in-process are created the same way.
    apply_run_creation_env()


@pytest.fixture(scope="session")
def pg_server_url(pytestconfig: pytest.Config) -> str | None:
    """The URL .ci/run gave in DAGSTER_PG_URL, or None."""
    return pytestconfig.stash[PG_SERVER_URL]


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DoraPaths:
    """A fresh, empty data home in tmp_path, selected through DORA_HOME as users do."""
    for name in DORA_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DORA_HOME", str(tmp_path / "home"))
    paths = DoraPaths.from_env()
    paths.landing_dir.mkdir(parents=True)
    return paths


@pytest.fixture(scope="session")
def refreshed_history_template(tmp_path_factory: pytest.TempPathFactory) -> DoraPaths:
    """A data home holding the known-answer history (test_metrics_known_answers.land_history)
    after one `dora-assets refresh --quiet`, made once per test worker. Use ``refreshed_history``,
    which copies it: never change this one."""
    from dora_assets_tests.test_metrics_known_answers import land_history

    return refreshed_data_home(
        tmp_path_factory, "refreshed-history", land_history, lambda paths: run_cli(paths, "refresh", "--quiet")
    )


@pytest.fixture
def refreshed_history(refreshed_history_template: DoraPaths, data_home: DoraPaths) -> DoraPaths:
    """``data_home`` as it is after landing the known-answer history and one `dora-assets refresh
    --quiet` (its landing files, warehouse and Dagster instance with the refresh's two runs): a
    copy of ``refreshed_history_template``, so that the refresh runs once per worker, not once
    per test."""
    copy_data_home(refreshed_history_template, data_home)
    return data_home


@pytest.fixture
def log_records() -> Iterator[list[logging.LogRecord]]:
    """Every record logged in this process at any level (ours, httpx's, uvicorn's), collected by
    a root handler of our own rather than caplog, so the assertions also hold under
    ``-p no:logging``."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(logging.DEBUG)
    root, ours = logging.getLogger(), logging.getLogger("dora_assets")
    previous = (root.level, ours.level, ours.propagate)
    root.setLevel(logging.DEBUG)
    ours.setLevel(logging.DEBUG)
    ours.propagate = True  # `dora-assets serve`'s log config stops propagation; make sure we see it
    root.addHandler(handler)
    yield records
    root.removeHandler(handler)
    root.setLevel(previous[0])
    ours.setLevel(previous[1])
    ours.propagate = previous[2]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shard",
        default=None,
        metavar="K/N",
        help="run only shard K of N of the tests (by a hash of their id; CI's time-travel slice: see the Makefile)",
    )


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown when xdist is not loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadScopeScheduling | None:
    return SharedSetupScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None


# The order in which tests are handed to the workers (pytest-xdist deals them out in collection
# order): the longest first, so that no worker is left alone with a minutes-long test at the end
# while the others have nothing to do.
FILE_ORDER = ("postgres", "browser", "slow")


def longest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """``items`` with whole files moved to the front by their marks (FILE_ORDER), the file order
    otherwise kept."""
    first_seen: dict[str, int] = {}
    for item in items:
        first_seen.setdefault(item.path.as_posix(), len(first_seen))

    def rank(item: pytest.Item) -> tuple[int, int]:
        marks = {mark.name for mark in item.iter_markers()}
        weight = next((index for index, name in enumerate(FILE_ORDER) if name in marks), len(FILE_ORDER))
        return weight, first_seen[item.path.as_posix()]

    return sorted(items, key=rank)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items[:] = longest_first(items)
    shard = config.getoption("--shard")
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    if not 0 <= index < count:
        raise pytest.UsageError(f"--shard {shard}: K must be in 0..N-1")
    kept, dropped = [], []
    for item in items:
        digest = hashlib.sha256(item.nodeid.encode()).digest()
        (kept if int.from_bytes(digest[:4], "big") % count == index else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
