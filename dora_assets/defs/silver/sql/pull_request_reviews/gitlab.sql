-- silver.pull_request_reviews from GitLab `note` on a merge request (bodies recognised by
-- object_kind, whatever the delivery's event type: `Note Hook` too). The note's author is
-- object_attributes.author_id; the request's, merge_request.author_id. Columns:
-- pull_request_reviews/candidates.sql.
INSERT INTO source_candidates BY NAME
WITH documents AS (
    SELECT
        *,
        json_transform(payload, '{
            "object_kind": "VARCHAR",
            "user": {"username": "VARCHAR"},
            "object_attributes": {"noteable_type": "VARCHAR", "created_at": "VARCHAR", "author_id": "VARCHAR"},
            "merge_request": {"iid": "VARCHAR", "author_id": "VARCHAR"},
            "project": {"path_with_namespace": "VARCHAR"}
        }') AS p
    FROM silver.window_source_events('gitlab')
)
SELECT
    source,
    event_type,
    delivery_id,
    received_at,
    coalesce(p.project.path_with_namespace, 'unknown') AS repo,
    p.merge_request.iid AS pull_request_id,
    p."user".username AS reviewer,
    'note' AS kind,
    silver.event_time(p.object_attributes.created_at) AS time_reviewed,
    p.object_attributes.author_id = p.merge_request.author_id AS by_author
FROM documents
WHERE p.object_kind = 'note' AND p.object_attributes.noteable_type = 'MergeRequest';
