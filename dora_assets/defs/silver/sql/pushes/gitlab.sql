-- silver.pushes from GitLab `push` and `tag_push` (bodies recognised by object_kind, whatever
-- the delivery's event type: `Push Hook` too): one candidate row per delivery (columns:
-- pushes/candidates.sql).
-- repo is project.path_with_namespace; a push carries no push time, so pushed_at is
-- received_at (the hook fires on push). GitLab lists at most 20 commits per push.
INSERT INTO source_candidates BY NAME
WITH documents AS (
    SELECT
        *,
        json_transform(payload, '{
            "object_kind": "VARCHAR", "ref": "VARCHAR", "before": "VARCHAR", "after": "VARCHAR",
            "checkout_sha": "VARCHAR", "project": {"path_with_namespace": "VARCHAR"},
            "commits": [{"id": "VARCHAR", "timestamp": "VARCHAR", "parents": ["VARCHAR"], "author": {"name": "VARCHAR"}}]
        }') AS p
    FROM silver.window_source_events('gitlab')
)
SELECT
    source,
    event_type,
    coalesce(p.project.path_with_namespace, 'unknown') AS repo,
    p.ref AS ref,
    p."before" AS before_sha,
    lower(coalesce(p."after", p.checkout_sha)) AS after_sha,
    received_at AS pushed_at,
    coalesce(
        list_transform(p.commits, LAMBDA listed: {'id': listed.id, 'timestamp': listed."timestamp", 'parents': listed.parents}),
        []
    ) AS commit_documents,
    delivery_id,
    received_at,
    coalesce(list_transform(p.commits, LAMBDA listed: listed.author.name), []) AS commit_authors
FROM documents
WHERE p.object_kind IN ('push', 'tag_push');
