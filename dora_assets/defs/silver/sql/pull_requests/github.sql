-- silver.pull_requests from GitHub `pull_request` (and the API extractor's `api:pull_request`):
-- closed with merged = true; time_merged is merged_at, time_opened created_at. The extractor's
-- envelopes also list the request's commits (`commits`, as GET .../pulls/{number}/commits
-- answers): their shas and earliest author time start the request's lead time. Columns:
-- pull_requests/candidates.sql.
INSERT INTO source_candidates BY NAME
SELECT
    source, event_type, delivery_id, received_at,
    silver.github_repo(p) AS repo,
    p.pull_request."number" AS pull_request_id,
    p.pull_request.title AS title,
    p.pull_request.base.ref AS target_branch,
    silver.event_time(p.pull_request.created_at) AS time_opened,
    silver.event_time(p.pull_request.merged_at) AS time_merged,
    lower(p.pull_request.merge_commit_sha) AS merge_commit_sha,
    p.pull_request.head.ref AS source_branch,
    p.pull_request."user".login AS author,
    list_transform(p.commits, LAMBDA listed: lower(listed.sha)) AS commit_ids,
    list_min(list_transform(p.commits, LAMBDA listed: silver.event_time(listed.commit.author.date))) AS first_commit_at,
    p.pull_request.html_url AS url,
    silver.event_time(p.pull_request.updated_at) AS updated_at
FROM (
    -- Each payload is parsed once (json_transform; a field's text as ->> gives it).
    SELECT
        *,
        json_transform(payload, '{
            "action": "VARCHAR",
            "pull_request": {
                "number": "VARCHAR", "title": "VARCHAR", "base": {"ref": "VARCHAR"}, "head": {"ref": "VARCHAR"},
                "user": {"login": "VARCHAR"},
                "created_at": "VARCHAR",
                "merged_at": "VARCHAR", "updated_at": "VARCHAR", "merged": "VARCHAR",
                "merge_commit_sha": "VARCHAR", "html_url": "VARCHAR"
            },
            "repository": {"full_name": "VARCHAR", "name": "VARCHAR"},
            "commits": [{"sha": "VARCHAR", "commit": {"author": {"date": "VARCHAR"}}}]
        }') AS p
    FROM (
        SELECT * FROM silver.window_events('github', 'pull_request')
        UNION ALL SELECT * FROM silver.window_events('github', 'api:pull_request')
    )
)
WHERE p.action = 'closed'
  AND coalesce(try_cast(p.pull_request.merged AS BOOLEAN), FALSE);
