"""The README's lists of assets and checks cannot drift from the definitions: the asset table is
compared with definitions.py, and every check the definitions declare has a row of the checks
table (and every row names a check that exists)."""

from __future__ import annotations

import re
from pathlib import Path

from dora_assets.definitions import defs

README = Path(__file__).resolve().parents[1] / "README.md"
ASSET_TABLE = re.compile(r"<!-- assets: [^>]*-->\n(?P<table>.*?)<!-- /assets -->", re.DOTALL)
CHECK_ROW = re.compile(r"^\| [^|]+ \| `(?P<check>[a-z_]+)` \| (?:ERROR|WARN)", re.MULTILINE)


def asset_table() -> str:
    """The README's asset table as it must read, from the definitions."""
    groups: dict[str, list[str]] = {}
    for assets_def in defs.assets:
        for spec in assets_def.specs:  # in the order they are declared
            groups.setdefault(spec.group_name, []).append(spec.key.to_user_string())
    rows = [f"| `{group}` | {', '.join(f'`{key}`' for key in keys)} |" for group, keys in groups.items()]
    return "\n".join(["| group | assets |", "|---|---|", *rows]) + "\n"


def test_the_readme_lists_every_asset_of_the_definitions() -> None:
    match = ASSET_TABLE.search(README.read_text())
    assert match, "README.md lost its <!-- assets: ... --> block"
    expected = asset_table()
    assert match["table"] == expected, f"update the README's asset table to:\n{expected}"


def test_the_readme_has_a_row_for_every_check_and_no_row_for_a_check_that_is_gone() -> None:
    declared = {key.name for checks_def in defs.asset_checks for key in checks_def.check_keys}
    documented = set(CHECK_ROW.findall(README.read_text()))
    assert declared - documented == set(), "checks without a row in the README's checks table"
    assert documented - declared == set(), "rows of the README's checks table for checks that do not exist"
