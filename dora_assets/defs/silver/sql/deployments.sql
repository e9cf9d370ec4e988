-- silver.deployments: one row per deployment that succeeded in a production environment, at
-- its earliest success (CONTRACT 4), from the candidate rows of every source
-- (defs/silver/sql/deployments/<mapping>.sql, the files dora_assets/sources.py names for deployments;
-- each keeps only successes in production, as its source defines them).
-- Repos pass through $repo_aliases. A success that names no commit is rejected to
-- silver.rejected_events. Rejects (reject_reason) are written by replace_rejects.sql in the same
-- transaction.
-- Window: deployments whose time_deployed (rejects: received_at) is in [$window_start, $window_end).
-- The source files read bronze.raw_events only in the received_at range window_deliveries.sql
-- found (GitHub releases also read the pushes of any time for their tag and branch heads).
CREATE OR REPLACE TEMP TABLE mapping_candidates AS
SELECT
    * REPLACE (coalesce(silver.lookup($repo_aliases_keys, $repo_aliases_values, repo), repo) AS repo),
    CASE
        WHEN deploy_id IS NULL THEN 'deployment has no id'
        WHEN commit_sha IS NULL OR NOT regexp_full_match(commit_sha, '[0-9a-f]{7,40}')
            THEN 'successful deployment names no commit sha'
    END AS reject_reason
FROM source_candidates;

DROP TABLE source_candidates;

DELETE FROM silver.deployments WHERE time_deployed >= $window_start AND time_deployed < $window_end;

INSERT INTO silver.deployments BY NAME
SELECT
    arg_min(source, (time_deployed, delivery_id)) AS source,
    arg_min(repo, (time_deployed, delivery_id)) AS repo,
    deploy_id,
    arg_min(environment, (time_deployed, delivery_id)) AS environment,
    arg_min(commit_sha, (time_deployed, delivery_id)) AS commit_sha,
    arg_min(ref, (time_deployed, delivery_id)) AS ref,
    min(time_deployed) AS time_deployed,
    arg_min(delivery_id, (time_deployed, delivery_id)) AS delivery_id
FROM mapping_candidates
WHERE reject_reason IS NULL
GROUP BY deploy_id
HAVING min(time_deployed) >= $window_start AND min(time_deployed) < $window_end;
