"""How `make test` hands tests to its workers (``--dist loadgroup``; conftest.py installs the
scheduler through pytest-xdist's ``pytest_xdist_make_scheduler`` hook)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

TESTS_DIR = Path(__file__).parent
MODULE_FIXTURE = re.compile(r"@pytest\.fixture\(scope=\"module\"")


@functools.cache
def shares_a_module_fixture(test_file: str) -> bool:
    """Whether the test file (a path relative to the root, as in a test id) declares a
    module-scoped fixture: its tests share what the fixture builds (a calibrated organisation, a
    real history, the production services, in the order the file runs them)."""
    path = TESTS_DIR / Path(test_file).name
    return path.is_file() and MODULE_FIXTURE.search(path.read_text(encoding="utf-8")) is not None


class SharedSetupScheduling(LoadScopeScheduling):
    """``--dist loadgroup`` (make test): every test on its own to whichever worker is free, except
    the tests of a file with a module-scoped fixture, which go to one worker together, in file
    order, so that the fixture is built once. (pytest-xdist's own loadgroup reads ``xdist_group``
    marks by renaming test ids, which pytest 9 no longer allows; this groups by file instead.)"""

    def _split_scope(self, nodeid: str) -> str:
        test_file = nodeid.split("::", 1)[0]
        return test_file if shares_a_module_fixture(test_file) else nodeid
