-- earliest_event_day.sql for a warehouse opened read-only before its bronze.raw_events_index
-- exists (the first write connection creates and fills it): the same earliest day, computed
-- from every payload of bronze.raw_events (the earliest of received_at and every event time
-- silver takes from a delivery; see bronze.raw_events_index_rows).
WITH deliveries AS (
    SELECT source, event_type, received_at, payload FROM bronze.raw_events
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
