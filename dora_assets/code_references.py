"""Where each asset's code is, for the Dagster UI: its file and line, linked to the git repository
the checkout came from when there is one (GitHub or GitLab), at the checked-out commit, so that a
link never points at code that has since changed."""

from __future__ import annotations

import re
import subprocess
import warnings
from collections.abc import Sequence
from pathlib import Path

from dagster import AnchorBasedFilePathMapping, BetaWarning, link_code_references_to_git, with_source_code_references

PACKAGE_DIR = Path(__file__).resolve().parent
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")  # git@github.com:owner/repo.git


def web_url(remote: str) -> str | None:
    """The https address of a GitHub or GitLab repository from its git remote URL (https, ssh or
    scp-like), without credentials or ``.git``; None for any other host."""
    remote = remote.strip()
    if remote.startswith(("https://", "http://", "ssh://", "git://")):
        rest = remote.split("://", 1)[1]
        host_part, _, path = rest.partition("/")
        host = host_part.rsplit("@", 1)[-1].split(":", 1)[0]
    elif match := _SCP_LIKE.match(remote):
        host, path = match["host"], match["path"]
    else:
        return None
    path = path.strip("/").removesuffix(".git")
    if not path or not ("github" in host or "gitlab" in host):
        return None
    return f"https://{host}/{path}"


def _git(checkout: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def with_code_references(assets: Sequence, checkout: Path | None = None) -> list:
    """``assets`` with their code references: local file and line always; a link to the file on
    GitHub or GitLab at the checked-out commit when ``checkout`` (default: the repository holding
    this package) is a git checkout whose ``origin`` is there. Dagster marks these helpers beta;
    we use them deliberately and silence the notice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        return _with_code_references(assets, checkout or PACKAGE_DIR.parent)


def _with_code_references(assets: Sequence, checkout: Path) -> list:
    local = list(with_source_code_references(assets))
    origin = _git(checkout, "config", "--get", "remote.origin.url")
    commit = _git(checkout, "rev-parse", "HEAD")
    url = web_url(origin) if origin else None
    if not (url and commit):
        return local
    # The package is at the top of the repository (dora_assets/), wherever it is checked out.
    mapping = AnchorBasedFilePathMapping(local_file_anchor=PACKAGE_DIR, file_anchor_path_in_repository=PACKAGE_DIR.name)
    return list(link_code_references_to_git(local, git_url=url, git_branch=commit, file_path_mapping=mapping))
