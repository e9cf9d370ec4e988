-- silver.pushes from GitHub `push` (and the API extractor's `api:push`): one candidate row per
-- delivery (columns: pushes/candidates.sql).
-- pushed_at is repository.pushed_at (epoch seconds), else the head commit's time, else
-- received_at. Minimal senders (Four Keys' event handler and data generator) post pushes
-- without repository, ref or after: repo becomes 'unknown', branch stays NULL (matched only by
-- deployments that name no ref either) and after falls back to head_commit.id.
INSERT INTO source_candidates BY NAME
WITH documents AS (
    -- Each payload is parsed once (json_transform: a field's text as ->> gives it; commits that
    -- are not objects count, with no id or time, as with json_extract '$.commits[*]').
    SELECT
        *,
        json_transform(payload, '{
            "ref": "VARCHAR", "before": "VARCHAR", "after": "VARCHAR",
            "head_commit": {"id": "VARCHAR", "timestamp": "VARCHAR"},
            "repository": {"full_name": "VARCHAR", "name": "VARCHAR", "pushed_at": "VARCHAR"},
            "commits": [{
                "id": "VARCHAR", "timestamp": "VARCHAR", "parents": ["VARCHAR"],
                "author": {"username": "VARCHAR", "name": "VARCHAR"}
            }],
            "extraction": {"tracked_since": "VARCHAR"}
        }') AS p
    FROM (
        SELECT * FROM silver.window_events('github', 'push')
        UNION ALL SELECT * FROM silver.window_events('github', 'api:push')
    )
)
SELECT
    source,
    event_type,
    silver.github_repo(p) AS repo,
    p.ref AS ref,
    p."before" AS before_sha,
    lower(coalesce(p."after", p.head_commit.id)) AS after_sha,
    coalesce(
        to_timestamp(try_cast(p.repository.pushed_at AS BIGINT)),
        silver.event_time(p.head_commit."timestamp"),
        received_at
    ) AS pushed_at,
    coalesce(
        list_transform(p.commits, LAMBDA listed: {'id': listed.id, 'timestamp': listed."timestamp", 'parents': listed.parents}),
        []
    ) AS commit_documents,
    delivery_id,
    received_at,
    silver.event_time(p.extraction.tracked_since) AS tracked_since,
    coalesce(list_transform(p.commits, LAMBDA listed: coalesce(listed.author.username, listed.author.name)), [])
        AS commit_authors
FROM documents;
