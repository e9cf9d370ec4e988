-- silver.pull_request_reviews: one row per review or comment on a merge or pull request, from the
-- candidate rows of every source (defs/silver/sql/pull_request_reviews/<mapping>.sql, the files
-- dora_assets/sources.py names for pull_request_reviews). It starts the pickup stage of lead time
-- (README: "Where the time goes"). Repos pass through $repo_aliases. A review that names no request
-- or no time is rejected to silver.rejected_events.
-- Rejects (reject_reason) are written by replace_rejects.sql in the same transaction.
-- Window: rows whose time_reviewed (rejects: received_at) is in [$window_start, $window_end).
CREATE OR REPLACE TEMP TABLE mapping_candidates AS
SELECT
    * REPLACE (coalesce(silver.lookup($repo_aliases_keys, $repo_aliases_values, repo), repo) AS repo),
    CASE
        WHEN pull_request_id IS NULL THEN 'review names no request number'
        WHEN time_reviewed IS NULL THEN 'review has no time'
    END AS reject_reason
FROM source_candidates;

DROP TABLE source_candidates;

DELETE FROM silver.pull_request_reviews WHERE time_reviewed >= $window_start AND time_reviewed < $window_end;

INSERT INTO silver.pull_request_reviews BY NAME
SELECT source, repo, pull_request_id, reviewer, kind, state, time_reviewed, coalesce(by_author, FALSE) AS by_author,
       delivery_id
FROM mapping_candidates
WHERE reject_reason IS NULL
  AND time_reviewed >= $window_start AND time_reviewed < $window_end;
