-- silver.pushes: one row per GitHub push delivery (bronze event_type 'push').
-- pushed_at is the push's own time (repository.pushed_at, epoch seconds in push payloads),
-- falling back to the head commit's time and then to the delivery's received_at.
-- Minimal senders (Four Keys' event handler and data generator) post pushes without
-- repository, ref or after: repo becomes 'unknown', branch stays NULL (matched only by
-- deployments that name no ref either) and after falls back to head_commit.id.
-- Window: rows whose pushed_at is in [$window_start, $window_end).
DELETE FROM silver.pushes WHERE pushed_at >= $window_start AND pushed_at < $window_end;

INSERT INTO silver.pushes
WITH push_events AS (
    SELECT
        source,
        silver.github_repo(payload) AS repo,
        payload ->> '$.ref' AS ref,
        payload ->> '$.before' AS before_sha,
        lower(coalesce(payload ->> '$.after', payload ->> '$.head_commit.id')) AS after_sha,
        coalesce(
            to_timestamp(try_cast(payload ->> '$.repository.pushed_at' AS BIGINT)),
            try_cast(payload ->> '$.head_commit.timestamp' AS TIMESTAMPTZ),
            received_at
        ) AS pushed_at,
        coalesce(json_extract(payload, '$.commits[*]'), []) AS commit_documents,
        delivery_id
    FROM bronze.raw_events
    WHERE source = 'github' AND event_type = 'push'
)
SELECT
    source,
    repo,
    ref,
    CASE WHEN starts_with(ref, 'refs/heads/') THEN substr(ref, 12) END AS branch,
    before_sha,
    after_sha,
    pushed_at,
    len(commit_documents) AS commit_count,
    list_transform(
        commit_documents,
        lambda commit: {
            'change_id': lower(commit ->> '$.id'),
            'time_created': try_cast(commit ->> '$.timestamp' AS TIMESTAMPTZ)
        }
    ) AS commits,
    delivery_id
FROM push_events
WHERE after_sha IS NOT NULL
  AND pushed_at >= $window_start AND pushed_at < $window_end;
