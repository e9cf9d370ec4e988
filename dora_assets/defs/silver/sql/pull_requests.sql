-- silver.pull_requests: one row per merged pull request (GitHub `pull_request` closed with
-- merged = true) or merged merge request (GitLab `merge_request` in state merged), at its
-- latest known state. time_merged is merged_at (GitLab: merged_at, else the updated_at of the
-- merge event); time_opened is created_at. It feeds the merge-to-deploy breakdown of lead time.
-- Repos pass through $repo_aliases. A merged request without a merge time is rejected to
-- silver.rejected_events.
-- Rejects (reject_reason) are written by replace_rejects.sql in the same transaction.
-- Window: rows whose time_merged (rejects: received_at) is in [$window_start, $window_end).
-- Reads bronze.raw_events only in the received_at range window_deliveries.sql found.
CREATE OR REPLACE TEMP TABLE mapping_candidates AS
WITH github_merges AS (
    -- Each payload is parsed once (json_transform; a field's text as ->> gives it).
    SELECT
        source, event_type, delivery_id, received_at,
        silver.github_repo(p) AS repo,
        p.pull_request."number" AS pull_request_id,
        p.pull_request.title AS title,
        p.pull_request.base.ref AS target_branch,
        silver.event_time(p.pull_request.created_at) AS time_opened,
        silver.event_time(p.pull_request.merged_at) AS time_merged,
        lower(p.pull_request.merge_commit_sha) AS merge_commit_sha,
        p.pull_request.html_url AS url,
        silver.event_time(p.pull_request.updated_at) AS updated_at
    FROM (
        SELECT
            *,
            json_transform(payload, '{
                "action": "VARCHAR",
                "pull_request": {
                    "number": "VARCHAR", "title": "VARCHAR", "base": {"ref": "VARCHAR"}, "created_at": "VARCHAR",
                    "merged_at": "VARCHAR", "updated_at": "VARCHAR", "merged": "VARCHAR",
                    "merge_commit_sha": "VARCHAR", "html_url": "VARCHAR"
                },
                "repository": {"full_name": "VARCHAR", "name": "VARCHAR"}
            }') AS p
        FROM (
            SELECT * FROM silver.window_events('github', 'pull_request')
            UNION ALL SELECT * FROM silver.window_events('github', 'api:pull_request')
        )
    )
    WHERE p.action = 'closed'
      AND coalesce(try_cast(p.pull_request.merged AS BOOLEAN), FALSE)
),
gitlab_merges AS (
    SELECT
        source, event_type, delivery_id, received_at,
        coalesce(p.project.path_with_namespace, 'unknown') AS repo,
        p.object_attributes.iid AS pull_request_id,
        p.object_attributes.title AS title,
        p.object_attributes.target_branch AS target_branch,
        silver.event_time(p.object_attributes.created_at) AS time_opened,
        coalesce(
            silver.event_time(p.object_attributes.merged_at),
            CASE WHEN p.object_attributes.action = 'merge'
                 THEN silver.event_time(p.object_attributes.updated_at) END
        ) AS time_merged,
        lower(p.object_attributes.merge_commit_sha) AS merge_commit_sha,
        p.object_attributes.url AS url,
        silver.event_time(p.object_attributes.updated_at) AS updated_at
    FROM (
        SELECT
            *,
            json_transform(payload, '{
                "object_kind": "VARCHAR",
                "object_attributes": {
                    "iid": "VARCHAR", "title": "VARCHAR", "target_branch": "VARCHAR", "created_at": "VARCHAR",
                    "merged_at": "VARCHAR", "updated_at": "VARCHAR", "action": "VARCHAR", "state": "VARCHAR",
                    "merge_commit_sha": "VARCHAR", "url": "VARCHAR"
                },
                "project": {"path_with_namespace": "VARCHAR"}
            }') AS p
        FROM silver.window_source_events('gitlab')
    )
    WHERE p.object_kind = 'merge_request'
      AND (p.object_attributes.state = 'merged' OR p.object_attributes.action = 'merge')
)
SELECT
    * REPLACE (coalesce(silver.lookup($repo_aliases_keys, $repo_aliases_values, repo), repo) AS repo),
    CASE
        WHEN pull_request_id IS NULL THEN 'merged request names no number'
        WHEN time_merged IS NULL THEN 'merged request has no merge time'
    END AS reject_reason
FROM (SELECT * FROM github_merges UNION ALL BY NAME SELECT * FROM gitlab_merges);

DELETE FROM silver.pull_requests WHERE time_merged >= $window_start AND time_merged < $window_end;

INSERT INTO silver.pull_requests BY NAME
SELECT source, repo, pull_request_id, title, target_branch, time_opened, time_merged, merge_commit_sha, url, delivery_id
FROM mapping_candidates
WHERE reject_reason IS NULL
QUALIFY row_number() OVER (
    PARTITION BY source, repo, pull_request_id ORDER BY updated_at DESC NULLS LAST, received_at DESC, delivery_id DESC
) = 1
  AND time_merged >= $window_start AND time_merged < $window_end;
