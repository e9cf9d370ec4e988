"""Every asset's page in the UI says where its code is: the file and line, and a link to that file
on GitHub or GitLab at the checked-out commit when the checkout has such an origin."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dora_assets.code_references import PACKAGE_DIR, web_url, with_code_references
from dora_assets.definitions import defs
from dora_assets.defs.silver.assets import silver_assets

CODE_REFERENCES = "dagster/code_references"


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/acme/dora-assets.git", "https://github.com/acme/dora-assets"),
        ("https://token:secret@github.com/acme/dora-assets", "https://github.com/acme/dora-assets"),
        ("git@github.com:acme/dora-assets.git", "https://github.com/acme/dora-assets"),
        (
            "ssh://git@gitlab.example.com:2222/platform/dora-assets.git",
            "https://gitlab.example.com/platform/dora-assets",
        ),
        ("https://bitbucket.org/acme/dora-assets.git", None),
        ("/srv/git/dora-assets.git", None),
    ],
)
def test_a_remote_becomes_the_repositorys_web_address_without_credentials(remote: str, expected: str | None) -> None:
    assert web_url(remote) == expected


def test_every_asset_names_its_file_and_line() -> None:
    for assets_def in defs.assets:
        for key in assets_def.keys:
            [reference] = assets_def.metadata_by_key[key][CODE_REFERENCES].code_references
            path = Path(reference.file_path)
            assert path.is_file() and path.is_relative_to(PACKAGE_DIR / "defs"), (key, path)
            assert reference.line_number > 0


def test_a_checkout_with_a_github_origin_links_each_asset_to_its_file_at_the_commit(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, check=True)
        return done.stdout.strip()

    git("init", "-q")
    git("remote", "add", "origin", "git@github.com:acme/dora-assets.git")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x")
    commit = git("rev-parse", "HEAD")
    # The package sits in the checkout at dora_assets/, as in this repository.
    linked = with_code_references(silver_assets, checkout=checkout)
    urls = [
        reference.url
        for assets_def in linked
        for key in assets_def.keys
        for reference in assets_def.metadata_by_key[key][CODE_REFERENCES].code_references
    ]
    prefix = f"https://github.com/acme/dora-assets/tree/{commit}/"
    assert urls and all(url.startswith(prefix) for url in urls)
    assert {url[len(prefix) :].split("#")[0] for url in urls} == {"dora_assets/defs/silver/assets.py"}
