"""`make test`'s scheduler (scheduling.SharedSetupScheduling) keeps a test file on one worker when
its tests share a module-scoped fixture. The scheduler runs in pytest-xdist's controller, which
collects nothing, so it reads the files' text; this checks that what it reads agrees with the
fixtures pytest resolves for every test of the suite (a collection of its own, so that the check
does not depend on which tests this run selected)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from dora_assets_tests.scheduling import SharedSetupScheduling, shares_a_module_fixture


class ModuleFixtureUsers:
    """A pytest plugin that notes, for every collected test file, whether a test in it uses a
    module-scoped fixture (from the fixtures pytest resolved for each test)."""

    def __init__(self) -> None:
        self.shared: dict[str, bool] = defaultdict(bool)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            info = getattr(item, "_fixtureinfo", None)
            scopes = {chain[-1].scope for chain in info.name2fixturedefs.values()} if info is not None else set()
            self.shared[item.nodeid.split("::", 1)[0]] |= "module" in scopes


def test_the_files_kept_together_are_exactly_those_whose_tests_share_a_module_fixture() -> None:
    users = ModuleFixtureUsers()
    tests = Path(__file__).parent
    code = pytest.main(
        [
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--rootdir",
            str(tests.parent),
            str(tests),
        ],
        plugins=[users],
    )
    assert code == 0
    assert any(users.shared.values()) and not all(users.shared.values())
    disagree = {
        test_file: uses for test_file, uses in users.shared.items() if shares_a_module_fixture(test_file) != uses
    }
    assert not disagree, disagree


def test_a_test_of_a_shared_file_is_scheduled_with_its_file_and_any_other_alone() -> None:
    split = SharedSetupScheduling._split_scope
    grouped = "dora_assets_tests/test_gap_calibration.py::test_x"
    alone = "dora_assets_tests/test_config.py::test_y[case]"
    assert split(None, grouped) == "dora_assets_tests/test_gap_calibration.py"
    assert split(None, alone) == alone
