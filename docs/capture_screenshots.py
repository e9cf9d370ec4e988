"""Screenshots of a failed check in the Dagster UI, for the README (`make screenshots`).

What it does, all with the real parts a user runs:
1. a throwaway data home gets the demo history (`dora-assets demo`);
2. one fault is injected: the busiest repo's webhook goes quiet for its last three days;
3. `dora-assets refresh` ingests and transforms; it must exit non-zero because checks fail;
4. a real `dagster-webserver` serves that data home's instance on 127.0.0.1;
5. headless Chromium (Debian's `chromium`) photographs the failed check, the lineage and the catalog.

The PNG files land in ``docs/`` (or ``--out``). Nothing outside the throwaway home is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
QUIET_DAYS = 3
# (file name, UI path): the failed check on its asset, the bronze lineage with the asset's
# check summary, and the catalog where the asset's status turns red.
SHOTS = (
    ("ui-failed-check.png", "/assets/bronze/raw_events?view=checks&checkDetail=repo_silence"),
    ("ui-bronze-lineage.png", "/locations/dora_assets.definitions/asset-groups/bronze"),
    ("ui-catalog.png", "/assets"),
)
# What the UI's own API says of the asset's checks: the picture must show a real failure.
CHECK_STATUSES = """
query {
  assetNodeOrError(assetKey: {path: ["bronze", "raw_events"]}) {
    ... on AssetNode {
      assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { status } } } }
    }
  }
}
"""
# The UI greets a new instance with a newsletter dialog; the instance records it as seen.
NUX_SEEN = "mutation { setNuxSeen }"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1600,1000",
    "--virtual-time-budget=25000",
)


class CaptureError(RuntimeError):
    """A step did not do what the screenshots need; the message says which."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs", help="folder for the PNG files")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium", help="Chromium binary")
    args = parser.parse_args(argv)
    try:
        capture(args.out, args.chromium)
    except CaptureError as error:
        print(f"screenshots: {error}", file=sys.stderr)
        return 1
    return 0


def capture(out: Path, chromium: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dora-screenshots-") as tmp:
        home = Path(tmp)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DORA_", "DAGSTER_"))}
        env["DORA_HOME"] = str(home)
        dora(env, "demo")
        repo = silence_busiest_repo(home / "landing", days=QUIET_DAYS)
        print(f"screenshots: silenced {repo} for its last {QUIET_DAYS} days")
        refresh = dora(env, "refresh", check=False)
        if refresh.returncode == 0:
            raise CaptureError("refresh passed although a repo went silent: no failed check to photograph")
        env["DAGSTER_HOME"] = str(home / "dagster")
        with webserver(env) as base_url:
            graphql(base_url, NUX_SEEN)
            statuses = check_statuses(base_url)
            if statuses.get("repo_silence") != "FAILED":
                raise CaptureError(f"the UI does not show repo_silence as failed: {statuses}")
            for name, path in SHOTS:
                screenshot(chromium, base_url + path, out / name, home / "chromium")
                print(f"screenshots: wrote {out / name}")


def graphql(base_url: str, query: str) -> dict:
    response = httpx.post(f"{base_url}/graphql", json={"query": query}, timeout=30)
    response.raise_for_status()
    return response.json()["data"]


def check_statuses(base_url: str) -> dict[str, str | None]:
    """Latest execution status of each check on bronze/raw_events, as the UI reads it."""
    checks = graphql(base_url, CHECK_STATUSES)["assetNodeOrError"]["assetChecksOrError"]["checks"]
    return {check["name"]: (check["executionForLatestMaterialization"] or {}).get("status") for check in checks}


def dora(env: dict[str, str], *command: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "dora_assets.cli", *command], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        raise CaptureError(f"dora-assets {' '.join(command)} failed: {result.stderr.strip()[-400:]}")
    return result


def silence_busiest_repo(landing: Path, *, days: int) -> str:
    """Drop the deliveries of the repo with the most deliveries for its last ``days`` days,
    as if its webhook had stopped (NDJSON batches and single-delivery files alike).
    Returns the repo's name."""
    files = {path: envelopes_in(path) for path in sorted(landing.rglob("*.*json"))}
    counts = Counter(repo_of(envelope) for envelopes in files.values() for envelope in envelopes)
    counts.pop(None, None)
    if not counts:
        raise CaptureError(f"the demo wrote no repo deliveries into {landing}")
    repo = counts.most_common(1)[0][0]
    since = datetime.now(UTC) - timedelta(days=days)
    for path, envelopes in files.items():
        kept = [e for e in envelopes if repo_of(e) != repo or datetime.fromisoformat(e["received_at"]) < since]
        if len(kept) == len(envelopes):
            continue
        if path.suffix == ".json" and not kept:
            path.unlink()
        else:
            path.write_text("".join(json.dumps(envelope) + "\n" for envelope in kept))
    return repo


def envelopes_in(path: Path) -> list[dict]:
    text = path.read_text()
    return [json.loads(text)] if path.suffix == ".json" else [json.loads(line) for line in text.splitlines()]


def repo_of(envelope: dict) -> str | None:
    return (envelope.get("payload", {}).get("repository") or {}).get("full_name")


class webserver:
    """`dagster-webserver -w workspace.yaml` on a free loopback port, up until the block ends."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()

    def __enter__(self) -> str:
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster_webserver",
                "-w",
                "workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.post(f"{base_url}/graphql", json={"query": "{ version }"}, timeout=5).status_code == 200:
                    return base_url
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.__exit__()
        self.log.seek(0)
        raise CaptureError(f"dagster-webserver did not come up: {self.log.read().decode()[-800:]}")

    def __exit__(self, *exc_info) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def screenshot(chromium: str, url: str, target: Path, profile: Path) -> None:
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={target}", url]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    except FileNotFoundError:
        raise CaptureError(f"{chromium} not found: install Debian's chromium (apt-get install chromium)") from None
    if result.returncode != 0 or not target.is_file():
        raise CaptureError(f"chromium could not photograph {url}: {result.stderr.strip()[-400:]}")


if __name__ == "__main__":
    sys.exit(main())
