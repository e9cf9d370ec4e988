-- Rows of $table (bronze or silver) whose event time lies after $latest_allowed (now plus the
-- clock-skew tolerance): clock skew at a sender, or a parse error. One row: count, examples,
-- affected repos and days.
WITH timed AS (
    SELECT coalesce(payload ->> '$.repository.full_name', source) AS repo, delivery_id AS id, received_at AS event_time
    FROM bronze.raw_events WHERE $table = 'bronze.raw_events' AND received_at > $latest_allowed
    UNION ALL
    SELECT repo, delivery_id, pushed_at FROM silver.pushes
    WHERE $table = 'silver.pushes' AND pushed_at > $latest_allowed
    UNION ALL
    SELECT repo, change_id, time_created FROM silver.changes
    WHERE $table = 'silver.changes' AND time_created > $latest_allowed
    UNION ALL
    SELECT repo, deploy_id, time_deployed FROM silver.deployments
    WHERE $table = 'silver.deployments' AND time_deployed > $latest_allowed
    UNION ALL
    SELECT repo, incident_id, greatest(time_created, coalesce(time_resolved, time_created)) FROM silver.incidents
    WHERE $table = 'silver.incidents' AND greatest(time_created, coalesce(time_resolved, time_created)) > $latest_allowed
    UNION ALL
    SELECT repo, pull_request_id, time_merged FROM silver.pull_requests
    WHERE $table = 'silver.pull_requests' AND time_merged > $latest_allowed
    UNION ALL
    SELECT repo, pull_request_id, time_reviewed FROM silver.pull_request_reviews
    WHERE $table = 'silver.pull_request_reviews' AND time_reviewed > $latest_allowed
)
SELECT
    count(*) AS affected,
    list(id || ' at ' || strftime(event_time, '%Y-%m-%dT%H:%M:%SZ') ORDER BY event_time DESC)[1:$max_examples] AS examples,
    list(DISTINCT repo ORDER BY repo)[1:$max_examples] AS repos,
    list(DISTINCT event_time::DATE ORDER BY event_time::DATE)[1:$max_examples] AS days
FROM timed;
