-- silver.pushes: one row per push delivery, from the candidate rows of every source
-- (defs/silver/sql/pushes/<mapping>.sql, the files dora_assets/sources.py names for pushes).
-- Repos pass through $repo_aliases. Branch and tag deletions (after = 000...0) stay, with no commits.
-- A push without an after sha is rejected to silver.rejected_events with the reason.
-- Rejects (reject_reason) are written by replace_rejects.sql in the same transaction.
-- Window: rows whose pushed_at (rejects: received_at) is in [$window_start, $window_end).
-- The source files read bronze.raw_events only in the received_at range window_deliveries.sql found.
CREATE OR REPLACE TEMP TABLE mapping_candidates AS
SELECT
    *,
    CASE WHEN after_sha IS NULL THEN 'push names no after sha (after, head_commit.id or checkout_sha)' END
        AS reject_reason
FROM source_candidates;

DROP TABLE source_candidates;

DELETE FROM silver.pushes WHERE pushed_at >= $window_start AND pushed_at < $window_end;

INSERT INTO silver.pushes BY NAME
SELECT
    source,
    coalesce(silver.lookup($repo_aliases_keys, $repo_aliases_values, repo), repo) AS repo,
    ref,
    CASE WHEN starts_with(ref, 'refs/heads/') THEN substr(ref, 12) END AS branch,
    before_sha,
    after_sha,
    pushed_at,
    len(commit_documents) AS commit_count,
    list_transform(
        commit_documents,
        LAMBDA commit: {
            'change_id': lower(commit.id),
            'time_created': silver.event_time(commit."timestamp")
        }
    ) AS commits,
    delivery_id
FROM mapping_candidates
WHERE reject_reason IS NULL
  AND pushed_at >= $window_start AND pushed_at < $window_end;

-- The window's pushes' commits, flattened (silver.pushed_commits), replaced with them.
DELETE FROM silver.pushed_commits WHERE pushed_at >= $window_start AND pushed_at < $window_end;

INSERT INTO silver.pushed_commits
SELECT pushes.delivery_id, pushes.source, pushes.repo, pushes.branch, pushes.pushed_at, commit.change_id, commit.time_created
FROM silver.pushes AS pushes, unnest(pushes.commits) AS carried(commit)
WHERE pushes.pushed_at >= $window_start AND pushes.pushed_at < $window_end;
