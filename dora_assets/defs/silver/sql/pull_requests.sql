-- silver.pull_requests: one row per merged pull request (GitHub) or merge request (GitLab), at
-- its latest known state (latest updated_at), from the candidate rows of every source
-- (defs/silver/sql/pull_requests/<mapping>.sql, the files dora_assets/sources.py names for
-- pull_requests). Its merge or squash commit starts its lead time at the request's first commit, and its
-- times are the stages of gold.lead_time_stages (README: "Lead time", "Where the time goes").
-- Repos pass through $repo_aliases. A merged request without a number or a merge time is
-- rejected to silver.rejected_events.
-- Rejects (reject_reason) are written by replace_rejects.sql in the same transaction.
-- Window: rows whose time_merged (rejects: received_at) is in [$window_start, $window_end).
-- The source files read bronze.raw_events only in the received_at range window_deliveries.sql found.
CREATE OR REPLACE TEMP TABLE mapping_candidates AS
SELECT
    * REPLACE (coalesce(silver.lookup($repo_aliases_keys, $repo_aliases_values, repo), repo) AS repo),
    CASE
        WHEN pull_request_id IS NULL THEN 'merged request names no number'
        WHEN time_merged IS NULL THEN 'merged request has no merge time'
    END AS reject_reason
FROM source_candidates;

DROP TABLE source_candidates;

DELETE FROM silver.pull_requests WHERE time_merged >= $window_start AND time_merged < $window_end;

INSERT INTO silver.pull_requests BY NAME
SELECT
    source, repo, pull_request_id, title, target_branch, time_opened, time_merged, merge_commit_sha, url, delivery_id,
    squash_commit_sha, source_branch, commit_ids, first_commit_at, author
FROM mapping_candidates
WHERE reject_reason IS NULL
QUALIFY row_number() OVER (
    PARTITION BY source, repo, pull_request_id ORDER BY updated_at DESC NULLS LAST, received_at DESC, delivery_id DESC
) = 1
  AND time_merged >= $window_start AND time_merged < $window_end;
