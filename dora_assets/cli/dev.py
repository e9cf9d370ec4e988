"""`dora-assets dev`'s supervision of `dagster dev`: the child runs in its own process group, and a
SIGTERM, SIGINT or SIGHUP to this process stops it with every process it started (the webserver,
the daemon, the code servers, run workers) within DEV_STOP_GRACE_SECONDS."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# How `dora-assets dev` stops dagster dev and its children: the signal it got (SIGTERM, SIGINT or
# SIGHUP) is forwarded at once; SIGTERM follows after DEV_TERM_AFTER_SECONDS; what is left after
# DEV_STOP_GRACE_SECONDS is killed (a run cut short there is failed by the stuck-run sweep). A
# dagster dev whose children have all exited gets DEV_ALONE_SECONDS (it lingers in its clean-up).
DEV_TERM_AFTER_SECONDS = 3.0
DEV_STOP_GRACE_SECONDS = 8.0
DEV_ALONE_SECONDS = 2.0


def supervise_dagster_dev(argv: list[str], env: dict[str, str]) -> int:
    """Run ``argv`` (a `dagster dev` command line) as a child in its own process group until it
    exits; SIGTERM, SIGINT or SIGHUP to this process is forwarded to that group and to every
    descendant, and whatever has not exited after DEV_STOP_GRACE_SECONDS is killed. Returns the exit
    status: 0 when stopped by a signal, else the child's (128 + N when signal N killed it)."""
    child = subprocess.Popen(argv, env=env, start_new_session=True)
    stop_requested: list[float] = []
    started: set[int] = set()  # dagster dev's descendants seen since the stop was asked for
    alone_since: float | None = None  # since when dagster dev has had no descendant left

    def forward(signum: int, _frame: object) -> None:
        if not stop_requested:
            stop_requested.append(time.monotonic())
        started.update(_descendants(child.pid))
        _signal_tree(child.pid, signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop_requested:
                    remaining = _descendants(child.pid)
                    started.update(remaining)
                    # Once everything it started has exited, dagster dev has nothing left to wait for
                    # (it lingers for seconds in its own clean-up): it gets DEV_ALONE_SECONDS more.
                    if remaining:
                        alone_since = None
                    elif alone_since is None:
                        alone_since = time.monotonic()
                    now = time.monotonic()
                    alone_too_long = alone_since is not None and now - alone_since > DEV_ALONE_SECONDS
                    if now - stop_requested[0] > DEV_STOP_GRACE_SECONDS or alone_too_long:
                        _signal_tree(child.pid, signal.SIGKILL)
                    elif now - stop_requested[0] > DEV_TERM_AFTER_SECONDS and len(stop_requested) == 1:
                        stop_requested.append(now)  # SIGTERM sent once
                        _signal_tree(child.pid, signal.SIGTERM)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        # dagster dev has exited: nothing it started may outlive it (its group and any descendant
        # that left the group), given the same grace.
        deadline = stop_requested[0] + DEV_STOP_GRACE_SECONDS if stop_requested else time.monotonic()
        while _signal_tree(child.pid, 0, group_only=True) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_tree(child.pid, signal.SIGKILL, group_only=True)
        for pid in started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    if stop_requested:
        print("dev: stopped", file=sys.stderr)
        return 0
    return code if code >= 0 else 128 - code


def _signal_tree(pid: int, signum: int, *, group_only: bool = False) -> bool:
    """Send ``signum`` to the process group led by ``pid`` and (unless ``group_only``) to every
    descendant of ``pid`` outside it; True when any process was there to receive it."""
    alive = False
    try:
        os.killpg(pid, signum)
        alive = True
    except (ProcessLookupError, PermissionError):
        pass
    if group_only:
        return alive
    for descendant in _descendants(pid):
        try:
            os.kill(descendant, signum)
            alive = True
        except (ProcessLookupError, PermissionError):
            pass
    return alive


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc; empty elsewhere). Exited ones waiting to be
    reaped (zombies) are left out, and so are their own descendants, which now belong to init."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found
