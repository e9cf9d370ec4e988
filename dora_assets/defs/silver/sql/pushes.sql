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

-- The window's pushes' commits, flattened (silver.pushed_commits), replaced with them. Each commit's
-- parents make the commit graph deployment_changes walks (ancestry): those the body names (API
-- commits), else the commit listed before it in the push, else (the first listed) the push's
-- before sha, unless the push created the ref (before = 000...0) or names no before at all
-- (minimal senders: deployment_changes then chains the push to the branch's previous push).
DELETE FROM silver.pushed_commits WHERE pushed_at >= $window_start AND pushed_at < $window_end;

INSERT INTO silver.pushed_commits BY NAME
SELECT
    pushes.delivery_id,
    pushes.source,
    pushes.repo,
    pushes.branch,
    pushes.pushed_at,
    lower(listed.commit.id) AS change_id,
    silver.event_time(listed.commit."timestamp") AS time_created,
    CASE
        WHEN listed.commit.parents IS NOT NULL THEN list_transform(listed.commit.parents, LAMBDA sha: lower(sha))
        WHEN listed.position > 1 THEN [lower(listed.commit_documents[listed.position - 1].id)]
        WHEN NOT regexp_full_match(coalesce(pushes.before_sha, '0'), '0+') THEN [lower(pushes.before_sha)]
    END AS parent_ids,
    listed.tracked_since,
    listed.commit_authors[listed.position] AS author
FROM (
    SELECT
        source,
        delivery_id,
        tracked_since,
        commit_authors,
        commit_documents,
        unnest(commit_documents) AS commit,
        generate_subscripts(commit_documents, 1) AS position
    FROM mapping_candidates
    WHERE reject_reason IS NULL
) AS listed
JOIN silver.pushes AS pushes USING (source, delivery_id)
WHERE pushes.pushed_at >= $window_start AND pushes.pushed_at < $window_end;
