"""Lead time that real workflows get right (issue 20), on small histories computed by hand:
lineage by ancestry (dora_assets/lineage.py, then silver.deployment_changes through real Dagster
runs), pull requests' first commits, merge commits counted once, and bots counted apart.
The histories built from real ones, the API path and the git oracle: test_lineage_real.py."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from dora_assets.lineage import commit_parents, first_shipments
from dora_assets.resources import connect_warehouse
from dora_assets.settings import DoraPaths
from dora_assets.sql import schema_ddl
from dora_assets_tests.builders import deployment_status, envelope, push, write_landing_file
from dora_assets_tests.helpers import gold_monthly, materialize_everything, query
from dora_assets_tests.real_lineage import ZERO, Pull, pull_request_closed
from dora_assets_tests.test_metrics_known_answers import sha

REPO = "acme/shop"


def test_a_deployment_ships_the_ancestors_no_earlier_deployment_reached() -> None:
    # main: a <- b <- c; a topic branch a <- x <- y; m merges c and y.
    parents = commit_parents(
        [(REPO, "b", "a"), (REPO, "c", "b"), (REPO, "x", "a"), (REPO, "y", "x"), (REPO, "m", "c"), (REPO, "m", "y")]
    )
    deployments = [(REPO, "D1", "b"), (REPO, "D2", "m"), (REPO, "D3", "c"), (REPO, "D4", "unknown")]
    shipped: dict[str, set[str]] = {}
    for _, deploy_id, commit in first_shipments(deployments, parents):
        shipped.setdefault(deploy_id, set()).add(commit)
    # D1 reaches b and a; D2 the merge, main's c and the whole topic branch; D3 redeploys c,
    # already live: nothing; D4's commit is unknown to the graph: only itself.
    assert shipped == {"D1": {"a", "b"}, "D2": {"m", "c", "x", "y"}, "D4": {"unknown"}}


def test_the_walk_is_per_repo() -> None:
    parents = commit_parents([("acme/a", "b", "a"), ("acme/b", "b", "a")])
    shipped = list(first_shipments([("acme/a", "A1", "b"), ("acme/b", "B1", "b")], parents))
    assert sorted(shipped) == [
        ("acme/a", "A1", "a"),
        ("acme/a", "A1", "b"),
        ("acme/b", "B1", "a"),
        ("acme/b", "B1", "b"),
    ]


C1, C2, C3, F1, F2, M, S, B, BOT1, BOT2 = (
    sha(f"lineage-{label}") for label in ("c1", "c2", "c3", "f1", "f2", "m", "s", "b", "bot1", "bot2")
)


def land(paths: Path | DoraPaths, events: list[dict]) -> None:
    write_landing_file(paths.landing_dir / "github" / "history.ndjson", events)


def pushed(
    delivery_id: str, branch: str, before: str, commits: list[tuple[str, str]], at: str, repo: str = REPO
) -> dict:
    """The push of ``commits`` [(sha, timestamp)] to ``branch`` of ``repo`` at ``at``, received then."""
    return envelope("push", push(repo, branch, before, commits, at), delivery_id, at)


def deployed(delivery_id: str, deploy_id: int, commit: str, at: str, repo: str = REPO) -> dict:
    """The success of production deployment ``deploy_id`` of ``commit`` at ``at``, received then."""
    return envelope("deployment_status", deployment_status(repo, deploy_id, commit, at), delivery_id, at)


def lead_times(paths: DoraPaths) -> dict[str, tuple]:
    rows = query(
        paths,
        "SELECT change_id, deploy_id, lead_time_hours, start_source, pull_request_id, excluded_reason, is_bot "
        "FROM silver.deployment_changes",
    )
    return {row[0]: row[1:] for row in rows}


@pytest.mark.slow
def test_deploying_the_middle_commit_of_a_push_ships_the_commits_before_it(data_home: DoraPaths) -> None:
    # One push of c1, c2, c3 (Four Keys would credit nothing to D1: no push ends at c2).
    land(
        data_home,
        [
            pushed(
                "p1",
                "main",
                ZERO,
                [(C1, "2024-05-06T09:00:00Z"), (C2, "2024-05-06T10:00:00Z"), (C3, "2024-05-06T11:00:00Z")],
                "2024-05-06T12:00:00Z",
            ),
            deployed("d1", 1, C2, "2024-05-06T14:00:00Z"),
            deployed("d2", 2, C3, "2024-05-07T11:00:00Z"),
        ],
    )
    materialize_everything()
    # D1 at 14:00 ships c1 (5 h) and c2 (4 h); D2 the next day at 11:00 ships c3 (24 h).
    assert lead_times(data_home) == {
        C1: ("1", 5.0, "commit", None, None, False),
        C2: ("1", 4.0, "commit", None, None, False),
        C3: ("2", 24.0, "commit", None, None, False),
    }
    may = gold_monthly(data_home, ("deployments", "changes_deployed", "lead_time_median_hours"))[
        (date(2024, 5, 1), REPO)
    ]
    assert may == {"deployments": 2, "changes_deployed": 3, "lead_time_median_hours": 5.0}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def merged_pull(number: int, merge_sha: str, opened: str, merged: str, *, branch: str, author: str = "octocat") -> dict:
    pull = Pull(number, branch, _at(opened), _at(merged), merge_sha, (), author)
    return envelope("pull_request", pull_request_closed(REPO, pull), f"pull-{number}", merged)


@pytest.mark.slow
def test_pull_requests_start_lead_time_at_their_first_commit_and_count_once(data_home: DoraPaths) -> None:
    land(
        data_home,
        [
            # PR 1, merged with a merge commit m: its branch f1 (Mon 08:00), f2 (Mon 20:00) was
            # pushed as it was written; main's push lists f1, f2 and m.
            pushed(
                "p-f",
                "feature-1",
                C1,
                [(F1, "2024-05-13T08:00:00Z"), (F2, "2024-05-13T20:00:00Z")],
                "2024-05-13T20:05:00Z",
            ),
            pushed("p-c1", "main", ZERO, [(C1, "2024-05-12T10:00:00Z")], "2024-05-12T10:00:00Z"),
            merged_pull(1, M, "2024-05-13T21:00:00Z", "2024-05-14T09:00:00Z", branch="feature-1"),
            pushed(
                "p-m",
                "main",
                C1,
                [(F1, "2024-05-13T08:00:00Z"), (F2, "2024-05-13T20:00:00Z"), (M, "2024-05-14T09:00:00Z")],
                "2024-05-14T09:00:00Z",
            ),
            # PR 2, squash-merged as s; no push of its branch was received: it starts when opened.
            merged_pull(2, S, "2024-05-14T06:00:00Z", "2024-05-14T12:00:00Z", branch="feature-2"),
            pushed("p-s", "main", M, [(S, "2024-05-14T12:00:00Z")], "2024-05-14T12:00:00Z"),
            # Dependabot's PR 3, squash-merged as bot1, and a direct commit b.
            merged_pull(
                3,
                BOT1,
                "2024-05-14T00:00:00Z",
                "2024-05-14T13:00:00Z",
                branch="dependabot/pip/x",
                author="dependabot[bot]",
            ),
            pushed(
                "p-b", "main", S, [(BOT1, "2024-05-14T13:00:00Z"), (B, "2024-05-14T14:00:00Z")], "2024-05-14T14:00:00Z"
            ),
            # D1 on Tue 16:00 ships c1, f1, f2, m, s, bot1 and b.
            deployed("d1", 1, B, "2024-05-14T16:00:00Z"),
        ],
    )
    materialize_everything()
    assert lead_times(data_home) == {
        C1: ("1", 54.0, "commit", None, None, False),  # Sun 10:00 -> Tue 16:00
        # PR 1 is one change: the merge commit, from f1 (Mon 08:00): 32 h; f1 and f2 ship with it.
        M: ("1", 32.0, "pull_request_branch_pushes", "1", None, False),
        F1: ("1", 32.0, "commit", "1", "part of a pull request shipped with its merge commit", False),
        F2: ("1", 20.0, "commit", "1", "part of a pull request shipped with its merge commit", False),
        S: ("1", 10.0, "pull_request_opened", "2", None, False),  # opened Tue 06:00
        BOT1: ("1", 16.0, "pull_request_opened", "3", "bot", True),  # opened Tue 00:00; a bot
        B: ("1", 2.0, "commit", None, None, False),
    }
    may = gold_monthly(
        data_home,
        (
            "changes_deployed",
            "lead_time_median_hours",
            "changes_with_pull_request",
            "lead_time_starts_branch_pushes",
            "lead_time_starts_api",
            "lead_time_starts_pr_opened",
            "bot_changes",
            "changes_before_tracking",
        ),
    )[(date(2024, 5, 1), REPO)]
    # Counted: c1 54, m 32, s 10, b 2: median 21 h (the old rule: eight commits, bots included).
    assert may == {
        "changes_deployed": 4,
        "lead_time_median_hours": 21.0,
        "changes_with_pull_request": 2,
        "lead_time_starts_branch_pushes": 1,
        "lead_time_starts_api": 0,
        "lead_time_starts_pr_opened": 1,
        "bot_changes": 1,
        "changes_before_tracking": 0,
    }


@pytest.mark.slow
def test_bots_count_in_lead_time_when_the_config_says_so(
    data_home: DoraPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(
        data_home,
        [
            merged_pull(
                7, BOT1, "2024-05-20T00:00:00Z", "2024-05-20T08:00:00Z", branch="renovate/x", author="renovate-bot"
            ),
            merged_pull(8, BOT2, "2024-05-20T01:00:00Z", "2024-05-20T09:00:00Z", branch="y", author="release-robot"),
            pushed(
                "p",
                "main",
                ZERO,
                [(BOT1, "2024-05-20T08:00:00Z"), (BOT2, "2024-05-20T09:00:00Z"), (C1, "2024-05-20T10:00:00Z")],
                "2024-05-20T10:00:00Z",
            ),
            deployed("d1", 1, C1, "2024-05-20T12:00:00Z"),
        ],
    )
    figures = ("changes_deployed", "lead_time_median_hours", "bot_changes")
    materialize_everything()
    # renovate-bot matches the default renovate*: left out; release-robot is no bot by default.
    assert gold_monthly(data_home, figures)[(date(2024, 5, 1), REPO)] == {
        "changes_deployed": 2,
        "lead_time_median_hours": 6.5,  # BOT2 from its opening 11 h, c1 2 h
        "bot_changes": 1,
    }
    config = tmp_path / "dora.yaml"
    config.write_text("lead_time: {bot_authors: ['*-bot', '*robot'], include_bots: true}\n", encoding="utf-8")
    monkeypatch.setenv("DORA_CONFIG", str(config))
    materialize_everything(replay=True)
    # Both are bots now, and counted: 12 h, 11 h, 2 h.
    assert gold_monthly(data_home, figures)[(date(2024, 5, 1), REPO)] == {
        "changes_deployed": 3,
        "lead_time_median_hours": 11.0,
        "bot_changes": 2,
    }


@pytest.mark.slow
def test_a_lost_push_webhook_costs_no_change_its_lead_time(data_home: DoraPaths) -> None:
    # c1 is pushed; the push of c2 is lost; c3's push names c2 as before (unknown): it follows the
    # branch's previous push, so D1 (c3) ships c1 and c3 rather than orphaning c1 forever.
    land(
        data_home,
        [
            pushed("p1", "main", ZERO, [(C1, "2024-05-27T09:00:00Z")], "2024-05-27T09:00:00Z"),
            pushed("p3", "main", C2, [(C3, "2024-05-27T11:00:00Z")], "2024-05-27T11:00:00Z"),
            deployed("d1", 1, C3, "2024-05-27T12:00:00Z"),
        ],
    )
    materialize_everything()
    assert lead_times(data_home) == {
        C1: ("1", 3.0, "commit", None, None, False),
        C3: ("1", 1.0, "commit", None, None, False),
    }


def test_an_older_warehouse_gets_its_commit_graph_from_the_pushes_it_holds(tmp_path: Path) -> None:
    """A warehouse from before lineage by ancestry has silver.pushed_commits without parents: the
    migration rebuilds them from silver.pushes (each push's before sha and commit order)."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as old:
        for statement in schema_ddl():
            old.execute(statement)
        for statement in (
            "ALTER TABLE silver.pushed_commits DROP COLUMN author",
            "ALTER TABLE silver.pushed_commits DROP COLUMN tracked_since",
            "ALTER TABLE silver.pushed_commits DROP COLUMN parent_ids",
        ):
            old.execute(statement)
        old.execute(
            "INSERT INTO silver.pushes VALUES ('github', $repo, 'refs/heads/main', 'main', $before, $c2, "
            "TIMESTAMPTZ '2024-05-06 12:00:00+00', 2, [{'change_id': $c1, 'time_created': "
            "TIMESTAMPTZ '2024-05-06 09:00:00+00'}, {'change_id': $c2, 'time_created': "
            "TIMESTAMPTZ '2024-05-06 10:00:00+00'}], 'p1')",
            {"repo": REPO, "before": C3, "c1": C1, "c2": C2},
        )
        old.execute(
            "INSERT INTO silver.pushed_commits SELECT delivery_id, source, repo, branch, pushed_at, c.change_id, "
            "c.time_created FROM silver.pushes, unnest(commits) AS carried(c)"
        )
    connect_warehouse(str(path)).close()
    with duckdb.connect(str(path), read_only=True) as migrated:
        rows = migrated.execute("SELECT change_id, parent_ids FROM silver.pushed_commits").fetchall()
    assert sorted(rows) == sorted([(C1, [C3]), (C2, [C1])])
