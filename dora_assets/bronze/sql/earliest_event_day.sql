-- The earliest UTC day whose derived (silver) rows the deliveries in $table (a table or view
-- with source, event_type, received_at and payload) can change: the earliest of their
-- received_at and of every event time silver takes from them, for every source (push and
-- commit times, deployment and build times, incident and issue creation, merges). After an
-- ingest, silver partitions from that day to today are recomputed; over all of bronze, it is
-- where a replay starts. NULL when $table is empty. Times parse as silver.event_time does
-- (ISO-8601, or GitLab's "2021-04-28 21:50:00 +0200").
WITH deliveries AS (
    SELECT source, event_type, received_at, payload FROM query_table($table)
),
texts AS (
    SELECT unnest([
        payload ->> '$.head_commit.timestamp',
        payload ->> '$.deployment_status.created_at',
        payload ->> '$.deployment_status.updated_at',
        payload ->> '$.issue.created_at',
        payload ->> '$.pull_request.created_at',
        payload ->> '$.pull_request.merged_at',
        payload ->> '$.workflow_run.updated_at',
        payload ->> '$.release.published_at',
        payload ->> '$.status_changed_at',
        payload ->> '$.object_attributes.created_at',
        payload ->> '$.object_attributes.merged_at',
        payload ->> '$.event.occurred_at',
        payload ->> '$.event.data.created_at',
        payload ->> '$.issue.fields.created'
    ]) AS text
    FROM deliveries
    UNION ALL
    SELECT unnest(coalesce(json_extract_string(payload, '$.commits[*].timestamp'), []))
    FROM deliveries WHERE event_type IN ('push', 'api:push', 'tag_push', 'Push Hook', 'Tag Push Hook')
),
times AS (
    SELECT received_at AS event_time FROM deliveries
    UNION ALL
    SELECT to_timestamp(try_cast(payload ->> '$.repository.pushed_at' AS BIGINT)) FROM deliveries WHERE event_type IN ('push', 'api:push')
    UNION ALL
    SELECT to_timestamp(try_cast(payload ->> '$.build.timestamp' AS BIGINT) / 1000) FROM deliveries WHERE source = 'jenkins'
    UNION ALL
    SELECT to_timestamp(try_cast(payload ->> '$.timestamp' AS BIGINT) / 1000) FROM deliveries WHERE source = 'jira'
    UNION ALL
    SELECT coalesce(try_cast(text AS TIMESTAMPTZ), try_strptime(text, '%Y-%m-%d %H:%M:%S %z')::TIMESTAMPTZ)
    FROM texts WHERE text IS NOT NULL
)
SELECT min(event_time)::DATE AS earliest_day FROM times;
