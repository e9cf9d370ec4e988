-- Before a mapping (pushes, deployments, incidents, pull_requests), in its transaction: where in
-- bronze.raw_events the window's rows can come from, found in bronze.raw_events_index instead of
-- parsing every payload of history. A row of the window comes from deliveries with an event time
-- in the window (incidents: widened by ten correlation windows, see below) and from the other
-- deliveries of the objects those belong to (a deployment's statuses, an incident's events, a
-- merge request's states). The mapping reads bronze.raw_events only where received_at lies
-- between the earliest and the latest of their received_at: the variables window_received_from
-- and window_received_until, which DuckDB takes as constants and so skips, by their min/max
-- statistics, the row groups outside (a replay of all months reads everything).
--
-- Why anything else read in that range changes nothing: any other delivery belongs to an object
-- none of whose event times lies in the (widened) window, so the rows computed from it (even
-- from a part of its deliveries) fall outside the window and are filtered out, like its rejects
-- (received_at is one of its event times). Incidents: a merged incident spans at most three
-- correlation windows either side of its primary report and each report's nearest match lies
-- within one, so every report that can join or steer an incident of the window lies within nine
-- correlation windows of it; ten are read.
CREATE OR REPLACE TEMP TABLE window_received AS
WITH target AS (
    SELECT
        to_seconds(CASE WHEN $target_table = 'incidents' THEN 600 * $correlation_window_minutes ELSE 0 END) AS margin,
        -- the objects of this table (pushes group nothing: one row per delivery)
        CASE $target_table
            WHEN 'deployments' THEN 'deployment:'
            WHEN 'incidents' THEN 'incident:'
            WHEN 'pull_requests' THEN 'pull_request:'
        END AS object_prefix
),
touching AS (
    SELECT received_at, object_key
    FROM bronze.raw_events_index
    WHERE earliest_at < $window_end + (SELECT margin FROM target)
      AND latest_at >= $window_start - (SELECT margin FROM target)
),
same_objects AS (
    SELECT received_at
    FROM bronze.raw_events_index
    WHERE object_key IN (
        SELECT object_key FROM touching WHERE starts_with(object_key, (SELECT object_prefix FROM target))
    )
)
SELECT min(received_at) AS received_from, max(received_at) AS received_until
FROM (SELECT received_at FROM touching UNION ALL SELECT received_at FROM same_objects);

SET VARIABLE window_received_from = (SELECT received_from FROM window_received);

SET VARIABLE window_received_until = (SELECT received_until FROM window_received);
