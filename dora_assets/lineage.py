"""Lineage by ancestry: which commits each deployment shipped to production first.

A deployment ships every commit its own commit has as an ancestor that no earlier deployment of
the same repo had (CONTRACT 4, README "Lead time"). The commit graph comes from silver
(defs/silver/sql/commit_graph.sql): the API's parents, the order of the commits
within a push and its before -> after chain. Walking it is a graph search, not set work: one pass
over the deployments in shipping order, each walking back until it meets a commit already
shipped, visits every commit at most once (linear in the size of the graph), where a recursive
SQL query would take one iteration per generation of history. A refresh of a window walks its
repos' deployments from the first one on, so that its rows never depend on what the refresh of an
earlier window wrote (any window can be rebuilt alone, in any order).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator


def commit_parents(edges: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], list[str]]:
    """The graph as ``(repo, commit) -> parents`` from ``(repo, commit, parent)`` rows."""
    parents: dict[tuple[str, str], list[str]] = defaultdict(list)
    for repo, commit, parent in edges:
        parents[repo, commit].append(parent)
    return parents


def first_shipments(
    deployments: Iterable[tuple[str, str, str]], parents: dict[tuple[str, str], list[str]]
) -> Iterator[tuple[str, str, str]]:
    """``(repo, deploy_id, commit)`` for every commit a deployment reaches first.

    ``deployments`` are ``(repo, deploy_id, commit_sha)`` in shipping order (per repo, the
    earliest first). A deployment reaches its own commit and, through ``parents``, every
    ancestor; a commit reached by an earlier deployment of the repo stops the walk there (its
    ancestors were reached with it). Commits the graph does not know are yielded too (the
    caller keeps those that are changes)."""
    reached: set[tuple[str, str]] = set()
    for repo, deploy_id, head in deployments:
        pending = [head]
        while pending:
            commit = pending.pop()
            if (repo, commit) in reached:
                continue
            reached.add((repo, commit))
            yield repo, deploy_id, commit
            pending.extend(parents.get((repo, commit), ()))
