"""Test data built from the real GitHub webhook examples in ``fixtures/github`` (copied from
../shared/samples, octokit/webhooks): each builder deep-copies a real payload and overwrites
only the fields a scenario needs, so transforms are tested against real shapes."""

from __future__ import annotations

import copy
import json
import os
import time
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


@cache
def _sample(relative: str, source: str) -> dict[str, Any]:
    return json.loads((FIXTURES / source / relative).read_text(encoding="utf-8"))


def sample(relative: str, source: str = "github") -> dict[str, Any]:
    """A fresh copy of one real payload, e.g. ``sample("push/with-new-branch.payload.json")``
    or ``sample("issue/issue.json", "gitlab")``."""
    return copy.deepcopy(_sample(relative, source))


def iso(moment: str | datetime) -> str:
    return moment if isinstance(moment, str) else moment.isoformat().replace("+00:00", "Z")


def _with_repo(payload: dict[str, Any], repo: str) -> dict[str, Any]:
    owner, name = repo.split("/")
    payload["repository"]["full_name"] = repo
    payload["repository"]["name"] = name
    payload["repository"]["owner"]["login"] = owner
    payload["repository"]["html_url"] = f"https://github.com/{repo}"
    return payload


def push(
    repo: str, branch: str, before: str, commits: list[tuple[str, str]], pushed_at: str, *, ref: str | None = None
) -> dict[str, Any]:
    """A push of ``commits`` [(sha, timestamp)] to ``branch``; ``after`` is the last sha."""
    payload = _with_repo(sample("push/with-new-branch.payload.json"), repo)
    template = payload["commits"][0]
    payload["ref"] = ref or f"refs/heads/{branch}"
    payload["before"] = before
    payload["after"] = commits[-1][0] if commits else before
    payload["created"] = False
    payload["commits"] = []
    for sha, timestamp in commits:
        commit = copy.deepcopy(template)
        commit["id"] = sha
        commit["timestamp"] = timestamp
        commit["message"] = f"change {sha[:7]}"
        payload["commits"].append(commit)
    payload["head_commit"] = copy.deepcopy(payload["commits"][-1]) if commits else None
    payload["repository"]["pushed_at"] = int(datetime.fromisoformat(pushed_at.replace("Z", "+00:00")).timestamp())
    return payload


def deployment_status(
    repo: str,
    deploy_id: int,
    sha: str,
    created_at: str,
    *,
    state: str = "success",
    environment: str = "production",
    ref: str = "main",
) -> dict[str, Any]:
    payload = _with_repo(sample("deployment_status/payload.json"), repo)
    payload["deployment"].update(
        {"id": deploy_id, "sha": sha, "ref": ref, "environment": environment, "original_environment": environment}
    )
    payload["deployment_status"].update({"state": state, "environment": environment, "created_at": created_at})
    return payload


def issue(
    repo: str,
    number: int,
    action: str,
    *,
    labels: list[str],
    created_at: str,
    updated_at: str,
    closed_at: str | None = None,
    body: str = "",
) -> dict[str, Any]:
    payload = _with_repo(sample("issues/labeled.payload.json"), repo)
    label_template = payload["issue"]["labels"][0]
    payload["action"] = action
    payload["issue"].update(
        {
            "number": number,
            "title": f"issue {number}",
            "labels": [{**label_template, "name": name} for name in labels],
            "created_at": created_at,
            "updated_at": updated_at,
            "closed_at": closed_at,
            "state": "closed" if closed_at else "open",
            "body": body,
            "html_url": f"https://github.com/{repo}/issues/{number}",
        }
    )
    return payload


def envelope(
    event_type: str, payload: dict[str, Any], delivery_id: str, received_at: str, source: str = "github"
) -> dict[str, Any]:
    return {
        "source": source,
        "event_type": event_type,
        "delivery_id": delivery_id,
        "received_at": received_at,
        "payload": payload,
    }


def write_landing_file(path: Path, envelopes: list[dict[str, Any]] | dict[str, Any]) -> Path:
    """Write envelopes the way writers must: a temporary dot-name, then an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    if isinstance(envelopes, dict):
        text = json.dumps(envelopes, indent=2)
    else:
        text = "".join(json.dumps(item) + "\n" for item in envelopes)
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path


SETTLE = 0.3  # seconds: LandingFolder.settle_seconds in tests, instead of the production minute


def age(*paths: Path, seconds: float = SETTLE) -> None:
    """Wait until the paths' stamps (mtime and ctime, set by the kernel's clock) are ``seconds`` old."""
    newest = max(max(path.stat().st_mtime, path.stat().st_ctime) for path in paths)
    time.sleep(max(0.0, newest + seconds - time.time()))


def refuse_listing(monkeypatch, folder: Path) -> None:
    """Make the file system refuse to list ``folder`` (as for a folder of mode 000, which root,
    who runs CI, would still read): ``os.scandir`` raises PermissionError for it alone."""
    list_folder = os.scandir

    def refusing(path):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return list_folder(path)

    monkeypatch.setattr(os, "scandir", refusing)


def pull_request_review(
    repo: str, number: int, reviewer: str, submitted_at: str, *, author: str, state: str = "approved"
) -> dict[str, Any]:
    """A ``pull_request_review`` (submitted) by ``reviewer`` on request ``number`` of ``author``."""
    payload = _with_repo(sample("pull_request_review/submitted.payload.json"), repo)
    payload["pull_request"]["number"] = number
    payload["pull_request"]["user"]["login"] = author
    payload["review"]["user"]["login"] = reviewer
    payload["review"].update(submitted_at=submitted_at, state=state)
    return payload


def pull_request_review_comment(
    repo: str, number: int, reviewer: str, created_at: str, *, author: str
) -> dict[str, Any]:
    """A ``pull_request_review_comment`` (created) by ``reviewer`` on request ``number`` of ``author``."""
    payload = _with_repo(sample("pull_request_review_comment/created.payload.json"), repo)
    payload["pull_request"]["number"] = number
    payload["pull_request"]["user"]["login"] = author
    payload["comment"]["user"]["login"] = reviewer
    payload["comment"]["created_at"] = created_at
    return payload


def issue_comment(
    repo: str, number: int, commenter: str, created_at: str, *, author: str, on_pull_request: bool = True
) -> dict[str, Any]:
    """An ``issue_comment`` (created) by ``commenter`` on issue ``number`` of ``author``, which is a
    pull request unless ``on_pull_request`` is false."""
    payload = _with_repo(sample("issue_comment/created.payload.json"), repo)
    payload["issue"]["number"] = number
    payload["issue"]["user"]["login"] = author
    if on_pull_request:
        payload["issue"]["pull_request"] = {"url": f"https://api.github.com/repos/{repo}/pulls/{number}"}
    else:
        payload["issue"].pop("pull_request", None)
    payload["comment"]["user"]["login"] = commenter
    payload["comment"]["created_at"] = created_at
    return payload
