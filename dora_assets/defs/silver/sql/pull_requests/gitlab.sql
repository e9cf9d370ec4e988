-- silver.pull_requests from GitLab `merge_request` (bodies recognised by object_kind, whatever
-- the delivery's event type: `Merge Request Hook` too): in state merged (or action merge);
-- time_merged is merged_at, else the updated_at of the merge event; time_opened created_at.
-- Columns: pull_requests/candidates.sql.
INSERT INTO source_candidates BY NAME
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
    lower(p.object_attributes.squash_commit_sha) AS squash_commit_sha,
    p.object_attributes.source_branch AS source_branch,
    p."user".username AS author,
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
                "merge_commit_sha": "VARCHAR", "squash_commit_sha": "VARCHAR",
                "source_branch": "VARCHAR", "url": "VARCHAR"
            },
            "project": {"path_with_namespace": "VARCHAR"},
            "user": {"username": "VARCHAR"}
        }') AS p
    FROM silver.window_source_events('gitlab')
)
WHERE p.object_kind = 'merge_request'
  AND (p.object_attributes.state = 'merged' OR p.object_attributes.action = 'merge');
