-- The earliest UTC day whose derived (silver) rows the deliveries in $table (a table or view
-- with source, event_type, received_at and payload) can change: the earliest of their
-- received_at and of the event times silver takes from them, with silver's own fallbacks
-- (push time, commit times, deployment status time, issue creation). After an ingest, silver
-- partitions from that day to today are recomputed; over all of bronze, it is where a replay
-- starts. NULL when $table is empty.
WITH deliveries AS (
    SELECT event_type, received_at, payload FROM query_table($table) WHERE source = 'github'
),
times AS (
    SELECT received_at AS event_time FROM deliveries
    UNION ALL
    SELECT coalesce(
        to_timestamp(try_cast(payload ->> '$.repository.pushed_at' AS BIGINT)),
        try_cast(payload ->> '$.head_commit.timestamp' AS TIMESTAMPTZ)
    )
    FROM deliveries WHERE event_type = 'push'
    UNION ALL
    SELECT try_cast(unnest(coalesce(json_extract_string(payload, '$.commits[*].timestamp'), [])) AS TIMESTAMPTZ)
    FROM deliveries WHERE event_type = 'push'
    UNION ALL
    SELECT coalesce(
        try_cast(payload ->> '$.deployment_status.created_at' AS TIMESTAMPTZ),
        try_cast(payload ->> '$.deployment_status.updated_at' AS TIMESTAMPTZ)
    )
    FROM deliveries WHERE event_type = 'deployment_status'
    UNION ALL
    SELECT try_cast(payload ->> '$.issue.created_at' AS TIMESTAMPTZ) FROM deliveries WHERE event_type = 'issues'
)
SELECT min(event_time)::DATE AS earliest_day FROM times;
